//! Attachment 2 (docs/inspection.md): an elevator's equipment facts, the
//! results of its inspections and tests, its schedule, and what is due or
//! late across a project, a firm or the city.
//!
//! The regulator writes the facts and the results; inspection and test
//! bodies record results with the regulator's token for now (they have no
//! role of their own yet). A firm reads the facts, results and schedule of
//! the elevators it may see (404 otherwise, as for its other records) and
//! the due list of its own projects. What is due, its status and whether a
//! test's upload was late are the core's ([`liftwatch_core::inspection`]);
//! working days come from [`ApiState::calendar`] (the shipped calendar
//! files, replaced or extended by `--calendar-dir`).

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{Datelike, NaiveDate};
use liftwatch_core::inspection::{
    in_testing_pilot, items_through, status, upload_deadline, upload_late, CheckKind, CheckResult, DueItem,
    EquipmentFacts, ItemStatus, NewCheckResult, WorkCalendar,
};
use liftwatch_core::protocol::DeviceCode;
use liftwatch_store::inspections::{CheckRecord, EquipmentFilter, EquipmentRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{device, past_day, Page};
use super::registry::check_project_visible;
use crate::auth::Caller;
use crate::error::{write_refused, ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(put_equipment, get_equipment))
        .routes(routes!(post_check, list_checks))
        .routes(routes!(get_schedule))
        .routes(routes!(list_due))
}

/// Most years one schedule request spans.
pub const MAX_SCHEDULE_YEARS: i32 = 30;
/// Most months one due-list request spans.
pub const MAX_DUE_MONTHS: i64 = 36;

// ---------------------------------------------------------------------------
// Equipment facts
// ---------------------------------------------------------------------------

/// The body as the core's facts: `device_code` is the path's (it may be
/// left out); an unknown key is refused (a misspelt `modernisations` must
/// not silently drop the modernisations).
fn facts_of(d: DeviceCode, mut v: Value) -> ApiResult<EquipmentFacts> {
    let obj = v.as_object_mut().ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
    match obj.get("device_code") {
        None => {
            obj.insert("device_code".into(), Value::String(d.as_str().to_owned()));
        }
        Some(Value::String(c)) if c == d.as_str() => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!("device_code {other} is not the elevator of the path ({d})")))
        }
    }
    let keys: Vec<String> = obj.keys().cloned().collect();
    let facts: EquipmentFacts = serde_path_to_error::deserialize(v)
        .map_err(|e| ApiError::bad_request(format!("field `{}`: {}", e.path(), e.inner())))?;
    let known = serde_json::to_value(&facts).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let unknown: Vec<&str> = keys.iter().map(String::as_str).filter(|k| known.get(k).is_none()).collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "unknown field(s) {}: the equipment facts are {}",
            unknown.join(", "),
            known.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
        )));
    }
    facts.validate()?;
    Ok(facts)
}

/// Puts an elevator's equipment facts, replacing any before (regulators only): the installation supervisory
/// inspection, area, original inspection month, modernisations, major repairs, periods out of service, opt-out,
/// over-15 application and a recorded exit from the testing pilot (docs/inspection.md §1). `device_code` may be
/// left out of the body; unknown fields are refused. 201 when new, 200 when replaced.
#[utoipa::path(put, path = "/api/v1/elevators/{device_code}/equipment", tag = "attachment 2",
    params(("device_code" = String, Path, description = "device code")),
    request_body = EquipmentFacts,
    responses((status = 201, body = EquipmentRecord), (status = 200, body = EquipmentRecord),
               (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "elevator not registered", body = ErrorBody)))]
async fn put_equipment(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<EquipmentRecord>)> {
    caller.require_regulator()?;
    let d = device(&code)?;
    let Json(v) = body?;
    let facts = facts_of(d, v)?;
    let (rec, created) = s.store.put_equipment(&facts, &caller.audit_name()).await.map_err(write_refused)?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(rec)))
}

/// An elevator's equipment facts (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/equipment", tag = "attachment 2",
    params(("device_code" = String, Path, description = "device code")),
    responses((status = 200, body = EquipmentRecord),
               (status = 404, description = "unknown elevator, or no facts recorded", body = ErrorBody)))]
