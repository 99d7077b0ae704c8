//! The OpenAPI schemas of the domain's newtypes: each travels as a JSON string (serde
//! `try_from`/`into` `String`), so its schema is a string with the pattern or limits its
//! `parse` enforces. Patterns describe the canonical form kolokasi sends back; `parse` also
//! accepts the looser spellings people type (lower case, spaces), so request bodies are
//! checked by `parse`, not by these patterns.

use std::borrow::Cow;

use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{Email, Fqdn, Hostname, Nip, PackageName, Phone, RequestId, ServicePort, Text, Validity, VersionConstraint};
use crate::secrets::Secret;
use crate::ssh::HostKey;

/// A string with a description, an example, and a pattern or a length limit.
struct Str {
    description: &'static str,
    example: &'static str,
    pattern: Option<&'static str>,
    max_length: Option<usize>,
    format: Option<SchemaFormat>,
}

impl Str {
    fn schema(self) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(self.description))
            .examples([self.example])
            .pattern(self.pattern)
            .max_length(self.max_length)
            .format(self.format)
            .into()
    }
}

/// `impl PartialSchema + ToSchema` for a newtype, named as the type is.
macro_rules! string_schema {
    ($ty:ty, $name:literal, $str:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                $str.schema()
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

string_schema!(RequestId, "RequestId", Str {
    description: "A request number (case-insensitive on input).",
    example: "KLK-2026-00042",
    pattern: Some("^KLK-[0-9]{4}-[0-9]{5,9}$"),
    max_length: None,
    format: None,
});

string_schema!(Nip, "Nip", Str {
    description: "An official's NIP: 18 digits (spaces between the groups are dropped on input).",
    example: "198503152010011002",
    pattern: Some("^[0-9]{18}$"),
    max_length: None,
    format: None,
});

string_schema!(Fqdn, "Fqdn", Str {
    description: "A fully qualified domain name, lower case without the trailing dot; at least two labels of letters, digits and '-'.",
    example: "sipd.kaltimprov.go.id",
    pattern: None,
    max_length: Some(253),
    format: Some(SchemaFormat::KnownFormat(KnownFormat::Hostname)),
});

string_schema!(Text, "Text", Str {
    description: "Free text from a form: trimmed, 1-200 characters, no control, invisible or direction-changing characters.",
    example: "Dinas Komunikasi dan Informatika",
    pattern: None,
    max_length: Some(200),
    format: None,
});

string_schema!(Phone, "Phone", Str {
    description: "An Indonesian phone number, answered in E.164 (`0541-741234` on input becomes `+625417412345`).",
    example: "+625417412345",
    pattern: None,
    max_length: None,
    format: None,
});

string_schema!(Email, "Email", Str {
    description: "An e-mail address for notices.",
    example: "tik@kaltimprov.go.id",
    pattern: None,
    max_length: None,
    format: Some(SchemaFormat::KnownFormat(KnownFormat::Email)),
});

string_schema!(Hostname, "Hostname", Str {
    description: "A server's name: one DNS label (letters, digits, '-'), lower case.",
    example: "srv-sipd",
    pattern: None,
    max_length: Some(63),
    format: None,
});

string_schema!(PackageName, "PackageName", Str {
    description: "A package name as the OS's package manager knows it.",
    example: "nginx",
    pattern: None,
    max_length: Some(100),
    format: None,
});

string_schema!(VersionConstraint, "VersionConstraint", Str {
    description: "A version constraint: `*`, `= 14.11`, `>= 1.18`, `> …`, `<= …`, `< …` (Debian version order).",
    example: ">= 1.18",
    pattern: None,
    max_length: None,
    format: None,
});

string_schema!(ServicePort, "ServicePort", Str {
    description: "A service the server exposes: protocol/port.",
    example: "tcp/443",
    pattern: Some("^(tcp|udp)/[0-9]{1,5}$"),
    max_length: None,
    format: None,
});

string_schema!(HostKey, "HostKey", Str {
    description: "An SSH host key, `<algorithm> <base64>` (a trailing comment is dropped).",
    example: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…",
    pattern: None,
    max_length: None,
    format: None,
});

impl PartialSchema for Secret {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A secret: sealed at once, never stored in clear and never sent back."))
            .write_only(true)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
            .into()
    }
}

impl ToSchema for Secret {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Secret")
    }
}

/// `permanent`, or `{ "until": "2027-12-31" }`.
impl PartialSchema for Validity {
    fn schema() -> RefOr<Schema> {
        let permanent = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["permanent"]));
        let until = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("until", ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .required("until")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .item(permanent)
            .item(until)
            .description(Some("Masa Berlaku Co-location: `permanent`, or not permanent until a date."))
            .into()
    }
}

impl ToSchema for Validity {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Validity")
    }
}

/// Any JSON value but `null`: a record's before and after, a device's expected and found
/// value. (A schema without `type` would say the same, but utoipa cannot read one back.)
pub(crate) struct AnyJson;

impl PartialSchema for AnyJson {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Object, Type::Array, Type::String, Type::Number, Type::Boolean]))
            .description(Some("Any JSON value."))
            .into()
    }
}

impl ToSchema for AnyJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AnyJson")
    }
}

/// A file's bytes as the body (a PDF, a spreadsheet, a zip), not JSON.
pub(crate) struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's bytes."))
            .into()
    }
}

impl ToSchema for Binary {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Binary")
    }
}
