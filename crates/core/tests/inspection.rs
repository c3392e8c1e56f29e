//! Attachment 2: the adjusted schedule against every clause, the working-day
//! calendar across holiday weeks, exits and stops. Tests are named after the
//! clause they prove (`A2-I-modernised` → `a2_i_modernised…`); docs/inspection.md
//! links each rule to its test.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use chrono::{Datelike, NaiveDate};
use common::dev;
use liftwatch_core::inspection::{
    exit_grounds, schedule, status, stop_ground, upload_deadline, upload_late, Area, BasisKind, CalendarError,
    CheckKind, CheckResult, Clause, DueItem, EquipmentFacts, ExitReason, ItemStatus, NewCheckResult, OutOfService,
    Regime, TestingExit, WorkCalendar,
};
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn facts(supervised: &str, area: Area, month: u32) -> EquipmentFacts {
    EquipmentFacts::new(dev(1), d(supervised), area, month)
}

/// (due month, kind, regime, clause, age year) of each item of a year.
fn brief(f: &EquipmentFacts, year: i32) -> Vec<(String, CheckKind, Regime, Clause, Option<u32>)> {
    schedule(f, year)
        .into_iter()
        .map(|i| (i.due_month.format("%Y-%m").to_string(), i.kind, i.regime, i.clause, i.age_year))
        .collect()
}

fn one(f: &EquipmentFacts, year: i32) -> DueItem {
    let v = schedule(f, year);
    assert_eq!(v.len(), 1, "{year}: {v:?}");
    v.into_iter().next().unwrap()
}

use CheckKind::{Inspection as I, Test as T};
use Regime::{Ordinary, Pilot};

// ---- A2 §一: the table -------------------------------------------------------

#[test]
fn a2_i_inspection_years_and_test_years_1_to_14() {
    let f = facts("2021-03-10", Area::Dinghai, 3);
    assert!(schedule(&f, 2021).is_empty(), "the supervisory inspection's own year");
    for n in 1..=14u32 {
        let y = 2021 + n as i32;
        let i = one(&f, y);
        let inspection = [3, 6, 8, 10, 12, 14].contains(&n);
        let (kind, clause) = if inspection { (I, Clause::InspectionYears) } else { (T, Clause::TestYears) };
        assert_eq!((i.kind, i.clause, i.age_year, i.regime), (kind, clause, Some(n), Pilot), "year {n}");
        assert_eq!(i.due_month, NaiveDate::from_ymd_opt(y, 3, 1).unwrap());
    }
}

#[test]
fn a2_i_over_15_one_inspection_and_one_test_each_year_to_30() {
    let f = facts("2021-03-10", Area::Dinghai, 3);
    for n in 15..=30u32 {
        let y = 2021 + n as i32;
        let got = brief(&f, y);
        // The test of the year before falls in September; this year's inspection in March.
        assert_eq!(
            got,
            [
                (format!("{y}-03"), I, Pilot, Clause::Over15, Some(n)),
                (format!("{y}-09"), T, Pilot, Clause::Over15, Some(n)),
            ],
            "year {n}"
        );
    }
    let v = schedule(&f, 2036);
    assert_eq!(v[1].also, [Clause::Window], "the half-year test has the ±2 months window");
}

#[test]
fn a2_i_a_drifted_month_takes_the_nearest_anniversary() {
    // Supervised in November 2018, inspected every January: January 2022 is
    // 38 months on, nearest to the 3rd anniversary.
    let f = facts("2018-11-20", Area::Dinghai, 1);
    assert_eq!(one(&f, 2022).age_year, Some(3));
    assert_eq!(one(&f, 2022).kind, I);
    assert_eq!(one(&f, 2021).age_year, Some(2));
    // Six months apart rounds up: supervised in July, inspected in January.
    let g = facts("2021-07-05", Area::Dinghai, 1);
    assert_eq!(one(&g, 2022).age_year, Some(1));
}

