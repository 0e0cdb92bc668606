//! Duplicate rules, as Duplicate Management runs them on saves through the
//! API (R2.2, `SEMANTICS.md`):
//!
//! - A rule belongs to one object and matches a saved record against the
//!   object's other live records, by email (`ExactMatchEngine`, case
//!   ignored) or by Company, FirstName and LastName together (standard
//!   rules use `FuzzyMatchEngine` there; this one matches the three
//!   exactly, case ignored). Blank fields never match, as with the
//!   matching rule's default "match blank fields" off. Converted leads
//!   are not matched (ours, unverified).
//! - Its action decides: **Block** refuses the save whatever the header;
//!   **Allow + Alert** refuses it unless `allowSave=true`; **Report** (allow
//!   without alert) saves it and says nothing.
//! - Rules run on create, update and upsert, never on the org's own saves
//!   (Lead Convert, merge, the control surface).
//! - The REST header `Sforce-Duplicate-Rule-Header: allowSave=…;
//!   includeRecordDetails=…; runAsCurrentUser=…` exists from API 52.0; every
//!   field defaults to false. The simulator has no sharing model, so
//!   `runAsCurrentUser` changes nothing.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Db, Rec, RecordError, Save, V};
use crate::simulator::schema::ObjectDef;

/// The message of an alert when a rule names none: Salesforce's default.
pub const DEFAULT_ALERT: &str = "Use one of these records?";
/// `DuplicateResult.errorMessage` of the traces in R2.2.
pub const ERROR_MESSAGE: &str =
    "You're creating a duplicate record. We recommend you use an existing record instead.";

/// Which fields a rule's matching rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// The same email address.
    Email,
    /// The same Company, FirstName and LastName.
    CompanyAndName,
}

/// What a rule does when a save matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse the save, even with `allowSave=true`.
    Block,
    /// Refuse it unless the caller sends `allowSave=true`.
    AllowAlert,
    /// Save it without a word (Allow, alert off, report only).
    Report,
}

/// One active duplicate rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Its developer name (`Standard_Lead_Duplicate_Rule`).
    pub name: String,
    /// The object it runs on.
    #[serde(default = "lead")]
    pub object: String,
    /// What it compares.
    pub matching: Matching,
    /// What it does.
    pub action: Action,
    /// The alert text (`message` of the error).
    #[serde(default = "default_alert")]
    pub alert_text: String,
}

fn lead() -> String {
    "Lead".into()
}

fn default_alert() -> String {
    DEFAULT_ALERT.into()
}

impl Rule {
    /// A rule on Lead with the default alert text.
    pub fn on_lead(name: &str, matching: Matching, action: Action) -> Self {
        Self {
            name: name.into(),
            object: lead(),
            matching,
            action,
            alert_text: default_alert(),
        }
    }

    /// The name of its matching rule, as `matchResults[].rule` shows it.
    fn match_rule(&self) -> String {
        match self.matching {
            Matching::Email => format!("{}_Email_Match", self.object),
            Matching::CompanyAndName => format!("{}_Company_Name_Match", self.object),
        }
    }
}

/// The request's `Sforce-Duplicate-Rule-Header`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    /// Save despite an Allow + Alert rule.
    pub allow_save: bool,
    /// Return the matched records' fields, not only their ids.
    pub include_record_details: bool,
    /// Match with the caller's sharing (no effect here).
    pub run_as_current_user: bool,
}

impl Header {
    /// Reads `allowSave=true; includeRecordDetails=true; …` (parts in any
    /// order, `;` or `,` between them, case ignored); unknown parts are ignored.
    pub fn parse(value: &str) -> Self {
        let mut h = Self::default();
        for part in value.split([';', ',']) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let on = v.trim().eq_ignore_ascii_case("true");
            match k.trim().to_ascii_lowercase().as_str() {
                "allowsave" => h.allow_save = on,
                "includerecorddetails" => h.include_record_details = on,
                "runascurrentuser" => h.run_as_current_user = on,
                _ => {}
            }
        }
        h
    }
}

/// What a rule found: enough to answer `duplicateResut`.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The rule.
    pub rule: Rule,
    /// Whether `allowSave=true` would have saved it (not for Block).
    pub allow_save: bool,
    /// The object matched.
    pub def: &'static ObjectDef,
    /// The matching records.
    pub matches: Vec<Arc<Rec>>,
    /// Whether to answer their fields (`includeRecordDetails=true`).
    pub details: bool,
}

impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.rule == other.rule
            && self.allow_save == other.allow_save
            && self.def.name == other.def.name
            && self.details == other.details
            && self.matches.len() == other.matches.len()
            && self
                .matches
                .iter()
                .zip(&other.matches)
                .all(|(a, b)| a.id == b.id)
    }
}

