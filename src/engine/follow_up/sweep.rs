//! The sweep: once per cycle, every SLA timer that is due fires its step —
//! create the context note and follow-up task, record a breach, run an
//! escalation step (notify, task, reassign), or recycle the lead to
//! marketing.
//!
//! # Exactly once, across crashes
//!
//! A step's effects (events, the lead's new owner, task ids, the timer
//! moved to the next step) are stored in **one commit** after its remote
//! actions are done. Until that commit, the timer stays due, so a stop in
//! the middle re-runs the step at the next sweep, and a breach that fell
//! due while the daemon was down fires once at start. Re-running is safe:
//!
//! - writes (owner, task owner, recycle values) are updates by id with a
//!   deterministic value (the reassignment's next owner depends only on the
//!   stored round-robin position, which moves in the same commit);
//! - notes and tasks are guarded by an intent ([`IntentAction::Activity`])
//!   recorded before the create. A re-run that finds its intent still
//!   pending looks the activity up first (by subject, on the lead, through
//!   the `tasks` object configured in `[pipelines.sla]`) and creates it
//!   only if it is not there; the created id is stored in the step's
//!   commit ([`SlaLead::tasks`]) so a reassignment can move the task. Without
//!   `tasks` configured, a stop inside that window may leave a duplicate
//!   activity (logged);
//! - the chat notice is posted last; a stop between it and the commit
//!   posts it again (at least once: chat has no idempotency key).

use jiff::Timestamp;
use leadbridge_core::{
    Activity, ActivityKind, ConnectorError, WriteBatch, WriteOutcome, WriteRecord,
};
use serde_json::Value;
use tracing::{info, warn};

use crate::calendar::CalendarError;
use crate::config::{SlaConfig, TaskFor};
use crate::engine::clock::Clock;
use crate::engine::fields::Canonical;
use crate::engine::pipeline::Pipeline;
use crate::sla::notify::{Notifier, NotifyError};
use crate::sla::schedule::Timeline;
use crate::sla::template::{display_name, render, text, Vars};
use crate::state::{
    Commit, Event, EventKind, Intent, IntentAction, Side, SlaLead, SlaStep, SlaTask, StateError,
    StateStore,
};

/// The round-robin group reassignments take turns in (apart from the handoff's).
pub const REASSIGN_GROUP: &str = "sla";

/// At most this many steps fire per sweep, so one cycle stays bounded; the
/// rest are due at the next.
const MAX_PER_SWEEP: usize = 1_000;

/// Why one lead's step did not complete (it stays due and is retried at
/// the next sweep).
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    /// The state store failed: the sweep stops.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// A CRM or marketing call failed.
    #[error("{what}: {source}")]
    Connector {
        /// What was being done.
        what: &'static str,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },
    /// The tool refused a write.
    #[error("{what} rejected: {message}")]
    Rejected {
        /// What was being written.
        what: &'static str,
        /// The tool's message.
        message: String,
    },
    /// The chat notice failed.
    #[error(transparent)]
    Notify(#[from] NotifyError),
    /// The calendar could not place a step.
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    /// The config cannot do what the step asks (no owner field, no owners).
    #[error("{0}")]
    Config(String),
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Steps fired (each committed).
    pub fired: u64,
    /// Steps that failed and stay due.
    pub failed: u64,
}

/// Fires every due SLA step of `pipeline` (none when it has no SLA).
/// Only a state store failure is an error; a failing lead is logged and
/// retried at the next sweep.
pub async fn sweep(
    pipeline: &Pipeline,
    store: &dyn StateStore,
    clock: &dyn Clock,
) -> Result<SweepReport, StateError> {
    let Some(sla) = pipeline.sla.as_deref() else {
        return Ok(SweepReport::default());
    };
    let name = &pipeline.name;
    let now = clock.now();
    let due = store.due_sla_leads(name, now, MAX_PER_SWEEP).await?;
    let mut report = SweepReport::default();
    if !due.is_empty() {
        let pending: Vec<Intent> = store
            .pending_intents(name)
            .await?
            .into_iter()
            .filter(|i| matches!(i.action, IntentAction::Activity { .. }))
            .collect();
        let sweeper = Sweeper {
            pipeline,
            sla,
            store,
            clock,
            notifier: Notifier::new(),
            pending,
        };
        for lead in due {
            // Steps due at the same instant (the breach and an `after =
            // "0h"` step), or missed while the daemon was down, fire in
            // order now, each in its own commit.
            let mut lead = lead;
            for _ in 0..=sla.steps.len() + 2 {
                let step = lead.next;
                match sweeper.fire(lead.clone()).await {
                    Ok(next) => {
                        report.fired += 1;
                        lead = next;
                    }
                    Err(SlaError::State(e)) => return Err(e),
                    Err(e) => {
                        report.failed += 1;
                        warn!(pipeline = %name, lead = %lead.marketing_id, step = ?step, error = %e, "SLA step failed; retrying at the next cycle");
                        break;
                    }
                }
                if lead.due.is_none_or(|due| due > now) {
                    break;
                }
            }
        }
    }
    crate::metrics::record_open_timers(name, store.open_sla_timers(name).await?);
    Ok(report)
}

struct Sweeper<'a> {
    pipeline: &'a Pipeline,
    sla: &'a SlaConfig,
    store: &'a dyn StateStore,
    clock: &'a dyn Clock,
    notifier: Notifier,
    /// Activity intents a stop left pending.
    pending: Vec<Intent>,
}