proptest! {
    /// With the inspection month of the supervisory inspection, the check of
    /// calendar year Y is age year Y − year(supervised); from 2023 (the whole
    /// city in the pilot) every year follows the table exactly.
    #[test]
    fn a2_i_the_table_holds_for_every_elevator_and_year(
        y0 in 1990i32..2030, m in 1u32..=12, day in 1u32..=28, n in 1u32..=30,
    ) {
        let sup = NaiveDate::from_ymd_opt(y0, m, day).unwrap();
        let f = EquipmentFacts::new(dev(1), sup, Area::Other, m);
        let y = y0 + n as i32;
        prop_assume!(y >= 2023);
        let v = schedule(&f, y);
        let expect: Vec<(CheckKind, u32)> = if n >= 15 {
            let mut e = vec![(I, n)];
            if m >= 7 { e.insert(0, (T, n - 1)); } // last year's half-year test
            if m <= 6 { e.push((T, n)); }
            if n == 15 && m >= 7 { e.remove(0); } // year 14 had no half-year test
            e
        } else if [3, 6, 8, 10, 12, 14].contains(&n) {
            vec![(I, n)]
        } else {
            vec![(T, n)]
        };
        let got: Vec<(CheckKind, u32)> = v.iter().map(|i| (i.kind, i.age_year.unwrap())).collect();
        prop_assert_eq!(got, expect);
        for i in &v {
            prop_assert_eq!(i.regime, Pilot);
            prop_assert!(i.window_from <= i.due_month && i.due_month <= i.window_to);
        }
    }

    /// Every item lies in its year, its window holds its month, a test's
    /// window is 2 months either side, an inspection's ends with its month.
    #[test]
    fn a2_iii_3_windows_hold_for_any_facts(
        y0 in 1995i32..2026, m in 1u32..=12, area in 0usize..6, year in 2019i32..2060,
    ) {
        let f = EquipmentFacts::new(dev(1), NaiveDate::from_ymd_opt(y0, 6, 15).unwrap(), Area::ALL[area], m);
        for i in schedule(&f, year) {
            prop_assert_eq!(i.due_month.year(), year);
            let months = |a: NaiveDate, b: NaiveDate| (b.year() - a.year()) * 12 + b.month() as i32 - a.month() as i32;
            prop_assert_eq!(months(i.window_from, i.due_month), 2);
            let after = if i.kind == T && i.regime == Pilot { 2 } else { 0 };
            prop_assert_eq!(months(i.due_month, i.window_to), after);
            prop_assert!(i.window_to.succ_opt().unwrap().day() == 1, "ends on a month's last day");
        }
    }
}

#[test]
fn a2_iii_3_window_crosses_year_ends() {
    let jan = one(&facts("2021-01-10", Area::Dinghai, 1), 2022);
    assert_eq!((jan.kind, jan.window_from, jan.window_to), (T, d("2021-11-01"), d("2022-03-31")));
    let dec = one(&facts("2020-12-10", Area::Dinghai, 12), 2022);
    assert_eq!((dec.kind, dec.window_from, dec.window_to), (T, d("2022-10-01"), d("2023-02-28")));
    let insp = one(&facts("2019-05-10", Area::Dinghai, 5), 2022);
    assert_eq!((insp.kind, insp.window_from, insp.window_to), (I, d("2022-03-01"), d("2022-05-31")));
}

// ---- A2 §一: modernisation, major repairs, stops -----------------------------

#[test]
fn a2_i_modernised_elevator_starts_again() {
    let mut f = facts("2005-03-10", Area::Dinghai, 3);
    f.over_15_applied_on = Some(d("2020-12-01"));
    f.modernisations.push(d("2022-08-15"));
    assert_eq!(brief(&f, 2022), [("2022-03".into(), I, Pilot, Clause::Over15, Some(17))], "before: year 17");
    assert!(schedule(&f, 2022).iter().all(|i| i.due_month < d("2022-08-01")), "the half-year test is gone");
    let y1 = one(&f, 2023);
    assert_eq!((y1.due_month, y1.kind, y1.age_year), (d("2023-08-01"), T, Some(1)));
    assert_eq!(y1.age_basis.unwrap().kind, BasisKind::Modernisation);
    assert!(y1.also.contains(&Clause::Modernised));
    assert_eq!((one(&f, 2025).kind, one(&f, 2025).age_year), (I, Some(3)));
    // Modernised before the pilot began in the area: the count is not reset.
    let mut g = facts("2005-03-10", Area::Dinghai, 3);
    g.modernisations.push(d("2020-08-15"));
    assert_eq!(schedule(&g, 2023)[0].age_year, Some(18));
}

