//! `POST /services/data/vNN.N/composite`: a series of subrequests in one
//! API call (`SEMANTICS.md` §2, "Composite").
//!
//! - The body is `{allOrNone, collateSubrequests, compositeRequest: [{method,
//!   url, referenceId, body, httpHeaders}]}`. Every subrequest goes to the
//!   handler a direct call to its url reaches ([`super::route`]), in the
//!   order sent (the simulator never collates, so `collateSubrequests` is
//!   read and ignored).
//! - At most 25 subrequests, of which at most 5 are sObject Collections or
//!   query operations (Query, QueryAll, and their continuations), as
//!   Salesforce's REST guide states ("Send Multiple Requests Using
//!   Composite"). Past either limit, or with a missing, duplicated or
//!   malformed `referenceId`, nothing runs and the answer is HTTP 200 with
//!   one entry of status 400 and a null `referenceId`: that is how
//!   Salesforce answered a 26-operation composite in the wild
//!   (`LIMIT_EXCEEDED`, "The request can’t contain more than 25
//!   operations."). The other wordings here are ours (unverified).
//! - The resources a subrequest may name are Salesforce's: `sobjects/...`
//!   (rows, rows by External ID, describe, ...), `query` and `queryAll`
//!   (and their `nextRecordsUrl` continuations), and sObject Collections
//!   from API 43.0. Anything else answers its entry with 404 `NOT_FOUND`
//!   (unverified wording) without running.
//! - `@{ref.path}` references (`.field` and `[index]` steps into an earlier
//!   subrequest's response body) are substituted into later urls and
//!   bodies; a value that is exactly one reference takes the referenced
//!   value's JSON type. A reference to a failed, later or unknown
//!   subrequest, or to a missing value, answers 400 `PROCESSING_HALTED`
//!   and that subrequest does not run.
//! - `allOrNone: true`: the first subrequest that fails (a non-2xx answer,
//!   or a collection with a failed record) puts the org back as it was
//!   before the call and ends it; every other entry, run or not, answers
//!   400 `PROCESSING_HALTED`. sObject Collections subrequests run with
//!   their own `allOrNone` forced on, as Salesforce documents ("allOrNone
//!   Parameters in Composite and Collections Requests"). The simulator has
//!   no transactions: a write another client made during such a call is
//!   undone with it.
//! - The whole call is one API request: one count against the daily limit
//!   (taken by the caller, [`super::dispatch`]), one `POST /composite` in
//!   the request counter, and the fault layer fails or delays it as a whole.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{error, json_response, pct_decode, route, valid_version, Ctx};
use crate::simulator::Sim;

/// The most subrequests one composite call takes.
const MAX_SUBREQUESTS: usize = 25;
/// The most sObject Collections and query subrequests, together, of one call.
const MAX_HEAVY: usize = 5;
/// sObject Collections are allowed as subrequests from this API version on.
const COLLECTIONS_SINCE: u32 = 43;
/// The largest subrequest answer read back (a query batch of 2000 wide
/// records is far smaller).
const MAX_SUB_BODY: usize = 256 << 20;

/// One subrequest as sent, before its references are resolved.
struct Sub {
    method: Method,
    url: String,
    reference_id: String,
    body: Option<Value>,
    headers: Map<String, Value>,
}

/// What one subrequest answered: status, headers, body.
struct Answer {
    status: u16,
    headers: Map<String, Value>,
    body: Value,
}

/// Runs one composite request (see the module docs).
pub(super) async fn run(sim: &Sim, ctx: &Ctx) -> Response {
    let body = match ctx.json_body() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(list) = body.get("compositeRequest").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body must have a compositeRequest array",
        );
    };
    let subs = match validate(list) {
        Ok(subs) => subs,
        Err((code, message)) => return refused(code, &message),
    };
    // `allOrNone`: the org as it was, to put back if a subrequest fails.
    let snapshot = all_or_none.then(|| super::super::store::Db::clone(&sim.read()));
    let mut answered: HashMap<String, (u16, Value)> = HashMap::new();
    let mut out: Vec<Value> = Vec::with_capacity(subs.len());
    let mut failed_at = None;
    for (i, sub) in subs.iter().enumerate() {
        let answer = execute(sim, sub, &answered, all_or_none).await;
        let failed = !(200..300).contains(&answer.status)
            || (all_or_none && collection_failed(&answer.body));
        answered.insert(
            sub.reference_id.clone(),
            (answer.status, answer.body.clone()),
        );
        out.push(entry(answer, &sub.reference_id));
        if all_or_none && failed {
            failed_at = Some(i);
            break;
        }
    }
    if let (Some(failed), Some(snapshot)) = (failed_at, snapshot) {
        *sim.write() = snapshot;
        for (i, sub) in subs.iter().enumerate() {
            if i == failed {
                continue;
            }
            let halted = entry(
                halted(
                    "The transaction was rolled back since another operation in the same transaction failed.",
                ),
                &sub.reference_id,
            );
            match out.get_mut(i) {
                Some(e) => *e = halted,
                None => out.push(halted),
            }
        }
    }
    json_response(StatusCode::OK, &json!({ "compositeResponse": out }))
}

