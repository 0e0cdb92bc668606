//! Pipedrive's response envelope (SEMANTICS.md §3 Envelope): every answer
//! is `{success, data, additional_data}`, every error
//! `{success:false, error, error_info, data:null, additional_data:null, code?}`.

use serde::Deserialize;
use serde_json::Value;

/// An error body; every part optional, so an unexpected body still reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// The message.
    #[serde(default)]
    pub error: Option<String>,
    /// How to fix it (often a link to the docs).
    #[serde(default)]
    pub error_info: Option<String>,
    /// A machine-readable code, on some errors (`feature_capping_deals_limit`).
    #[serde(default)]
    pub code: Option<String>,
}

/// A success envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope<T> {
    /// The payload.
    pub data: T,
    /// Paging and related data.
    #[serde(default)]
    pub additional_data: Option<AdditionalData>,
}

/// `additional_data`: v2's `next_cursor`, v1's `pagination` (or the flat
/// `start/limit/more_items_in_collection` of `/v1/leads`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdditionalData {
    /// v2: the next page's cursor; null on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// v1: paging.
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// `/v1/leads`: more pages follow.
    #[serde(default)]
    pub more_items_in_collection: Option<bool>,
}

/// v1 paging.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pagination {
    /// More pages follow.
    #[serde(default)]
    pub more_items_in_collection: bool,
}

impl AdditionalData {
    /// Whether a v1 list has more items after this page.
    pub fn more_v1(&self) -> bool {
        self.more_items_in_collection.unwrap_or(false)
            || self
                .pagination
                .as_ref()
                .is_some_and(|p| p.more_items_in_collection)
    }
}

/// The v2 search answer: `data.items[].item`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchData {
    /// The hits.
    #[serde(default)]
    pub items: Vec<SearchItem>,
}

/// One hit.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchItem {
    /// The found entity (id, name, emails…).
    pub item: Value,
}
