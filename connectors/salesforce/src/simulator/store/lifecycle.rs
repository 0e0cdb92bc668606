//! What sales does to records outside the REST API, as the org does it:
//! Lead Convert (SOAP `convertLead()`, R2.1), merge (SOAP `merge()`, R2.3)
//! and undelete from the recycle bin. The REST API has neither convert
//! nor merge, so the simulator offers them through its control surface.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Db, Rec, RecordError, Save, V};
use crate::simulator::schema::{ObjectDef, CONVERTED_STATUS};

/// A Lead Convert request (the fields of SOAP's `LeadConvert`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadConvert {
    /// The lead to convert.
    pub lead_id: String,
    /// Attach to this account instead of creating one.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Merge into this contact instead of creating one.
    #[serde(default)]
    pub contact_id: Option<String>,
    /// Create no opportunity (`ConvertedOpportunityId` stays null).
    #[serde(default)]
    pub do_not_create_opportunity: bool,
    /// The new opportunity's name; `{Company}-` when absent.
    #[serde(default)]
    pub opportunity_name: Option<String>,
    /// A Lead Status whose `IsConverted` is true; the org's converted one
    /// when absent.
    #[serde(default)]
    pub converted_status: Option<String>,
}

/// What a conversion made (SOAP's `LeadConvertResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Converted {
    /// The account the lead became (or joined).
    pub account_id: String,
    /// The contact the lead became (or merged into).
    pub contact_id: String,
    /// The opportunity created, if any.
    pub opportunity_id: Option<String>,
}

/// What a merge did (SOAP's `MergeResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    /// The winner.
    pub id: String,
    /// The losers, now deleted with `MasterRecordId` = the winner.
    pub merged_record_ids: Vec<String>,
    /// Child records re-parented to the winner.
    pub updated_related_ids: Vec<String>,
}

fn err(code: &'static str, message: impl Into<String>) -> RecordError {
    RecordError::new(code, message, Vec::new())
}

/// The value of `name` on `rec` as input JSON, if set.
fn value(def: &ObjectDef, rec: &Rec, name: &str) -> Option<Value> {
    let i = def.field(name)?;
    let field = &def.fields[i];
    match rec.get(def, i) {
        V::Null => None,
        v => Some(v.to_json(field.kind)),
    }
}

impl Db {
    fn live_of(&self, object: &str, id: &str) -> Result<Arc<Rec>, RecordError> {
        let rec = self
            .table(object)
            .and_then(|t| t.find_id(id))
            .filter(|r| !r.deleted)
            .cloned();
        rec.ok_or_else(|| {
            err(
                "INVALID_CROSS_REFERENCE_KEY",
                format!("invalid cross reference id: {id} is not a live {object}"),
            )
        })
    }

    fn create_as_org(
        &mut self,
        object: &str,
        fields: &Map<String, Value>,
        save: &Save,
    ) -> Result<String, RecordError> {
        let plan = self.plan_create(object, fields, save, &mut HashMap::new())?;
        let id = plan.rec.id.to_string();
        self.commit(vec![plan]);
        Ok(id)
    }

    fn update_as_org(
        &mut self,
        object: &str,
        id: &str,
        fields: &Map<String, Value>,
        save: &Save,
    ) -> Result<(), RecordError> {
        let plan = self.plan_update(object, id, fields, save, &mut HashMap::new())?;
        self.commit(vec![plan]);
        Ok(())
    }

