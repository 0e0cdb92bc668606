//! The simulated instance's data: leads, the activity log, deletions and
//! custom activity types, and the operations that change them.
//!
//! Every change is logged the way Marketo logs it
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/activities):
//! a created lead gets a "New Lead" activity (type 12), each changed field a
//! "Change Data Value" (13) with old and new values, a merge a "Merge
//! Leads" (32) on the winner naming the losers, a deletion a "Delete Lead"
//! (37) kept apart for Get Deleted Leads because the lead's own activities
//! go with it. Activities are dated to the second. The log is append-only
//! and its dates never go backwards (a test clock set back does not
//! reorder it); each activity becomes visible to the feeds at its date plus
//! the index lag in force when it was written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::schema::{coerce, field, FieldDef, FIELDS};
use crate::time::floor_second_ms;

/// A lead: its field values by field name (null values absent).
#[derive(Debug, Clone, Default)]
pub(crate) struct Lead {
    pub values: BTreeMap<&'static str, Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Lead {
    /// "First Last", as Delete Lead's primary attribute names a lead.
    pub fn name(&self) -> String {
        let part = |f: &str| {
            self.values
                .get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        format!("{} {}", part("firstName"), part("lastName"))
            .trim()
            .to_owned()
    }
}

/// What an activity records.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    /// A lead was created (`source` as "Source Type").
    NewLead { source: String },
    /// One field changed.
    Change {
        field: &'static FieldDef,
        old: Value,
        new: Value,
        reason: String,
        source: String,
    },
    /// These leads were merged into the activity's lead.
    Merge { losers: Vec<u64> },
    /// A custom activity added through the API.
    Custom {
        primary: String,
        attributes: Vec<(String, Value)>,
    },
}

/// One entry of the activity log.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub id: u64,
    pub lead: u64,
    pub type_id: i64,
    /// When it was logged (ms, to the second; never decreasing).
    pub logged_ms: i64,
    /// Its `activityDate` (the log time, except custom activities, which
    /// carry the date their caller gave).
    pub date_ms: i64,
    pub visible_ms: i64,
    pub payload: Payload,
}

/// A deleted lead, for Get Deleted Leads.
#[derive(Debug, Clone)]
pub(crate) struct Deletion {
    pub id: u64,
    pub lead: u64,
    pub logged_ms: i64,
    pub visible_ms: i64,
    pub name: String,
}

/// An approved custom activity type.
#[derive(Debug, Clone)]
pub(crate) struct CustomType {
    pub id: i64,
    pub api_name: String,
    pub name: String,
    pub primary: (String, String),
    /// `(apiName, name, dataType)` of each secondary attribute.
    pub attributes: Vec<(String, String, String)>,
}