#[test]
fn a2_i_major_repair_over_6_counts_as_6() {
    let mut f = facts("2012-04-10", Area::Dinghai, 4);
    f.major_repairs.push(d("2022-10-10")); // in use 10 years
    assert_eq!(one(&f, 2022).age_year, Some(10), "April 2022, before the repair");
    let y7 = one(&f, 2023);
    assert_eq!((y7.due_month, y7.kind, y7.age_year), (d("2023-10-01"), T, Some(7)));
    let basis = y7.age_basis.unwrap();
    assert_eq!((basis.kind, basis.on, basis.counted_as), (BasisKind::MajorRepair, d("2022-10-10"), 6));
    assert!(y7.also.contains(&Clause::MajorRepairOver6));
    assert_eq!((one(&f, 2024).kind, one(&f, 2024).age_year), (I, Some(8)));
    // Exactly 6 years counts as 6 or more.
    let mut g = facts("2016-04-10", Area::Dinghai, 4);
    g.major_repairs.push(d("2022-04-10"));
    assert_eq!(one(&g, 2023).age_year, Some(7));
}

#[test]
fn a2_i_major_repair_within_6_replaces_that_years_check() {
    let mut f = facts("2019-04-10", Area::Dinghai, 4);
    f.major_repairs.push(d("2023-06-01")); // in use 4 years
    let y4 = one(&f, 2023);
    assert_eq!((y4.kind, y4.age_year, y4.replaced_by), (T, Some(4), Some(d("2023-06-01"))));
    assert!(y4.also.contains(&Clause::MajorRepairWithin6));
    assert_eq!(status(&y4, &[], d("2023-12-31")), ItemStatus::Replaced);
    let y5 = one(&f, 2024);
    assert_eq!((y5.kind, y5.age_year, y5.replaced_by), (T, Some(5), None), "the count goes on");
    assert_eq!((one(&f, 2025).kind, one(&f, 2025).age_year), (I, Some(6)));
    // A day before the 6th anniversary is still within 6 years.
    let mut g = facts("2016-04-10", Area::Dinghai, 4);
    g.major_repairs.push(d("2022-04-09"));
    assert_eq!(one(&g, 2022).replaced_by, Some(d("2022-04-09")));
}

#[test]
fn a2_i_stopped_over_1_year_is_tested_and_inspected_on_return() {
    // Year 3 (an inspection, March 2022) falls in the stop: validity ran out.
    let mut f = facts("2019-03-10", Area::Dinghai, 3);
    f.out_of_service.push(OutOfService { from: d("2022-02-01"), until: Some(d("2023-05-10")) });
    assert!(schedule(&f, 2022).is_empty(), "nothing due while stopped");
    let got = brief(&f, 2023);
    assert_eq!(
        got,
        [
            ("2023-05".into(), I, Pilot, Clause::StoppedOver1Year, None),
            ("2023-05".into(), T, Pilot, Clause::StoppedOver1Year, None),
        ],
        "March 2023 (year 4) fell in the stop too"
    );
    let t = &schedule(&f, 2023)[1];
    assert_eq!((t.window_from, t.window_to), (d("2023-03-01"), d("2023-05-31")), "by the return, not after");
    assert_eq!(one(&f, 2024).age_year, Some(5), "the yearly cycle goes on");
}