async fn get_equipment(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<EquipmentRecord>> {
    let d = device(&code)?;
    Ok(Json(facts_or_404(&s, &caller, d).await?))
}

async fn facts_or_404(s: &ApiState, caller: &Caller, d: DeviceCode) -> ApiResult<EquipmentRecord> {
    s.store
        .equipment(caller.scope(s.today()), d)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no equipment facts are recorded for elevator {d}")))
}

// ---------------------------------------------------------------------------
// Check results
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/elevators/{device_code}/checks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// `inspection` (定期检验) or `test` (检测).
    #[schema(example = "test")]
    pub kind: String,
    /// The day it was done, `YYYY-MM-DD` (not in the future).
    #[schema(example = "2026-05-20")]
    pub done_on: String,
    /// Whether the elevator passed.
    pub passed: bool,
    /// The day the result reached the regulator's platform, `YYYY-MM-DD` (not before `done_on`, not in the future).
    #[schema(example = "2026-05-27")]
    pub uploaded_on: String,
    /// The inspection or test body that did it (optional, at most 200 characters).
    #[serde(default)]
    #[schema(example = "Zhoushan Special Equipment Testing Co.")]
    pub inspection_body: String,
}

/// A result with its upload judged (A2 §二.(二).4).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    /// The result as recorded.
    #[serde(flatten)]
    pub record: CheckRecord,
    /// A test's upload deadline: the 10th working day after `done_on` (`null` for an inspection, or when no
    /// calendar file covers those days).
    pub upload_deadline: Option<NaiveDate>,
    /// Whether a test's result was uploaded after its deadline (`false` for an inspection; `null` when no
    /// calendar file covers those days).
    pub upload_late: Option<bool>,
}

fn check_out(record: CheckRecord, cal: &WorkCalendar) -> CheckOut {
    let r = &record.result.result;
    CheckOut { upload_deadline: upload_deadline(r, cal).ok().flatten(), upload_late: upload_late(r, cal).ok(), record }
}

/// Records the result of an inspection or a test (regulators only; inspection and test bodies use the regulator's
/// token for now). The answer says whether a test's upload was late (10 working days, China's official calendar).
#[utoipa::path(post, path = "/api/v1/elevators/{device_code}/checks", tag = "attachment 2",
    params(("device_code" = String, Path, description = "device code")),
    request_body = CheckBody,
    responses((status = 201, body = CheckOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "elevator not registered", body = ErrorBody)))]
async fn post_check(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Json<CheckBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CheckOut>)> {
    caller.require_regulator()?;
    let d = device(&code)?;
    let Json(b) = body?;
    let r = NewCheckResult {
        device_code: d,
        kind: b.kind.parse::<CheckKind>()?,
        done_on: past_day(&s, "done_on", &b.done_on)?,
        passed: b.passed,
        uploaded_on: past_day(&s, "uploaded_on", &b.uploaded_on)?,
    };
    r.validate()?;
    let rec = s.store.add_check(&r, &b.inspection_body, &caller.audit_name()).await.map_err(write_refused)?;
    Ok((StatusCode::CREATED, Json(check_out(rec, &s.calendar))))
}

/// An elevator's results, by the day done (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/checks", tag = "attachment 2",
    params(("device_code" = String, Path, description = "device code")),
    responses((status = 200, body = [CheckOut]), (status = 404, body = ErrorBody)))]
async fn list_checks(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<CheckOut>>> {
    let d = device(&code)?;
    let rows = s.store.checks(caller.scope(s.today()), d).await?;
    Ok(Json(rows.into_iter().map(|r| check_out(r, &s.calendar)).collect()))
}

// ---------------------------------------------------------------------------
// The schedule and the due list
// ---------------------------------------------------------------------------

/// One check due, where it stands today, and the result that did it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleItem {
    /// The elevator.
    pub device_code: String,
    /// What is due: kind, month, window, clause (docs/inspection.md §2–4).
    #[serde(flatten)]
    pub item: DueItem,
    /// `replaced`, `done`, `upcoming`, `open` or `late` (today).
    #[schema(example = "late")]
    pub status: &'static str,
    /// The result that did it (status `done`).
    pub result_id: Option<i64>,
    /// The day it was done.
    pub done_on: Option<NaiveDate>,
    /// Whether it was done within the window.
    pub on_time: Option<bool>,
    /// Whether that result (a test's) was uploaded after 10 working days; `null` when not done or when no
    /// calendar file covers those days.
    pub upload_late: Option<bool>,
}

