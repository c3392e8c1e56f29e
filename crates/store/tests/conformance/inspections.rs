//! Equipment facts and check results of attachment 2 (issue 14): put,
//! replaced, validated, read by elevator under a firm's scope, and read in
//! bulk by project, firm or the whole city: conformance cases, generic over
//! a [`Factory`].

use liftwatch_core::inspection::{Area, CheckKind, EquipmentFacts, NewCheckResult, OutOfService};
use liftwatch_store::inspections::{CheckRecord, EquipmentFilter};
use liftwatch_store::prelude::*;
use liftwatch_store::StoreError;

use crate::Factory;
use liftwatch_testkit::{day, dev, firm, project, register};

fn facts(n: u32, supervised: &str, month: u32) -> EquipmentFacts {
    EquipmentFacts::new(dev(n), day(supervised), Area::Dinghai, month)
}

fn check(n: u32, kind: CheckKind, done: &str, uploaded: &str) -> NewCheckResult {
    NewCheckResult { device_code: dev(n), kind, done_on: day(done), passed: true, uploaded_on: day(uploaded) }
}

/// zls holds dev(0) and dev(1) (project haibin), other holds dev(2)
/// (project dongcheng), all since 2026-01-01.
async fn world<F: Factory>(f: &F, tag: &str) -> (F::S, F::Guard) {
    let (s, g) = f.open(tag).await;
    register(&s, 2).await;
    firm(&s, "other").await;
    project(&s, "dongcheng", "other", &[(2, None)]).await;
    (s, g)
}

fn firm_scope(firm_id: &str) -> Scope<'_> {
    Scope::Firm { firm_id, today: day("2026-11-28") }
}

fn days(v: &[CheckRecord]) -> Vec<(String, String)> {
    v.iter().map(|c| (c.result.result.device_code.to_string(), c.result.result.done_on.to_string())).collect()
}