#[test]
fn a2_i_stopped_over_1_year_with_only_tests_missed_is_tested() {
    let mut f = facts("2019-03-10", Area::Dinghai, 3);
    f.out_of_service.push(OutOfService { from: d("2022-04-01"), until: Some(d("2023-04-20")) });
    assert_eq!(brief(&f, 2023), [("2023-04".into(), T, Pilot, Clause::StoppedOver1Year, None)]);
}

#[test]
fn tsg_08_a_short_stop_makes_up_the_missed_check_on_return() {
    let mut f = facts("2019-03-10", Area::Dinghai, 3);
    f.out_of_service.push(OutOfService { from: d("2023-02-01"), until: Some(d("2023-08-20")) });
    assert_eq!(brief(&f, 2023), [("2023-08".into(), T, Pilot, Clause::Ordinary, None)]);
    let mut g = facts("2019-03-10", Area::Dinghai, 3);
    g.out_of_service.push(OutOfService { from: d("2023-05-01"), until: Some(d("2023-08-20")) });
    assert_eq!(brief(&g, 2023), [("2023-03".into(), T, Pilot, Clause::TestYears, Some(4))], "nothing missed");
    let mut h = facts("2019-03-10", Area::Dinghai, 3);
    h.out_of_service.push(OutOfService { from: d("2023-02-01"), until: None });
    assert!(schedule(&h, 2023).is_empty() && schedule(&h, 2024).is_empty(), "still out of service");
}

// ---- A2 §五, §三.4–6: who is in the pilot ------------------------------------

#[test]
fn a2_v_area_start_dates_decide_the_regime() {
    let cases = [
        (Area::Dinghai, 2020, 12, Ordinary),
        (Area::Dinghai, 2021, 1, Pilot),
        (Area::Daishan, 2021, 1, Pilot),
        (Area::Putuo, 2021, 6, Ordinary),
        (Area::Liuheng, 2021, 7, Pilot),
        (Area::Putuoshan, 2021, 7, Pilot),
        (Area::Other, 2022, 6, Ordinary),
        (Area::Other, 2022, 7, Pilot),
    ];
    for (area, y, m, regime) in cases {
        let f = EquipmentFacts::new(dev(1), NaiveDate::from_ymd_opt(2018, m, 5).unwrap(), area, m);
        let i = one(&f, y);
        assert_eq!(i.regime, regime, "{area} {y}-{m}");
        if regime == Ordinary {
            assert_eq!((i.kind, i.clause), (I, Clause::AreaStart), "{area}: the ordinary yearly inspection");
        }
    }
}

#[test]
fn a2_iii_5_over_15_before_july_2022_only_on_application() {
    let mut f = facts("2000-03-10", Area::Dinghai, 3);
    assert_eq!(brief(&f, 2021), [("2021-03".into(), I, Ordinary, Clause::Over15Application, Some(21))]);
    assert_eq!(brief(&f, 2022)[0].2, Ordinary, "March 2022, before the whole city");
    assert_eq!(brief(&f, 2023)[0].2, Pilot, "from 2022-07-01 without application (MISSION.md)");
    f.over_15_applied_on = Some(d("2021-02-01"));
    assert_eq!(brief(&f, 2021)[0].2, Pilot, "applied a month before");
    f.over_15_applied_on = Some(d("2021-02-02"));
    assert_eq!(brief(&f, 2021)[0].2, Ordinary, "less than a month before");
    // Under 15 in the same years: no application needed.
    assert_eq!(brief(&facts("2010-03-10", Area::Dinghai, 3), 2021)[0].2, Pilot);
}

#[test]
fn a2_iii_4_opted_out_elevators_keep_the_yearly_inspection() {
    let mut f = facts("2015-03-10", Area::Dinghai, 3);
    f.opted_out_on = Some(d("2023-02-01"));
    assert_eq!(brief(&f, 2022), [("2022-03".into(), T, Pilot, Clause::TestYears, Some(7))]);
    for y in 2023..2040 {
        assert_eq!(brief(&f, y), [(format!("{y}-03"), I, Ordinary, Clause::OptOut, Some((y - 2015) as u32))]);
    }
}

