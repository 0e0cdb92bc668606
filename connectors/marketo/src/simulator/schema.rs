//! The lead fields of the simulated instance: Marketo's standard fields
//! with their REST names, data types and lengths, and how values of each
//! type are accepted.
//!
//! Names and labels: the standard-field list
//! (experienceleague.adobe.com/en/docs/marketo-developer/marketo/rest/lead-database/fields/list-of-standard-fields);
//! types and lengths: the field-type page ("String: text up to 255
//! characters", datetimes in ISO 8601) and the Describe/Get Lead Fields
//! examples of the Leads page (`email` is `email`, 255; `phone` is
//! `phone`, 255; `dateOfBirth` is `date`). `id`, `createdAt` and
//! `updatedAt` are system-managed, so not updateable.

use jiff::civil::Date;
use serde_json::Value;

/// One lead field.
#[derive(Debug)]
pub(crate) struct FieldDef {
    /// Marketo's field id (Describe Lead's `id`, a data value change's field id).
    pub id: u32,
    /// The REST API name.
    pub name: &'static str,
    /// The friendly label.
    pub display: &'static str,
    /// Marketo's `dataType`.
    pub data_type: &'static str,
    /// The most characters, for text types.
    pub length: Option<u32>,
    /// Writable through Sync Leads.
    pub updateable: bool,
}

const fn f(
    id: u32,
    name: &'static str,
    display: &'static str,
    data_type: &'static str,
    length: Option<u32>,
    updateable: bool,
) -> FieldDef {
    FieldDef {
        id,
        name,
        display,
        data_type,
        length,
        updateable,
    }
}

const S: Option<u32> = Some(255);

/// The standard lead fields the simulator keeps.
pub(crate) const FIELDS: &[FieldDef] = &[
    f(1, "id", "Id", "integer", None, false),
    f(2, "company", "Company Name", "string", S, true),
    f(3, "email", "Email Address", "email", S, true),
    f(4, "firstName", "First Name", "string", S, true),
    f(5, "middleName", "Middle Name", "string", S, true),
    f(6, "lastName", "Last Name", "string", S, true),
    f(7, "salutation", "Salutation", "string", S, true),
    f(8, "title", "Job Title", "string", S, true),
    f(9, "department", "Department", "string", S, true),
    f(10, "phone", "Phone Number", "phone", S, true),
    f(11, "mobilePhone", "Mobile Phone Number", "phone", S, true),
    f(12, "fax", "Fax Number", "phone", S, true),
    f(13, "address", "Address", "text", None, true),
    f(14, "city", "City", "string", S, true),
    f(15, "state", "State", "string", S, true),
    f(16, "postalCode", "Postal Code", "string", S, true),
    f(17, "country", "Country", "string", S, true),
    f(18, "website", "Website", "url", S, true),
    f(19, "industry", "Industry", "string", S, true),
    f(
        20,
        "numberOfEmployees",
        "Num Employees",
        "integer",
        None,
        true,
    ),
    f(
        21,
        "annualRevenue",
        "Annual Revenue",
        "currency",
        None,
        true,
    ),
    f(22, "leadRole", "Role", "string", S, true),
    f(23, "leadScore", "Lead Score", "integer", None, true),
    f(24, "leadSource", "Lead Source", "string", S, true),
    f(25, "leadStatus", "Lead Status", "string", S, true),
    f(26, "rating", "Lead Rating", "string", S, true),
    f(27, "dateOfBirth", "Date of Birth", "date", None, true),
    f(28, "doNotCall", "Do Not Call", "boolean", None, true),
    f(29, "unsubscribed", "Unsubscribed", "boolean", None, true),
    f(
        30,
        "unsubscribedReason",
        "Unsubscribed Reason",
        "text",
        None,
        true,
    ),
    f(31, "emailInvalid", "Email Invalid", "boolean", None, true),
    f(32, "createdAt", "Created At", "datetime", None, false),
    f(33, "updatedAt", "Updated At", "datetime", None, false),
];

/// The fields Get Leads by Filter Type and Sync Leads' `lookupField`
/// accept among those simulated (the Swagger's `filterType` list also
/// names cookies, social and SFDC ids, which this instance does not keep).
pub(crate) const SEARCHABLE: &[&str] = &["id", "email"];

/// The fields Marketo returns when a call names none (Leads page: "id,
/// email, updatedAt, createdAt, firstName, and lastName").
pub(crate) const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "email",
    "updatedAt",
    "createdAt",
    "firstName",
    "lastName",
];

/// The field called `name`.
pub(crate) fn field(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|d| d.name == name)
}

/// Marketo's record-level 1001 text for a value of the wrong type.
fn invalid(value: &Value, data_type: &str) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("Invalid value '{text}'. Required of type '{data_type}'")
}

/// A value as the field stores it, or Marketo's 1001 message. Numbers and
/// booleans may come as text (`"42"`, `"true"`); `null` clears.
pub(crate) fn coerce(def: &FieldDef, value: &Value) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let text = match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let bad = || invalid(value, def.data_type);
    match def.data_type {
        "integer" | "score" => {
            let t = text.ok_or_else(bad)?;
            if t.is_empty() {
                return Ok(Value::Null);
            }
            t.parse::<i64>().map(Value::from).map_err(|_| bad())
        }
        "float" | "currency" | "percent" => {
            let t = text.ok_or_else(bad)?;
            if t.is_empty() {
                return Ok(Value::Null);
            }
            let n: f64 = t.parse().map_err(|_| bad())?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(bad)
        }
        "boolean" => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(bad()),
        },
        "date" => {
            let t = text.ok_or_else(bad)?;
            t.parse::<Date>()
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| bad())
        }
        "datetime" => {
            let t = text.ok_or_else(bad)?;
            crate::time::parse(&t)
                .map(|ts| Value::String(crate::time::iso_seconds(ts)))
                .ok_or_else(bad)
        }
        _ => match value {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(text.unwrap_or_default())),
            _ => Err(bad()),
        },
    }
}

/// A stored value as a data value change writes it (`newValue`,
/// `oldValue` are strings).
pub(crate) fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_coerced_or_refused_with_marketos_wording() {
        let employees = field("numberOfEmployees").unwrap();
        assert_eq!(coerce(employees, &json!("42")).unwrap(), json!(42));
        assert_eq!(
            coerce(employees, &json!("lots")).unwrap_err(),
            "Invalid value 'lots'. Required of type 'integer'"
        );
        let unsub = field("unsubscribed").unwrap();
        assert_eq!(coerce(unsub, &json!("TRUE")).unwrap(), json!(true));
        let dob = field("dateOfBirth").unwrap();
        assert!(coerce(dob, &json!("1980-02-30")).is_err());
        let title = field("title").unwrap();
        assert_eq!(coerce(title, &json!(7)).unwrap(), json!("7"));
        assert_eq!(coerce(title, &Value::Null).unwrap(), Value::Null);
    }
}
