//! A fleet of simulated elevators: what their monitoring boxes would publish
//! (protocol v1), deterministic for a seed, and the ground truth of what it
//! generated ([`truth`]).
//!
//! Per elevator and day: runs (uniform over 06:00–23:00, or by building type
//! with its peaks, [`model`]); faults at a configured rate per 10,000 runs,
//! a share of them external or usage-caused (some stopping service, cleared
//! after 5–120 minutes or a lognormal duration, a share left open on the last
//! day); some stopping faults trap passengers (entrapment, rescuer arrival
//! after 5–40 minutes or a lognormal time, release); a power failure now and
//! then (external cause); an on-site visit every `visit_every_days`; the
//! controller's odometer once a day. Scenario keys: docs/simulator.md.

use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use liftwatch_core::protocol::{Body, Cause, DeviceCode, Event, FaultCode, Phase, Timestamp, MICROS_PER_MINUTE};
use serde::Deserialize;

pub mod cli;
pub mod faults;
pub mod model;
pub mod truth;

pub use model::{Building, Buildings, LogNormal};
pub use truth::{GroundTruth, Tally};

/// A scenario (TOML file in `simulators/scenarios/`, or flags).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Elevators in the fleet.
    pub elevators: u32,
    /// First 13 characters of the device codes (the last 7 are the elevator's number).
    pub device_prefix: String,
    /// First simulated day: a TOML date (`start = 2026-05-01`) or a string
    /// (`start = "2026-05-01"`).
    #[serde(deserialize_with = "date_or_string")]
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// Runs per elevator per day.
    pub runs_per_day: u32,
    /// Equipment faults per 10,000 runs.
    pub faults_per_10k: f64,
    /// Share of faults that stop service.
    pub stopping_share: f64,
    /// Share of stopping faults that trap passengers.
    pub entrapment_share: f64,
    /// Power failures (external cause) per elevator per 100 days.
    pub power_failures_per_100_days: f64,
    /// Days between on-site maintenance visits.
    pub visit_every_days: u32,
    /// Zone of the local days.
    pub timezone: String,
    /// Random seed.
    pub seed: u64,
    /// Building types of the fleet (`{ residential = 0.7, commercial = 0.3 }`);
    /// without it every elevator runs `runs_per_day` uniformly over 06:00–23:00.
    pub buildings: Option<Buildings>,
    /// Share of faults that are not the equipment's: half external (a power
    /// dip, a tripped safety circuit), half usage (doors held, overload), as
    /// the box reports them (`cause`).
    pub non_equipment_share: f64,
    /// Stoppage durations (`{ median = 45.0, sigma = 1.0 }`, minutes);
    /// without it, uniform 5–120 minutes.
    pub stoppage_minutes: Option<LogNormal>,
    /// Alarm to rescuer arrival (`{ median = 12.0, sigma = 0.45 }`, minutes);
    /// without it, uniform 5–40 minutes.
    pub rescue_minutes: Option<LogNormal>,
    /// Projects splitting the fleet in device order (`[{ id = "east",
    /// elevators = 30 }, …]`, adding up to `elevators`); without them, one
    /// project `sim` of every elevator.
    pub projects: Vec<ProjectPart>,
}

/// A project of the fleet: the next `elevators` devices.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectPart {
    /// Project id, as registered with the service.
    pub id: String,
    /// How many elevators.
    pub elevators: u32,
}

/// A day written as a TOML local date or as a `YYYY-MM-DD` string.
fn date_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Day {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Day::deserialize(d)? {
        Day::Toml(dt) => match (dt.date, dt.time) {
            (Some(date), None) => date.to_string(),
            _ => return Err(serde::de::Error::custom(format!("start {dt} must be a date without a time"))),
        },
        Day::Text(s) => s,
    };
    text.parse().map_err(|e| serde::de::Error::custom(format!("start {text:?} is not a YYYY-MM-DD date: {e}")))
}

