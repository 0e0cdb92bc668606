//! Records the tools replaced or deleted: a pair follows the record its
//! life went on in, or ends, and nothing about it lands in the dead letter
//! queue.
//!
//! - **Converted** (a Salesforce lead converted to a contact): the link
//!   follows the contact (`LinkState::crm_object`), marketing-owned fields
//!   are written there (those the contact has), its feedback is read from
//!   that object's own change pass, and the conversion is the lead's first
//!   touch (its SLA timers stop).
//! - **Merged** (a CRM record merged into another; a marketing record
//!   another absorbed, `Record::merged_from`): the link follows the
//!   survivor. A survivor already linked to another pair keeps that pair;
//!   this one ends.
//! - **Deleted** with no successor: the pair ends (an `Unlinked` event, its
//!   SLA stopped), and the marketing record is looked at again, so a
//!   contact that still qualifies is handed off anew.
//!
//! They are noticed where the tools show them: in change passes (the
//! record carries its successor, or comes archived) and in writes (a write
//! to a replaced record answers `Superseded`, to a deleted one `Deleted`).

use std::collections::{HashMap, HashSet};

use leadbridge_core::{Cursor, ObjectSchema, Record, Successor, SuccessorReason};
use serde_json::Value;
use tracing::info;

use super::{connector_err, Cycle, CycleError};
use crate::state::{Commit, Event, EventKind, Link, Side};

