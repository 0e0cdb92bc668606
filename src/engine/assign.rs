//! Who gets a handed-off lead: round-robin over a list, territory rules, or
//! the owner sales already has for that person.

use crate::config::Assignment;

use super::fields::Canonical;

/// The owner chosen and the round-robin position to persist with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The CRM user id; `None` leaves the CRM's default owner.
    pub owner: Option<String>,
    /// The round-robin position after this choice (unchanged for other strategies).
    pub next_position: u64,
}

/// Picks the owner of a new lead. `existing_owner` is the owner of the
/// record sales already has for this person, if any; `position` is the
/// persisted round-robin position, so a restart does not hand the next lead
/// to the first owner again. Territory rules that cannot be evaluated on
/// this lead (a blank field) are skipped, not fatal: the default owner
/// takes the lead.
pub fn choose(
    assignment: &Assignment,
    values: &Canonical,
    existing_owner: Option<&str>,
    position: u64,
) -> Result<Choice, String> {
    match assignment {
        Assignment::RoundRobin { owners } => {
            if owners.is_empty() {
                return Err("round_robin has no owners".into());
            }
            let owner = owners[(position % owners.len() as u64) as usize].clone();
            Ok(Choice {
                owner: Some(owner),
                next_position: position + 1,
            })
        }
        Assignment::Territory {
            rules,
            default_owner,
        } => {
            let owner = rules
                .iter()
                .find(|r| matches!(r.when.evaluate(values), Ok(true)))
                .map(|r| r.owner.clone())
                .unwrap_or_else(|| default_owner.clone());
            Ok(Choice {
                owner: Some(owner),
                next_position: position,
            })
        }
        Assignment::AccountOwner { fallback } => match (existing_owner, fallback) {
            (Some(owner), _) => Ok(Choice {
                owner: Some(owner.to_owned()),
                next_position: position,
            }),
            (None, Some(fallback)) => choose(fallback, values, None, position),
            (None, None) => Ok(Choice {
                owner: None,
                next_position: position,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_spreads_evenly_from_the_persisted_position() {
        let a = Assignment::RoundRobin {
            owners: vec!["u1".into(), "u2".into(), "u3".into()],
        };
        let mut position = 7;
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..300 {
            let c = choose(&a, &Canonical::new(), None, position).unwrap();
            position = c.next_position;
            *counts.entry(c.owner.unwrap()).or_insert(0) += 1;
        }
        assert_eq!(
            counts.values().copied().collect::<Vec<_>>(),
            vec![100, 100, 100]
        );
        assert_eq!(
            choose(&a, &Canonical::new(), None, 7)
                .unwrap()
                .owner
                .as_deref(),
            Some("u2")
        );
    }

    #[test]
    fn account_owner_keeps_the_existing_owner_else_falls_back() {
        let a = Assignment::AccountOwner {
            fallback: Some(Box::new(Assignment::RoundRobin {
                owners: vec!["u9".into()],
            })),
        };
        assert_eq!(
            choose(&a, &Canonical::new(), Some("u1"), 0)
                .unwrap()
                .owner
                .as_deref(),
            Some("u1")
        );
        assert_eq!(
            choose(&a, &Canonical::new(), None, 0)
                .unwrap()
                .owner
                .as_deref(),
            Some("u9")
        );
    }
}
