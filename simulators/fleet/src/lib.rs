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
//! then (external cause); on-site visits (`maintenance` events) and remote
//! checks (firm records, not telemetry) at the cadence of the project's
//! mode ([`BoxPlan`]); heartbeats with the box's mode every
//! `heartbeat_minutes`; the controller's odometer once a day. Box faults
//! that change what the service can know — clock skew, silent periods —
//! are applied here ([`faults`]), the others to the messages. Scenario
//! keys: docs/simulator.md.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use liftwatch_core::pilot::{max_onsite_interval_months, remote_check_interval_days};
use liftwatch_core::protocol::{Body, Cause, DeviceCode, Event, FaultCode, Mode, Phase, Timestamp, MICROS_PER_MINUTE};
use liftwatch_core::registry::ProjectMode;
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
    /// Days between on-site maintenance visits (0: none); a project with a
    /// `mode` caps it to what the mode allows ([`ProjectPart`]).
    pub visit_every_days: u32,
    /// Minutes between two heartbeats of a box (0: none; protocol v1 boxes
    /// send one at least every 5 minutes while connected).
    pub heartbeat_minutes: u32,
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

/// A project of the fleet: the next `elevators` devices, and how its firm
/// maintains them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectPart {
    /// Project id, as registered with the service.
    pub id: String,
    /// How many elevators.
    pub elevators: u32,
    /// Monitoring mode (A1 §I.(二): `iot`, `remote_pension`,
    /// `remote_full_service`, `remote`); without it `iot` with the
    /// scenario's `visit_every_days` as it is.
    #[serde(default)]
    pub mode: Option<ProjectMode>,
    /// Days between on-site visits; default: `visit_every_days`, capped
    /// with a `mode` to the shortest span of the mode's months
    /// ([`onsite_cap_days`]), so the plan is kept.
    #[serde(default)]
    pub onsite_every_days: Option<u32>,
    /// Days between remote checks (0: none); default 14 in the `remote*`
    /// modes (one is due every 15 days), none in `iot`.
    #[serde(default)]
    pub remote_check_every_days: Option<u32>,
}

/// The longest on-site cadence, in days, that always keeps within the
/// mode's limit of calendar months (A1 §I.(二)): the shortest span of that
/// many months — 1 month 28 days (Feb), 2 months 59 (Jan–Feb), 3 months 89
/// (Feb–Apr of a common year).
pub fn onsite_cap_days(mode: ProjectMode) -> u32 {
    match max_onsite_interval_months(mode) {
        1 => 28,
        2 => 59,
        _ => 89,
    }
}

/// How one box behaves over the scenario: the maintenance plan of its
/// project and the box faults that change what it sends.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxPlan {
    /// The elevator.
    pub device: DeviceCode,
    /// Index of its project in [`Scenario::projects`].
    pub project: usize,
    /// The project's mode.
    pub mode: ProjectMode,
    /// Days between on-site visits (0: none).
    pub onsite_every_days: u32,
    /// Days between remote checks (0: none).
    pub remote_check_every_days: u32,
    /// How far the box's clock is off, microseconds (positive: ahead).
    pub skew_us: i64,
    /// Day indexes (from `start`) on which the box is silent: what it
    /// generates then is never sent.
    pub silent: Option<std::ops::Range<u32>>,
}

/// A remote check (远程检查) the firm records for an elevator: the body of
/// `POST /api/v1/elevators/{device_code}/visits` (not telemetry: protocol
/// v1 has no such event).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RemoteCheck {
    /// The elevator (in the path, not the body).
    #[serde(skip)]
    pub device_code: String,
    /// Always `remote_check`.
    pub kind: &'static str,
    /// Start (the firm's clock: a box's skew does not apply).
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Technician.
    pub technician: String,
}

/// What a box carries from one day to the next.
#[derive(Clone, Debug)]
pub struct BoxState {
    /// Last sequence number used.
    pub seq: u64,
    /// Its random stream.
    pub rng: Rng,
    /// Out of service until then (a stoppage running past midnight), true time.
    out_of_service_until: i64,
}