/// The checks of one elevator due in the months `first..=last` (first days
/// of months), with their status on `today`.
fn items_due(
    facts: &EquipmentFacts,
    results: &[CheckResult],
    (first, last): (NaiveDate, NaiveDate),
    today: NaiveDate,
    cal: &WorkCalendar,
) -> Vec<ScheduleItem> {
    items_through(facts, last.year())
        .into_iter()
        .filter(|i| first <= i.due_month && i.due_month <= last)
        .map(|item| {
            let st = status(&item, results, today);
            let (name, done) = match st {
                ItemStatus::Replaced => ("replaced", None),
                ItemStatus::Done { id, on, on_time } => ("done", Some((id, on, on_time))),
                ItemStatus::Upcoming => ("upcoming", None),
                ItemStatus::Open => ("open", None),
                ItemStatus::Late => ("late", None),
            };
            let by = done.and_then(|(id, ..)| results.iter().find(|r| r.id == id));
            ScheduleItem {
                device_code: facts.device_code.to_string(),
                item,
                status: name,
                result_id: done.map(|d| d.0),
                done_on: done.map(|d| d.1),
                on_time: done.map(|d| d.2),
                upload_late: by.and_then(|r| upload_late(&r.result, cal).ok()),
            }
        })
        .collect()
}

/// Years of an elevator's schedule.
#[derive(Debug, Deserialize, IntoParams)]
pub struct YearsQuery {
    /// First year, `YYYY` (default: this year).
    pub from: Option<String>,
    /// Last year, `YYYY`, inclusive (default: `from`; at most 30 years after it).
    pub to: Option<String>,
}

fn year(field: &str, v: &str) -> ApiResult<i32> {
    match v.parse::<i32>() {
        Ok(y) if v.len() == 4 && (1950..=9998).contains(&y) => Ok(y),
        _ => Err(ApiError::bad_request(format!("{field} {v:?} is not a year of the form YYYY (1950–9998)"))),
    }
}

fn jan_1(y: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// An elevator's schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    /// The elevator.
    pub device_code: String,
    /// First year.
    pub from: i32,
    /// Last year.
    pub to: i32,
    /// The day the statuses are of.
    pub today: NaiveDate,
    /// Whether the elevator is in the testing pilot today.
    pub in_testing_pilot: bool,
    /// What is due in those years, by due month.
    pub items: Vec<ScheduleItem>,
}

/// What is due for an elevator in each year `from..=to`: kind, month, window, clause, age year, status today, and
/// whether the result's upload was late (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/schedule", tag = "attachment 2",
    params(("device_code" = String, Path, description = "device code"), YearsQuery),
    responses((status = 200, body = ScheduleOut), (status = 400, body = ErrorBody),
               (status = 404, description = "unknown elevator, or no facts recorded", body = ErrorBody)))]
async fn get_schedule(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    q: Result<Query<YearsQuery>, QueryRejection>,
) -> ApiResult<Json<ScheduleOut>> {
    let Query(q) = q?;
    let d = device(&code)?;
    let today = s.today();
    let from = q.from.as_deref().map(|v| year("from", v)).transpose()?.unwrap_or(today.year());
    let to = q.to.as_deref().map(|v| year("to", v)).transpose()?.unwrap_or(from);
    if to < from || to - from >= MAX_SCHEDULE_YEARS {
        return Err(ApiError::bad_request(format!(
            "from {from} to {to}: give at most {MAX_SCHEDULE_YEARS} years, from not after to"
        )));
    }
    let facts = facts_or_404(&s, &caller, d).await?.facts;
    let results: Vec<CheckResult> =
        s.store.checks(caller.scope(today), d).await?.into_iter().map(|c| c.result).collect();
    let months = (jan_1(from), NaiveDate::from_ymd_opt(to, 12, 1).unwrap_or(NaiveDate::MAX));
    Ok(Json(ScheduleOut {
        device_code: d.to_string(),
        from,
        to,
        today,
        in_testing_pilot: in_testing_pilot(&facts, today),
        items: items_due(&facts, &results, months, today, &s.calendar),
    }))
}

