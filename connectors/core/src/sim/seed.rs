//! Deterministic, realistic people for simulators, demos and benchmarks:
//! the same seed and index always give the same person, so a test can say
//! which leads should qualify without storing them.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

const FIRST: &[&str] = &[
    "Aiko", "Alex", "Amara", "Ana", "Arjun", "Ben", "Carla", "Chen", "Daniel", "Diego", "Elena",
    "Emma", "Fatima", "Felix", "Grace", "Hana", "Hiro", "Ines", "Isaac", "Jonas", "Julia", "Kenji",
    "Lars", "Laura", "Leila", "Lucas", "Maya", "Mei", "Mohammed", "Nina", "Noah", "Olga", "Omar",
    "Priya", "Rafael", "Sara", "Sofia", "Tom", "Yuki", "Zoe",
];
const LAST: &[&str] = &[
    "Abe", "Andersen", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kato", "Kim", "Kowalski", "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Nakamura",
    "Nguyen", "Novak", "Okafor", "Patel", "Rossi", "Sato", "Schmidt", "Silva", "Smith", "Suzuki",
    "Tanaka", "Taylor", "Wagner", "Watanabe", "Weber", "Wong", "Yamamoto", "Yilmaz", "Zhang",
    "Zimmer",
];
const COMPANIES: &[(&str, &str)] = &[
    ("Acme Robotics", "acme-robotics.example"),
    ("Blue Harbor Logistics", "blueharbor.example"),
    ("Cedar Analytics", "cedar-analytics.example"),
    ("Delta Foods", "deltafoods.example"),
    ("Evergreen Health", "evergreen-health.example"),
    ("Fjord Energy", "fjord-energy.example"),
    ("Granite Insurance", "granite-ins.example"),
    ("Helios Solar", "helios-solar.example"),
    ("Iris Biotech", "iris-bio.example"),
    ("Juniper Retail", "juniper-retail.example"),
    ("Kite Aerospace", "kite-aero.example"),
    ("Lumen Media", "lumen-media.example"),
    ("Maple Finance", "maple-finance.example"),
    ("Nimbus Cloud", "nimbus-cloud.example"),
    ("Orchid Hotels", "orchid-hotels.example"),
    ("Pioneer Steel", "pioneer-steel.example"),
    ("Quartz Semiconductors", "quartz-semi.example"),
    ("Riverbend Farms", "riverbend.example"),
    ("Sakura Trading", "sakura-trading.example"),
    ("Tidewater Shipping", "tidewater.example"),
    ("Umbra Security", "umbra-sec.example"),
    ("Vertex Pharma", "vertex-pharma.example"),
    ("Willow Education", "willow-edu.example"),
    ("Xenon Labs", "xenon-labs.example"),
    ("Yokohama Precision", "yokohama-precision.example"),
    ("Zephyr Mobility", "zephyr-mobility.example"),
];
const TITLES: &[&str] = &[
    "CTO",
    "Head of Marketing",
    "Marketing Manager",
    "VP Sales",
    "Operations Lead",
    "Data Analyst",
    "Procurement Manager",
    "CEO",
    "IT Director",
    "Product Manager",
];
const COUNTRIES: &[&str] = &["JP", "US", "DE", "FR", "GB", "BR", "IN", "AU", "CA", "SG"];
const SOURCES: &[&str] = &[
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "SOCIAL_MEDIA",
    "EMAIL_MARKETING",
    "REFERRALS",
    "DIRECT_TRAFFIC",
];
const CAMPAIGNS: &[&str] = &[
    "webinar-2026-q4",
    "ebook-smarketing",
    "trade-show-tokyo",
    "newsletter",
    "free-trial",
];
/// HubSpot's lifecycle stages, in funnel order.
pub const LIFECYCLE_STAGES: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
];

/// One synthetic person and their company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Unique for a given (seed, index).
    pub email: String,
    /// Company name.
    pub company: String,
    /// Company web domain.
    pub domain: String,
    /// Job title.
    pub job_title: String,
    /// Company head count.
    pub employees: u32,
    /// Marketing lead score, 0–100.
    pub score: u32,
    /// Lifecycle stage (one of [`LIFECYCLE_STAGES`]).
    pub lifecycle_stage: String,
    /// ISO country code.
    pub country: String,
    /// Phone number.
    pub phone: String,
    /// Original traffic source.
    pub source: String,
    /// The campaign that brought them.
    pub campaign: String,
}

/// The person number `index` of the population `seed`.
pub fn person(seed: u64, index: u64) -> Person {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    let first = FIRST[rng.random_range(0..FIRST.len())];
    let last = LAST[rng.random_range(0..LAST.len())];
    let (company, domain) = COMPANIES[rng.random_range(0..COMPANIES.len())];
    // Head counts are spread over orders of magnitude, as in real pipelines.
    let employees = 10f64.powf(rng.random_range(0.3..3.8)).round() as u32;
    let score = rng.random_range(0..=100);
    // Higher scores are likelier to be further down the funnel.
    let stage_idx =
        ((score as usize * 3) / 100 + rng.random_range(0..3)).min(LIFECYCLE_STAGES.len() - 1);
    Person {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        email: format!(
            "{}.{}.{index}@{domain}",
            first.to_lowercase(),
            last.to_lowercase()
        ),
        company: company.to_owned(),
        domain: domain.to_owned(),
        job_title: TITLES[rng.random_range(0..TITLES.len())].to_owned(),
        employees,
        score,
        lifecycle_stage: LIFECYCLE_STAGES[stage_idx].to_owned(),
        country: COUNTRIES[rng.random_range(0..COUNTRIES.len())].to_owned(),
        phone: format!("+1-555-{:04}", rng.random_range(0..10_000)),
        source: SOURCES[rng.random_range(0..SOURCES.len())].to_owned(),
        campaign: CAMPAIGNS[rng.random_range(0..CAMPAIGNS.len())].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_person() {
        assert_eq!(person(1, 42), person(1, 42));
        assert_ne!(person(1, 42).email, person(1, 43).email);
        assert_ne!(person(1, 42), person(2, 42));
    }

    #[test]
    fn values_are_in_range() {
        for i in 0..1000 {
            let p = person(3, i);
            assert!(p.score <= 100);
            assert!(p.employees >= 1 && p.employees <= 10_000);
            assert!(LIFECYCLE_STAGES.contains(&p.lifecycle_stage.as_str()));
            assert!(p.email.contains('@'));
        }
    }
}