impl Scenario {
    /// Reads a scenario file's text (TOML; unknown keys are refused).
    pub fn from_toml(text: &str) -> Result<Scenario, toml::de::Error> {
        toml::from_str(text)
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            elevators: 10,
            device_prefix: "3110330200201".into(),
            start: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap_or_default(),
            days: 30,
            runs_per_day: 300,
            faults_per_10k: 3.0,
            stopping_share: 0.5,
            entrapment_share: 0.3,
            power_failures_per_100_days: 1.0,
            visit_every_days: 60,
            timezone: "Asia/Shanghai".into(),
            seed: 1,
            buildings: None,
            non_equipment_share: 0.0,
            stoppage_minutes: None,
            rescue_minutes: None,
            projects: Vec::new(),
        }
    }
}

/// xorshift64*: small, fast, deterministic; good enough for a simulator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in `[lo, hi]`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
}

/// Why a scenario cannot run.
#[derive(Debug, PartialEq, Eq)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// The device codes of the fleet.
    pub fn devices(&self) -> Result<Vec<DeviceCode>, ScenarioError> {
        (0..self.elevators)
            .map(|i| {
                let code = format!("{}{i:07}", self.device_prefix);
                DeviceCode::parse(&code).map_err(|e| ScenarioError(format!("device code {code:?} {e}")))
            })
            .collect()
    }

    /// The zone.
    pub fn tz(&self) -> Result<Tz, ScenarioError> {
        self.timezone.parse().map_err(|_| ScenarioError(format!("timezone {:?} is not an IANA zone", self.timezone)))
    }

    /// The projects of the fleet and their elevators: `projects` in device
    /// order, or one, `sim` (the id the README's walkthrough registers
    /// `--print-project` under).
    pub fn projects(&self) -> Result<Vec<(String, Vec<DeviceCode>)>, ScenarioError> {
        let devices = self.devices()?;
        if self.projects.is_empty() {
            return Ok(vec![("sim".to_owned(), devices)]);
        }
        let sum: u32 = self.projects.iter().map(|p| p.elevators).sum();
        if sum != self.elevators {
            return Err(ScenarioError(format!(
                "the projects have {sum} elevators in all, the fleet {}: make them add up",
                self.elevators
            )));
        }
        let mut rest = &devices[..];
        Ok(self
            .projects
            .iter()
            .map(|p| {
                let (mine, others) = rest.split_at(p.elevators as usize);
                rest = others;
                (p.id.clone(), mine.to_vec())
            })
            .collect())
    }

    /// Every event of one elevator-day, in time order (seq continues across days).
    pub fn day_events(
        &self,
        device: DeviceCode,
        day: NaiveDate,
        seq: &mut u64,
        rng: &mut Rng,
    ) -> Result<Vec<Event>, ScenarioError> {
        Ok(self.counted_day_events(device, day, seq, rng)?.0)
    }

    /// [`Scenario::day_events`] and what the generator knows it put into
    /// them (the ground truth of the elevator-day).
    pub fn counted_day_events(
        &self,
        device: DeviceCode,
        day: NaiveDate,
        seq: &mut u64,
        rng: &mut Rng,
    ) -> Result<(Vec<Event>, Tally), ScenarioError> {
        let tz = self.tz()?;
        let midnight = tz
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .ok_or_else(|| ScenarioError(format!("no local midnight on {day}")))?;
        let base = Timestamp::from_datetime(&midnight).0;
        let offset = chrono::Offset::fix(midnight.offset()).local_minus_utc();
        let mut out = Vec::new();
        let building = Building::of(self.buildings.as_ref(), &device);
        let runs_per_day = building.runs_per_day(self.runs_per_day, &device);
        let mut tally = Tally { runs: i64::from(runs_per_day), ..Tally::default() };
        let mut push = |out: &mut Vec<Event>, t: i64, body: Body| {
            *seq += 1;
            out.push(Event { device, seq: *seq, ts: Timestamp(t), ts_offset: offset, body });
        };
        let mut times: Vec<i64> = (0..runs_per_day).map(|_| base + building.run_time(rng)).collect();
        times.sort_unstable();
        let p_fault = self.faults_per_10k / 10_000.0;
        let day_index = (day - self.start).num_days();
        for (i, t) in times.iter().enumerate() {
            let (from, to) = (rng.range(-1, 20) as i32, rng.range(-1, 20) as i32);
            push(
                &mut out,
                *t,
                Body::Run { end: Timestamp(t + rng.range(8, 60) * 1_000_000), from, to, doors: Some(1) },
            );
            if rng.unit() < p_fault {
                let fid: Box<str> = format!("f{day_index}-{i}").into();
                let (code, cause) = self.fault_kind(rng);
                let stops = rng.unit() < self.stopping_share;
                let ft = t + 61_000_000;
                let equipment = cause.is_none();
                tally.equipment_faults += i64::from(equipment);
                push(
                    &mut out,
                    ft,
                    Body::Fault { fault_id: fid.clone(), code: FaultCode::parse(code), stops_service: stops, cause },
                );
                if stops && rng.unit() < self.entrapment_share {
                    let iid: Box<str> = format!("e{day_index}-{i}").into();
                    let alarm = ft + 30_000_000;
                    let arrive = alarm
                        + match &self.rescue_minutes {
                            Some(d) => d.sample_us(rng),
                            None => rng.range(5, 40) * MICROS_PER_MINUTE,
                        };
                    tally.entrapments += 1;
                    tally.rescues += 1;
                    tally.rescue_us += arrive - alarm;
                    push(&mut out, alarm, Body::Entrapment { incident_id: iid.clone(), fault_id: Some(fid.clone()) });
                    push(&mut out, arrive, Body::RescueArrived { incident_id: iid.clone() });
                    push(&mut out, arrive + 5 * MICROS_PER_MINUTE, Body::Released { incident_id: iid });
                }
                let last_day = day_index + 1 == i64::from(self.days);
                if !(last_day && rng.unit() < 0.5) {
                    let cleared = ft
                        + match &self.stoppage_minutes {
                            Some(d) => d.sample_us(rng),
                            None => rng.range(5, 120) * MICROS_PER_MINUTE,
                        };
                    if stops && equipment {
                        tally.stoppages_closed += 1;
                        tally.downtime_us += cleared - ft;
                    }
                    push(&mut out, cleared, Body::FaultCleared { fault_id: fid });
                } else if stops && equipment {
                    tally.stoppages_open += 1;
                }
            }
        }
        if rng.unit() < self.power_failures_per_100_days / 100.0 {
            let t = base + rng.range(0, 23 * 60) * MICROS_PER_MINUTE;
            let fid: Box<str> = format!("p{day_index}").into();
            push(
                &mut out,
                t,
                Body::Fault { fault_id: fid.clone(), code: FaultCode::parse("41"), stops_service: true, cause: None },
            );
            push(&mut out, t + rng.range(10, 90) * MICROS_PER_MINUTE, Body::FaultCleared { fault_id: fid });
        }
        if self.visit_every_days > 0
            && day_index % i64::from(self.visit_every_days)
                == i64::from(model::device_hash(&device) % self.visit_every_days)
        {
            let vid: Box<str> = format!("v{day_index}").into();
            let t = base + 9 * 60 * MICROS_PER_MINUTE;
            push(&mut out, t, Body::Maintenance { visit_id: vid.clone(), phase: Phase::Start });
            push(&mut out, t + 90 * MICROS_PER_MINUTE, Body::Maintenance { visit_id: vid, phase: Phase::End });
        }
        let total = (day_index as u64 + 1) * u64::from(runs_per_day);
        push(&mut out, base + 23 * 60 * MICROS_PER_MINUTE + 59 * 60_000_000, Body::Counter { runs_total: total });
        out.sort_by_key(|e| (e.ts, e.seq));
        Ok((out, tally))
    }

    /// A fault's code and the cause its box reports: `None` for the
    /// equipment's own (the code's default cause), or external or usage.
    fn fault_kind(&self, rng: &mut Rng) -> (&'static str, Option<Cause>) {
        const EQUIPMENT: [&str; 5] = ["door_open_fault", "door_close_fault", "02", "brake_fault", "leveling_fault"];
        if self.non_equipment_share > 0.0 && rng.unit() < self.non_equipment_share {
            return match rng.range(0, 3) {
                0 => ("safety_circuit_open", Some(Cause::External)),
                1 => ("power_failure", Some(Cause::External)),
                2 => ("door_open_fault", Some(Cause::Usage)),
                _ => ("motor_runtime_limiter", Some(Cause::Usage)),
            };
        }
        (EQUIPMENT[rng.range(0, 4) as usize], None)
    }

    /// The whole fleet's events, day by day: `f(day, events of that day)`.
    pub fn for_each_day(&self, mut f: impl FnMut(NaiveDate, Vec<Event>)) -> Result<(), ScenarioError> {
        self.generate(|day, fleet| f(day, fleet.into_iter().flat_map(|(evs, _)| evs).collect()))
    }

    /// The whole fleet day by day, with what the generator knows it put in:
    /// `f(day, [(events, tally) of each elevator, in the order of `devices`])`.
    pub fn generate(&self, mut f: impl FnMut(NaiveDate, Vec<(Vec<Event>, Tally)>)) -> Result<(), ScenarioError> {
        let devices = self.devices()?;
        let mut rngs: Vec<Rng> = (0..devices.len()).map(|i| Rng::new(self.seed ^ (i as u64 + 1) << 20)).collect();
        let mut seqs = vec![0u64; devices.len()];
        for d in 0..self.days {
            let day = self
                .start
                .checked_add_days(Days::new(u64::from(d)))
                .ok_or_else(|| ScenarioError("date out of range".into()))?;
            let fleet = devices
                .iter()
                .enumerate()
                .map(|(i, dev)| self.counted_day_events(*dev, day, &mut seqs[i], &mut rngs[i]))
                .collect::<Result<_, _>>()?;
            f(day, fleet);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liftwatch_core::ledger::{Applied, Ledger};
    use liftwatch_core::protocol::{decode_message, to_array_payload, topic_for};

    #[test]
    fn scenario_events_are_valid_protocol_and_deterministic() {
        let s = Scenario { elevators: 3, days: 5, faults_per_10k: 50.0, ..Default::default() };
        let now = Timestamp(i64::MAX / 2);
        let mut first = Vec::new();
        s.for_each_day(|_, evs| first.extend(evs)).unwrap();
        let mut again = Vec::new();
        s.for_each_day(|_, evs| again.extend(evs)).unwrap();
        assert_eq!(first, again, "same seed, same events");
        for d in s.devices().unwrap() {
            let mine: Vec<&Event> = first.iter().filter(|e| e.device == d).collect();
            for chunk in mine.chunks(100) {
                let decoded = decode_message(&topic_for(&d), to_array_payload(chunk.iter().copied()).as_bytes(), now);
                assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
                assert_eq!(decoded.events.len(), chunk.len());
            }
        }
        let mut l = Ledger::new(s.tz().unwrap());
        assert!(first.iter().all(|e| l.apply(e) == Applied::New), "identities are unique");
        let runs: i64 = l.rows().map(|(_, _, r)| r.runs).sum();
        assert_eq!(runs, 3 * 5 * 300);
        let faults: i64 = l.rows().map(|(_, _, r)| r.equipment_faults).sum();
        assert!(faults > 0, "the rate makes faults happen");
    }

    /// A scenario with every behaviour model on, and faults and
    /// entrapments frequent enough to see their distributions.
    fn realistic() -> Scenario {
        Scenario {
            elevators: 20,
            days: 30,
            buildings: Some(Buildings { residential: 0.5, commercial: 0.5 }),
            faults_per_10k: 20.0,
            non_equipment_share: 0.33,
            entrapment_share: 0.5,
            stoppage_minutes: Some(LogNormal { median: 45.0, sigma: 1.0 }),
            rescue_minutes: Some(LogNormal { median: 12.0, sigma: 0.45 }),
            ..Default::default()
        }
    }

    /// The generator's own count agrees with the core's ledger replaying
    /// its events, on every window of the truth (so the truth means what
    /// the KPIs mean: days, causes, open stoppages, rescues), with the
    /// original flat model and with every behaviour model on.
    #[test]
    fn the_ground_truth_is_what_the_ledger_makes_of_the_events() {
        use liftwatch_core::kpi::{aggregate, Membership};
        let flat = Scenario {
            elevators: 4,
            days: 200,
            faults_per_10k: 40.0,
            start: "2026-05-20".parse().unwrap(),
            ..Default::default()
        };
        let mixed = Scenario { start: "2026-06-20".parse().unwrap(), ..realistic() };
        for s in [flat, mixed] {
            let truth = s.ground_truth().unwrap();
            let mut l = Ledger::new(s.tz().unwrap());
            s.for_each_day(|_, evs| evs.iter().for_each(|e| assert_eq!(l.apply(e), Applied::New))).unwrap();
            let p = &truth.projects[0];
            let m: Vec<Membership> =
                p.devices.iter().map(|d| Membership { device: *d, since: s.start, until: None }).collect();
            let windows = truth.windows();
            assert_eq!(windows.len(), 4, "the scenario, the rolling window after it, 2026H1 and 2026H2: {windows:?}");
            for w in windows {
                let t = aggregate(&w, &m, l.rows()).totals;
                let got = p.window(w);
                let want = (t.runs, t.equipment_faults, t.stoppages_closed, t.downtime_us, t.stoppages_open);
                let got_ = (got.runs, got.equipment_faults, got.stoppages_closed, got.downtime_us, got.stoppages_open);
                assert_eq!(got_, want, "{w:?}");
                let want = (t.entrapments, t.rescues, t.rescue_us, t.awaiting_arrival);
                assert_eq!((got.entrapments, got.rescues, got.rescue_us, got.awaiting_arrival), want, "{w:?}");
            }
            let all = p.window(truth.windows()[0]);
            assert!(all.stoppages_closed > 0 && all.rescues > 0 && all.stoppages_open > 0, "{all:?}");
            assert_eq!(truth.to_json()["projects"][0]["windows"][0]["runs"], all.runs);
        }
    }

    /// With the behaviour models on: residential elevators run
    /// `runs_per_day` with morning and evening peaks, commercial ones
    /// 750–1,500; about a third of faults are external or usage-caused;
    /// stoppages last from minutes to hours; rescuers arrive in about 12
    /// minutes, a few after 30 (the seed fixes every figure).
    #[test]
    fn realistic_buildings_peaks_causes_and_lognormal_durations() {
        let s = realistic();
        let (devices, tz) = (s.devices().unwrap(), s.tz().unwrap());
        let mut events = Vec::new();
        s.for_each_day(|_, evs| events.extend(evs)).unwrap();
        for (d, chunk) in
            events.chunk_by(|a, b| a.device == b.device).flat_map(|c| c.chunks(1000)).map(|c| (c[0].device, c))
        {
            let decoded = decode_message(&topic_for(&d), to_array_payload(chunk).as_bytes(), Timestamp(i64::MAX / 2));
            assert!(decoded.rejects.is_empty(), "valid protocol: {:?}", decoded.rejects);
        }
        let mut hours = [0usize; 24];
        let (mut faults, mut not_equipment, mut stoppages, mut rescues) = (0, 0, Vec::new(), Vec::new());
        let mut started = std::collections::HashMap::new();
        for d in &devices {
            let building = Building::of(s.buildings.as_ref(), d);
            let mine: Vec<&Event> = events.iter().filter(|e| e.device == *d).collect();
            let runs = mine.iter().filter(|e| matches!(e.body, Body::Run { .. })).count();
            match building {
                Building::Residential => assert_eq!(runs, 30 * 300),
                Building::Commercial => assert!((30 * 750..=30 * 1500).contains(&runs), "{runs}"),
                Building::Flat => panic!("a mix has no flat buildings"),
            }
            for e in mine {
                let hour = chrono::Timelike::hour(&e.ts.to_utc().with_timezone(&tz));
                match &e.body {
                    Body::Run { .. } if building == Building::Residential => hours[hour as usize] += 1,
                    Body::Fault { fault_id, cause, stops_service, .. } => {
                        faults += 1;
                        not_equipment += usize::from(cause.is_some());
                        if *stops_service {
                            started.insert(fault_id.clone(), e.ts.0);
                        }
                    }
                    Body::FaultCleared { fault_id } => {
                        if let Some(t) = started.get(fault_id) {
                            stoppages.push((e.ts.0 - t) / MICROS_PER_MINUTE);
                        }
                    }
                    Body::Entrapment { incident_id, .. } => {
                        started.insert(incident_id.clone(), e.ts.0);
                    }
                    Body::RescueArrived { incident_id } => {
                        rescues.push((e.ts.0 - started[incident_id]) / MICROS_PER_MINUTE)
                    }
                    _ => {}
                }
            }
            started.clear();
        }
        assert!(devices.iter().any(|d| Building::of(s.buildings.as_ref(), d) == Building::Commercial));
        assert!(devices.iter().any(|d| Building::of(s.buildings.as_ref(), d) == Building::Residential));
        let peak = hours[7].min(hours[18]);
        assert!(peak > 2 * hours[14], "morning and evening peaks over the afternoon: {hours:?}");
        let share = not_equipment as f64 / faults as f64;
        assert!((0.25..0.42).contains(&share), "{not_equipment} of {faults} faults not the equipment's");
        stoppages.sort_unstable();
        rescues.sort_unstable();
        assert!(stoppages[0] < 15 && stoppages[stoppages.len() - 1] > 180, "{stoppages:?}");
        let median = rescues[rescues.len() / 2];
        assert!((10..=14).contains(&median), "rescue median {median}: {rescues:?}");
        assert!(rescues.iter().any(|m| *m > 30), "a tail past 30 minutes: {rescues:?}");
    }

    /// Projects take the devices in order, each its own truth; they must
    /// add up to the fleet.
    #[test]
    fn projects_split_the_fleet_in_order_and_must_add_up() {
        let text =
            "elevators = 5\ndays = 3\nprojects = [{ id = \"east\", elevators = 2 }, { id = \"west\", elevators = 3 }]";
        let s = Scenario::from_toml(text).unwrap();
        let truth = s.ground_truth().unwrap();
        let ids: Vec<(&str, usize)> = truth.projects.iter().map(|p| (p.id.as_str(), p.devices.len())).collect();
        assert_eq!(ids, [("east", 2), ("west", 3)]);
        assert_eq!(truth.projects.iter().flat_map(|p| p.devices.clone()).collect::<Vec<_>>(), s.devices().unwrap());
        let w = truth.windows()[0];
        assert_eq!(truth.projects.iter().map(|p| p.window(w).runs).sum::<i64>(), 5 * 3 * 300);
        let s = Scenario { elevators: 6, ..s };
        assert!(s.ground_truth().unwrap_err().0.contains("add up"));
    }

    #[test]
    fn bad_scenarios_are_refused_with_a_reason() {
        let s = Scenario { device_prefix: "abc".into(), ..Default::default() };
        assert!(s.devices().unwrap_err().0.contains("device code"));
        let s = Scenario { timezone: "Mars/Base".into(), ..Default::default() };
        assert!(s.tz().is_err());
    }
}
