//! The state-changing endpoints: POSTs behind the bearer token.
//!
//! Every handler checks the token first, before it looks at anything else
//! (an unknown pipeline and a wrong token both answer 401 without it), and
//! changes nothing when it fails. Run, pause and resume are handed to the
//! daemon's loop ([`AdminCommand`]); resync resets the cursors in the store
//! and asks for a run; dead letter retry runs the same code as
//! `leadbridge dlq retry`, and drop removes the entry in one commit.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::auth::bearer_ok;
use super::commands::{AdminCommand, SendError};
use super::state::AdminState;
use crate::engine::cycle::{Cycle, RetryOutcome};
use crate::metrics::AdminAction;
use crate::state::{Commit, Side};

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// Logs and counts the action, then builds the response.
fn done(
    action: &'static str,
    pipeline: &str,
    status: StatusCode,
    detail: &str,
    body: serde_json::Value,
) -> Response {
    let outcome = match status {
        s if s.is_success() => "ok",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        _ => "failed",
    };
    AdminAction {
        action,
        pipeline,
        outcome,
        detail,
    }
    .emit();
    answer(status, body)
}

/// The token check every action starts with: the 401 to answer, if any.
fn refused(
    state: &AdminState,
    headers: &HeaderMap,
    action: &'static str,
    pipeline: &str,
) -> Option<Response> {
    if bearer_ok(headers, state.inner.admin_token.as_ref()) {
        return None;
    }
    let mut response = done(
        action,
        pipeline,
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token",
        json!({"error": "a valid `Authorization: Bearer <admin_token>` is required"}),
    );
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    Some(response)
}

fn unknown_pipeline(action: &'static str, name: &str) -> Response {
    done(
        action,
        name,
        StatusCode::NOT_FOUND,
        "no such pipeline",
        json!({"error": format!("no pipeline named {name:?}")}),
    )
}

fn not_queued(action: &'static str, name: &str, e: SendError) -> Response {
    done(
        action,
        name,
        StatusCode::SERVICE_UNAVAILABLE,
        &e.to_string(),
        json!({"error": e.to_string()}),
    )
}

/// The pipeline names' check shared by the pipeline actions.
fn known(state: &AdminState, name: &str) -> bool {
    state.topology().pipeline(name).is_some()
}

/// `POST /api/pipelines/{name}/run`: a cycle now (202: queued).
pub(crate) async fn run(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refused(&state, &headers, "run", &name) {
        return r;
    }
    if !known(&state, &name) {
        return unknown_pipeline("run", &name);
    }
    let command = AdminCommand::RunNow {
        pipeline: name.clone(),
        reason: "admin",
    };
    match state.send(command) {
        Ok(()) => done(
            "run",
            &name,
            StatusCode::ACCEPTED,
            "",
            json!({"pipeline": name, "queued": "run"}),
        ),
        Err(e) => not_queued("run", &name, e),
    }
}

/// `POST /api/pipelines/{name}/pause` and `/resume`.
async fn pause_or_resume(
    state: AdminState,
    name: String,
    headers: HeaderMap,
    pause: bool,
) -> Response {
    let action = if pause { "pause" } else { "resume" };
    if let Some(r) = refused(&state, &headers, action, &name) {
        return r;
    }
    if !known(&state, &name) {
        return unknown_pipeline(action, &name);
    }
    let command = if pause {
        AdminCommand::Pause {
            pipeline: name.clone(),
        }
    } else {
        AdminCommand::Resume {
            pipeline: name.clone(),
        }
    };
    match state.send(command) {
        Ok(()) => {
            state.observe_paused(&name, pause);
            done(
                action,
                &name,
                StatusCode::OK,
                "",
                json!({"pipeline": name, "state": if pause { "paused" } else { "running" }}),
            )
        }
        Err(e) => not_queued(action, &name, e),
    }
}

/// `POST /api/pipelines/{name}/pause`.
pub(crate) async fn pause(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    pause_or_resume(state, name, headers, true).await
}

/// `POST /api/pipelines/{name}/resume`.
pub(crate) async fn resume(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    pause_or_resume(state, name, headers, false).await
}

