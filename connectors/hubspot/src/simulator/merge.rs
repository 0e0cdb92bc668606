//! Merges and GDPR deletes (SEMANTICS.md R2.7).
//!
//! - `POST /crm/v3/objects/{contacts|companies}/merge`
//!   `{primaryObjectId, objectIdToMerge}` → 200 with the merged record. As
//!   HubSpot does since its merge change, the merge makes a **new record
//!   with a new id**; both old ids point at it. The primary's current values
//!   win over the other's; `hs_merged_object_ids` lists the old ids
//!   (`;`-joined) and those they had absorbed before. Associations move to
//!   the new record. A single GET or PATCH of an old id answers with the new
//!   record (its `id` differs), batch read returns it under the new id,
//!   batch update does not follow old ids, search and lists never show them.
//!   Not reproduced: the 414 past 250 merged identities, and the secondary's
//!   email kept as an additional email (it is dropped here).
//! - `POST /crm/v3/objects/contacts/gdpr-delete` `{objectId, idProperty?}`
//!   → 204: the contact is gone for good (no recycle bin), and its email —
//!   or, with `idProperty=email` and no such contact, the email given — is
//!   blocklisted: a later create or update with it is refused
//!   (`GDPR_BLACKLISTED_EMAIL`, the code imports report; the API's own
//!   wording is unverified).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::api::{bad_request, not_found, parse_body, render, unknown_object};
use super::batch::text_of;
use super::schema::ObjectType;
use super::Shared;

/// The route of a merge.
pub(crate) async fn merge(
    State(shared): State<Arc<Shared>>,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let Some(kind) = ObjectType::parse(&object) else {
        return unknown_object(&object);
    };
    if !matches!(kind, ObjectType::Contacts | ObjectType::Companies) {
        return bad_request(format!("{} cannot be merged", kind.name()));
    }
    let body: Value = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ids = (
        text_of(body.get("primaryObjectId")).and_then(|s| s.parse::<u64>().ok()),
        text_of(body.get("objectIdToMerge")).and_then(|s| s.parse::<u64>().ok()),
    );
    let (Some(primary), Some(other)) = ids else {
        return bad_request("primaryObjectId and objectIdToMerge are required");
    };
    let now = shared.now_ms();
    let visible = shared.visible_ms(now);
    let mut db = shared.write();
    let (Some(primary), Some(other)) = (db.follow(kind, primary), db.follow(kind, other)) else {
        return not_found(kind);
    };
    if primary == other {
        return bad_request("Cannot merge an object with itself");
    }
    let merged_idx = kind.prop("hs_merged_object_ids");
    let store = db.store_mut(kind);
    let (Some(p), Some(o)) = (store.remove(primary), store.remove(other)) else {
        return not_found(kind);
    };
    let mut values: std::collections::BTreeMap<usize, String> = o
        .iter()
        .chain(p.iter())
        .map(|(i, v)| (i, v.to_owned()))
        .collect();
    let mut old_ids: Vec<String> = vec![primary.to_string(), other.to_string()];
    if let Some(idx) = merged_idx {
        for rec in [&p, &o] {
            if let Some(before) = rec.get(idx) {
                old_ids.extend(before.split(';').map(str::to_owned));
            }
        }
        values.insert(idx, old_ids.join(";"));
    }
    let changes: Vec<(usize, String)> = values.into_iter().collect();
    let id = db.allocate_id();
    if db
        .store_mut(kind)
        .create(id, &changes, now, visible)
        .is_err()
    {
        return bad_request("the merged record could not be written");
    }
    for old in [primary, other] {
        db.merged.insert((kind, old), id);
        for target in db.merged.values_mut() {
            if *target == old {
                *target = id;
            }
        }
        if let Some(links) = db.associations.remove(&(kind, old)) {
            for (to_kind, to_id, type_id) in links {
                let rev = super::schema::reverse_association(kind, to_kind, type_id);
                if let (Some(rev), Some(back)) = (rev, db.associations.get_mut(&(to_kind, to_id))) {
                    back.retain(|(k, i, _)| !(*k == kind && *i == old));
                    db.associate((kind, id), (to_kind, to_id), type_id, rev);
                }
            }
        }
    }
    match db.store(kind).recs.get(&id) {
        Some(rec) => Json(render(kind, id, rec, None)).into_response(),
        None => not_found(kind),
    }
}

/// The route of a GDPR delete.
pub(crate) async fn gdpr_delete(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: Value = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(key) = text_of(body.get("objectId")) else {
        return bad_request("objectId is required");
    };
    let kind = ObjectType::Contacts;
    let by_email = body.get("idProperty").and_then(Value::as_str) == Some("email");
    let mut db = shared.write();
    let found = if by_email {
        db.store(kind).by_email(&key)
    } else {
        key.parse().ok().and_then(|i| db.follow(kind, i))
    };
    let email_idx = kind.prop("email");
    let email = match found {
        Some(id) => {
            let rec = db.store_mut(kind).remove(id);
            db.associations.remove(&(kind, id));
            rec.and_then(|r| email_idx.and_then(|i| r.get(i).map(str::to_owned)))
        }
        None if by_email => Some(key),
        None => return not_found(kind),
    };
    if let Some(email) = email {
        db.blocklist.insert(email.trim().to_lowercase());
    }
    StatusCode::NO_CONTENT.into_response()
}