impl BoxState {
    /// A box at its first day.
    pub fn new(seq: u64, rng: Rng) -> BoxState {
        BoxState { seq, rng, out_of_service_until: i64::MIN }
    }
}

/// One elevator-day as generated.
#[derive(Clone, Debug)]
pub struct BoxDay {
    /// Its events, in time order (what the box sends, unless `silent`).
    pub events: Vec<Event>,
    /// What the generator put into them, by local day of the box's clock
    /// (the day the service attributes them to).
    pub tally: BTreeMap<NaiveDate, Tally>,
    /// The box was silent: none of `events` is ever sent.
    pub silent: bool,
    /// The day's odometer reading: its local day (box clock), the runs of
    /// the day (all before it, after the day before's reading).
    pub counter_day: NaiveDate,
    /// Runs of the day.
    pub runs: i64,
    /// Remote checks the firm recorded that day.
    pub remote_checks: Vec<RemoteCheck>,
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
            heartbeat_minutes: 0,
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

    /// The plan of every box of the fleet, in device order: its project's
    /// maintenance cadences and the box faults `faults` draws for it
    /// (deterministic for the seed).
    pub fn plans(&self, faults: &faults::BoxFaults) -> Result<Vec<BoxPlan>, ScenarioError> {
        let projects = self.projects()?;
        let mut out = Vec::new();
        for (p, (_, devices)) in projects.iter().enumerate() {
            for d in devices {
                out.push(self.project_plan(self.projects.get(p), p, *d));
            }
        }
        faults::draw(&mut out, faults, self.days, self.seed)?;
        Ok(out)
    }

    /// The plan of `device` in project `index` (`part`: its key, if any), before box faults.
    fn project_plan(&self, part: Option<&ProjectPart>, index: usize, device: DeviceCode) -> BoxPlan {
        let given = part.and_then(|p| p.mode);
        let mode = given.unwrap_or(ProjectMode::Iot);
        let onsite = part.and_then(|p| p.onsite_every_days).unwrap_or(match given {
            None => self.visit_every_days,
            Some(m) => self.visit_every_days.min(onsite_cap_days(m)),
        });
        let remote = part
            .and_then(|p| p.remote_check_every_days)
            .unwrap_or(if remote_check_interval_days(mode).is_some() { 14 } else { 0 });
        BoxPlan {
            device,
            project: index,
            mode,
            onsite_every_days: onsite,
            remote_check_every_days: remote,
            skew_us: 0,
            silent: None,
        }
    }

