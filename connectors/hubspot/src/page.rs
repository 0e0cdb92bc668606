//! Decoding a change pass's search or list page straight into the shape the
//! connector keeps, with only the properties the pass asked for.
//!
//! A change pass decodes every contact of the account, 200 to a page, and
//! decoding was the largest share of the daemon's CPU in the benchmark.
//! HubSpot returns its default properties (`createdate`, `hs_object_id`…)
//! beside the requested ones; those are skipped here without allocating,
//! and each kept property's map is sized once.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::wire::{ApiObject, PageResponse, Paging};

/// Decodes a [`PageResponse`] keeping, of each object's properties, only
/// those named in `wanted`.
pub(crate) struct PageSeed<'a> {
    /// The property names to keep.
    pub wanted: &'a [String],
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum PageKey {
    Total,
    Results,
    Paging,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum ObjectKey {
    Id,
    Properties,
    UpdatedAt,
    Archived,
    ArchivedAt,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = PageResponse;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PageResponse, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = PageResponse;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HubSpot page of objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<PageResponse, A::Error> {
        let mut page = PageResponse {
            total: None,
            results: Vec::new(),
            paging: None,
        };
        while let Some(key) = access.next_key::<PageKey>()? {
            match key {
                PageKey::Total => page.total = access.next_value()?,
                PageKey::Results => {
                    page.results = access.next_value_seed(ResultsSeed(self.wanted))?
                }
                PageKey::Paging => page.paging = access.next_value::<Option<Paging>>()?,
                PageKey::Other => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

/// The `results` array.
struct ResultsSeed<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_> {
    type Value = Vec<ApiObject>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_> {
    type Value = Vec<ApiObject>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // A search page holds up to 200 objects.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(200).min(1000));
        while let Some(object) = seq.next_element_seed(ObjectSeed(self.0))? {
            out.push(object);
        }
        Ok(out)
    }
}

/// One object of `results`.
struct ObjectSeed<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ApiObject;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ApiObject;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HubSpot object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ApiObject, A::Error> {
        let mut id = None;
        let mut properties = Map::new();
        let mut updated_at = None;
        let mut archived = false;
        let mut archived_at = None;
        while let Some(key) = access.next_key::<ObjectKey>()? {
            match key {
                ObjectKey::Id => id = Some(access.next_value::<String>()?),
                ObjectKey::Properties => {
                    properties = access.next_value_seed(PropertiesSeed(self.0))?;
                }
                ObjectKey::UpdatedAt => updated_at = access.next_value()?,
                ObjectKey::Archived => {
                    archived = access.next_value::<Option<bool>>()?.unwrap_or(false)
                }
                ObjectKey::ArchivedAt => archived_at = access.next_value()?,
                ObjectKey::Other => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| serde::de::Error::missing_field("id"))?;
        Ok(ApiObject {
            id,
            properties,
            updated_at,
            archived,
            archived_at,
            new: None,
            object_write_trace_id: None,
        })
    }
}

/// An object's `properties`, the wanted ones only.
struct PropertiesSeed<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PropertiesSeed<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of properties")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Map::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::with_capacity(self.0.len());
        while let Some(wanted) = access.next_key_seed(NameSeed(self.0))? {
            match wanted {
                Some(i) => {
                    let value = access.next_value::<Value>()?;
                    map.insert(self.0[i].clone(), value);
                }
                None => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(map)
    }
}

/// A property name: its position among the wanted ones, read without
/// allocating.
struct NameSeed<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|w| w == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str, wanted: &[&str]) -> PageResponse {
        let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
        let mut de = serde_json::Deserializer::from_str(body);
        PageSeed { wanted: &wanted }.deserialize(&mut de).unwrap()
    }

    #[test]
    fn keeps_the_wanted_properties_and_every_object_field_it_reads() {
        let body = r#"{"total": 2, "results": [
            {"id": "1", "properties": {"email": "a@x.example", "createdate": "2026-01-01T00:00:00Z",
              "hs_object_id": "1", "lastmodifieddate": "1700000000000", "firstname": null},
             "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z",
             "archived": false},
            {"id": "2", "properties": {"email": "b\"q@x.example"}, "archived": true,
             "archivedAt": "2026-01-03T00:00:00.000Z", "extra": {"nested": [1, 2]}}],
            "paging": {"next": {"after": "2", "link": "?after=2"}}, "unknown": 5}"#;
        let page = decode(body, &["email", "firstname", "lastmodifieddate"]);
        assert_eq!(page.total, Some(2));
        assert_eq!(Paging::after(&page.paging).as_deref(), Some("2"));
        let first = &page.results[0];
        assert_eq!(first.id, "1");
        let names: Vec<&str> = first.properties.keys().map(String::as_str).collect();
        assert_eq!(names, ["email", "lastmodifieddate", "firstname"]);
        assert_eq!(first.properties["firstname"], Value::Null);
        assert_eq!(
            first.updated_at.as_deref(),
            Some("2026-01-02T00:00:00.000Z")
        );
        assert!(!first.archived);
        let second = &page.results[1];
        assert_eq!(second.properties["email"], "b\"q@x.example");
        assert!(second.archived);
        assert_eq!(
            second.archived_at.as_deref(),
            Some("2026-01-03T00:00:00.000Z")
        );
    }

    #[test]
    fn an_empty_page_and_a_garbled_one() {
        let page = decode(r#"{"total": 0, "results": []}"#, &["email"]);
        assert!(page.results.is_empty());
        assert!(page.paging.is_none());
        let wanted = vec!["email".to_string()];
        let mut de = serde_json::Deserializer::from_str(r#"{"results": [{"properties": {}}]}"#);
        assert!(
            PageSeed { wanted: &wanted }.deserialize(&mut de).is_err(),
            "an object without id"
        );
    }
}
