//! The one-line summary systemd shows (`STATUS=` in `systemctl status`),
//! kept from the pipelines' events.

use std::collections::BTreeMap;

use crate::engine::runner::{AfterFailure, PipelineEvent};

/// What is known of one pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Starting,
    Ok,
    Failing,
    Waiting,
    Halted,
    Paused,
}

/// The pipelines' states and the last thing that happened.
#[derive(Debug, Default)]
pub(crate) struct StatusLine {
    states: BTreeMap<String, State>,
    last: String,
}

impl StatusLine {
    /// Every pipeline of `names` starting.
    pub(crate) fn new(names: &[String]) -> Self {
        let mut s = Self::default();
        s.reset(names);
        s
    }

    /// After a reload: keep the states of pipelines still there.
    pub(crate) fn reset(&mut self, names: &[String]) {
        let mut states = BTreeMap::new();
        for n in names {
            let st = self.states.remove(n).unwrap_or(State::Starting);
            states.insert(n.clone(), st);
        }
        self.states = states;
    }

    /// Takes an event into account.
    pub(crate) fn apply(&mut self, event: &PipelineEvent) {
        let (name, state) = match event {
            PipelineEvent::CycleFinished { pipeline, report } => {
                let c = &report.counts;
                self.last = format!(
                    "last cycle {pipeline}: {} read, {} handed off, {} written, {} dead-lettered",
                    c.read_marketing + c.read_crm,
                    report.handoffs,
                    c.written_crm + c.written_marketing,
                    c.dead_lettered
                );
                (pipeline, State::Ok)
            }
            PipelineEvent::CycleFailed {
                pipeline, after, ..
            } => {
                let state = match after {
                    AfterFailure::NextTick => State::Failing,
                    AfterFailure::WaitUntil(_) => State::Waiting,
                    AfterFailure::Halt => State::Halted,
                };
                self.last = format!("last cycle {pipeline}: failed");
                (pipeline, state)
            }
            PipelineEvent::Paused { pipeline } => (pipeline, State::Paused),
            PipelineEvent::Resumed { pipeline } => (pipeline, State::Starting),
            PipelineEvent::Stopped { .. } => return,
        };
        if let Some(s) = self.states.get_mut(name) {
            *s = state;
        }
    }

    /// `3 pipelines: 2 ok, 1 halted (inbound); last cycle …`.
    pub(crate) fn line(&self) -> String {
        let count = |want: &State| self.states.values().filter(|s| *s == want).count();
        let names = |want: &State| {
            self.states
                .iter()
                .filter(|(_, s)| *s == want)
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = vec![format!("{} ok", count(&State::Ok))];
        for (state, label) in [
            (State::Starting, "starting"),
            (State::Failing, "failing"),
            (State::Waiting, "waiting for quota"),
            (State::Halted, "halted"),
            (State::Paused, "paused"),
        ] {
            let n = count(&state);
            if n > 0 {
                parts.push(format!("{n} {label} ({})", names(&state)));
            }
        }
        let total = self.states.len();
        let mut line = format!(
            "{total} pipeline{}: {}",
            if total == 1 { "" } else { "s" },
            parts.join(", ")
        );
        if !self.last.is_empty() {
            line.push_str("; ");
            line.push_str(&self.last);
        }
        line
    }
}