/// The whole request refused before anything ran: HTTP 200 with a single
/// 400 entry whose `referenceId` is null (Salesforce's shape).
fn refused(code: &str, message: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "compositeResponse": [{
            "body": [{ "errorCode": code, "message": message }],
            "httpHeaders": {},
            "httpStatusCode": 400,
            "referenceId": null,
        }]}),
    )
}

/// Checks the subrequests as a whole: count, kinds, reference ids, shapes.
fn validate(list: &[Value]) -> Result<Vec<Sub>, (&'static str, String)> {
    if list.len() > MAX_SUBREQUESTS {
        return Err((
            "LIMIT_EXCEEDED",
            format!("The request can’t contain more than {MAX_SUBREQUESTS} operations."),
        ));
    }
    let mut subs = Vec::with_capacity(list.len());
    let mut heavy = 0;
    for item in list {
        let Some(m) = item.as_object() else {
            return Err((
                "JSON_PARSER_ERROR",
                "Each subrequest must be a JSON object".into(),
            ));
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str);
        let method = match text("method") {
            Some(s @ ("GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "HEAD")) => {
                Method::from_bytes(s.as_bytes()).unwrap_or(Method::GET)
            }
            other => {
                return Err((
                    "JSON_PARSER_ERROR",
                    format!("Invalid HTTP method for a subrequest: {other:?}"),
                ))
            }
        };
        let Some(url) = text("url") else {
            return Err(("JSON_PARSER_ERROR", "Each subrequest needs a url".into()));
        };
        let reference_id = match text("referenceId") {
            Some(r)
                if !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                r.to_owned()
            }
            Some(r) => {
                return Err((
                    "INVALID_INPUT",
                    format!("Invalid referenceId {r:?}: use letters, numbers and underscores"),
                ))
            }
            None => {
                return Err((
                    "INVALID_INPUT",
                    "Each subrequest needs a referenceId".into(),
                ))
            }
        };
        if subs.iter().any(|s: &Sub| s.reference_id == reference_id) {
            return Err((
                "INVALID_INPUT",
                format!("Duplicate referenceId: {reference_id}"),
            ));
        }
        if is_heavy(url) {
            heavy += 1;
        }
        subs.push(Sub {
            method,
            url: url.to_owned(),
            reference_id,
            body: m.get("body").cloned(),
            headers: m
                .get("httpHeaders")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        });
    }
    if heavy > MAX_HEAVY {
        return Err((
            "LIMIT_EXCEEDED",
            format!(
                "The request can’t contain more than {MAX_HEAVY} sObject Collections or query operations."
            ),
        ));
    }
    Ok(subs)
}