#[test]
fn a2_iii_6_exited_elevators_return_to_the_yearly_inspection() {
    let mut f = facts("2015-03-10", Area::Dinghai, 3);
    f.testing_exit = Some(TestingExit { on: d("2022-08-01"), reason: ExitReason::Regulator, note: String::new() });
    assert_eq!(brief(&f, 2022)[0].2, Pilot);
    assert_eq!(brief(&f, 2023), [("2023-03".into(), I, Ordinary, Clause::Exited, Some(8))]);
}

// ---- Results, exits, stops ----------------------------------------------------

/// The checks of the elevator supervised 2019-05-10 in Dinghai, done on time
/// up to 2022: the ordinary inspection of 2020, year 2's test, year 3's inspection.
fn done_to_2022() -> Vec<CheckResult> {
    vec![result(1, I, "2020-05-03", true), result(2, T, "2021-05-03", true), result(3, I, "2022-05-03", true)]
}

fn with(mut v: Vec<CheckResult>, r: CheckResult) -> Vec<CheckResult> {
    v.push(r);
    v
}

fn result(id: i64, kind: CheckKind, done: &str, passed: bool) -> CheckResult {
    CheckResult {
        id,
        result: NewCheckResult { device_code: dev(1), kind, done_on: d(done), passed, uploaded_on: d(done) },
    }
}

#[test]
fn item_status_follows_the_window() {
    let t = one(&facts("2019-05-10", Area::Dinghai, 5), 2023); // year 4: test, window 2023-03-01..2023-07-31
    assert_eq!(status(&t, &[], d("2023-02-28")), ItemStatus::Upcoming);
    assert_eq!(status(&t, &[], d("2023-03-01")), ItemStatus::Open);
    assert_eq!(status(&t, &[], d("2023-07-31")), ItemStatus::Open);
    assert_eq!(status(&t, &[], d("2023-08-01")), ItemStatus::Late);
    let r = [result(7, T, "2023-07-31", true)];
    assert_eq!(status(&t, &r, d("2023-09-01")), ItemStatus::Done { id: 7, on: d("2023-07-31"), on_time: true });
    let late = [result(8, I, "2023-08-02", true)];
    assert_eq!(status(&t, &late, d("2023-09-01")), ItemStatus::Done { id: 8, on: d("2023-08-02"), on_time: false });
    let early = [result(9, T, "2023-02-28", true)];
    assert_eq!(status(&t, &early, d("2023-09-01")), ItemStatus::Late, "before the window does not count");
    let i = one(&facts("2019-05-10", Area::Dinghai, 5), 2022); // year 3: inspection
    assert_eq!(
        status(&i, &[result(1, T, "2022-05-03", true)], d("2022-06-01")),
        ItemStatus::Late,
        "a test is not an inspection"
    );
}

#[test]
fn a2_iv_1_1_a_test_not_done_in_time_ends_the_testing_pilot() {
    let f = facts("2019-05-10", Area::Dinghai, 5);
    let grounds = |r: &[CheckResult], today: &str| exit_grounds(&f, r, &[], d(today));
    let before = done_to_2022();
    assert!(grounds(&before, "2023-07-31").is_empty(), "year 4's window is open");
    let g = grounds(&before, "2023-08-01");
    assert_eq!(
        (g[0].reason, g[0].clause, g[0].since),
        (ExitReason::TestNotDone, Clause::ExitTestNotDone, d("2023-08-01"))
    );
    assert_eq!(g[0].item.as_ref().unwrap().due_month, d("2023-05-01"));
    assert!(
        grounds(&with(before.clone(), result(9, T, "2023-07-31", false)), "2024-01-01").is_empty(),
        "done (failed) in time"
    );
    assert_eq!(
        grounds(&with(before.clone(), result(9, T, "2023-08-01", true)), "2024-01-01").len(),
        1,
        "done late is not in time"
    );
    // Only tests of the pilot: 2020's ordinary inspection and 2022's inspection missed are not.
    let tests_only = [result(2, T, "2021-05-03", true), result(4, T, "2023-05-03", true)];
    assert!(grounds(&tests_only, "2023-08-01").is_empty());
    assert_eq!(
        grounds(&[], "2021-08-01")[0].item.as_ref().unwrap().due_month,
        d("2021-05-01"),
        "year 2, the first test"
    );
}

