//! Pipedrive's token-based rate limits (SEMANTICS.md §3 Rate limits;
//! pipedrive.readme.io/docs/core-api-concepts-rate-limiting):
//!
//! - every operation costs tokens (`x-token-cost` in the spec) from a daily
//!   company budget (30,000 base tokens × plan multiplier × seats), reset at
//!   midnight UTC;
//! - bursts are limited per token over a rolling 2-second window: 20
//!   requests with an API token and 80 with an OAuth token on the smallest
//!   plan, and 10 for the search endpoints on every plan;
//! - every answer carries `x-ratelimit-limit`, `x-ratelimit-remaining` and
//!   `x-ratelimit-reset` (seconds until the refusing window resets); past a
//!   limit the answer is 429.
//!
//! The daily budget's 429 is not spelled out in the docs; here it is the
//! same 429 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` counting
//! the seconds to midnight UTC, the window that refused (unverified).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The simulated company's daily budget: 30,000 base tokens × plan
/// multiplier 1 (the smallest plan) × 5 seats.
pub const DEFAULT_DAILY_TOKENS: u64 = 150_000;
/// The burst window.
pub const WINDOW: Duration = Duration::from_secs(2);
/// Requests per window with an API token, smallest plan.
pub const API_TOKEN_BURST: u32 = 20;
/// Requests per window with an OAuth access token, smallest plan.
pub const OAUTH_BURST: u32 = 80;
/// Search requests per window, every plan and token kind.
pub const SEARCH_BURST: u32 = 10;

/// The token cost of one request. v2 costs are the spec's `x-token-cost`
/// (list 10, one entity 1, create and update 5, delete 3); `/v1/leads`
/// lists cost 20 (SEMANTICS.md §3). Search and the other v1 operations
/// have no cost in the files read; 20 for search and reads of v1 lists and
/// 10 for v1 writes follow the legacy scheme's shares (unverified).
pub fn cost(method: &str, path: &str) -> u64 {
    let v2 = path.starts_with("/api/v2/");
    let search = path.ends_with("/search");
    let one = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()) || last.len() == 36);
    match (method, v2) {
        (_, _) if search => 20,
        ("GET", true) if one => 1,
        ("GET", true) => 10,
        ("POST" | "PATCH" | "PUT", true) => 5,
        ("DELETE", _) => 3,
        ("GET", false) if one => 2,
        ("GET", false) => 20,
        _ => 10,
    }
}

/// What the limiter decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on; these are the headers' values.
    Allowed {
        /// `x-ratelimit-limit`.
        limit: u32,
        /// `x-ratelimit-remaining`.
        remaining: u32,
        /// `x-ratelimit-reset`, seconds.
        reset: u64,
    },
    /// A burst limit refused it.
    Burst {
        /// The window's limit.
        limit: u32,
        /// Seconds until a slot frees.
        reset: u64,
    },
    /// The daily budget is spent.
    Daily {
        /// Seconds to midnight UTC.
        reset: u64,
    },
}

/// The limiter's state: request instants per (token, class), tokens spent today.
pub struct Limits {
    enabled: AtomicBool,
    windows: Mutex<HashMap<(String, bool), VecDeque<Instant>>>,
    spent: Mutex<(i64, u64)>,
    budget: Mutex<Option<u64>>,
}

impl Limits {
    /// Limits on or off (the daily budget holds either way).
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled: AtomicBool::new(enabled),
            windows: Mutex::new(HashMap::new()),
            spent: Mutex::new((0, 0)),
            budget: Mutex::new(Some(DEFAULT_DAILY_TOKENS)),
        }
    }

    /// Switches the burst limits.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Sets the daily budget in tokens; `None` for unlimited.
    pub fn set_budget(&self, tokens: Option<u64>) {
        *self.budget.lock().unwrap_or_else(|e| e.into_inner()) = tokens;
    }

    /// Checks and takes one request of `cost` tokens for `token` at the
    /// simulated second `now_s` (the day is the simulated clock's; bursts
    /// run on real time, as the client's pacing does).
    pub fn take(&self, token: &str, burst: u32, search: bool, cost: u64, now_s: i64) -> Decision {
        let day = now_s.div_euclid(86_400);
        let to_midnight = (86_400 - now_s.rem_euclid(86_400)) as u64;
        {
            let budget = *self.budget.lock().unwrap_or_else(|e| e.into_inner());
            let spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
            let today = if spent.0 == day { spent.1 } else { 0 };
            if budget.is_some_and(|b| today + cost > b) {
                return Decision::Daily { reset: to_midnight };
            }
        }
        let mut decision = Decision::Allowed {
            limit: burst,
            remaining: burst,
            reset: WINDOW.as_secs(),
        };
        if self.enabled.load(Ordering::Relaxed) {
            let now = Instant::now();
            let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            let mut classes = vec![(false, burst)];
            if search {
                classes.push((true, SEARCH_BURST));
            }
            for (class, limit) in &classes {
                let w = windows.entry((token.to_owned(), *class)).or_default();
                while w.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    w.pop_front();
                }
                if w.len() as u32 >= *limit {
                    let frees = w
                        .front()
                        .map(|t| WINDOW.saturating_sub(now.duration_since(*t)))
                        .unwrap_or(WINDOW);
                    return Decision::Burst {
                        limit: *limit,
                        reset: frees.as_secs_f64().ceil().max(1.0) as u64,
                    };
                }
            }
            for (class, limit) in &classes {
                let w = windows.entry((token.to_owned(), *class)).or_default();
                w.push_back(now);
                if *class == search {
                    decision = Decision::Allowed {
                        limit: *limit,
                        remaining: limit.saturating_sub(w.len() as u32),
                        reset: WINDOW.as_secs(),
                    };
                }
            }
        }
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if spent.0 != day {
            *spent = (day, 0);
        }
        spent.1 += cost;
        decision
    }

    /// Tokens spent today.
    pub fn spent(&self) -> u64 {
        self.spent.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_spec() {
        assert_eq!(cost("GET", "/api/v2/persons"), 10);
        assert_eq!(cost("GET", "/api/v2/persons/7"), 1);
        assert_eq!(cost("POST", "/api/v2/persons"), 5);
        assert_eq!(cost("PATCH", "/api/v2/persons/7"), 5);
        assert_eq!(cost("GET", "/api/v2/persons/search"), 20);
        assert_eq!(cost("GET", "/v1/leads"), 20);
    }

    #[test]
    fn a_burst_past_the_window_is_refused_and_the_budget_runs_out() {
        let l = Limits::new(true);
        for _ in 0..SEARCH_BURST {
            assert!(matches!(
                l.take("t", 20, true, 20, 0),
                Decision::Allowed { .. }
            ));
        }
        assert!(matches!(
            l.take("t", 20, true, 20, 0),
            Decision::Burst { limit: 10, .. }
        ));
        // Another token has its own window.
        assert!(matches!(
            l.take("u", 20, true, 20, 0),
            Decision::Allowed { .. }
        ));
        l.set_budget(Some(l.spent() + 5));
        assert!(matches!(
            l.take("v", 20, false, 10, 0),
            Decision::Daily { reset: 86_400 }
        ));
        assert!(matches!(
            l.take("v", 20, false, 5, 0),
            Decision::Allowed { .. }
        ));
    }
}