/// `POST /api/pipelines/{name}/resync`: both cursors back to the start,
/// then a run. Safe at any time (links and fingerprints stay, so records
/// already in sync cause no writes); a cycle in flight may still commit
/// the checkpoint of the page it is on, in which case that side resumes
/// from there: resync again, or pause first, to re-read everything.
/// `?only_unlinked=true` resets only the marketing cursor, as
/// `leadbridge resync --only-unlinked` does (after a handoff rule change).
pub(crate) async fn resync(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Query(query): Query<ResyncQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refused(&state, &headers, "resync", &name) {
        return r;
    }
    let topology = state.topology();
    let Some(s) = topology.pipeline(&name) else {
        return unknown_pipeline("resync", &name);
    };
    let mut commit = Commit::new(name.clone());
    commit.reset_cursor(Side::Marketing, s.pipeline.marketing.object.clone());
    if !query.only_unlinked {
        commit.reset_cursor(Side::Crm, s.pipeline.crm.object.clone());
    }
    if let Err(e) = state.inner.store.commit(&commit).await {
        return done(
            "resync",
            &name,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            json!({"error": format!("state store: {e}")}),
        );
    }
    state.clear_rule_changed(&name);
    let queued = state
        .send(AdminCommand::RunNow {
            pipeline: name.clone(),
            reason: "resync",
        })
        .is_ok();
    let cursors = if query.only_unlinked {
        "marketing reset"
    } else {
        "reset"
    };
    done(
        "resync",
        &name,
        StatusCode::ACCEPTED,
        "",
        json!({"pipeline": name, "cursors": cursors, "run_queued": queued}),
    )
}

/// The query of `POST …/resync`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ResyncQuery {
    /// Re-read marketing only (see [`resync`]).
    #[serde(default)]
    only_unlinked: bool,
}

/// The dead letter an action names, or the answer to give when there is
/// none (404) or the store fails (500).
async fn dead_letter(
    store: &dyn crate::state::StateStore,
    action: &'static str,
    name: &str,
    side: Side,
    record: &str,
) -> Result<crate::state::DlqEntry, Response> {
    match store.dead_letter(name, side, record).await {
        Ok(Some(entry)) => Ok(entry),
        Ok(None) => Err(done(
            action,
            name,
            StatusCode::NOT_FOUND,
            record,
            json!({"error": format!("no dead letter {side} {record} in {name}")}),
        )),
        Err(e) => Err(done(
            action,
            name,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            json!({"error": format!("state store: {e}")}),
        )),
    }
}

fn side_of(text: &str) -> Option<Side> {
    match text {
        "marketing" => Some(Side::Marketing),
        "crm" => Some(Side::Crm),
        _ => None,
    }
}

/// `POST /api/dlq/{pipeline}/{side}/{record}/retry`: re-apply one dead
/// letter against both tools' current state (200 with the outcome).
pub(crate) async fn dlq_retry(
    State(state): State<AdminState>,
    Path((name, side, record)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refused(&state, &headers, "dlq_retry", &name) {
        return r;
    }
    let topology = state.topology();
    let (Some(s), Some(side)) = (topology.pipeline(&name), side_of(&side)) else {
        return unknown_pipeline("dlq_retry", &name);
    };
    let store = &*state.inner.store;
    let entry = match dead_letter(store, "dlq_retry", &name, side, &record).await {
        Ok(entry) => entry,
        Err(response) => return response,
    };
    let cycle = Cycle::new(&s.pipeline, store, &*state.inner.clock, false);
    match cycle.retry(&entry).await {
        Ok(outcome) => {
            let (word, reason) = match &outcome {
                RetryOutcome::Applied => ("applied", None),
                RetryOutcome::NothingToDo => ("nothing_to_do", None),
                RetryOutcome::Gone => ("gone", None),
                RetryOutcome::StillFailing(r) => ("still_failing", Some(r.clone())),
            };
            done(
                "dlq_retry",
                &name,
                StatusCode::OK,
                &record,
                json!({"pipeline": name, "side": side, "record": record, "outcome": word, "reason": reason}),
            )
        }
        Err(e) => done(
            "dlq_retry",
            &name,
            StatusCode::BAD_GATEWAY,
            &e.to_string(),
            json!({"error": e.to_string()}),
        ),
    }
}

/// `POST /api/dlq/{pipeline}/{side}/{record}/drop`: forget one dead letter.
pub(crate) async fn dlq_drop(
    State(state): State<AdminState>,
    Path((name, side, record)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refused(&state, &headers, "dlq_drop", &name) {
        return r;
    }
    let (true, Some(side)) = (known(&state, &name), side_of(&side)) else {
        return unknown_pipeline("dlq_drop", &name);
    };
    let store = &*state.inner.store;
    if let Err(response) = dead_letter(store, "dlq_drop", &name, side, &record).await {
        return response;
    }
    let mut commit = Commit::new(name.clone());
    commit.remove_dead_letter(side, record.clone());
    match store.commit(&commit).await {
        Ok(()) => done(
            "dlq_drop",
            &name,
            StatusCode::OK,
            &record,
            json!({"pipeline": name, "side": side, "record": record, "dropped": true}),
        ),
        Err(e) => done(
            "dlq_drop",
            &name,
            StatusCode::INTERNAL_SERVER_ERROR,
            &e.to_string(),
            json!({"error": format!("state store: {e}")}),
        ),
    }
}
