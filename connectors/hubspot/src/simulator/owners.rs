//! `GET /crm/v3/owners`: the account's users who can own records, active
//! (`archived=false`, the default) or deactivated (`archived=true`, which
//! lists only those), paged with `limit` (default 100, at most 500) and
//! `after`, filtered by `email`. Fields as the owners guide shows them: `id`
//! (what `hubspot_owner_id` holds), `email`, `type`, `firstName`,
//! `lastName`, `userId`, `userIdIncludingInactive`, `createdAt`,
//! `updatedAt`, `archived`, `teams`.

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::api::{bad_request, Params};

/// `(owner id, user id, first name, last name, email, archived)`.
pub(crate) const OWNERS: &[(u64, u64, &str, &str, &str, bool)] = &[
    (
        41629779,
        9586504,
        "Ava",
        "Stone",
        "ava.stone@sim.example",
        false,
    ),
    (
        41629780,
        9586505,
        "Ben",
        "Okafor",
        "ben.okafor@sim.example",
        false,
    ),
    (
        41629781,
        9586506,
        "Chloe",
        "Marin",
        "chloe.marin@sim.example",
        false,
    ),
    (
        41629782,
        9586507,
        "Dan",
        "Weiss",
        "dan.weiss@sim.example",
        true,
    ),
];

fn owner_json(o: &(u64, u64, &str, &str, &str, bool)) -> Value {
    let (id, user, first, last, email, archived) = *o;
    json!({
        "id": id.to_string(),
        "email": email,
        "type": "PERSON",
        "firstName": first,
        "lastName": last,
        "userId": if archived { Value::Null } else { json!(user) },
        "userIdIncludingInactive": user,
        "createdAt": "2019-12-25T13:01:35.228Z",
        "updatedAt": "2023-08-22T13:40:26.790Z",
        "archived": archived,
        "teams": [],
    })
}

/// The route.
pub(crate) async fn list(RawQuery(q): RawQuery) -> Response {
    let params = Params::new(q);
    let limit = match params.one("limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        _ => return bad_request("limit must be a number from 1 to 500"),
    };
    let after: u64 = params
        .one("after")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let archived = params.flag("archived");
    let email = params.one("email").map(str::to_lowercase);
    let mut matching = OWNERS
        .iter()
        .filter(|o| o.5 == archived && o.0 >= after && email.as_deref().is_none_or(|e| o.4 == e));
    let results: Vec<Value> = matching.by_ref().take(limit).map(owner_json).collect();
    let mut body = json!({ "results": results });
    if let Some(next) = matching.next() {
        body["paging"] =
            json!({"next": {"after": next.0.to_string(), "link": format!("?after={}", next.0)}});
    }
    Json(body).into_response()
}