impl Cycle<'_> {
    /// The CRM object a linked pair's record lives on.
    pub(super) fn crm_object_of(&self, link: &Link) -> String {
        link.state
            .crm_object
            .clone()
            .unwrap_or_else(|| self.pipeline.crm.object.clone())
    }

    /// A CRM object's fields, read once per cycle.
    pub(super) async fn crm_schema(&mut self, object: &str) -> Result<ObjectSchema, CycleError> {
        if let Some(schema) = self.schemas.get(object) {
            return Ok(schema.clone());
        }
        let crm = &self.pipeline.crm;
        let schema = crm
            .connector
            .describe(object)
            .await
            .map_err(connector_err(Side::Crm, crm))?;
        self.schemas.insert(object.to_owned(), schema.clone());
        Ok(schema)
    }

    /// The replaced and deleted records of a CRM page whose pairs are
    /// linked: their links move or end in `commit`. Returns the CRM ids
    /// handled, which carry no feedback (they are no longer sales' record).
    pub(super) async fn crm_successors(
        &mut self,
        records: &[Record],
        links: &HashMap<String, Link>,
        commit: &mut Commit,
    ) -> Result<HashSet<String>, CycleError> {
        let mut handled = HashSet::new();
        let mut claimed = HashMap::new();
        for record in records {
            let Some(link) = links.get(&record.id) else {
                continue;
            };
            if let Some(successor) = &record.successor {
                self.relink(link, successor, record.modified_at, &mut claimed, commit)
                    .await?;
                handled.insert(record.id.clone());
            } else if record.archived {
                let key = self.crm_key_of(record);
                self.unlink(link, "the CRM record was deleted", key, commit)
                    .await?;
                handled.insert(record.id.clone());
            }
        }
        Ok(handled)
    }

    /// Marketing records that absorbed others (`merged_from`) take over
    /// their links; deleted ones end theirs. Returns the ids handled.
    pub(super) async fn marketing_successors(
        &mut self,
        records: &[Record],
        commit: &mut Commit,
    ) -> Result<HashSet<String>, CycleError> {
        let p = self.pipeline.name.clone();
        let mut handled = HashSet::new();
        for record in records {
            if record.archived {
                if let Some(link) = self.store.link(&p, Side::Marketing, &record.id).await? {
                    self.unlink(&link, "the marketing record was deleted", None, commit)
                        .await?;
                }
                handled.insert(record.id.clone());
                continue;
            }
            if record.merged_from.is_empty() {
                continue;
            }
            let mut winner_linked = self
                .store
                .link(&p, Side::Marketing, &record.id)
                .await?
                .is_some();
            for old in &record.merged_from {
                let Some(link) = self.store.link(&p, Side::Marketing, old).await? else {
                    continue;
                };
                self.move_marketing_pair(&link, &record.id, winner_linked, commit)
                    .await?;
                winner_linked = true;
            }
        }
        Ok(handled)
    }

    /// Moves a pair to the marketing record that absorbed its own, found
    /// by a write (the tool answered the old id with its successor).
    /// Returns the moved link, or `None` when the survivor has a pair of
    /// its own (this one ended).
    pub(super) async fn follow_marketing_successor(
        &mut self,
        link: &Link,
        successor: &Successor,
        commit: &mut Commit,
    ) -> Result<Option<Link>, CycleError> {
        let p = self.pipeline.name.clone();
        let taken = commit.pending_link(&successor.id).is_some()
            || self
                .store
                .link(&p, Side::Marketing, &successor.id)
                .await?
                .is_some();
        self.move_marketing_pair(link, &successor.id, taken, commit)
            .await?;
        Ok((!taken).then(|| Link {
            marketing_id: successor.id.clone(),
            state: link.state.clone(),
        }))
    }

    /// The pair of `link` goes to marketing record `to`, unless `to` has
    /// its own (`taken`): then the absorbed pair ends, its SLA stopped.
    async fn move_marketing_pair(
        &mut self,
        link: &Link,
        to: &str,
        taken: bool,
        commit: &mut Commit,
    ) -> Result<(), CycleError> {
        let old = &link.marketing_id;
        let now = self.clock.now();
        let mut event = Event::new(now, EventKind::Relinked, to.to_owned());
        event.crm_id = Some(link.state.crm_id.clone());
        event.owner = link.state.owner.clone();
        event
            .detail
            .insert("reason".into(), Value::from("marketing_merge"));
        event
            .detail
            .insert("from_marketing_id".into(), Value::from(old.clone()));
        commit.remove_link(old.clone());
        if taken {
            // The survivor has its own pair; the absorbed one ends.
            event.detail.insert("kept".into(), Value::Bool(false));
            super::super::follow_up::lifecycle::ended(self.pipeline, self.store, old, commit)
                .await?;
        } else {
            commit.upsert_link(to.to_owned(), link.state.clone());
        }
        info!(pipeline = %self.pipeline.name, from = %old, to, "marketing records merged: the pair follows the survivor");
        commit.event(event);
        Ok(())
    }

    /// Moves a pair to the record that replaced its CRM record.
    pub(super) async fn relink(
        &mut self,
        link: &Link,
        successor: &Successor,
        at: jiff::Timestamp,
        claimed: &mut HashMap<String, String>,
        commit: &mut Commit,
    ) -> Result<(), CycleError> {
        let p = self.pipeline.name.clone();
        let now = self.clock.now();
        // The marketing record whose pair the successor has already.
        let taken = match claimed.get(&successor.id) {
            Some(other) => Some(other.clone()),
            None => self
                .store
                .link(&p, Side::Crm, &successor.id)
                .await?
                .map(|other| other.marketing_id)
                .filter(|other| *other != link.marketing_id),
        };
        let reason = match successor.reason {
            SuccessorReason::Converted => "converted",
            SuccessorReason::Merged => "merged",
        };
        let mut event = Event::new(now, EventKind::Relinked, link.marketing_id.clone());
        event.crm_id = Some(successor.id.clone());
        event.owner = link.state.owner.clone();
        event.detail.insert("reason".into(), Value::from(reason));
        event.detail.insert(
            "from".into(),
            Value::from(format!(
                "{} {}",
                self.crm_object_of(link),
                link.state.crm_id
            )),
        );
        event.detail.insert(
            "to".into(),
            Value::from(format!("{} {}", successor.object, successor.id)),
        );
        if let Some(survivor) = taken {
            // Two pairs would share one CRM record: the one already there
            // stays, and this marketing record becomes its duplicate (the
            // person is not handed off again as a new lead).
            event.detail.insert("kept".into(), Value::Bool(false));
            commit.event(event);
            commit.remove_link(link.marketing_id.clone());
            super::super::follow_up::lifecycle::ended(
                self.pipeline,
                self.store,
                &link.marketing_id,
                commit,
            )
            .await?;
            let reason = format!("its CRM record was {reason} into {}", successor.id);
            self.mark_duplicate(
                &link.marketing_id,
                &survivor,
                &successor.id,
                &reason,
                commit,
            );
            return Ok(());
        }
        claimed.insert(successor.id.clone(), link.marketing_id.clone());
        let mut state = link.state.clone();
        state.crm_id = successor.id.clone();
        state.crm_object =
            (successor.object != self.pipeline.crm.object).then(|| successor.object.clone());
        if let Some(object) = &state.crm_object {
            // The successor object's changes carry the pair's feedback from
            // now on: its own change pass starts from here.
            if self.store.cursor(&p, Side::Crm, object).await?.is_none() {
                let overlap = jiff::SignedDuration::try_from(self.pipeline.crm.overlap)
                    .unwrap_or(jiff::SignedDuration::ZERO);
                let from = at.min(now).checked_sub(overlap).unwrap_or(at);
                commit.set_cursor(Side::Crm, object.clone(), Cursor::before(from));
            }
        }
        if successor.reason == SuccessorReason::Converted {
            super::super::follow_up::lifecycle::converted(
                self.pipeline,
                self.store,
                &link.marketing_id,
                &successor.id,
                at,
                commit,
            )
            .await?;
            if self.pipeline.outcomes.is_none() {
                // With outcomes configured, their pass records the conversion.
                let mut converted =
                    Event::new(at.min(now), EventKind::Converted, link.marketing_id.clone());
                converted.crm_id = Some(successor.id.clone());
                converted.owner = link.state.owner.clone();
                commit.event(converted);
            }
        }
        info!(
            pipeline = %p,
            marketing_id = %link.marketing_id,
            from = %link.state.crm_id,
            to = %successor.id,
            reason,
            "the CRM record was replaced: the pair follows it"
        );
        commit.event(event);
        commit.upsert_link(link.marketing_id.clone(), state);
        Ok(())
    }

    /// Ends a pair whose record was deleted. `key` (the canonical key the
    /// deleted CRM record held) lets the marketing record be looked at
    /// again this cycle, so a lead that still qualifies is handed off anew.
    pub(super) async fn unlink(
        &mut self,
        link: &Link,
        why: &str,
        key: Option<String>,
        commit: &mut Commit,
    ) -> Result<(), CycleError> {
        let now = self.clock.now();
        let mut event = Event::new(now, EventKind::Unlinked, link.marketing_id.clone());
        event.crm_id = Some(link.state.crm_id.clone());
        event.owner = link.state.owner.clone();
        event.detail.insert("reason".into(), Value::from(why));
        commit.event(event);
        commit.remove_link(link.marketing_id.clone());
        super::super::follow_up::lifecycle::ended(
            self.pipeline,
            self.store,
            &link.marketing_id,
            commit,
        )
        .await?;
        info!(
            pipeline = %self.pipeline.name,
            marketing_id = %link.marketing_id,
            crm_id = %link.state.crm_id,
            why,
            "the pair ended"
        );
        if let Some(key) = key {
            self.reconsider.push(key);
        }
        Ok(())
    }

    /// The canonical key a CRM record holds, folded as keys are.
    fn crm_key_of(&self, record: &Record) -> Option<String> {
        let field = self.pipeline.planner.fields.key().crm.as_deref()?;
        record.text(field).map(|k| crate::engine::key::fold(&k))
    }
}