fn connector(what: &'static str) -> impl Fn(ConnectorError) -> SlaError {
    move |source| SlaError::Connector { what, source }
}

impl Sweeper<'_> {
    /// Fires the lead's due step and returns its state after the step.
    async fn fire(&self, mut lead: SlaLead) -> Result<SlaLead, SlaError> {
        let Some(step) = lead.next else {
            return Ok(lead);
        };
        let timeline = Timeline::new(self.sla, lead.handed_off_at)?;
        let mut commit = Commit::new(self.pipeline.name.clone());
        match step {
            SlaStep::Setup => self.setup(&mut lead, &timeline, &mut commit).await?,
            SlaStep::Breach => {
                lead.breached = true;
                let mut e = self.event(&lead, EventKind::SlaBreached, timeline.deadline);
                e.detail.insert(
                    "deadline".into(),
                    Value::String(timeline.deadline.to_string()),
                );
                commit.event(e);
                crate::metrics::SlaBreached {
                    pipeline: &self.pipeline.name,
                    marketing_id: &lead.marketing_id,
                    owner: lead.owner.as_deref(),
                }
                .emit();
            }
            SlaStep::Escalate(i) => {
                self.escalate(usize::from(i), &mut lead, &timeline, &mut commit)
                    .await?
            }
            SlaStep::Recycle => self.recycle(&mut lead, &mut commit).await?,
        }
        let next = if lead.accepted_at.is_some() || lead.recycled {
            None
        } else {
            timeline.after(step)
        };
        lead.next = next.map(|(s, _)| s);
        lead.due = next.map(|(_, t)| t);
        commit.set_sla_lead(lead.clone());
        self.store.commit(&commit).await?;
        Ok(lead)
    }

    fn event(&self, lead: &SlaLead, kind: EventKind, at: Timestamp) -> Event {
        let mut e = Event::new(at, kind, lead.marketing_id.clone());
        e.crm_id = Some(lead.crm_id.clone());
        e.owner = lead.owner.clone();
        e.source = lead.source.clone();
        e.campaign = lead.campaign.clone();
        e
    }

    fn vars(&self, lead: &SlaLead, timeline: &Timeline) -> Vars {
        let mut vars: Vars = lead
            .context
            .iter()
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        let local = |t: Timestamp| {
            self.sla
                .calendar
                .local(t)
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        };
        vars.insert(
            "name".into(),
            display_name(&lead.context, &lead.marketing_id),
        );
        vars.insert("id".into(), lead.marketing_id.clone());
        vars.insert("deadline".into(), local(timeline.deadline));
        vars.insert("handed_off_at".into(), local(lead.handed_off_at));
        vars.insert("owner".into(), lead.owner.clone().unwrap_or_default());
        let url = self
            .sla
            .marketing_url
            .as_ref()
            .map(|u| u.replace("{id}", &lead.marketing_id))
            .unwrap_or_default();
        vars.insert("marketing_url".into(), url);
        let why = match &self.pipeline.planner.handoff.when {
            Some(rule) => {
                let values: Canonical = self
                    .pipeline
                    .planner
                    .fields
                    .complete(&lead.context.clone().into_iter().collect());
                rule.explain(&values)
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            None => "every lead with the required fields is handed off".into(),
        };
        vars.insert("why".into(), why);
        vars
    }

    /// Note with the marketing context, and the follow-up task due at the deadline.
    async fn setup(
        &self,
        lead: &mut SlaLead,
        timeline: &Timeline,
        commit: &mut Commit,
    ) -> Result<(), SlaError> {
        let vars = self.vars(lead, timeline);
        let name = vars.get("name").cloned().unwrap_or_default();
        let note = Activity {
            kind: ActivityKind::Note,
            parent_object: self.pipeline.crm.object.clone(),
            parent_id: lead.crm_id.clone(),
            subject: format!("Marketing context: {name}"),
            body: render(&self.sla.note, &vars),
            owner: None,
            due: None,
        };
        self.activity(lead, note, commit).await?;
        let subject = render(&self.sla.follow_up, &vars);
        let task = Activity {
            kind: ActivityKind::Task,
            parent_object: self.pipeline.crm.object.clone(),
            parent_id: lead.crm_id.clone(),
            subject: subject.clone(),
            body: format!(
                "First touch due by {} (SLA agreed with marketing).\n\n{}",
                vars.get("deadline").cloned().unwrap_or_default(),
                render(&self.sla.note, &vars)
            ),
            owner: lead.owner.clone(),
            due: Some(timeline.deadline),
        };
        let id = self.activity(lead, task, commit).await?;
        lead.tasks.push(SlaTask {
            id,
            owner: lead.owner.clone(),
            subject,
        });
        Ok(())
    }

    async fn escalate(
        &self,
        index: usize,
        lead: &mut SlaLead,
        timeline: &Timeline,
        commit: &mut Commit,
    ) -> Result<(), SlaError> {
        let Some(step) = self.sla.steps.get(index) else {
            // The config lost a step since the timer was set: nothing to do.
            return Ok(());
        };
        let now = self.clock.now();
        if step.reassign {
            self.reassign(lead, commit, now).await?;
        }
        if let Some(task) = &step.task {
            let vars = self.vars(lead, timeline);
            let owner = match task.for_whom {
                TaskFor::Owner => lead.owner.clone(),
                TaskFor::Manager => self.sla.manager.clone(),
            };
            let subject = render(&task.subject, &vars);
            let activity = Activity {
                kind: ActivityKind::Task,
                parent_object: self.pipeline.crm.object.clone(),
                parent_id: lead.crm_id.clone(),
                subject: subject.clone(),
                body: format!(
                    "No first touch by {} (handed off {}). Escalation step {} of the SLA.",
                    vars.get("deadline").cloned().unwrap_or_default(),
                    vars.get("handed_off_at").cloned().unwrap_or_default(),
                    index + 1
                ),
                owner: owner.clone(),
                due: Some(now),
            };
            let id = self.activity(lead, activity, commit).await?;
            if task.for_whom == TaskFor::Owner {
                lead.tasks.push(SlaTask { id, owner, subject });
            }
        }
        let mut e = self.event(lead, EventKind::Escalated, now);
        e.detail
            .insert("step".into(), Value::from(index as u64 + 1));
        commit.event(e);
        if let Some(webhook) = &step.notify {
            let vars = self.vars(lead, timeline);
            let text = format!(
                "SLA breached: {} was handed off {} and not touched by {} (owner {}). Escalation step {}.{}",
                vars.get("name").cloned().unwrap_or_default(),
                vars.get("handed_off_at").cloned().unwrap_or_default(),
                vars.get("deadline").cloned().unwrap_or_default(),
                lead.owner.as_deref().unwrap_or("none"),
                index + 1,
                match vars.get("marketing_url") {
                    Some(u) if !u.is_empty() => format!(" {u}"),
                    _ => String::new(),
                }
            );
            self.notifier.send(webhook, &text).await?;
        }
        crate::metrics::SlaEscalated {
            pipeline: &self.pipeline.name,
            marketing_id: &lead.marketing_id,
            step: index,
        }
        .emit();
        Ok(())
    }

    /// The next owner in turn who is not the current one; the CRM record
    /// and the old owner's open SLA tasks move to them.
    async fn reassign(
        &self,
        lead: &mut SlaLead,
        commit: &mut Commit,
        now: Timestamp,
    ) -> Result<(), SlaError> {
        let p = &self.pipeline.name;
        let owners = &self.sla.owners;
        let field = self.pipeline.owner_field.clone().ok_or_else(|| {
            SlaError::Config("reassign needs an `owner` field with a `crm` mapping".into())
        })?;
        if owners.is_empty() {
            return Err(SlaError::Config(
                "reassign has no owners to take turns".into(),
            ));
        }
        let mut position = self.store.round_robin(p, REASSIGN_GROUP).await?;
        let mut chosen = None;
        for _ in 0..owners.len() {
            let candidate = &owners[(position % owners.len() as u64) as usize];
            position += 1;
            if Some(candidate) != lead.owner.as_ref() {
                chosen = Some(candidate.clone());
                break;
            }
        }
        let Some(new_owner) = chosen else {
            info!(pipeline = %p, lead = %lead.marketing_id, "reassign: nobody else to take the lead");
            return Ok(());
        };
        let crm = &self.pipeline.crm;
        let mut fields = leadbridge_core::Fields::new();
        fields.insert(field.clone(), Value::String(new_owner.clone()));
        self.write(
            "owner change",
            &crm.connector,
            WriteBatch {
                object: crm.object.clone(),
                key_field: None,
                records: vec![WriteRecord {
                    id: Some(lead.crm_id.clone()),
                    key: None,
                    fields,
                }],
            },
        )
        .await?;
        let old = lead.owner.clone();
        if let Some(tasks) = &self.sla.tasks {
            let moving: Vec<usize> = (0..lead.tasks.len())
                .filter(|i| lead.tasks[*i].owner == old)
                .collect();
            if !moving.is_empty() {
                let records = moving
                    .iter()
                    .map(|i| {
                        let mut f = leadbridge_core::Fields::new();
                        f.insert(tasks.owner.clone(), Value::String(new_owner.clone()));
                        WriteRecord {
                            id: Some(lead.tasks[*i].id.clone()),
                            key: None,
                            fields: f,
                        }
                    })
                    .collect();
                self.write(
                    "task owner change",
                    &crm.connector,
                    WriteBatch {
                        object: tasks.object.clone(),
                        key_field: None,
                        records,
                    },
                )
                .await?;
                for i in moving {
                    lead.tasks[i].owner = Some(new_owner.clone());
                }
            }
        }
        // The link learns the new owner, and agrees on it so the change is
        // not read back as sales feedback.
        if let Some(mut link) = self
            .store
            .link(p, Side::Marketing, &lead.marketing_id)
            .await?
        {
            link.state.owner = Some(new_owner.clone());
            let values = Canonical::from([("owner".to_string(), Value::String(new_owner.clone()))]);
            self.pipeline
                .planner
                .agree_on(&mut link.state.agreed, &values);
            commit.upsert_link(link.marketing_id, link.state);
        }
        commit.set_round_robin(REASSIGN_GROUP, position);
        lead.owner = Some(new_owner.clone());
        let mut e = self.event(lead, EventKind::Reassigned, now);
        e.detail
            .insert("from".into(), old.map_or(Value::Null, Value::String));
        e.detail.insert("to".into(), Value::String(new_owner));
        commit.event(e);
        Ok(())
    }

    /// Writes the configured values to the marketing record and closes the SLA.
    async fn recycle(&self, lead: &mut SlaLead, commit: &mut Commit) -> Result<(), SlaError> {
        let Some(recycle) = &self.sla.recycle else {
            return Ok(());
        };
        let now = self.clock.now();
        let values: Canonical = recycle
            .set
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let marketing = &self.pipeline.marketing;
        let fields = self
            .pipeline
            .planner
            .fields
            .to_vendor(Side::Marketing, &values);
        self.write(
            "recycle",
            &marketing.connector,
            WriteBatch {
                object: marketing.object.clone(),
                key_field: None,
                records: vec![WriteRecord {
                    id: Some(lead.marketing_id.clone()),
                    key: None,
                    fields,
                }],
            },
        )
        .await?;
        let p = &self.pipeline.name;
        if let Some(mut link) = self
            .store
            .link(p, Side::Marketing, &lead.marketing_id)
            .await?
        {
            self.pipeline
                .planner
                .agree_on(&mut link.state.agreed, &values);
            commit.upsert_link(link.marketing_id, link.state);
        }
        lead.recycled = true;
        let reason = recycle
            .set
            .get("disqualify_reason")
            .cloned()
            .unwrap_or_else(|| "SLA_EXPIRED".to_string());
        let mut e = self.event(lead, EventKind::Recycled, now);
        e.detail
            .insert("reason".into(), Value::String(reason.clone()));
        for (k, v) in &recycle.set {
            e.detail
                .insert(format!("set.{k}"), Value::String(v.clone()));
        }
        commit.event(e);
        crate::metrics::LeadRecycled {
            pipeline: p,
            marketing_id: &lead.marketing_id,
            reason: &reason,
        }
        .emit();
        Ok(())
    }

    async fn write(
        &self,
        what: &'static str,
        connector: &std::sync::Arc<dyn leadbridge_core::Connector>,
        batch: WriteBatch,
    ) -> Result<(), SlaError> {
        let outcomes = connector
            .write(&batch)
            .await
            .map_err(self::connector(what))?;
        for outcome in outcomes {
            if let WriteOutcome::Rejected { message, .. } = outcome {
                return Err(SlaError::Rejected { what, message });
            }
        }
        Ok(())
    }

    /// Creates a note or task once: an intent first, and a look-up when a
    /// previous attempt's intent is still pending.
    async fn activity(
        &self,
        lead: &SlaLead,
        activity: Activity,
        commit: &mut Commit,
    ) -> Result<String, SlaError> {
        let p = &self.pipeline.name;
        let crm = &self.pipeline.crm;
        let earlier: Vec<&Intent> = self
            .pending
            .iter()
            .filter(|i| {
                i.marketing_id == lead.marketing_id
                    && matches!(&i.action, IntentAction::Activity { activity: a }
                        if a.kind == activity.kind && a.subject == activity.subject && a.parent_id == activity.parent_id)
            })
            .collect();
        if !earlier.is_empty() {
            for i in &earlier {
                commit.resolve_intent(i.id);
            }
            if let Some(id) = self.find(&activity).await? {
                info!(pipeline = %p, lead = %lead.marketing_id, activity = %id, "activity from an interrupted step found; not created again");
                return Ok(id);
            }
        }
        let intent = Intent {
            id: self.store.new_intent_id().await?,
            pipeline: p.clone(),
            side: Side::Crm,
            object: crm.object.clone(),
            marketing_id: lead.marketing_id.clone(),
            action: IntentAction::Activity {
                activity: activity.clone(),
            },
            canonical_hash: None,
            recorded_at: self.clock.now(),
        };
        self.store
            .record_intents(std::slice::from_ref(&intent))
            .await?;
        let id = crm
            .connector
            .create_activity(&activity)
            .await
            .map_err(connector("create activity"))?;
        commit.resolve_intent(intent.id);
        Ok(id)
    }

    /// An activity with this subject on this record, if the CRM's task
    /// object is configured.
    async fn find(&self, activity: &Activity) -> Result<Option<String>, SlaError> {
        let Some(tasks) = &self.sla.tasks else {
            warn!(pipeline = %self.pipeline.name, "an interrupted activity may be created twice: configure `tasks` in [pipelines.sla] to look it up");
            return Ok(None);
        };
        let found = self
            .pipeline
            .crm
            .connector
            .lookup(
                &tasks.object,
                &tasks.subject,
                std::slice::from_ref(&activity.subject),
                &[tasks.parent.clone(), tasks.owner.clone()],
            )
            .await
            .map_err(connector("look up activity"))?;
        Ok(found
            .into_iter()
            .find(|r| r.text(&tasks.parent).as_deref() == Some(activity.parent_id.as_str()))
            .map(|r| r.id))
    }
}