impl Hit {
    /// The `duplicateResut` object of a single save's error (R2.2 trace).
    pub fn result_json(&self, version: &str) -> Value {
        let records: Vec<Value> = self
            .matches
            .iter()
            .map(|r| {
                let record = if self.details {
                    let columns: Vec<usize> = (0..self.def.fields.len())
                        .filter(|i| r.get(self.def, *i) != V::Null)
                        .collect();
                    r.to_json(self.def, &columns, version)
                } else {
                    r.to_json(self.def, &[self.def.idx("Id")], version)
                };
                json!({
                    "additionalInformation": [],
                    "fieldDiffs": [],
                    "matchConfidence": 100.0,
                    "record": record,
                })
            })
            .collect();
        json!({
            "allowSave": self.allow_save,
            "duplicateRule": self.rule.name,
            "duplicateRuleEntityType": self.def.name,
            "errorMessage": ERROR_MESSAGE,
            "matchResults": [{
                "entityType": self.def.name,
                "errors": [],
                "matchEngine": match self.rule.matching {
                    Matching::Email => "ExactMatchEngine",
                    Matching::CompanyAndName => "FuzzyMatchEngine",
                },
                "matchRecords": records,
                "rule": self.rule.match_rule(),
                "size": self.matches.len(),
                "success": true,
            }],
        })
    }
}

fn norm(v: V) -> Option<String> {
    match v {
        V::Str(s) if !s.trim().is_empty() => Some(s.trim().to_lowercase()),
        _ => None,
    }
}

impl Db {
    /// Live records of `def` other than `rec` that `rule` calls duplicates of it.
    fn duplicates_of(&self, rule: &Rule, def: &'static ObjectDef, rec: &Rec) -> Vec<Arc<Rec>> {
        let Some(table) = self.table(def.name) else {
            return Vec::new();
        };
        let converted = def.field("IsConverted");
        let candidate = |r: &&Arc<Rec>| {
            !r.deleted && r.id != rec.id && converted.is_none_or(|i| r.get(def, i) != V::Bool(true))
        };
        let mut out: Vec<Arc<Rec>> = match rule.matching {
            Matching::Email => {
                let Some(idx) = def.field("Email") else {
                    return Vec::new();
                };
                let Some(email) = norm(rec.get(def, idx)) else {
                    return Vec::new();
                };
                match table.lookup.get(&idx) {
                    Some(index) => index
                        .get(&email)
                        .into_iter()
                        .flatten()
                        .filter_map(|id| table.rows.get(id))
                        .filter(candidate)
                        .cloned()
                        .collect(),
                    None => table
                        .rows
                        .values()
                        .filter(candidate)
                        .filter(|r| norm(r.get(def, idx)).as_deref() == Some(email.as_str()))
                        .cloned()
                        .collect(),
                }
            }
            Matching::CompanyAndName => {
                let fields: Vec<usize> = ["Company", "FirstName", "LastName"]
                    .iter()
                    .filter_map(|n| def.field(n))
                    .collect();
                if fields.len() != 3 {
                    return Vec::new();
                }
                let key: Option<Vec<String>> =
                    fields.iter().map(|i| norm(rec.get(def, *i))).collect();
                let Some(key) = key else {
                    return Vec::new();
                };
                table
                    .rows
                    .values()
                    .filter(candidate)
                    .filter(|r| {
                        fields
                            .iter()
                            .zip(&key)
                            .all(|(i, k)| norm(r.get(def, *i)).as_deref() == Some(k.as_str()))
                    })
                    .cloned()
                    .collect()
            }
        };
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Runs the object's duplicate rules on a record about to be saved.
    pub(super) fn check_duplicates(
        &self,
        def: &'static ObjectDef,
        rec: &Rec,
        save: &Save,
    ) -> Result<(), RecordError> {
        if save.system {
            return Ok(());
        }
        for rule in self
            .duplicate_rules
            .iter()
            .filter(|r| r.object.eq_ignore_ascii_case(def.name))
        {
            let refuse = match rule.action {
                Action::Report => false,
                Action::AllowAlert => !save.duplicates.allow_save,
                Action::Block => true,
            };
            if !refuse {
                continue;
            }
            let matches = self.duplicates_of(rule, def, rec);
            if matches.is_empty() {
                continue;
            }
            let mut error =
                RecordError::new("DUPLICATES_DETECTED", rule.alert_text.clone(), vec![]);
            error.duplicate = Some(Box::new(Hit {
                rule: rule.clone(),
                allow_save: rule.action != Action::Block,
                def,
                matches,
                details: save.duplicates.include_record_details,
            }));
            return Err(error);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_reads_every_field_and_defaults_to_false() {
        assert_eq!(Header::parse(""), Header::default());
        let h = Header::parse("allowSave=true; includeRecordDetails=TRUE;runAsCurrentUser=false");
        assert!(h.allow_save && h.include_record_details && !h.run_as_current_user);
        assert!(!Header::parse("allowSave=yes").allow_save);
    }
}