/// Filters of the due list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DueQuery {
    /// One month, `YYYY-MM` (or give `from` and `to`).
    pub month: Option<String>,
    /// First month, `YYYY-MM`.
    pub from: Option<String>,
    /// Last month, `YYYY-MM`, inclusive (at most 36 months from `from`).
    pub to: Option<String>,
    /// Only the elevators of this project today.
    pub project: Option<String>,
    /// Only the elevators of this firm's projects today (a firm sees its own only).
    pub firm: Option<String>,
    /// Only this status: `replaced`, `done`, `upcoming`, `open` or `late`.
    pub status: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

const STATUSES: [&str; 5] = ["replaced", "done", "upcoming", "open", "late"];

fn month(field: &str, v: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| v.len() == 7)
        .ok_or_else(|| ApiError::bad_request(format!("{field} {v:?} is not a month of the form YYYY-MM")))
}

impl DueQuery {
    /// The first days of the first and last months.
    fn months(&self) -> ApiResult<(NaiveDate, NaiveDate)> {
        let (first, last) = match (&self.month, &self.from, &self.to) {
            (Some(m), None, None) => (month("month", m)?, month("month", m)?),
            (None, Some(f), Some(t)) => (month("from", f)?, month("to", t)?),
            _ => return Err(ApiError::bad_request("give month=YYYY-MM, or from=YYYY-MM and to=YYYY-MM")),
        };
        let span = i64::from(last.year() - first.year()) * 12 + i64::from(last.month()) - i64::from(first.month());
        if !(0..MAX_DUE_MONTHS).contains(&span) {
            return Err(ApiError::bad_request(format!(
                "from {} to {}: give at most {MAX_DUE_MONTHS} months, from not after to",
                first.format("%Y-%m"),
                last.format("%Y-%m")
            )));
        }
        Ok((first, last))
    }
}

/// What is due — or late — in a month or a range of months, across a project, a firm or the city, by due month and
/// elevator: each check with its status today (a firm sees the elevators of its own projects today).
#[utoipa::path(get, path = "/api/v1/inspections/due", tag = "attachment 2", params(DueQuery),
    responses((status = 200, body = [ScheduleItem]), (status = 400, body = ErrorBody),
               (status = 404, description = "unknown project (or another firm's)", body = ErrorBody)))]
async fn list_due(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<DueQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<ScheduleItem>>> {
    let Query(q) = q?;
    let months = q.months()?;
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(st) = q.status.as_deref().filter(|st| !STATUSES.contains(st)) {
        return Err(ApiError::bad_request(format!("status {st:?} must be one of {}", STATUSES.join(", "))));
    }
    if let Some(p) = &q.project {
        check_project_visible(&s, &caller, p).await?;
    }
    let firm = match (&caller, q.firm) {
        (Caller::Regulator, f) => f,
        (Caller::Firm(own), Some(f)) if f != *own => return Ok(Json(Vec::new())),
        (Caller::Firm(own), _) => Some(own.clone()),
    };
    let today = s.today();
    let on = (q.project.is_some() || firm.is_some()).then_some(today);
    let set = s.store.inspection_set(&EquipmentFilter { project: q.project, firm, on }).await?;
    let mut results: BTreeMap<DeviceCode, Vec<CheckResult>> = BTreeMap::new();
    for c in set.checks {
        results.entry(c.result.result.device_code).or_default().push(c.result);
    }
    let mut rows = Vec::new();
    for e in &set.equipment {
        let mine = results.get(&e.facts.device_code).map_or(&[][..], Vec::as_slice);
        rows.extend(items_due(&e.facts, mine, months, today, &s.calendar));
    }
    rows.retain(|r| q.status.as_deref().is_none_or(|st| r.status == st));
    rows.sort_by(|a, b| (a.item.due_month, &a.device_code).cmp(&(b.item.due_month, &b.device_code)));
    let page = rows.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX));
    Ok(Json(page.take(usize::try_from(limit).unwrap_or(0)).collect()))
}