#[test]
fn a2_iv_1_3_an_accident_in_the_pilot_ends_it() {
    let f = facts("2019-05-10", Area::Putuo, 5);
    let ok = [result(1, I, "2022-05-03", true)];
    assert!(exit_grounds(&f, &ok, &[(4, d("2021-06-30"))], d("2022-06-01")).is_empty(), "before Putuo's start");
    let g = exit_grounds(&f, &ok, &[(5, d("2021-07-01"))], d("2022-06-01"));
    assert_eq!((g[0].reason, g[0].accident, g[0].since), (ExitReason::Accident, Some(5), d("2021-07-01")));
    assert!(exit_grounds(&f, &ok, &[(6, d("2022-07-01"))], d("2022-06-01")).is_empty(), "not yet");
}

#[test]
fn a2_iv_1_recorded_exits_count_from_their_day() {
    let mut f = facts("2019-05-10", Area::Dinghai, 5);
    f.testing_exit = Some(TestingExit { on: d("2022-09-01"), reason: ExitReason::ConditionsNotMet, note: "x".into() });
    let ok = done_to_2022();
    assert!(exit_grounds(&f, &ok, &[], d("2022-08-31")).is_empty());
    let g = exit_grounds(&f, &ok, &[], d("2022-09-01"));
    assert_eq!((g[0].reason, g[0].clause), (ExitReason::ConditionsNotMet, Clause::ExitConditions));
}

#[test]
fn a2_vi_1_out_of_the_pilot_and_past_the_inspection_date_is_stopped() {
    let f = facts("2019-05-10", Area::Dinghai, 5);
    // Year 4's test (May 2023, window to 2023-07-31) was not done: the elevator leaves on 2023-08-01.
    let before = done_to_2022();
    let s = stop_ground(&f, &before, d("2023-08-01"), d("2023-08-01")).unwrap();
    assert_eq!((s.item.due_month, s.since), (d("2023-05-01"), d("2023-08-01")));
    assert!(stop_ground(&f, &before, d("2023-08-02"), d("2023-08-01")).is_none(), "not out of the pilot yet");
    let late_test = with(before.clone(), result(9, T, "2023-08-10", true));
    assert!(
        stop_ground(&f, &late_test, d("2023-08-01"), d("2023-08-20")).is_some(),
        "after the exit a test restores nothing"
    );
    let inspected = with(before.clone(), result(9, I, "2023-08-10", true));
    assert!(stop_ground(&f, &inspected, d("2023-08-01"), d("2023-08-20")).is_none(), "inspected since");
    let failed = with(before.clone(), result(9, I, "2023-08-10", false));
    assert!(stop_ground(&f, &failed, d("2023-08-01"), d("2023-08-20")).is_some(), "a failed inspection is no validity");
    // Left for an accident with every check done on time: not past its date until the next one closes.
    let done = before;
    let mut g = facts("2019-05-10", Area::Dinghai, 5);
    g.testing_exit = Some(TestingExit { on: d("2022-09-01"), reason: ExitReason::Accident, note: String::new() });
    assert!(stop_ground(&g, &done, d("2022-09-01"), d("2023-05-31")).is_none());
    let s = stop_ground(&g, &done, d("2022-09-01"), d("2023-06-01")).unwrap();
    assert_eq!(
        (s.item.regime, s.item.clause, s.item.kind),
        (Ordinary, Clause::Exited, I),
        "the yearly inspection of May 2023"
    );
    // Out of service: no stop order.
    let mut h = f.clone();
    h.out_of_service.push(OutOfService { from: d("2023-09-01"), until: None });
    assert!(stop_ground(&h, &done_to_2022(), d("2023-08-01"), d("2023-09-05")).is_none());
}