/// Why a Sync Leads record or a control-surface write was refused:
/// Marketo's record-level code and message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Field values checked against the schema: `(field, stored value)`.
pub(crate) type Changes = Vec<(&'static FieldDef, Value)>;

/// Checks fields as Sync Leads does: unknown names are 1006, system fields
/// 1003 (unverified: the docs do not say how Marketo answers a write to a
/// read-only field; refusing is the stricter reading), wrong types 1001.
/// `allow` names fields passed through even if read-only (the lookup key).
pub(crate) fn validate(
    fields: &serde_json::Map<String, Value>,
    allow: &[&str],
) -> Result<Changes, Refusal> {
    let mut out = Vec::new();
    for (name, value) in fields {
        if allow.contains(&name.as_str()) {
            continue;
        }
        let def =
            field(name).ok_or_else(|| Refusal::new("1006", format!("Field '{name}' not found")))?;
        if !def.updateable {
            return Err(Refusal::new(
                "1003",
                format!("Field '{name}' is not updateable"),
            ));
        }
        let v = coerce(def, value).map_err(|m| Refusal::new("1001", m))?;
        out.push((def, v));
    }
    Ok(out)
}

/// The whole instance.
#[derive(Debug, Default)]
pub(crate) struct Db {
    pub leads: BTreeMap<u64, Lead>,
    /// Deleted or merged-away leads, for the control surface's `get`.
    pub gone: HashMap<u64, (Lead, i64)>,
    by_email: HashMap<String, BTreeSet<u64>>,
    pub log: Vec<Entry>,
    pub deletions: Vec<Deletion>,
    pub custom_types: Vec<CustomType>,
    next_lead: u64,
    next_activity: u64,
    last_logged_ms: i64,
}

impl Db {
    pub fn new() -> Self {
        Self {
            next_lead: 1,
            next_activity: 1,
            ..Self::default()
        }
    }

    fn email_key(v: &Value) -> Option<String> {
        v.as_str()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
    }

    /// Live leads with this email (Marketo matches emails without case).
    pub fn by_email(&self, email: &str) -> BTreeSet<u64> {
        self.by_email
            .get(&email.trim().to_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The log time for a write at `now_ms`: to the second, never before
    /// the previous entry.
    fn log_time(&mut self, now_ms: i64) -> i64 {
        let t = floor_second_ms(now_ms).max(self.last_logged_ms);
        self.last_logged_ms = t;
        t
    }

    fn next_activity_id(&mut self) -> u64 {
        let id = self.next_activity;
        self.next_activity += 1;
        id
    }

    fn push(&mut self, lead: u64, type_id: i64, now_ms: i64, lag_ms: i64, payload: Payload) {
        let logged = self.log_time(now_ms);
        let id = self.next_activity_id();
        self.log.push(Entry {
            id,
            lead,
            type_id,
            logged_ms: logged,
            date_ms: logged,
            visible_ms: logged.saturating_add(lag_ms),
            payload,
        });
    }

    fn index_email(&mut self, id: u64, old: Option<&Value>, new: Option<&Value>) {
        if let Some(k) = old.and_then(Self::email_key) {
            if let Some(set) = self.by_email.get_mut(&k) {
                set.remove(&id);
                if set.is_empty() {
                    self.by_email.remove(&k);
                }
            }
        }
        if let Some(k) = new.and_then(Self::email_key) {
            self.by_email.entry(k).or_default().insert(id);
        }
    }

    /// Creates a lead with checked values; logs New Lead.
    pub fn create(&mut self, changes: &Changes, now_ms: i64, lag_ms: i64, source: &str) -> u64 {
        let id = self.next_lead;
        self.next_lead += 1;
        let mut lead = Lead {
            created_ms: now_ms,
            updated_ms: now_ms,
            ..Lead::default()
        };
        for (def, v) in changes {
            if !v.is_null() {
                lead.values.insert(def.name, v.clone());
            }
        }
        let email = lead.values.get("email").cloned();
        self.index_email(id, None, email.as_ref());
        self.leads.insert(id, lead);
        self.push(
            id,
            12,
            now_ms,
            lag_ms,
            Payload::NewLead {
                source: source.to_owned(),
            },
        );
        id
    }

    /// Applies checked values to a live lead; logs a Change Data Value per
    /// field whose value changed. Answers whether the lead exists.
    pub fn update(
        &mut self,
        id: u64,
        changes: &Changes,
        now_ms: i64,
        lag_ms: i64,
        reason: &str,
    ) -> bool {
        let Some(lead) = self.leads.get_mut(&id) else {
            return false;
        };
        let mut changed = Vec::new();
        for (def, v) in changes {
            let old = lead.values.get(def.name).cloned().unwrap_or(Value::Null);
            if &old == v {
                continue;
            }
            if v.is_null() {
                lead.values.remove(def.name);
            } else {
                lead.values.insert(def.name, v.clone());
            }
            changed.push((*def, old, v.clone()));
        }
        if changed.is_empty() {
            return true;
        }
        lead.updated_ms = now_ms;
        for (def, old, new) in changed {
            if def.name == "email" {
                self.index_email(id, Some(&old), Some(&new));
            }
            self.push(
                id,
                13,
                now_ms,
                lag_ms,
                Payload::Change {
                    field: def,
                    old,
                    new,
                    reason: reason.to_owned(),
                    source: "Web service API".to_owned(),
                },
            );
        }
        true
    }

    fn remove(&mut self, id: u64, now_ms: i64) -> Option<Lead> {
        let lead = self.leads.remove(&id)?;
        let email = lead.values.get("email").cloned();
        self.index_email(id, email.as_ref(), None);
        self.gone.insert(id, (lead.clone(), now_ms));
        Some(lead)
    }

    /// Deletes a lead; its activities go with it, a Delete Lead is kept
    /// for Get Deleted Leads.
    pub fn delete(&mut self, id: u64, now_ms: i64, lag_ms: i64) -> bool {
        let Some(lead) = self.remove(id, now_ms) else {
            return false;
        };
        let logged = self.log_time(now_ms);
        let activity = self.next_activity_id();
        self.deletions.push(Deletion {
            id: activity,
            lead: id,
            logged_ms: logged,
            visible_ms: logged.saturating_add(lag_ms),
            name: lead.name(),
        });
        true
    }

    /// Merges `losers` into `winner` as Merge Leads does: the winner keeps
    /// its values, except empty ones, which take a loser's; the losers'
    /// activities move to the winner and the losers are gone. Logs Merge
    /// Leads on the winner. Answers the ids that do not exist, if any.
    pub fn merge(
        &mut self,
        winner: u64,
        losers: &[u64],
        now_ms: i64,
        lag_ms: i64,
    ) -> Result<(), Vec<u64>> {
        let missing: Vec<u64> = std::iter::once(winner)
            .chain(losers.iter().copied())
            .filter(|id| !self.leads.contains_key(id))
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let losers: Vec<u64> = losers.iter().copied().filter(|l| *l != winner).collect();
        let mut fill: Changes = Vec::new();
        for l in &losers {
            if let Some(lead) = self.leads.get(l) {
                for def in FIELDS.iter().filter(|d| d.updateable) {
                    let winner_has = self
                        .leads
                        .get(&winner)
                        .is_some_and(|w| w.values.contains_key(def.name))
                        || fill.iter().any(|(d, _)| d.name == def.name);
                    if let (false, Some(v)) = (winner_has, lead.values.get(def.name)) {
                        fill.push((def, v.clone()));
                    }
                }
            }
        }
        for l in &losers {
            self.remove(*l, now_ms);
        }
        for e in self.log.iter_mut().filter(|e| losers.contains(&e.lead)) {
            e.lead = winner;
        }
        if let Some(w) = self.leads.get_mut(&winner) {
            for (def, v) in &fill {
                w.values.insert(def.name, v.clone());
            }
            w.updated_ms = now_ms;
        }
        if let Some((_, v)) = fill.iter().find(|(d, _)| d.name == "email") {
            self.index_email(winner, None, Some(v));
        }
        self.push(
            winner,
            32,
            now_ms,
            lag_ms,
            Payload::Merge {
                losers: losers.clone(),
            },
        );
        Ok(())
    }

    /// Adds a custom activity dated `date_ms`, logged at `now_ms` and
    /// visible `lag_ms` later (`at` = `(now_ms, lag_ms)`).
    pub fn add_custom(
        &mut self,
        lead: u64,
        type_id: i64,
        date_ms: i64,
        primary: String,
        attributes: Vec<(String, Value)>,
        at: (i64, i64),
    ) -> u64 {
        let (now_ms, lag_ms) = at;
        let logged = self.log_time(now_ms);
        let id = self.next_activity_id();
        self.log.push(Entry {
            id,
            lead,
            type_id,
            logged_ms: logged,
            date_ms: floor_second_ms(date_ms),
            visible_ms: logged.saturating_add(lag_ms),
            payload: Payload::Custom {
                primary,
                attributes,
            },
        });
        id
    }

    /// Live leads whose searchable field equals one of `values`, in id order.
    pub fn find(&self, filter_type: &str, values: &[String]) -> Vec<u64> {
        let mut ids = BTreeSet::new();
        for v in values {
            match filter_type {
                "id" => {
                    if let Ok(id) = v.trim().parse::<u64>() {
                        if self.leads.contains_key(&id) {
                            ids.insert(id);
                        }
                    }
                }
                "email" => ids.extend(self.by_email(v)),
                _ => {}
            }
        }
        ids.into_iter().collect()
    }

    /// Live leads, for the control surface.
    pub fn live_count(&self) -> usize {
        self.leads.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(v: Value) -> Changes {
        validate(v.as_object().unwrap(), &[]).unwrap()
    }

    #[test]
    fn writes_are_logged_as_marketo_logs_them() {
        let mut db = Db::new();
        let id = db.create(
            &changes(json!({"email": "A@x.example"})),
            1_500,
            0,
            "Web service API",
        );
        assert_eq!(db.log[0].type_id, 12);
        assert_eq!(db.log[0].date_ms, 1_000, "dated to the second");
        db.update(
            id,
            &changes(json!({"title": "CTO", "email": "a@x.example"})),
            2_000,
            0,
            "r",
        );
        // Case-only email change is still a change of value; the title too.
        assert_eq!(db.log.iter().filter(|e| e.type_id == 13).count(), 2);
        db.update(id, &changes(json!({"title": "CTO"})), 3_000, 0, "r");
        assert_eq!(db.log.len(), 3, "an unchanged value logs nothing");
        assert_eq!(db.by_email("a@X.example").len(), 1);
        assert!(db.delete(id, 4_000, 0));
        assert_eq!(db.deletions.len(), 1);
        assert!(db.by_email("a@x.example").is_empty());
    }

    #[test]
    fn a_merge_fills_the_winners_blanks_and_moves_the_log() {
        let mut db = Db::new();
        let w = db.create(
            &changes(json!({"email": "w@x.example", "title": "CTO"})),
            0,
            0,
            "s",
        );
        let l = db.create(
            &changes(json!({"email": "l@x.example", "title": "VP", "phone": "1"})),
            0,
            0,
            "s",
        );
        db.merge(w, &[l], 5_000, 0).unwrap();
        let winner = &db.leads[&w];
        assert_eq!(winner.values["title"], json!("CTO"));
        assert_eq!(winner.values["phone"], json!("1"));
        assert!(!db.leads.contains_key(&l));
        assert!(db.log.iter().all(|e| e.lead == w));
        assert!(
            matches!(&db.log.last().unwrap().payload, Payload::Merge { losers } if losers == &vec![l])
        );
        assert_eq!(db.merge(w, &[999], 6_000, 0), Err(vec![999]));
    }

    #[test]
    fn validation_uses_marketos_codes() {
        let bad = |v: Value| validate(v.as_object().unwrap(), &[]).unwrap_err().code;
        assert_eq!(bad(json!({"nope": 1})), "1006");
        assert_eq!(bad(json!({"updatedAt": "2026-01-01T00:00:00Z"})), "1003");
        assert_eq!(bad(json!({"leadScore": "high"})), "1001");
        assert!(validate(json!({"id": 5}).as_object().unwrap(), &["id"]).is_ok());
    }
}