    /// Converts a lead as Lead Convert does (R2.1): an Account (or the one
    /// given), a Contact (or the one given) and, unless told not to, an
    /// Opportunity are made from the lead; the lead gets `IsConverted`,
    /// `ConvertedDate`, the three `Converted*Id` and a converted `Status`,
    /// and its `SystemModstamp` moves (its `LastModifiedDate` does not: the
    /// conversion's change event carries no `LastModifiedDate`); every
    /// open and closed Task of the lead moves to the contact (`WhoId`) and
    /// to the opportunity or account (`WhatId`, when it had none), with its
    /// `LastModifiedDate` and `SystemModstamp` bumped.
    pub fn convert_lead(
        &mut self,
        request: &LeadConvert,
        save: &Save,
    ) -> Result<Converted, RecordError> {
        let lead_def = self
            .def("Lead")
            .ok_or_else(|| err("INVALID_TYPE", "no Lead object"))?;
        let lead = self.live_of("Lead", &request.lead_id)?;
        if lead.get(lead_def, lead_def.idx("IsConverted")) == V::Bool(true) {
            return Err(super::converted_lead_error());
        }
        let status = request
            .converted_status
            .clone()
            .unwrap_or_else(|| CONVERTED_STATUS.to_owned());
        if status != CONVERTED_STATUS {
            return Err(err(
                "INVALID_STATUS",
                format!("invalid convertedStatus: {status}"),
            ));
        }
        let existing_contact = match &request.contact_id {
            Some(id) => Some(self.live_of("Contact", id)?),
            None => None,
        };
        let contact_def = self
            .def("Contact")
            .ok_or_else(|| err("INVALID_TYPE", "no Contact object"))?;
        let account_id = match (&request.account_id, &existing_contact) {
            (Some(id), _) => Some(self.live_of("Account", id)?.id.to_string()),
            (None, Some(c)) => match c.get(contact_def, contact_def.idx("AccountId")) {
                V::Str(a) => Some(a.to_string()),
                _ => None,
            },
            (None, None) => None,
        };
        let copy = |pairs: &[(&str, &str)]| -> Map<String, Value> {
            pairs
                .iter()
                .filter_map(|(from, to)| {
                    value(lead_def, &lead, from).map(|v| ((*to).to_owned(), v))
                })
                .collect()
        };
        let account_id = match account_id {
            Some(id) => id,
            None => self.create_as_org(
                "Account",
                &copy(&[
                    ("Company", "Name"),
                    ("Phone", "Phone"),
                    ("Fax", "Fax"),
                    ("Website", "Website"),
                    ("Industry", "Industry"),
                    ("AnnualRevenue", "AnnualRevenue"),
                    ("NumberOfEmployees", "NumberOfEmployees"),
                    ("Rating", "Rating"),
                    ("LeadSource", "AccountSource"),
                    ("Street", "BillingStreet"),
                    ("City", "BillingCity"),
                    ("State", "BillingState"),
                    ("PostalCode", "BillingPostalCode"),
                    ("Country", "BillingCountry"),
                    ("OwnerId", "OwnerId"),
                ]),
                save,
            )?,
        };
        let contact_id = match existing_contact {
            Some(c) => {
                let mut fields = Map::new();
                fields.insert("AccountId".into(), Value::String(account_id.clone()));
                self.update_as_org("Contact", &c.id, &fields, save)?;
                c.id.to_string()
            }
            None => {
                let mut fields = copy(&[
                    ("Salutation", "Salutation"),
                    ("FirstName", "FirstName"),
                    ("MiddleName", "MiddleName"),
                    ("LastName", "LastName"),
                    ("Suffix", "Suffix"),
                    ("Title", "Title"),
                    ("Email", "Email"),
                    ("Phone", "Phone"),
                    ("MobilePhone", "MobilePhone"),
                    ("Fax", "Fax"),
                    ("LeadSource", "LeadSource"),
                    ("Description", "Description"),
                    ("HasOptedOutOfEmail", "HasOptedOutOfEmail"),
                    ("HasOptedOutOfFax", "HasOptedOutOfFax"),
                    ("DoNotCall", "DoNotCall"),
                    ("Street", "MailingStreet"),
                    ("City", "MailingCity"),
                    ("State", "MailingState"),
                    ("PostalCode", "MailingPostalCode"),
                    ("Country", "MailingCountry"),
                    ("OwnerId", "OwnerId"),
                ]);
                fields.insert("AccountId".into(), Value::String(account_id.clone()));
                self.create_as_org("Contact", &fields, save)?
            }
        };
        let today = jiff::Timestamp::from_millisecond(save.now)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
            .unwrap_or_default();
        let opportunity_id = if request.do_not_create_opportunity {
            None
        } else {
            let mut fields = copy(&[("LeadSource", "LeadSource"), ("OwnerId", "OwnerId")]);
            let company = value(lead_def, &lead, "Company")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let name = request
                .opportunity_name
                .clone()
                .unwrap_or_else(|| format!("{company}-"));
            fields.insert("Name".into(), Value::String(name));
            fields.insert("StageName".into(), Value::from("Prospecting"));
            fields.insert("CloseDate".into(), Value::String(today.clone()));
            fields.insert("AccountId".into(), Value::String(account_id.clone()));
            fields.insert("ContactId".into(), Value::String(contact_id.clone()));
            Some(self.create_as_org("Opportunity", &fields, save)?)
        };
        let mut fields = Map::new();
        fields.insert("IsConverted".into(), Value::Bool(true));
        fields.insert("ConvertedDate".into(), Value::String(today));
        fields.insert("Status".into(), Value::String(status));
        fields.insert(
            "ConvertedAccountId".into(),
            Value::String(account_id.clone()),
        );
        fields.insert(
            "ConvertedContactId".into(),
            Value::String(contact_id.clone()),
        );
        if let Some(o) = &opportunity_id {
            fields.insert("ConvertedOpportunityId".into(), Value::String(o.clone()));
        }
        let mut plan = self.plan_update("Lead", &lead.id, &fields, save, &mut HashMap::new())?;
        plan.rec.modified = lead.modified;
        self.commit(vec![plan]);
        let what = opportunity_id.clone().unwrap_or_else(|| account_id.clone());
        self.reparent_tasks(&lead.id, &contact_id, Some(&what), save)?;
        Ok(Converted {
            account_id,
            contact_id,
            opportunity_id,
        })
    }

