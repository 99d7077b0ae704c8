//! Small validated scalars from forms: free text, phone numbers, e-mail addresses and dates.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

/// Free text from a form (a unit name, an address, a processor model): trimmed, NFC, 1–200
/// characters, no control characters and no invisible or direction-changing ones (see
/// [`check_visible`]). Free text never reaches a device; drivers take their own typed values.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

crate::domain::string_newtype!(Text, TextError, debug = quoted);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain control characters (line breaks, tabs, escapes)")]
    Control,
    /// A bidi override or isolate, a zero-width or other format character: text that can show
    /// something other than what it says (a disguised domain, a reversed name).
    #[error("must not contain invisible or direction-changing characters (found U+{0:04X})")]
    Invisible(u32),
}

/// Unicode's format characters (general category Cf) that kolokasi meets in practice: the soft
/// hyphen, Arabic and Syriac marks, the Mongolian vowel separator, zero-width space/joiners,
/// the LRM/RLM marks, bidi embeddings, overrides and isolates, word joiner and invisible
/// operators, the BOM, interlinear annotation and tag characters.
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Refuses control characters and invisible or direction-changing ones, and returns `input`
/// in NFC (so that one name is one string): the check every free text from a person passes —
/// form fields through [`Text`], reasons through [`reason`].
pub fn check_visible(input: &str) -> Result<String, TextError> {
    use unicode_normalization::UnicodeNormalization;
    if input.chars().any(char::is_control) {
        return Err(TextError::Control);
    }
    if let Some(c) = input.chars().find(|c| is_format(*c)) {
        return Err(TextError::Invisible(c as u32));
    }
    Ok(input.nfc().collect())
}

/// A reason (an audit row's "why", a step's pertimbangan): trimmed, at most 500 characters,
/// visible text only. An empty reason is `None`.
pub fn reason(input: &str) -> Result<Option<String>, TextError> {
    let t = input.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let n = t.chars().count();
    if n > 500 {
        return Err(TextError::TooLong { max: 500, got: n });
    }
    check_visible(t).map(Some)
}

impl Text {
    pub const MAX: usize = 200;

    pub fn parse(input: &str) -> Result<Self, TextError> {
        let t = input.trim();
        if t.is_empty() {
            return Err(TextError::Empty);
        }
        let n = t.chars().count();
        if n > Self::MAX {
            return Err(TextError::TooLong { max: Self::MAX, got: n });
        }
        Ok(Self(check_visible(t)?))
    }
}

/// An Indonesian phone number, normalised to E.164 (`+625417412345`).
/// Accepts `0541-741234`, `+62 812 3456 7890`, `(0541) 741234`, `62812…`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

crate::domain::string_newtype!(Phone, PhoneError, debug = own);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number may contain only digits, spaces, '-', '(', ')' and a leading '+'")]
    Characters,
    #[error("phone number must start with 0, 62 or +62 (an Indonesian number)")]
    Prefix,
    #[error("phone number must have 7 to 12 digits after the country code (got {0})")]
    Length(usize),
}

impl Phone {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let t = input.trim();
        let (plus, rest) = match t.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, t),
        };
        if !rest.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')')) {
            return Err(PhoneError::Characters);
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        let national = if let Some(n) = digits.strip_prefix("62") {
            n.to_string()
        } else if !plus && digits.starts_with('0') {
            digits[1..].to_string()
        } else {
            return Err(PhoneError::Prefix);
        };
        if !(7..=12).contains(&national.len()) || national.starts_with('0') {
            return Err(PhoneError::Length(national.len()));
        }
        Ok(Self(format!("+62{national}")))
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone(***{})", &self.0[self.0.len() - 3..])
    }
}

/// An e-mail address for notices: a deliberately plain check (one `@`, a valid domain, no spaces
/// or control characters); delivery is the real test.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

crate::domain::string_newtype!(Email, EmailError, debug = named);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("e-mail address must look like name@domain")]
    Shape,
    #[error("e-mail domain is invalid")]
    Domain(#[source] super::FqdnError),
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let t = input.trim();
        let (local, domain) = t.split_once('@').ok_or(EmailError::Shape)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
        if !local_ok {
            return Err(EmailError::Shape);
        }
        let domain = super::Fqdn::parse(domain).map_err(EmailError::Domain)?;
        Ok(Self(format!("{local}@{domain}")))
    }
}

/// Parses a calendar date written `YYYY-MM-DD` (what forms and files use).
pub fn parse_date(input: &str) -> Result<Date, DateError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(input.trim(), &fmt).map_err(|_| DateError(input.trim().to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid date; write it as YYYY-MM-DD, e.g. 2026-12-01")]
pub struct DateError(pub String);

/// Serde support for `time::Date` as `YYYY-MM-DD` with the clear error above.
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        s.serialize_str(&date.format(&fmt).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_date(&s).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::Date;

        pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match date {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| super::super::parse_date(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(Phone::parse("0541-741234").unwrap().as_str(), "+62541741234");
        assert_eq!(Phone::parse("+62 812 3456 7890").unwrap().as_str(), "+6281234567890");
        assert_eq!(Phone::parse("(0541) 741234").unwrap().as_str(), "+62541741234");
        assert_eq!(Phone::parse("0541;reboot"), Err(PhoneError::Characters));
        assert_eq!(Phone::parse("+1 555 1234"), Err(PhoneError::Prefix));
        assert_eq!(Phone::parse("0541"), Err(PhoneError::Length(3)));
    }

    #[test]
    fn text_rejects_control_characters_and_overlong_input() {
        assert_eq!(Text::parse("  Dinas Kominfo  ").unwrap().as_str(), "Dinas Kominfo");
        assert_eq!(Text::parse("a\r\nshow run"), Err(TextError::Control));
        assert_eq!(Text::parse("   "), Err(TextError::Empty));
        assert!(matches!(Text::parse(&"x".repeat(201)), Err(TextError::TooLong { .. })));
    }

    #[test]
    fn email_addresses() {
        assert_eq!(Email::parse("TIK@Diskominfo.KaltimProv.go.id").unwrap().as_str(), "TIK@diskominfo.kaltimprov.go.id");
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a b@x.id").is_err());
    }

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(parse_date("2026-12-01").unwrap(), time::macros::date!(2026 - 12 - 01));
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("01/12/2026").is_err());
        assert!(parse_date("2026-12-1x").is_err());
    }

    proptest! {
        #[test]
        fn every_real_date_roundtrips(days in 0i32..40_000) {
            let d = time::macros::date!(1950 - 01 - 01) + time::Duration::days(days as i64);
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            prop_assert_eq!(parse_date(&d.format(&fmt).unwrap()).unwrap(), d);
        }

        #[test]
        fn arbitrary_text_never_panics_date_or_phone(s in "\\PC{0,24}") {
            let _ = parse_date(&s);
            let _ = Phone::parse(&s);
            let _ = Email::parse(&s);
        }
    }
}