/// The path segments after `/services/data/vNN.N/` of a subrequest url,
/// and its version, when it names the data API.
fn data_path(url: &str) -> Option<(&str, Vec<String>)> {
    let path = url.split_once('?').map_or(url, |(p, _)| p);
    let rest = path
        .trim_end_matches('/')
        .strip_prefix("/services/data/v")?;
    let (version, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !valid_version(version) {
        return None;
    }
    let segs = if tail.is_empty() {
        Vec::new()
    } else {
        tail.split('/').map(pct_decode).collect()
    };
    Some((version, segs))
}

/// sObject Collections and query operations count against the limit of 5.
fn is_heavy(url: &str) -> bool {
    data_path(url).is_some_and(|(_, segs)| match segs.first().map(String::as_str) {
        Some("query" | "queryAll") => true,
        Some("composite") => segs.get(1).is_some_and(|s| s == "sobjects"),
        _ => false,
    })
}

/// A collection write's answer with a failed record.
fn collection_failed(body: &Value) -> bool {
    body.as_array().is_some_and(|results| {
        results
            .iter()
            .any(|r| r.get("success").and_then(Value::as_bool) == Some(false))
    })
}

/// One entry of `compositeResponse`.
fn entry(answer: Answer, reference_id: &str) -> Value {
    json!({
        "body": answer.body,
        "httpHeaders": answer.headers,
        "httpStatusCode": answer.status,
        "referenceId": reference_id,
    })
}

/// 400 `PROCESSING_HALTED`: a subrequest that did not run (or was rolled back).
fn halted(message: &str) -> Answer {
    Answer {
        status: 400,
        headers: Map::new(),
        body: json!([{ "errorCode": "PROCESSING_HALTED", "message": message }]),
    }
}

/// Resolves a subrequest's references and runs it through the direct handlers.
async fn execute(
    sim: &Sim,
    sub: &Sub,
    answered: &HashMap<String, (u16, Value)>,
    all_or_none: bool,
) -> Answer {
    let url = match resolve_text(&sub.url, answered) {
        Ok(u) => u,
        Err(message) => return halted(&message),
    };
    let mut body = match sub.body.as_ref().map(|b| resolve_value(b, answered)) {
        Some(Ok(b)) => Some(b),
        Some(Err(message)) => return halted(&message),
        None => None,
    };
    let not_found = || Answer {
        status: 404,
        headers: Map::new(),
        body: json!([{ "errorCode": "NOT_FOUND", "message": "The requested resource does not exist" }]),
    };
    let Some((version, segs)) = data_path(&url) else {
        return not_found();
    };
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let collection = segs.first().is_some_and(|s| s == "composite")
        && segs.get(1).is_some_and(|s| s == "sobjects");
    let allowed = match segs.first().map(String::as_str) {
        Some("sobjects" | "query" | "queryAll") => true,
        Some("composite") => collection && major >= COLLECTIONS_SINCE,
        _ => false,
    };
    if !allowed {
        return not_found();
    }
    if all_or_none && collection {
        if let Some(Value::Object(m)) = body.as_mut() {
            m.insert("allOrNone".into(), Value::Bool(true));
        }
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &sub.headers {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let sub_ctx = Ctx {
        version: version.to_owned(),
        method: sub.method.clone(),
        params: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers,
        body: body
            .as_ref()
            .map(|b| Bytes::from(b.to_string()))
            .unwrap_or_default(),
    };
    let seg_refs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let response = route(sim, &sub_ctx, &seg_refs);
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_SUB_BODY)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let mut headers = Map::new();
    // A created row says where it lives, as on Salesforce.
    if let (201, ["sobjects", object], Some(id)) = (
        status,
        seg_refs.as_slice(),
        body.get("id").and_then(Value::as_str),
    ) {
        headers.insert(
            "Location".into(),
            json!(format!("/services/data/v{version}/sobjects/{object}/{id}")),
        );
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// The value `@{expr}` names: an earlier, successful subrequest's body,
/// walked by `.field` and `[index]` steps.
fn lookup(expr: &str, answered: &HashMap<String, (u16, Value)>) -> Result<Value, String> {
    let split = |s: &str| s.find(['.', '[']).unwrap_or(s.len());
    let (name, mut rest) = expr.split_at(split(expr));
    let missing = || format!("Invalid reference specified. No value for {expr} found in {name}.");
    let Some((status, body)) = answered.get(name) else {
        return Err(format!(
            "Invalid reference specified. Provided referenceId ('{name}') must be the referenceId of an earlier subrequest."
        ));
    };
    if !(200..300).contains(status) {
        return Err(missing());
    }
    let mut current = body;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let (field, r) = r.split_at(split(r));
            current = current.get(field).ok_or_else(missing)?;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('[') {
            let (index, r) = r.split_once(']').ok_or_else(missing)?;
            let index: usize = index.trim().parse().map_err(|_| missing())?;
            current = current.get(index).ok_or_else(missing)?;
            rest = r;
        } else {
            return Err(missing());
        }
    }
    Ok(current.clone())
}

/// `text` with every `@{expr}` replaced by the text of its value.
fn resolve_text(text: &str, answered: &HashMap<String, (u16, Value)>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let expr = &rest[start + 2..start + 2 + len];
        match lookup(expr, answered)? {
            Value::String(s) => out.push_str(&s),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A body with its references resolved; a string that is exactly one
/// reference becomes the referenced value itself (number, object, ...).
fn resolve_value(value: &Value, answered: &HashMap<String, (u16, Value)>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            let t = s.trim();
            match t.strip_prefix("@{").and_then(|r| r.strip_suffix('}')) {
                Some(expr) if !expr.contains('}') && !expr.contains("@{") => {
                    lookup(expr, answered)?
                }
                _ => Value::String(resolve_text(s, answered)?),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_value(v, answered))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), resolve_value(v, answered)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_walk_fields_and_indexes() {
        let mut answered = HashMap::new();
        answered.insert(
            "acc".to_owned(),
            (201, json!({ "id": "001A", "list": [{ "n": 7 }] })),
        );
        answered.insert("bad".to_owned(), (400, json!([])));
        assert_eq!(
            resolve_text("/sobjects/Account/@{acc.id}", &answered).unwrap(),
            "/sobjects/Account/001A"
        );
        assert_eq!(
            resolve_value(
                &json!({ "AccountId": "@{acc.id}", "N": "@{acc.list[0].n}" }),
                &answered
            )
            .unwrap(),
            json!({ "AccountId": "001A", "N": 7 })
        );
        assert!(resolve_text("@{acc.nope}", &answered).is_err());
        assert!(resolve_text("@{bad.id}", &answered).is_err());
        assert!(resolve_text("@{later.id}", &answered).is_err());
        assert_eq!(resolve_text("no refs", &answered).unwrap(), "no refs");
    }

    #[test]
    fn collections_and_queries_are_the_heavy_kinds() {
        assert!(is_heavy("/services/data/v62.0/composite/sobjects"));
        assert!(is_heavy(
            "/services/data/v62.0/composite/sobjects/Lead/Ext__c"
        ));
        assert!(is_heavy("/services/data/v62.0/query?q=SELECT+Id+FROM+Lead"));
        assert!(is_heavy("/services/data/v62.0/query/01g-2000"));
        assert!(!is_heavy("/services/data/v62.0/sobjects/Lead"));
        assert!(!is_heavy("/services/data/vX/query"));
    }
}