    /// Points every Task of `from` (by `WhoId` or `WhatId`) at `to`; a task
    /// that moves by `WhoId` and has no `WhatId` gets `what`.
    fn reparent_tasks(
        &mut self,
        from: &str,
        to: &str,
        what: Option<&str>,
        save: &Save,
    ) -> Result<Vec<String>, RecordError> {
        let Some(task_def) = self.def("Task") else {
            return Ok(Vec::new());
        };
        let (who, what_idx) = (task_def.idx("WhoId"), task_def.idx("WhatId"));
        let tasks: Vec<Arc<Rec>> = self
            .table("Task")
            .map(|t| {
                t.rows
                    .values()
                    .filter(|r| {
                        !r.deleted
                            && (r.get(task_def, who) == V::Str(from.into())
                                || r.get(task_def, what_idx) == V::Str(from.into()))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut moved = Vec::with_capacity(tasks.len());
        for task in tasks {
            let mut fields = Map::new();
            if task.get(task_def, who) == V::Str(from.into()) {
                fields.insert("WhoId".into(), Value::String(to.to_owned()));
                if let (V::Null, Some(what)) = (task.get(task_def, what_idx), what) {
                    fields.insert("WhatId".into(), Value::String(what.to_owned()));
                }
            } else {
                fields.insert("WhatId".into(), Value::String(to.to_owned()));
            }
            self.update_as_org("Task", &task.id, &fields, save)?;
            moved.push(task.id.to_string());
        }
        Ok(moved)
    }

    /// Merges up to two records into `master` (three in all), as `merge()`
    /// does (R2.3): the winner keeps its values (plus `fields`, the values
    /// chosen from the losers) and gets one update, so its
    /// `SystemModstamp` moves; each loser is deleted with `MasterRecordId`
    /// = the winner; tasks, contacts and opportunities pointing at a loser
    /// are re-parented to the winner.
    pub fn merge(
        &mut self,
        object: &str,
        master: &str,
        losers: &[String],
        fields: &Map<String, Value>,
        save: &Save,
    ) -> Result<Merged, RecordError> {
        let def = self.def(object).filter(|d| d.mergeable()).ok_or_else(|| {
            err(
                "INVALID_TYPE",
                format!("merge takes Lead, Contact or Account, not {object}"),
            )
        })?;
        if losers.is_empty() || losers.len() > 2 {
            return Err(err(
                "INVALID_ARGUMENT_TYPE",
                "merge takes one or two records to merge into the master (three records at most)",
            ));
        }
        let winner = self.live_of(def.name, master)?;
        let mut loser_recs = Vec::new();
        for id in losers {
            let rec = self.live_of(def.name, id)?;
            if rec.id == winner.id || loser_recs.iter().any(|r: &Arc<Rec>| r.id == rec.id) {
                return Err(err(
                    "INVALID_ID_FIELD",
                    "a record cannot be merged with itself",
                ));
            }
            loser_recs.push(rec);
        }
        if def.name == "Lead"
            && std::iter::once(&winner)
                .chain(&loser_recs)
                .any(|r| self.is_converted_lead(&r.id))
        {
            return Err(super::converted_lead_error());
        }
        self.update_as_org(def.name, &winner.id, fields, save)?;
        let master_idx = def.idx("MasterRecordId");
        let mut merged = Vec::new();
        for rec in &loser_recs {
            let mut gone = (**rec).clone();
            let mut values = gone.values.to_vec();
            values.resize(def.fields.len(), V::Null);
            values[master_idx] = V::Str(winner.id.clone());
            gone.values = values.into_boxed_slice();
            gone.deleted = true;
            gone.stamp = save.now;
            gone.modified = save.now;
            gone.visible_at = save.visible_at;
            if let Some(t) = self.tables.get_mut(def.name) {
                t.put(gone);
            }
            merged.push(rec.id.to_string());
        }
        let mut related = Vec::new();
        for loser in &merged {
            related.extend(self.reparent_tasks(loser, &winner.id, None, save)?);
            for (child, field) in [
                ("Contact", "AccountId"),
                ("Opportunity", "AccountId"),
                ("Opportunity", "ContactId"),
                ("Contact", "ReportsToId"),
                ("Account", "ParentId"),
            ] {
                related.extend(self.reparent(child, field, loser, &winner.id, save)?);
            }
        }
        Ok(Merged {
            id: winner.id.to_string(),
            merged_record_ids: merged,
            updated_related_ids: related,
        })
    }

    /// Points `object.field` of live records from `from` to `to`.
    fn reparent(
        &mut self,
        object: &str,
        field: &str,
        from: &str,
        to: &str,
        save: &Save,
    ) -> Result<Vec<String>, RecordError> {
        let Some(def) = self.def(object) else {
            return Ok(Vec::new());
        };
        let Some(idx) = def.field(field) else {
            return Ok(Vec::new());
        };
        let children: Vec<Box<str>> = self
            .table(def.name)
            .map(|t| {
                t.rows
                    .values()
                    .filter(|r| !r.deleted && r.get(def, idx) == V::Str(from.into()))
                    .map(|r| r.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut fields = Map::new();
        fields.insert(field.to_owned(), Value::String(to.to_owned()));
        for id in &children {
            self.update_as_org(def.name, id, &fields, save)?;
        }
        Ok(children.iter().map(|c| c.to_string()).collect())
    }

    /// Takes a record out of the recycle bin (SOAP `undelete()`): live again,
    /// `IsDeleted` false, `MasterRecordId` cleared, its stamp moved;
    /// refused when a unique value it holds was taken meanwhile.
    pub fn undelete(&mut self, object: &str, id: &str, save: &Save) -> Result<(), RecordError> {
        let def = self
            .def(object)
            .ok_or_else(|| err("INVALID_TYPE", format!("no object {object}")))?;
        let rec = self
            .table(def.name)
            .and_then(|t| t.find_id(id))
            .cloned()
            .ok_or_else(|| err("INVALID_CROSS_REFERENCE_KEY", format!("no record {id}")))?;
        if !rec.deleted {
            return Err(err("UNDELETE_FAILED", "Entity is not in the recycle bin"));
        }
        let mut back = (*rec).clone();
        let mut values = back.values.to_vec();
        values.resize(def.fields.len(), V::Null);
        if let Some(i) = def.field("MasterRecordId") {
            values[i] = V::Null;
        }
        back.values = values.into_boxed_slice();
        back.deleted = false;
        back.stamp = save.now;
        back.modified = save.now;
        back.visible_at = save.visible_at;
        let table = self
            .tables
            .get(def.name)
            .ok_or_else(|| err("INVALID_TYPE", "no table"))?;
        self.check_unique(table, &back, &mut HashMap::new())?;
        if let Some(t) = self.tables.get_mut(def.name) {
            t.put(back);
        }
        Ok(())
    }
}
