//! KPIs (api-v1.md "KPIs") and the daily series for charts. Answers come
//! from the daily rollups, never from a scan of raw events.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::NaiveDate;
use std::collections::BTreeMap;

use liftwatch_core::completeness::Completeness;
use liftwatch_core::kpi::{fault_rate_per_10k, mean_minutes, KpiReport, Subject};
use liftwatch_core::protocol::Timestamp;
use liftwatch_core::window::Window;
use liftwatch_store::overview::ProjectOverview;
use liftwatch_store::records::Reclassification;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{device, parse_day, RangeQuery, WindowQuery};
use super::registry::{check_project_visible, CommitmentBody};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(project_kpis))
        .routes(routes!(elevator_kpis))
        .routes(routes!(overview))
        .routes(routes!(project_series))
        .routes(routes!(firm_reclassification))
}

/// Downtime figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct DowntimeOut {
    /// Equipment stoppages begun in the window and cleared.
    pub count: i64,
    /// Their mean duration, minutes (null over none).
    pub mean_minutes: Option<f64>,
    /// Equipment stoppages begun in the window still open.
    pub open: i64,
    /// Start of the oldest open one (its age), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_open_since: Option<String>,
}

/// Rescue figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct RescueOut {
    /// Entrapments alarmed in the window with a known arrival.
    pub count: i64,
    /// Mean alarm-to-arrival, minutes (null over none).
    pub mean_minutes: Option<f64>,
    /// Entrapments alarmed in the window with no arrival yet.
    pub awaiting_arrival: i64,
    /// Alarm of the oldest one still awaiting arrival, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_awaiting_since: Option<String>,
}

/// Achievement against the commitment (null where the KPI is undefined).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetsOut {
    /// Fault rate.
    pub fault_rate: Option<bool>,
    /// Downtime.
    pub downtime: Option<bool>,
    /// Rescue time.
    pub rescue: Option<bool>,
}

/// One elevator's figures beside a project's pooled KPIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ElevatorFigures {
    /// The elevator.
    pub device_code: String,
    /// Runs on its member days.
    pub runs: i64,
    /// Equipment faults.
    pub equipment_faults: i64,
    /// Its own fault rate.
    pub fault_rate_per_10k: Option<f64>,
    /// Its runs against its odometer over the window's spans on its member
    /// days (`runs_share` null without a counter pair).
    pub completeness: Completeness,
}

/// What was heard from the elevator's box (elevator answers).
#[derive(Debug, Serialize, ToSchema)]
pub struct TelemetryOut {
    /// Latest event time (box clock) of any event, heartbeats included, RFC 3339.
    pub last_seen: String,
    /// Seconds from `last_seen` to the time of the answer (0 when the box's
    /// clock is ahead).
    pub silent_seconds: i64,
    /// Seq numbers never received between the smallest and the largest
    /// received: an indicator, not proof (a box may skip numbers and
    /// restarts from 0 after a firmware reset).
    pub seq_gaps: i64,
    /// Distinct events received from the box.
    pub events: i64,
}

/// KPIs of a project or an elevator (api-v1.md "KPIs").
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiOut {
    /// Project id (project answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Device code (elevator answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elevator: Option<String>,
    /// The window.
    pub window: Window,
    /// Elevators that belonged on at least one day of the window.
    pub elevators: usize,
    /// Runs.
    pub runs: i64,
    /// Equipment-caused faults.
    pub equipment_faults: i64,
    /// Equipment faults per 10,000 runs (null with no runs).
    pub fault_rate_per_10k: Option<f64>,
    /// Downtime.
    pub downtime: DowntimeOut,
    /// Rescue.
    pub rescue: RescueOut,
    /// The commitment.
    pub commitment: Option<CommitmentBody>,
    /// Achievement against it.
    pub meets_commitment: Option<MeetsOut>,
    /// How complete the runs are by the odometers: runs reported between
    /// consecutive counters in the window against the counters' difference
    /// (docs/kpis.md §9). `runs_share` is null when no elevator has a counter
    /// pair in the window: nothing was measured, which is not "complete".
    pub completeness: Completeness,
    /// What was heard from the box (elevator answers); absent when nothing
    /// was ever received from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<TelemetryOut>,
    /// Per-elevator figures (project answers with `per_elevator=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_elevator: Option<Vec<ElevatorFigures>>,
}

fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl KpiOut {
    /// The answer for `k`, with the silence measured at `now`.
    pub fn new(k: KpiReport, now: Timestamp) -> Self {
        let telemetry = k.telemetry.map(|t| TelemetryOut {
            last_seen: t.last_seen.to_rfc3339(),
            silent_seconds: ((now.0 - t.last_seen.0) / 1_000_000).max(0),
            seq_gaps: t.seq_gaps,
            events: t.events,
        });
        let mut out = KpiOut::from(k);
        out.telemetry = telemetry;
        out
    }
}