    /// The plan of any device (in the fleet or not, as the test kit's
    /// streams use): its project's if the scenario's `projects` name it,
    /// else the scenario-wide one; no box faults.
    fn plan_of(&self, device: DeviceCode) -> BoxPlan {
        let number = device
            .as_str()
            .strip_prefix(self.device_prefix.as_str())
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| *n < self.elevators);
        let (mut first, mut found) = (0u32, None);
        for (i, p) in self.projects.iter().enumerate() {
            if number.is_some_and(|n| n >= first && n < first + p.elevators) {
                found = Some(i);
                break;
            }
            first += p.elevators;
        }
        match found {
            Some(i) => self.project_plan(self.projects.get(i), i, device),
            None => self.project_plan(None, 0, device),
        }
    }

    /// Every event of one elevator-day, in time order (seq continues across
    /// days), with its project's plan and no box faults. A stoppage of the
    /// day before is not carried into this day's heartbeats (use
    /// [`Scenario::generate`] for the whole fleet).
    pub fn day_events(
        &self,
        device: DeviceCode,
        day: NaiveDate,
        seq: &mut u64,
        rng: &mut Rng,
    ) -> Result<Vec<Event>, ScenarioError> {
        let mut st = BoxState::new(*seq, rng.clone());
        let out = self.box_day(&self.plan_of(device), day, &mut st)?;
        (*seq, *rng) = (st.seq, st.rng);
        Ok(out.events)
    }

    /// One elevator-day of the box of `plan`: its events and what the
    /// generator knows it put into them.
    pub fn box_day(&self, plan: &BoxPlan, day: NaiveDate, st: &mut BoxState) -> Result<BoxDay, ScenarioError> {
        let tz = self.tz()?;
        let device = plan.device;
        let local_midnight = |day: NaiveDate| {
            tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .ok_or_else(|| ScenarioError(format!("no local midnight on {day}")))
        };
        let midnight = local_midnight(day)?;
        let base = Timestamp::from_datetime(&midnight).0;
        let next = day.succ_opt().map(local_midnight).transpose()?.map(|m| Timestamp::from_datetime(&m).0);
        let offset = chrono::Offset::fix(midnight.offset()).local_minus_utc();
        let skew = plan.skew_us;
        // The local day of a true time by the box's clock.
        let day_of = |t: i64| {
            let t = t + skew;
            if t >= base && next.is_none_or(|n| t < n) {
                day
            } else {
                Timestamp(t).local_day(tz)
            }
        };
        let mut out = Vec::new();
        let building = Building::of(self.buildings.as_ref(), &device);
        let runs_per_day = building.runs_per_day(self.runs_per_day, &device);
        let mut tally: BTreeMap<NaiveDate, Tally> = BTreeMap::new();
        let seq = &mut st.seq;
        let rng = &mut st.rng;
        // Times are true times; the box writes them by its clock.
        let mut push = |out: &mut Vec<Event>, t: i64, body: Body| {
            *seq += 1;
            let body = match body {
                Body::Run { end, from, to, doors } => Body::Run { end: Timestamp(end.0 + skew), from, to, doors },
                b => b,
            };
            out.push(Event { device, seq: *seq, ts: Timestamp(t + skew), ts_offset: offset, body });
        };
        let mut times: Vec<i64> = (0..runs_per_day).map(|_| base + building.run_time(rng)).collect();
        times.sort_unstable();
        for t in &times {
            tally.entry(day_of(*t)).or_default().runs += 1;
        }
        let p_fault = self.faults_per_10k / 10_000.0;
        let day_index = (day - self.start).num_days();
        let last_day = day_index + 1 == i64::from(self.days);
        // Out of service (true times): stopping faults, from fault to clearing.
        let mut stopped: Vec<(i64, i64)> = Vec::new();
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
                let fday = tally.entry(day_of(ft)).or_default();
                fday.equipment_faults += i64::from(equipment);
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
                    let eday = tally.entry(day_of(alarm)).or_default();
                    eday.entrapments += 1;
                    eday.rescues += 1;
                    eday.rescue_us += arrive - alarm;
                    push(&mut out, alarm, Body::Entrapment { incident_id: iid.clone(), fault_id: Some(fid.clone()) });
                    push(&mut out, arrive, Body::RescueArrived { incident_id: iid.clone() });
                    push(&mut out, arrive + 5 * MICROS_PER_MINUTE, Body::Released { incident_id: iid });
                }
                let fday = tally.entry(day_of(ft)).or_default();
                if !(last_day && rng.unit() < 0.5) {
                    let cleared = ft
                        + match &self.stoppage_minutes {
                            Some(d) => d.sample_us(rng),
                            None => rng.range(5, 120) * MICROS_PER_MINUTE,
                        };
                    if stops && equipment {
                        fday.stoppages_closed += 1;
                        fday.downtime_us += cleared - ft;
                    }
                    if stops {
                        stopped.push((ft, cleared));
                    }
                    push(&mut out, cleared, Body::FaultCleared { fault_id: fid });
                } else {
                    if stops && equipment {
                        fday.stoppages_open += 1;
                    }
                    if stops {
                        stopped.push((ft, i64::MAX));
                    }
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
            let cleared = t + rng.range(10, 90) * MICROS_PER_MINUTE;
            stopped.push((t, cleared));
            push(&mut out, cleared, Body::FaultCleared { fault_id: fid });
        }
        let hash = model::device_hash(&device);
        let due = |every: u32| every > 0 && day_index % i64::from(every) == i64::from(hash % every);
        let mut visit = None;
        if due(plan.onsite_every_days) {
            let vid: Box<str> = format!("v{day_index}").into();
            let t = base + 9 * 60 * MICROS_PER_MINUTE;
            visit = Some((t, t + 90 * MICROS_PER_MINUTE));
            push(&mut out, t, Body::Maintenance { visit_id: vid.clone(), phase: Phase::Start });
            push(&mut out, t + 90 * MICROS_PER_MINUTE, Body::Maintenance { visit_id: vid, phase: Phase::End });
        }
        let mut remote_checks = Vec::new();
        if due(plan.remote_check_every_days) {
            let t = base + 14 * 60 * MICROS_PER_MINUTE + i64::from(hash % 120) * MICROS_PER_MINUTE;
            remote_checks.push(RemoteCheck {
                device_code: device.as_str().to_owned(),
                kind: "remote_check",
                started_at: Timestamp(t),
                ended_at: Timestamp(t + 20 * MICROS_PER_MINUTE),
                technician: format!("T-{:04}", hash % 10_000),
            });
        }
        if self.heartbeat_minutes > 0 {
            let every = i64::from(self.heartbeat_minutes) * MICROS_PER_MINUTE;
            let end = next.unwrap_or(base + 24 * 60 * MICROS_PER_MINUTE);
            let carried = st.out_of_service_until;
            let mut t = base + i64::from(hash) % every;
            while t < end {
                let mode = if visit.is_some_and(|(a, b)| a <= t && t < b) {
                    Mode::Maintenance
                } else if t < carried || stopped.iter().any(|(a, b)| *a <= t && t < *b) {
                    Mode::OutOfService
                } else {
                    Mode::Normal
                };
                push(&mut out, t, Body::Heartbeat { mode });
                t += every;
            }
            st.out_of_service_until = stopped.iter().map(|(_, b)| *b).chain([carried]).max().unwrap_or(carried);
        }
        let total = (day_index as u64 + 1) * u64::from(runs_per_day);
        let counter_at = base + 23 * 60 * MICROS_PER_MINUTE + 59 * 60_000_000;
        push(&mut out, counter_at, Body::Counter { runs_total: total });
        out.sort_by_key(|e| (e.ts, e.seq));
        let silent = plan.silent.as_ref().is_some_and(|r| r.contains(&(day_index as u32)));
        Ok(BoxDay {
            events: out,
            tally,
            silent,
            counter_day: day_of(counter_at),
            runs: i64::from(runs_per_day),
            remote_checks,
        })
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

    /// The events the whole fleet sends, day by day, without box faults:
    /// `f(day, events of that day)`.
    pub fn for_each_day(&self, f: impl FnMut(NaiveDate, Vec<Event>)) -> Result<(), ScenarioError> {
        self.for_each_day_with(&faults::BoxFaults::default(), f)
    }

    /// The events the whole fleet sends, day by day, with the box faults
    /// that change them (clock skew; a silent box's days are left out).
    pub fn for_each_day_with(
        &self,
        faults: &faults::BoxFaults,
        mut f: impl FnMut(NaiveDate, Vec<Event>),
    ) -> Result<(), ScenarioError> {
        self.generate(faults, |day, fleet| {
            f(day, fleet.into_iter().filter(|b| !b.silent).flat_map(|b| b.events).collect())
        })
    }

    /// The whole fleet day by day, with what the generator knows it put in:
    /// `f(day, [the day of each box, in device order])`.
    pub fn generate(
        &self,
        faults: &faults::BoxFaults,
        mut f: impl FnMut(NaiveDate, Vec<BoxDay>),
    ) -> Result<(), ScenarioError> {
        let plans = self.plans(faults)?;
        let mut boxes: Vec<BoxState> =
            (0..plans.len()).map(|i| BoxState::new(0, Rng::new(self.seed ^ (i as u64 + 1) << 20))).collect();
        for d in 0..self.days {
            let day = self
                .start
                .checked_add_days(Days::new(u64::from(d)))
                .ok_or_else(|| ScenarioError("date out of range".into()))?;
            let fleet =
                plans.iter().zip(&mut boxes).map(|(p, st)| self.box_day(p, day, st)).collect::<Result<_, _>>()?;
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
    use liftwatch_core::registry::ProjectMode;

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

    /// The truth of `s` under `faults` against the core's ledger replaying
    /// the events sent, on every window: the KPI figures and the
    /// completeness the odometer readings give. Returns the ledger.
    fn assert_truth_is_the_ledgers(s: &Scenario, faults: &faults::BoxFaults) -> (GroundTruth, Ledger) {
        use liftwatch_core::completeness::{span_sums, Completeness, SpanSums};
        use liftwatch_core::kpi::{aggregate, Membership};
        let truth = s.ground_truth_with(faults).unwrap();
        let mut l = Ledger::new(s.tz().unwrap());
        s.for_each_day_with(faults, |_, evs| evs.iter().for_each(|e| assert_eq!(l.apply(e), Applied::New))).unwrap();
        let readings = l.all_readings();
        for p in &truth.projects {
            let m: Vec<Membership> =
                p.devices.iter().map(|d| Membership { device: *d, since: s.start, until: None }).collect();
            for w in truth.windows() {
                let t = aggregate(&w, &m, l.rows()).totals;
                let got = p.window(w);
                let want = (t.runs, t.equipment_faults, t.stoppages_closed, t.downtime_us, t.stoppages_open);
                let got_ = (got.runs, got.equipment_faults, got.stoppages_closed, got.downtime_us, got.stoppages_open);
                assert_eq!(got_, want, "{} {w:?}", p.id);
                let want = (t.entrapments, t.rescues, t.rescue_us, t.awaiting_arrival);
                assert_eq!((got.entrapments, got.rescues, got.rescue_us, got.awaiting_arrival), want, "{w:?}");
                let mut spans = SpanSums::default();
                for (_, x) in span_sums(&w, Some(&m), readings.iter().map(|(d, r)| (*d, r))) {
                    spans += x;
                }
                assert_eq!(got.completeness, Completeness::new(spans), "{} {w:?}", p.id);
            }
        }
        (truth, l)
    }

    /// The generator's own count agrees with the core's ledger replaying
    /// its events, on every window of the truth (so the truth means what
    /// the KPIs mean: days, causes, open stoppages, rescues, completeness),
    /// with the original flat model and with every behaviour model on.
    #[test]
    fn the_ground_truth_is_what_the_ledger_makes_of_the_events() {
        let flat = Scenario {
            elevators: 4,
            days: 200,
            faults_per_10k: 40.0,
            start: "2026-05-20".parse().unwrap(),
            ..Default::default()
        };
        let mixed = Scenario { start: "2026-06-20".parse().unwrap(), heartbeat_minutes: 15, ..realistic() };
        for s in [flat, mixed] {
            let (truth, _) = assert_truth_is_the_ledgers(&s, &faults::BoxFaults::default());
            assert_eq!(truth.windows().len(), 4, "the scenario, the rolling window after it, 2026H1 and 2026H2");
            let p = &truth.projects[0];
            let all = p.window(truth.windows()[0]);
            assert!(all.stoppages_closed > 0 && all.rescues > 0 && all.stoppages_open > 0, "{all:?}");
            assert_eq!(all.generated.runs, all.runs, "nothing withheld");
            assert_eq!(all.completeness.runs_share, Some(1.0), "every run reported: {:?}", all.completeness);
            assert_eq!(all.completeness.counter_pairs, i64::from(s.elevators) * (i64::from(s.days) - 1));
            assert_eq!(truth.to_json()["projects"][0]["windows"][0]["runs"], all.runs);
        }
    }

    /// Clock skew: a skewed box sends the same events with `ts` (and a
    /// run's `end`) moved by the skew — same seq, same bodies, so the
    /// durations are the same — and the service, which can only go by
    /// `ts`, counts them on the days of that clock; the ground truth
    /// counts by the same clock, so it still equals what the ledger makes
    /// of the events, for a box hours ahead and one hours behind (runs
    /// and incidents cross midnight, and the scenario's first and last days).
    #[test]
    fn clock_skew_moves_ts_only_and_the_truth_counts_by_the_boxes_clock() {
        let s = Scenario { elevators: 8, days: 40, faults_per_10k: 60.0, heartbeat_minutes: 30, ..realistic() };
        assert_truth_is_the_ledgers(&s, &faults::BoxFaults::default());
        let plain = s.ground_truth().unwrap();
        let mut events = Vec::new();
        s.for_each_day(|_, evs| events.extend(evs)).unwrap();
        for seconds in [3 * 3600 + 17, -7 * 3600] {
            let f = faults::BoxFaults { clock_skew_share: 0.5, clock_skew_seconds: seconds, ..Default::default() };
            let plans = s.plans(&f).unwrap();
            let skewed: Vec<DeviceCode> = plans.iter().filter(|p| p.skew_us != 0).map(|p| p.device).collect();
            assert!(!skewed.is_empty() && skewed.len() < plans.len(), "a share of the boxes: {skewed:?}");
            let mut moved = Vec::new();
            s.for_each_day_with(&f, |_, evs| moved.extend(evs)).unwrap();
            assert_eq!(moved.len(), events.len());
            let key = |e: &Event| (e.device, e.seq);
            let mut a = events.clone();
            let mut b = moved.clone();
            a.sort_by_key(key);
            b.sort_by_key(key);
            for (x, y) in a.iter().zip(&b) {
                let skew = if skewed.contains(&x.device) { seconds * 1_000_000 } else { 0 };
                assert_eq!((x.device, x.seq, x.ts.0 + skew), (y.device, y.seq, y.ts.0), "only ts moves");
                match (&x.body, &y.body) {
                    (Body::Run { end: e1, from, to, .. }, Body::Run { end: e2, from: f2, to: t2, .. }) => {
                        assert_eq!((e1.0 + skew, from, to), (e2.0, f2, t2))
                    }
                    (b1, b2) => assert_eq!(b1, b2),
                }
            }
            let (truth, _) = assert_truth_is_the_ledgers(&s, &f);
            let (p, q) = (&truth.projects[0], &plain.projects[0]);
            assert_eq!(p.skewed.len(), skewed.len());
            let scenario = truth.windows()[0];
            let (w, v) = (p.window(scenario), q.window(scenario));
            assert_ne!(p.days, q.days, "the skew moves events across midnight");
            // Whole days around the scenario: nothing lost, the same durations.
            let around =
                liftwatch_core::window::Window { from: s.start.pred_opt().unwrap(), to: truth.end.succ_opt().unwrap() };
            let (all, plain_all) = (p.window(around), q.window(scenario));
            if seconds > 0 {
                assert_eq!((all.runs, all.downtime_us, all.rescue_us), (plain_all.runs, v.downtime_us, v.rescue_us));
            } else {
                // Behind: what the first morning's skewed boxes did is stamped
                // on the day before the project's membership starts.
                assert!(all.runs < plain_all.runs);
            }
            assert_eq!(w.completeness.runs_share, Some(1.0), "every run still reported between counters");
        }
    }

    /// Silent boxes: what a silent box generates on its silent days is never
    /// sent; the truth's figures are what was sent (what the service must
    /// answer) and `generated` what happened, apart by the runs withheld;
    /// the odometer readings sent around the silence show the runs missing
    /// (`completeness`), and the seq numbers show the events missing.
    #[test]
    fn silent_boxes_lose_their_days_and_the_truth_keeps_generated_and_sent_apart() {
        let s = Scenario { elevators: 10, days: 30, heartbeat_minutes: 60, ..realistic() };
        let f = faults::BoxFaults { silent_share: 0.4, silent_days: 4, ..Default::default() };
        let (truth, ledger) = assert_truth_is_the_ledgers(&s, &f);
        let p = &truth.projects[0];
        assert!(!p.silent.is_empty() && p.silent.len() < 10, "{:?}", p.silent);
        let w = p.window(truth.windows()[0]);
        let withheld: i64 = p.silent.iter().map(|b| b.runs_withheld).sum();
        assert_eq!(w.generated.runs - w.runs, withheld, "generated = sent + withheld");
        assert_eq!(w.generated.runs, s.ground_truth().unwrap().projects[0].window(truth.windows()[0]).runs);
        let c = w.completeness;
        assert!(c.runs_by_odometer - c.runs_reported > 0, "the odometer sees the silence: {c:?}");
        assert!(c.runs_share.is_some_and(|x| x < 1.0), "{c:?}");
        for b in &p.silent {
            assert_eq!((b.to - b.from).num_days(), 3, "four silent days");
            assert!(b.from > s.start, "heard on the first day");
            let d = DeviceCode::parse(&b.device_code).unwrap();
            let t = ledger.telemetry(d).unwrap();
            if b.to < truth.end {
                // Heard again after: the missing seq numbers are exactly the withheld events.
                assert_eq!(t.seq_gaps, b.events_withheld, "{b:?}");
                assert_eq!(t.runs_by_odometer - t.runs_reported, b.runs_withheld, "{b:?}");
            } else {
                assert_eq!(t.seq_gaps, 0, "silent to the end: nothing after the gap");
                assert!(t.last_seen.local_day(s.tz().unwrap()) < b.from, "last heard before the silence");
            }
        }
        let none = s.ground_truth_with(&faults::BoxFaults { silent_share: 0.0, ..f }).unwrap();
        assert!(none.projects[0].silent.is_empty());
        assert_eq!(none.projects[0].window(none.windows()[0]).completeness.runs_share, Some(1.0));
    }

    /// Heartbeats every `heartbeat_minutes` with the box's mode
    /// (`maintenance` during an on-site visit, `out_of_service` while a
    /// stoppage lasts, even past midnight, else `normal`); on-site visits
    /// and remote checks at the cadence of each project's mode, always
    /// within what the pilot's rules allow (the core's own interval
    /// functions, the ones the rule engine applies).
    #[test]
    fn heartbeats_carry_the_mode_and_visits_follow_each_projects_mode() {
        use liftwatch_core::pilot::{onsite_interval_exceeded, remote_check_interval_exceeded};
        let text = "elevators = 6\ndays = 120\nfaults_per_10k = 80.0\nheartbeat_minutes = 5\n\
                    projects = [{ id = \"a\", elevators = 2, mode = \"remote\" },\
                    { id = \"b\", elevators = 2, mode = \"remote_full_service\" }, { id = \"c\", elevators = 2 }]";
        let s = Scenario::from_toml(text).unwrap();
        let tz = s.tz().unwrap();
        let plans = s.plans(&faults::BoxFaults::default()).unwrap();
        let cadence: Vec<(ProjectMode, u32, u32)> =
            plans.iter().map(|p| (p.mode, p.onsite_every_days, p.remote_check_every_days)).collect();
        assert_eq!(cadence[0], (ProjectMode::Remote, 28, 14));
        assert_eq!(cadence[2], (ProjectMode::RemoteFullService, 59, 14));
        assert_eq!(cadence[4], (ProjectMode::Iot, 60, 0), "no mode: the scenario's visit_every_days");
        let (mut events, mut checks) = (Vec::new(), Vec::new());
        s.generate(&faults::BoxFaults::default(), |_, fleet| {
            for b in fleet {
                events.extend(b.events);
                checks.extend(b.remote_checks);
            }
        })
        .unwrap();
        let (mut stopped_past_midnight, mut seen) = (0, std::collections::BTreeSet::new());
        for p in &plans {
            let mut mine: Vec<&Event> = events.iter().filter(|e| e.device == p.device).collect();
            mine.sort_by_key(|e| (e.ts, e.seq));
            let beats: Vec<&Event> =
                mine.iter().copied().filter(|e| matches!(e.body, Body::Heartbeat { .. })).collect();
            assert_eq!(beats.len(), 120 * 24 * 12, "every 5 minutes");
            assert!(beats.windows(2).all(|w| w[1].ts.0 - w[0].ts.0 == 5 * MICROS_PER_MINUTE));
            // The mode at each heartbeat from the box's own events.
            let (mut visit, mut open) = (false, std::collections::BTreeSet::new());
            let mut faults_stop = std::collections::HashMap::new();
            for e in &mine {
                match &e.body {
                    Body::Maintenance { phase, .. } => visit = *phase == Phase::Start,
                    Body::Fault { fault_id, stops_service, .. } => {
                        faults_stop.insert(fault_id.clone(), *stops_service);
                        if *stops_service {
                            open.insert(fault_id.clone());
                        }
                    }
                    Body::FaultCleared { fault_id } => {
                        open.remove(fault_id);
                    }
                    Body::Heartbeat { mode } => {
                        let want = if visit {
                            Mode::Maintenance
                        } else if !open.is_empty() {
                            Mode::OutOfService
                        } else {
                            Mode::Normal
                        };
                        assert_eq!(*mode, want, "{} at {}", p.device, e.ts);
                        seen.insert(format!("{mode:?}"));
                        if *mode == Mode::OutOfService && chrono::Timelike::hour(&e.ts.to_utc().with_timezone(&tz)) < 1
                        {
                            stopped_past_midnight += 1;
                        }
                    }
                    _ => {}
                }
            }
            // On-site visits: each in time after the one before (from the start for the first).
            let visits: Vec<NaiveDate> = mine
                .iter()
                .filter(|e| matches!(e.body, Body::Maintenance { phase: Phase::Start, .. }))
                .map(|e| e.ts.local_day(tz))
                .collect();
            assert!(!visits.is_empty());
            let mut last = s.start;
            for v in visits.iter().chain([&(s.start + Days::new(119))]) {
                assert!(!onsite_interval_exceeded(p.mode, last, *v), "{} {:?}: {last} to {v}", p.device, p.mode);
                last = *v;
            }
            let mine_checks: Vec<NaiveDate> = checks
                .iter()
                .filter(|c| c.device_code == p.device.as_str())
                .map(|c| c.started_at.local_day(tz))
                .collect();
            if p.mode == ProjectMode::Iot {
                assert!(mine_checks.is_empty());
            } else {
                assert_eq!(mine_checks.len(), 120 / 14 + usize::from(model::device_hash(&p.device) % 14 < 120 % 14));
                let mut last = s.start;
                for c in mine_checks.iter().chain([&(s.start + Days::new(119))]) {
                    assert!(!remote_check_interval_exceeded(p.mode, last, *c), "{last} to {c}");
                    last = *c;
                }
            }
        }
        assert_eq!(seen.len(), 3, "all three modes: {seen:?}");
        assert!(stopped_past_midnight > 0, "a stoppage carried past midnight");
        let body = serde_json::to_value(&checks[0]).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["ended_at", "kind", "started_at", "technician"], "exactly the body the API takes");
        assert_eq!(body["kind"], "remote_check");
        let visit: liftwatch_core::records::NewVisit = serde_json::from_value(body).unwrap();
        assert!(visit.validate().is_ok(), "a valid POST …/visits body");
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
