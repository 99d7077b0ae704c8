//! `string_newtype!` — the conversions every validated-string value shares.
//!
//! A domain value such as [`Fqdn`](super::Fqdn) is a `struct Name(String)` whose inherent
//! `parse(&str) -> Result<Name, Error>` is the only way in. Everything else is the same for each
//! of them and is written once here: `as_str`, `AsRef<str>`, `FromStr`, `TryFrom<String>` and
//! `From<Name> for String` (what `#[serde(try_from = "String", into = "String")]` uses, so a value
//! read from JSON, YAML or a form is checked by the same `parse`), and `Display`.
//!
//! `Debug` is the one part that differs by what the value may reveal, so the caller says which:
//! `debug = named` prints `Name(value)`, `debug = named_quoted` prints `Name("value")`,
//! `debug = quoted` prints `"value"`, `debug = plain` prints `value`, and `debug = own` leaves it
//! to the type (a NIP or a phone number masks its digits; some derive it).
//!
//! A declarative macro of our own rather than a crate such as `nutype`: the values keep their
//! hand-written `parse` with its own error enum (what the messages and tests are built on), the
//! store binds them as text through `as_str` (no sqlx impls are needed), and the macro is
//! twenty lines anyone can read.

macro_rules! string_newtype {
    ($name:ident, $error:ty, debug = $debug:ident) => {
        impl $name {
            /// The value as checked by `parse`.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = $error;
            fn from_str(text: &str) -> Result<Self, $error> {
                Self::parse(text)
            }
        }
        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(text: String) -> Result<Self, $error> {
                Self::parse(&text)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        $crate::domain::string_newtype!(@debug $name, $debug);
    };
    (@debug $name:ident, own) => {};
    (@debug $name:ident, $shape:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::domain::string_newtype!(@fmt f, $name, self.0, $shape)
            }
        }
    };
    (@fmt $f:ident, $name:ident, $value:expr, named) => { write!($f, concat!(stringify!($name), "({})"), $value) };
    (@fmt $f:ident, $name:ident, $value:expr, named_quoted) => { write!($f, concat!(stringify!($name), "({:?})"), $value) };
    (@fmt $f:ident, $name:ident, $value:expr, quoted) => { write!($f, "{:?}", $value) };
    (@fmt $f:ident, $name:ident, $value:expr, plain) => { $f.write_str(&$value) };
}

pub(crate) use string_newtype;

/// For a structured value written as text (`>= 8.1`, `443/tcp`, `KLK-2026-00042/provision`):
/// its `FromStr` and `Display` are the text form, and this adds the `TryFrom<String>` and
/// `From<Type> for String` that `#[serde(try_from = "String", into = "String")]` uses.
macro_rules! text_form {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = <$name as std::str::FromStr>::Err;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.to_string()
            }
        }
    };
}

pub(crate) use text_form;

#[cfg(test)]
mod tests {
    #[derive(Clone, PartialEq)]
    struct Sample(String);

    impl Sample {
        fn parse(text: &str) -> Result<Self, String> {
            if text.is_empty() { Err("empty".into()) } else { Ok(Self(text.to_string())) }
        }
    }
    string_newtype!(Sample, String, debug = named_quoted);

    #[test]
    fn every_way_in_goes_through_parse_and_every_way_out_gives_the_text() {
        assert_eq!("".parse::<Sample>().err().as_deref(), Some("empty"));
        assert!(Sample::try_from(String::new()).is_err());
        let s: Sample = "rack-1".parse().unwrap();
        assert_eq!((s.as_str(), s.as_ref(), s.to_string().as_str()), ("rack-1", "rack-1", "rack-1"));
        assert_eq!(format!("{s:?}"), r#"Sample("rack-1")"#);
        assert_eq!(String::from(s), "rack-1");
    }
}
