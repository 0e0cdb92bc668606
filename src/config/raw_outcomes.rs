//! `[pipelines.outcomes]` as written: sales outcomes followed back to
//! marketing (see [`super::outcomes`] for what each key means once checked).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::raw::{RawField, Text};
use leadbridge_core::config::Table;

/// Canonical field → value, as `on_converted = { lifecycle = "opportunity" }`.
pub type RawSet = Spanned<BTreeMap<Text, Text>>;

/// `[pipelines.outcomes]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutcomes {
    /// The CRM object carrying outcomes (`Opportunity`).
    pub object: Option<Text>,
    /// The field on the CRM lead naming its outcome record once converted
    /// (`ConvertedOpportunityId`).
    pub converted_to: Option<Text>,
    /// The outcome object's id field, to read a fresh conversion's outcome
    /// record at once (`Id`).
    pub id_field: Option<Text>,
    /// CEL over the outcome fields: the outcome is won.
    pub won_when: Option<Text>,
    /// CEL over the outcome fields: the outcome is lost.
    pub lost_when: Option<Text>,
    /// Canonical pipeline fields written to marketing on conversion.
    pub on_converted: Option<RawSet>,
    /// … when the outcome is won.
    pub on_won: Option<RawSet>,
    /// … when the outcome is lost.
    pub on_lost: Option<RawSet>,
    /// `[pipelines.outcomes.fields]`: outcome field → its mapping.
    pub fields: Option<BTreeMap<Text, RawField>>,
    /// Where the table was written.
    #[serde(skip)]
    pub span: Range<usize>,
}

const SET: &str = "a table of canonical field = \"value\", such as { lifecycle = \"customer\" }";

pub(crate) fn read_outcomes(t: &Table<'_, '_, '_>) -> RawOutcomes {
    let fields = t
        .req_table(
            "fields",
            "a [pipelines.outcomes.fields] table mapping outcome fields, such as opportunity_stage = { crm = \"StageName\", marketing = \"opportunity_stage\" }",
        )
        .map(|f| {
            super::raw::read_fields(
                &f,
                "outcome field",
                "pipelines.outcomes.fields",
                "a table such as { crm = \"StageName\", marketing = \"opportunity_stage\" }",
            )
        });
    let raw = RawOutcomes {
        object: t.req_string("object", "the CRM's outcome object, such as \"Opportunity\""),
        converted_to: t.req_string(
            "converted_to",
            "the CRM lead's field naming its outcome once converted, such as \"ConvertedOpportunityId\"",
        ),
        id_field: t.req_string(
            "id_field",
            "the outcome object's id field, such as \"Id\"",
        ),
        won_when: t.req_string(
            "won_when",
            "CEL over the outcome fields, such as \"closed_won\"",
        ),
        lost_when: t.req_string(
            "lost_when",
            "CEL over the outcome fields, such as \"closed && !closed_won\"",
        ),
        on_converted: read_set(t, "on_converted"),
        on_won: read_set(t, "on_won"),
        on_lost: read_set(t, "on_lost"),
        fields,
        span: t.span(),
    };
    t.report_unknown();
    raw
}

fn read_set(t: &Table<'_, '_, '_>, key: &'static str) -> Option<RawSet> {
    t.string_map(key, "a string: canonical field = \"value\"", SET)
}