impl From<KpiReport> for KpiOut {
    fn from(k: KpiReport) -> Self {
        let (project, elevator) = match k.subject {
            Subject::Project(p) => (Some(p), None),
            Subject::Elevator(e) => (None, Some(e)),
        };
        KpiOut {
            project,
            elevator,
            window: k.window,
            elevators: k.elevators,
            runs: k.runs,
            equipment_faults: k.equipment_faults,
            fault_rate_per_10k: k.fault_rate_per_10k,
            downtime: DowntimeOut {
                count: k.downtime.count,
                mean_minutes: k.downtime.mean_minutes,
                open: k.downtime.open,
                oldest_open_since: k.downtime.oldest_open_since.map(|t| t.to_rfc3339()),
            },
            rescue: RescueOut {
                count: k.rescue.count,
                mean_minutes: k.rescue.mean_minutes,
                awaiting_arrival: k.rescue.awaiting_arrival,
                oldest_awaiting_since: k.rescue.oldest_awaiting_since.map(|t| t.to_rfc3339()),
            },
            commitment: k.commitment.map(|c| CommitmentBody {
                fault_rate_per_10k: c.fault_rate_per_10k,
                downtime_minutes: c.downtime_minutes,
                rescue_minutes: c.rescue_minutes,
            }),
            meets_commitment: k.meets_commitment.map(|m| MeetsOut {
                fault_rate: m.fault_rate,
                downtime: m.downtime,
                rescue: m.rescue,
            }),
            completeness: k.completeness,
            telemetry: None,
            per_elevator: None,
        }
    }
}

/// A project's KPIs over the rolling 6 months (`at=`) or a half-year (`half=`).
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/kpis", tag = "kpis",
    params(("project_id" = String, Path, description = "project id"), WindowQuery),
    responses((status = 200, body = KpiOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn project_kpis(
    State(s): State<ApiState>,
    caller: Caller,
    Path(project_id): Path<String>,
    q: Result<Query<WindowQuery>, QueryRejection>,
) -> ApiResult<Json<KpiOut>> {
    let Query(q) = q?;
    let w = q.window(s.today())?;
    check_project_visible(&s, &caller, &project_id).await?;
    let k = s
        .store
        .project_kpis(&project_id, w)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("project {project_id}")))?;
    let mut out = KpiOut::new(k, (s.clock)());
    if !q.per_elevator.unwrap_or(false) {
        return Ok(Json(out));
    }
    let per = s.store.project_elevator_totals(&project_id, w).await?;
    let complete: BTreeMap<_, _> = s.store.project_elevator_completeness(&project_id, w).await?.into_iter().collect();
    out.per_elevator = Some(
        per.into_iter()
            .map(|(d, t)| ElevatorFigures {
                device_code: d.to_string(),
                runs: t.runs,
                equipment_faults: t.equipment_faults,
                fault_rate_per_10k: fault_rate_per_10k(t.equipment_faults, t.runs).map(r4),
                completeness: complete.get(&d).copied().unwrap_or_default(),
            })
            .collect(),
    );
    Ok(Json(out))
}

