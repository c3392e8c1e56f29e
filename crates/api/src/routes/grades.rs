//! The firms' yearly grades (N §III.(三).2): recorded by regulators, read
//! by regulators and by the firm itself. The grade of the latest year on
//! file also becomes the firm's current `grade`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Datelike;
use liftwatch_core::records::{FirmGrade, NewFirmGrade};
use liftwatch_core::registry::GradeLetter;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{write_refused, ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(post_grade, list_grades))
}

/// Body of `POST /api/v1/firms/{firm_id}/grades` (the fields of [`NewFirmGrade`]).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeBody {
    /// The year graded.
    #[schema(example = 2025)]
    pub year: i32,
    /// `A`, `B`, `C` or `D`.
    #[schema(example = "A")]
    pub grade: String,
    /// Whether the firm's self-declaration and service commitment were published that year
    /// (from 2021 a firm without one cannot be graded B or better, N §III.(三).2).
    #[serde(default)]
    pub self_declared: Option<bool>,
}

/// Records (or corrects) a firm's grade for a year (regulator). The grade of the latest year on file
/// also becomes the firm's current `grade`.
#[utoipa::path(post, path = "/api/v1/firms/{firm_id}/grades", tag = "regulator records",
    params(("firm_id" = String, Path, description = "firm id")),
    request_body = GradeBody,
    responses((status = 201, description = "recorded", body = FirmGrade), (status = 200, description = "that year's grade replaced", body = FirmGrade),
               (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_grade(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
    body: Result<Json<GradeBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<FirmGrade>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let g = NewFirmGrade { year: b.year, grade: b.grade.parse::<GradeLetter>()?, self_declared: b.self_declared };
    g.validate()?;
    let this_year = s.today().year();
    if g.year > this_year {
        return Err(ApiError::bad_request(format!("year {} is in the future (this year is {this_year})", g.year)));
    }
    let (g, created) = s.store.put_firm_grade(&firm_id, &g, &caller.audit_name()).await.map_err(write_refused)?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(g)))
}

/// A firm's grades, oldest year first (a regulator, or the firm itself).
#[utoipa::path(get, path = "/api/v1/firms/{firm_id}/grades", tag = "regulator records",
    params(("firm_id" = String, Path, description = "firm id")),
    responses((status = 200, body = [FirmGrade]), (status = 404, body = ErrorBody)))]
async fn list_grades(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
) -> ApiResult<Json<Vec<FirmGrade>>> {
    let not_found = || ApiError::not_found(format!("firm {firm_id} does not exist"));
    if !caller.sees_firm(&firm_id) {
        return Err(not_found());
    }
    Ok(Json(s.store.firm_grades(&firm_id).await?.ok_or_else(not_found)?))
}