// ---- A2 §二.(二).4: uploads within 10 working days ----------------------------

fn test_done(done: &str, uploaded: &str) -> NewCheckResult {
    NewCheckResult { device_code: dev(1), kind: T, done_on: d(done), passed: true, uploaded_on: d(uploaded) }
}

#[test]
fn a2_ii_2_4_national_day_2024_counts_the_adjusted_sundays() {
    let cal = WorkCalendar::shipped();
    assert!(cal.is_working_day(d("2024-09-29")).unwrap(), "Sunday 29 September 2024 is worked");
    assert!(cal.is_working_day(d("2024-10-12")).unwrap(), "Saturday 12 October 2024 is worked");
    assert!(!cal.is_working_day(d("2024-10-07")).unwrap(), "Monday 7 October 2024 is a holiday");
    assert!(!cal.is_working_day(d("2024-09-28")).unwrap(), "an ordinary Saturday");
    // Done Friday 27 September: 29, 30 Sep; 8, 9, 10, 11, 12, 14, 15, 16 Oct.
    let r = test_done("2024-09-27", "2024-10-16");
    assert_eq!(upload_deadline(&r, &cal).unwrap(), Some(d("2024-10-16")));
    assert!(!upload_late(&r, &cal).unwrap());
    assert!(upload_late(&test_done("2024-09-27", "2024-10-17"), &cal).unwrap());
    assert_eq!(cal.working_days_between(d("2024-09-27"), d("2024-10-16")).unwrap(), 10);
}

#[test]
fn a2_ii_2_4_spring_festival_and_new_year_weeks() {
    let cal = WorkCalendar::shipped();
    // 2024: off 10–17 February (the eve, the 9th, is worked), worked Sunday 4 and Sunday 18 February.
    assert_eq!(cal.add_working_days(d("2024-02-02"), 10).unwrap(), d("2024-02-21"));
    // 2026: off 15–23 February, worked Saturday 14 and Saturday 28 February:
    // 13, 14, 24, 25, 26, 27, 28 February, 2, 3, 4 March.
    assert_eq!(cal.add_working_days(d("2026-02-12"), 10).unwrap(), d("2026-03-04"));
    // Across a year end: 2024-12-25 → 2025-01-09 (1 January off).
    assert_eq!(cal.add_working_days(d("2024-12-25"), 10).unwrap(), d("2025-01-09"));
    // An inspection has no upload deadline in A2.
    let mut r = test_done("2024-09-27", "2025-01-01");
    r.kind = I;
    assert_eq!(upload_deadline(&r, &cal).unwrap(), None);
    assert!(!upload_late(&r, &cal).unwrap());
}

#[test]
fn calendar_files_ship_2021_to_2027_and_2027_is_provisional() {
    let cal = WorkCalendar::shipped();
    let years: Vec<(i32, bool)> = cal.years().map(|y| (y.year, y.provisional)).collect();
    assert_eq!(
        years,
        [(2021, false), (2022, false), (2023, false), (2024, false), (2025, false), (2026, false), (2027, true)]
    );
    for (name, contents) in liftwatch_core::inspection::calendar::SHIPPED {
        let y = liftwatch_core::inspection::CalendarYear::parse(contents).unwrap();
        assert_eq!(*name, format!("cn-{}.toml", y.year));
    }
    assert_eq!(cal.is_working_day(d("2030-01-02")), Err(CalendarError::NotCovered(2030)));
    assert!(matches!(cal.add_working_days(d("2027-12-25"), 10), Err(CalendarError::NotCovered(2028))));
}