/// One elevator's KPIs (same parameters and shape as a project's). For a firm,
/// over the days the elevator belonged to one of its projects (begun by today),
/// with the box's telemetry only while it holds the elevator.
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/kpis", tag = "kpis",
    params(("device_code" = String, Path, description = "device code"), WindowQuery),
    responses((status = 200, body = KpiOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn elevator_kpis(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    q: Result<Query<WindowQuery>, QueryRejection>,
) -> ApiResult<Json<KpiOut>> {
    let Query(q) = q?;
    let w = q.window(s.today())?;
    let d = device(&code)?;
    let not_found = || ApiError::not_found(format!("elevator {code} is not registered"));
    // A firm sees the elevator's figures on the days it maintained it, and
    // only those (it may have taken the elevator over, or handed it on).
    let k = s.store.elevator_kpis(caller.scope(s.today()), d, w).await?;
    Ok(Json(KpiOut::new(k.ok_or_else(not_found)?, (s.clock)())))
}

/// How the overview ranks the projects: worst first.
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverviewSort {
    /// Equipment faults per 10,000 runs, highest first.
    #[default]
    FaultRate,
    /// Mean downtime, longest first.
    Downtime,
    /// Mean alarm-to-arrival, longest first.
    Rescue,
    /// Open findings, most first.
    Findings,
}

/// Parameters of the overview: the window (as for a project's KPIs) and the ranking.
#[derive(Debug, Deserialize, IntoParams)]
pub struct OverviewQuery {
    /// Evaluation day (`YYYY-MM-DD`): the window is the 6 calendar months before it.
    pub at: Option<String>,
    /// A calendar half-year, `YYYYH1` or `YYYYH2`.
    pub half: Option<String>,
    /// `fault_rate` (default), `downtime`, `rescue` or `findings`; projects
    /// without the figure come last, ties by project id.
    pub sort: Option<OverviewSort>,
}

/// One project of the overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewRow {
    /// 1 for the worst by the sort asked.
    pub rank: usize,
    /// Open findings of the project.
    pub open_findings: i64,
    /// Its KPIs, as `GET /api/v1/projects/{project_id}/kpis` answers them.
    pub kpis: KpiOut,
}

/// Every project's KPIs over one window, ranked worst first (regulator):
/// one set of grouped queries, not one KPI query per project.
#[utoipa::path(get, path = "/api/v1/overview/projects", tag = "kpis", params(OverviewQuery),
    responses((status = 200, body = [OverviewRow]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn overview(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<OverviewQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<OverviewRow>>> {
    caller.require_regulator()?;
    let Query(q) = q?;
    let w = WindowQuery { at: q.at, half: q.half, per_elevator: None }.window(s.today())?;
    let mut all = s.store.projects_kpis(w).await?;
    let key = |o: &ProjectOverview| match q.sort.unwrap_or_default() {
        OverviewSort::FaultRate => o.kpis.fault_rate_per_10k,
        OverviewSort::Downtime => o.kpis.downtime.mean_minutes,
        OverviewSort::Rescue => o.kpis.rescue.mean_minutes,
        OverviewSort::Findings => Some(o.open_findings as f64),
    };
    // Worst first; without the figure last; ties by project id (the store's order).
    all.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (x, y) => y.is_some().cmp(&x.is_some()),
    });
    let now = (s.clock)();
    Ok(Json(
        all.into_iter()
            .enumerate()
            .map(|(i, o)| OverviewRow { rank: i + 1, open_findings: o.open_findings, kpis: KpiOut::new(o.kpis, now) })
            .collect(),
    ))
}

/// One day of a project's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayOut {
    /// The day.
    pub day: NaiveDate,
    /// Runs.
    pub runs: i64,
    /// Equipment faults.
    pub equipment_faults: i64,
    /// Closed equipment stoppages begun that day.
    pub stoppages: i64,
    /// Their mean duration, minutes.
    pub downtime_mean_minutes: Option<f64>,
    /// Rescues (entrapments with arrival) alarmed that day.
    pub rescues: i64,
    /// Their mean alarm-to-arrival, minutes.
    pub rescue_mean_minutes: Option<f64>,
}

/// A project's figures per day over a range (charts). Days without figures are omitted.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}/series", tag = "kpis",
    params(("project_id" = String, Path, description = "project id"), RangeQuery),
    responses((status = 200, body = [DayOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn project_series(
    State(s): State<ApiState>,
    caller: Caller,
    Path(project_id): Path<String>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<DayOut>>> {
    let Query(q) = q?;
    let w = Window::range(parse_day("from", &q.from)?, parse_day("to", &q.to)?)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if w.days() > 400 {
        return Err(ApiError::bad_request(format!("the range has {} days; at most 400 are served at once", w.days())));
    }
    check_project_visible(&s, &caller, &project_id).await?;
    let rows = s.store.project_series(&project_id, w).await?;
    let r2 = |x: Option<f64>| x.map(|v| (v * 100.0).round() / 100.0);
    Ok(Json(
        rows.into_iter()
            .map(|(day, t)| DayOut {
                day,
                runs: t.runs,
                equipment_faults: t.equipment_faults,
                stoppages: t.stoppages_closed,
                downtime_mean_minutes: r2(mean_minutes(t.downtime_us, t.stoppages_closed)),
                rescues: t.rescues,
                rescue_mean_minutes: r2(mean_minutes(t.rescue_us, t.rescues)),
            })
            .collect(),
    ))
}

/// The share of a firm's faults reclassified away from `equipment` over the rolling 6 months (`at=`)
/// or a half-year (`half=`) (a regulator, or the firm itself): regulators watch it for gaming of the
/// fault rate through cause corrections.
#[utoipa::path(get, path = "/api/v1/firms/{firm_id}/reclassification", tag = "firm records",
    params(("firm_id" = String, Path, description = "firm id"), WindowQuery),
    responses((status = 200, body = Reclassification), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn firm_reclassification(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
    q: Result<Query<WindowQuery>, QueryRejection>,
) -> ApiResult<Json<Reclassification>> {
    let Query(q) = q?;
    let w = q.window(s.today())?;
    let not_found = || ApiError::not_found(format!("firm {firm_id} does not exist"));
    if !caller.sees_firm(&firm_id) {
        return Err(not_found());
    }
    Ok(Json(s.store.firm_reclassification(&firm_id, w).await?.ok_or_else(not_found)?))
}
