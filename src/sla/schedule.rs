//! When each SLA step of one lead falls due: the first-touch deadline, each
//! escalation step, and recycling. Pure, so `leadbridge sla preview`, the
//! sweep and the tests compute the very same instants.

use jiff::Timestamp;

use crate::calendar::CalendarError;
use crate::config::SlaConfig;
use crate::state::SlaStep;

/// The SLA timeline of one lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// When marketing handed it off.
    pub handed_off_at: Timestamp,
    /// The first-touch deadline (`within` business time after the handoff).
    pub deadline: Timestamp,
    /// Each escalation step's time (`after` business time after the deadline).
    pub steps: Vec<Timestamp>,
    /// When it goes back to marketing (`recycle.after` after the handoff).
    pub recycle: Option<Timestamp>,
}

impl Timeline {
    /// Computes the timeline of a lead handed off at `handed_off_at`.
    pub fn new(config: &SlaConfig, handed_off_at: Timestamp) -> Result<Self, CalendarError> {
        let cal = &config.calendar;
        let deadline = cal.add(handed_off_at, config.within)?;
        let steps = config
            .steps
            .iter()
            .map(|s| cal.add(deadline, s.after))
            .collect::<Result<Vec<_>, _>>()?;
        let recycle = config
            .recycle
            .as_ref()
            .map(|r| cal.add(handed_off_at, r.after))
            .transpose()?;
        Ok(Self {
            handed_off_at,
            deadline,
            steps,
            recycle,
        })
    }

    /// Every step in firing order (by time; ties in config order, the
    /// breach before its steps and recycling last).
    pub fn sequence(&self) -> Vec<(SlaStep, Timestamp)> {
        let mut out = vec![
            (SlaStep::Setup, self.handed_off_at),
            (SlaStep::Breach, self.deadline),
        ];
        out.extend(
            self.steps
                .iter()
                .enumerate()
                .map(|(i, t)| (SlaStep::Escalate(i as u16), *t)),
        );
        if let Some(t) = self.recycle {
            out.push((SlaStep::Recycle, t));
        }
        // Stable: equal times keep the order above.
        out.sort_by_key(|(_, t)| *t);
        out
    }

    /// The step that follows `step`, with its time; `None` after the last.
    pub fn after(&self, step: SlaStep) -> Option<(SlaStep, Timestamp)> {
        let seq = self.sequence();
        let i = seq.iter().position(|(s, _)| *s == step)?;
        seq.get(i + 1).copied()
    }
}