#[test]
fn calendar_files_are_replaceable_and_checked() {
    let mut cal = WorkCalendar::shipped();
    let file = "year = 2027\nsource = \"test\"\nholidays = [\"2027-10-01..2027-10-07\"]\nworking_weekends = [\"2027-09-26\"]\n";
    assert_eq!(cal.load(file), Ok(2027));
    assert!(!cal.year(2027).unwrap().provisional);
    assert!(cal.is_working_day(d("2027-09-26")).unwrap());
    assert!(!cal.is_working_day(d("2027-10-05")).unwrap());
    assert!(cal.is_working_day(d("2027-06-09")).unwrap(), "the replaced file does not list it");
    let bad = "year = 2027\nsource = \"x\"\nholidays = [\"2027-10-07..2027-10-01\", \"2028-01-01\"]\nworking_weekends = [\"2027-09-27\", \"2027-13-01\"]\n";
    let CalendarError::Invalid { year, problems } = cal.load(bad).unwrap_err() else { panic!() };
    assert_eq!(year, 2027);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(matches!(cal.load("year = 2027\nholidays = 3"), Err(CalendarError::Parse(_))));
    assert!(matches!(
        cal.load("year = 2027\nsource=\"\"\nholidays=[]\nworking_weekends=[]\nextra=1"),
        Err(CalendarError::Parse(_))
    ));
}

// ---- As rules of the engine ---------------------------------------------------

mod rules {
    use super::*;
    use common::t;
    use liftwatch_core::records::Accident;
    use liftwatch_core::rules::{evaluate, Action, FindingDraft, RuleId, RulesConfig, Snapshot, Subject};

    fn snap(day: &str, results: Vec<CheckResult>) -> Snapshot {
        let mut s = Snapshot::new(t(&format!("{day}T12:00:00+08:00")), chrono_tz::Asia::Shanghai);
        s.equipment.push(facts("2019-05-10", Area::Dinghai, 5));
        s.check_results = results;
        s
    }

    fn found(s: &Snapshot) -> Vec<(RuleId, Action)> {
        let v: Vec<FindingDraft> = evaluate(s, &RulesConfig::default());
        for f in &v {
            assert_eq!(f.subject, Subject::Elevator(dev(1)));
            assert_eq!(f.project, None, "the maintenance project does not leave the A1 pilot");
        }
        v.into_iter().map(|f| (f.rule, f.action)).collect()
    }

    #[test]
    fn a2_iv_1_1_test_not_done_rule_exits_and_a2_vi_1_stop_rule_stops() {
        assert!(found(&snap("2023-07-31", done_to_2022())).is_empty());
        assert_eq!(
            found(&snap("2023-08-01", done_to_2022())),
            [(RuleId::TestNotDone, Action::Exit), (RuleId::StopOverdue, Action::Stop)]
        );
        let inspected = with(done_to_2022(), result(9, I, "2023-08-10", true));
        assert_eq!(
            found(&snap("2023-08-11", inspected)),
            [(RuleId::TestNotDone, Action::Exit)],
            "inspected: runs again"
        );
        assert_eq!(RuleId::StopOverdue.clause(), "A2 §VI.(一)");
    }

    #[test]
    fn a2_iv_1_3_accident_rule_exits_and_stops_when_overdue() {
        let mut s = snap("2023-06-01", done_to_2022());
        s.accidents.push(Accident {
            id: 4,
            project_id: "haibin".into(),
            firm_id: "zls".into(),
            device_code: dev(1).as_str().into(),
            on: d("2022-09-01"),
            caused_by_maintenance: false,
            summary: "x".into(),
            recorded_by: "regulator".into(),
            recorded_at: t("2022-09-02T00:00:00Z"),
        });
        // Out of the pilot since the accident: 2023's check is the ordinary
        // inspection (the facts are not updated yet, so it is year 4's test,
        // window to July) — not overdue on 2023-06-01.
        assert_eq!(found(&s), [(RuleId::TestingAccident, Action::Exit)]);
        s.now = t("2023-08-01T12:00:00+08:00");
        assert_eq!(
            found(&s),
            [
                (RuleId::TestNotDone, Action::Exit),
                (RuleId::TestingAccident, Action::Exit),
                (RuleId::StopOverdue, Action::Stop)
            ]
        );
    }
}
