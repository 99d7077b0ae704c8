//! `Nip` — Nomor Induk Pegawai, the 18-digit civil-servant identifier.
//!
//! Layout (BKN): `YYYYMMDD` birth date, `YYYYMM` first appointment (TMT CPNS), one sex digit
//! (1 = male, 2 = female), and a three-digit sequence number.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// A validated NIP. Personal data under UU 27/2022: print it only where the form needs it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nip(String);

crate::domain::string_newtype!(Nip, NipError, debug = own);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NipError {
    #[error("NIP must be exactly 18 digits (got {0} characters)")]
    Length(usize),
    #[error("NIP may contain digits only")]
    NotDigits,
    #[error("NIP digits 1-8 must be a valid birth date YYYYMMDD")]
    BirthDate,
    #[error("NIP digits 9-14 must be a valid appointment month YYYYMM")]
    AppointmentMonth,
    #[error("NIP appointment month must come after the birth date")]
    AppointmentBeforeBirth,
    #[error("NIP digit 15 (sex) must be 1 or 2")]
    Sex,
    #[error("NIP digits 16-18 (sequence) must not be 000")]
    Sequence,
}

impl Nip {
    pub fn parse(input: &str) -> Result<Self, NipError> {
        // Officials often write a NIP grouped with spaces: "19850315 201001 1 002".
        let compact: String = input.chars().filter(|c| *c != ' ').collect();
        if compact.chars().count() != 18 {
            return Err(NipError::Length(compact.chars().count()));
        }
        if !compact.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NipError::NotDigits);
        }
        let num = |r: std::ops::Range<usize>| compact[r].parse::<u32>().expect("digits checked");
        let birth = ymd(num(0..4) as i32, num(4..6) as u8, num(6..8) as u8).ok_or(NipError::BirthDate)?;
        let (app_year, app_month) = (num(8..12) as i32, num(12..14) as u8);
        let appointment = ymd(app_year, app_month, 1).ok_or(NipError::AppointmentMonth)?;
        // The appointment month must be later than the birth month.
        if (app_year, app_month) <= (birth.year(), u8::from(birth.month())) || appointment <= birth {
            return Err(NipError::AppointmentBeforeBirth);
        }
        if !matches!(&compact[14..15], "1" | "2") {
            return Err(NipError::Sex);
        }
        if &compact[15..18] == "000" {
            return Err(NipError::Sequence);
        }
        Ok(Self(compact))
    }

    /// The conventional grouped form printed on SOP forms: `19850315 201001 1 002`.
    pub fn grouped(&self) -> String {
        let s = &self.0;
        format!("{} {} {} {}", &s[0..8], &s[8..14], &s[14..15], &s[15..18])
    }
}

fn ymd(year: i32, month: u8, day: u8) -> Option<Date> {
    if !(1900..=2100).contains(&year) {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

impl fmt::Debug for Nip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep NIPs out of debug logs except the last three digits.
        write!(f, "Nip(***************{})", &self.0[15..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_a_real_shaped_nip() {
        let nip = Nip::parse("198503152010011002").unwrap();
        assert_eq!(nip.grouped(), "19850315 201001 1 002");
        assert_eq!(Nip::parse("19850315 201001 1 002").unwrap(), nip);
    }

    #[test]
    fn rejects_each_bad_part_with_its_own_error() {
        assert_eq!(Nip::parse("1985031520100110"), Err(NipError::Length(16)));
        assert_eq!(Nip::parse("19850315201001100x"), Err(NipError::NotDigits));
        assert_eq!(Nip::parse("198502302010011002"), Err(NipError::BirthDate));
        assert_eq!(Nip::parse("198503152010131002"), Err(NipError::AppointmentMonth));
        assert_eq!(Nip::parse("198503151980011002"), Err(NipError::AppointmentBeforeBirth));
        assert_eq!(Nip::parse("198503152010013002"), Err(NipError::Sex));
        assert_eq!(Nip::parse("198503152010011000"), Err(NipError::Sequence));
    }

    #[test]
    fn debug_hides_most_digits() {
        let nip = Nip::parse("198503152010011002").unwrap();
        assert!(!format!("{nip:?}").contains("19850315"));
    }

    proptest! {
        #[test]
        fn every_valid_composition_parses(
            y in 1950i32..2000, m in 1u8..=12, d in 1u8..=28,
            gap in 18i32..40, am in 1u8..=12, sex in 1u8..=2, seq in 1u16..=999
        ) {
            let s = format!("{y:04}{m:02}{d:02}{:04}{am:02}{sex}{seq:03}", y + gap);
            let nip = Nip::parse(&s).unwrap();
            prop_assert_eq!(nip.as_str(), s.as_str());
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,30}") {
            let _ = Nip::parse(&s);
        }

        #[test]
        fn wrong_sex_digit_is_always_rejected(sex in 3u8..=9) {
            let s = format!("19850315201001{sex}002");
            prop_assert_eq!(Nip::parse(&s), Err(NipError::Sex));
        }
    }
}
