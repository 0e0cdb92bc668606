//! The mapping checked against the tools' own metadata before any write: a
//! field that does not exist, or that leadbridge would write but the tool
//! will not let it, is a start-up error naming the pipeline and the field,
//! not a dead letter per record hours later.

use leadbridge_core::ObjectSchema;

use super::fields::Side;
use super::pipeline::Pipeline;

/// Every problem of `pipeline`'s mapping against the two objects' schemas.
pub fn check(pipeline: &Pipeline, marketing: &ObjectSchema, crm: &ObjectSchema) -> Vec<String> {
    let mut problems = Vec::new();
    let schema = |side: Side| match side {
        Side::Marketing => marketing,
        Side::Crm => crm,
    };
    let mut field = |side: Side, name: &str, canonical: &str, written: bool| {
        let s = schema(side);
        match s.field(name) {
            None => problems.push(format!(
                "pipeline {}: field `{canonical}` maps to {side} field `{name}`, which {} `{}` does not have",
                pipeline.name,
                side_tool(pipeline, side),
                s.object
            )),
            Some(f) if written && !f.createable && !f.updateable => problems.push(format!(
                "pipeline {}: field `{canonical}` is written to {side} field `{name}`, which `{}` makes read-only",
                pipeline.name, s.object
            )),
            Some(_) => {}
        }
    };
    for m in pipeline.planner.fields.mappings() {
        for side in [Side::Marketing, Side::Crm] {
            if let Some(name) = m.vendor_field(side) {
                // Written to `side` when it flows from the other side (or is the
                // key of a created record).
                let written = m.flows_from(side.other()) || (m.key && side == Side::Crm);
                field(side, name, &m.name, written);
            }
        }
    }
    if let Some(key) = &pipeline.upsert_key {
        match crm.field(key) {
            None => problems.push(format!(
                "pipeline {}: upsert_key `{key}` is not a field of `{}`",
                pipeline.name, crm.object
            )),
            Some(f) if !f.unique => problems.push(format!(
                "pipeline {}: upsert_key `{key}` is not unique (an External ID) on `{}`, so upserts by it could duplicate",
                pipeline.name, crm.object
            )),
            Some(_) => {}
        }
    }
    problems
}

fn side_tool(pipeline: &Pipeline, side: Side) -> &str {
    match side {
        Side::Marketing => &pipeline.marketing.connector_name,
        Side::Crm => &pipeline.crm.connector_name,
    }
}