/// The regulator puts an elevator's facts (created, then replaced whole);
/// invalid facts and an unregistered elevator are refused; the firm holding
/// the elevator reads them, another firm finds no such elevator.
pub async fn equipment_facts_are_put_replaced_and_scoped<F: Factory>(f: &F) {
    let (s, _g) = world(f, "eqfacts").await;
    let mut a = facts(0, "2019-05-10", 5);
    let (rec, created) = s.put_equipment(&a, "regulator").await.unwrap();
    assert!(created);
    assert_eq!((rec.facts.clone(), rec.updated_by.as_str()), (a.clone(), "regulator"));
    a.out_of_service.push(OutOfService { from: day("2022-02-01"), until: Some(day("2023-05-10")) });
    a.modernisations.push(day("2024-08-15"));
    let (rec, created) = s.put_equipment(&a, "regulator").await.unwrap();
    assert!(!created);
    assert_eq!(rec.facts, a);
    assert_eq!(s.equipment(Scope::All, dev(0)).await.unwrap().unwrap().facts, a);
    assert_eq!(s.equipment(firm_scope("zls"), dev(0)).await.unwrap().unwrap().facts, a);
    assert!(matches!(s.equipment(firm_scope("other"), dev(0)).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.equipment(Scope::All, dev(1)).await.unwrap(), None, "no facts put");
    // Refused: every problem named, nothing stored.
    let mut bad = facts(0, "2019-05-10", 13);
    bad.major_repairs.push(day("2018-01-01"));
    let e = s.put_equipment(&bad, "regulator").await.unwrap_err().to_string();
    assert!(e.contains("inspection_month") && e.contains("major_repairs[0]"), "{e}");
    assert_eq!(s.equipment(Scope::All, dev(0)).await.unwrap().unwrap().facts, a);
    let e = s.put_equipment(&facts(9, "2019-05-10", 5), "regulator").await;
    assert!(matches!(&e, Err(StoreError::NotFound(m)) if m.contains("not registered")), "{e:?}");
}

/// Results are recorded with the body that did them and who recorded them,
/// listed by the day done; one uploaded before it was done, or of an
/// unregistered elevator, is refused; scoped as the facts.
pub async fn check_results_are_recorded_listed_and_scoped<F: Factory>(f: &F) {
    let (s, _g) = world(f, "eqchecks").await;
    let later = s.add_check(&check(0, CheckKind::Test, "2025-05-20", "2025-06-20"), "ZJ Test Co.", "regulator").await;
    let later = later.unwrap();
    assert_eq!((later.body.as_str(), later.recorded_by.as_str()), ("ZJ Test Co.", "regulator"));
    assert_eq!(later.result.result.kind, CheckKind::Test);
    let mut insp = check(0, CheckKind::Inspection, "2024-05-10", "2024-05-12");
    insp.passed = false;
    let earlier = s.add_check(&insp, "", "regulator").await.unwrap();
    assert!(!earlier.result.result.passed);
    let bad = s.add_check(&check(0, CheckKind::Test, "2025-05-20", "2025-05-19"), "", "regulator").await;
    assert!(matches!(&bad, Err(StoreError::Permanent(m)) if m.contains("uploaded_on")), "{bad:?}");
    let long = "x".repeat(1000);
    let bad = s.add_check(&check(0, CheckKind::Test, "2025-05-20", "2025-05-21"), &long, "regulator").await;
    assert!(matches!(&bad, Err(StoreError::Permanent(m)) if m.contains("body")), "{bad:?}");
    let bad = s.add_check(&check(9, CheckKind::Test, "2025-05-20", "2025-05-21"), "", "regulator").await;
    assert!(matches!(bad, Err(StoreError::NotFound(_))));
    let all = s.checks(Scope::All, dev(0)).await.unwrap();
    assert_eq!(all, vec![earlier, later], "by day done");
    assert_eq!(s.checks(firm_scope("zls"), dev(0)).await.unwrap(), all);
    assert!(matches!(s.checks(firm_scope("other"), dev(0)).await, Err(StoreError::NotFound(_))));
    assert!(s.checks(Scope::All, dev(1)).await.unwrap().is_empty());
}

/// The bulk read: every elevator with facts and their results (the engine),
/// or those a project or a firm's projects hold on a day (the due list).
pub async fn inspection_set_by_project_firm_and_city<F: Factory>(f: &F) {
    let (s, _g) = world(f, "eqset").await;
    for n in [0, 2] {
        s.put_equipment(&facts(n, "2019-05-10", 5), "regulator").await.unwrap();
        s.add_check(&check(n, CheckKind::Test, "2025-05-20", "2025-05-21"), "", "regulator").await.unwrap();
    }
    // dev(1) has a result but no facts: left out.
    s.add_check(&check(1, CheckKind::Test, "2025-05-20", "2025-05-21"), "", "regulator").await.unwrap();
    let on = Some(day("2026-11-28"));
    let devices = |set: &liftwatch_store::inspections::InspectionSet| {
        set.equipment.iter().map(|e| e.facts.device_code.to_string()).collect::<Vec<_>>()
    };
    let all = s.inspection_set(&EquipmentFilter::default()).await.unwrap();
    assert_eq!(devices(&all), vec![dev(0).to_string(), dev(2).to_string()]);
    assert_eq!(
        days(&all.checks),
        vec![(dev(0).to_string(), "2025-05-20".into()), (dev(2).to_string(), "2025-05-20".into())]
    );
    let haibin = s.inspection_set(&EquipmentFilter { project: Some("haibin".into()), on, ..Default::default() }).await;
    let haibin = haibin.unwrap();
    assert_eq!(devices(&haibin), vec![dev(0).to_string()]);
    assert_eq!(days(&haibin.checks), vec![(dev(0).to_string(), "2025-05-20".into())]);
    let other = s.inspection_set(&EquipmentFilter { firm: Some("other".into()), on, ..Default::default() }).await;
    assert_eq!(devices(&other.unwrap()), vec![dev(2).to_string()]);
    let both = EquipmentFilter { project: Some("haibin".into()), firm: Some("other".into()), on };
    assert_eq!(s.inspection_set(&both).await.unwrap(), Default::default(), "haibin is not other's");
    let before = EquipmentFilter { firm: Some("zls".into()), on: Some(day("2025-12-31")), ..Default::default() };
    assert_eq!(s.inspection_set(&before).await.unwrap(), Default::default(), "not a member before 2026");
    let no_day = s.inspection_set(&EquipmentFilter { firm: Some("zls".into()), ..Default::default() }).await;
    assert!(matches!(no_day, Err(StoreError::Permanent(_))));
}
