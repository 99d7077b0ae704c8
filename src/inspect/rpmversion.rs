//! RPM package versions and their order, as rpm itself defines it (`rpmvercmp` and `rpmverCmp`
//! in rpm 4.18's `rpmio/rpmver.c`): `[epoch:]version[-release]`; epochs compared as numbers
//! (missing is 0); version, then release (only when both have one) by `rpmvercmp`:
//! - the strings are split into runs of digits and runs of letters; every other character only
//!   separates runs (`1.0` equals `1_0`);
//! - `~` sorts before everything, even the end (`1.0~rc1` < `1.0`);
//! - `^` sorts after the end but before anything else (`1.0` < `1.0^git1` < `1.0.1`);
//! - digit runs compare as numbers (leading zeros dropped), letter runs as bytes, and a digit
//!   run is newer than a letter run (`1.0` > `1.a`);
//! - when all runs compared equal, the version with runs left over is newer.
//!
//! It differs from Debian's order (`super::debversion`) in letters against digits and in `^`,
//! so each package manager's versions are compared by its own rules.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpmVersionError {
    #[error("version {0:?} is empty")]
    Empty(String),
    #[error("version {0:?} has an epoch that is not a number")]
    Epoch(String),
}

/// A parsed `[epoch:]version[-release]`. Equality is rpm's (`1.0` equals `1.00`), not textual.
#[derive(Clone)]
pub struct RpmVersion {
    epoch: u64,
    version: String,
    release: Option<String>,
}

impl RpmVersion {
    pub fn parse(input: &str) -> Result<Self, RpmVersionError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(RpmVersionError::Empty(input.to_string()));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => (e.parse::<u64>().map_err(|_| RpmVersionError::Epoch(input.to_string()))?, rest),
            None => (0, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_string())),
            None => (rest, None),
        };
        if version.is_empty() {
            return Err(RpmVersionError::Empty(input.to_string()));
        }
        Ok(Self { epoch, version: version.to_string(), release })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The version part (no epoch, no release).
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch.cmp(&other.epoch).then_with(|| rpmvercmp(&self.version, &other.version)).then_with(|| match (&self.release, &other.release) {
            (Some(a), Some(b)) => rpmvercmp(a, b),
            // rpm compares releases only when both sides have one (`>= 1.2` matches any 1.2-N).
            _ => Ordering::Equal,
        })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

impl fmt::Debug for RpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpmVersion({self})")
    }
}

impl fmt::Display for RpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.version)?;
        match &self.release {
            Some(r) => write!(f, "-{r}"),
            None => Ok(()),
        }
    }
}

/// rpm's `rpmvercmp`, on bytes (rpm's `risalnum` is ASCII-only).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x == Some(b'~') || y == Some(b'~') {
            if x != Some(b'~') {
                return Ordering::Greater;
            }
            if y != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if x == Some(b'^') || y == Some(b'^') {
            match (x, y) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(c), _) if c != b'^' => return Ordering::Greater,
                (_, Some(c)) if c != b'^' => return Ordering::Less,
                _ => {}
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(x), Some(_)) = (x, y) else { break };
        let numeric = x.is_ascii_digit();
        let run = |s: &[u8], from: usize| {
            let len = s[from..].iter().take_while(|c| if numeric { c.is_ascii_digit() } else { c.is_ascii_alphabetic() }).count();
            from + len
        };
        let (end_a, end_b) = (run(a, i), run(b, j));
        if end_b == j {
            // Different kinds of run: a number is newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (mut sa, mut sb) = (&a[i..end_a], &b[j..end_b]);
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                longer => return longer,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            other => return other,
        }
        i = end_a;
        j = end_b;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Cases from rpm's own test suite (`tests/rpmvercmp.at`).
    #[test]
    fn rpmvercmp_as_rpm_tests_it() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0", "1.0", Greater),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1a", Equal),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p1", Equal),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10", Equal),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "xyz.4", Equal),
            ("xyz.4", "8", Less),
            ("8", "xyz.4", Greater),
            ("xyz.4", "2", Less),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "6.5p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("10a2", "10b2", Less),
            ("1.0aa", "1.0aa", Equal),
            ("1.0a", "1.0aa", Less),
            ("10.0001", "10.0001", Equal),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101121", Equal),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a+", Equal),
            ("a+", "a_", Equal),
            ("+a", "+a", Equal),
            ("+a", "_a", Equal),
            ("+_", "_+", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0~rc1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0~rc1", Greater),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0^", Equal),
            ("1.0^", "1.0", Greater),
            ("1.0", "1.0^", Less),
            ("1.0^git1", "1.0^git1", Equal),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), *want, "rpmvercmp({a:?}, {b:?})");
        }
    }

    #[test]
    fn epoch_version_release() {
        let v = |s: &str| RpmVersion::parse(s).unwrap();
        assert!(v("1:1.20.1-14.el9_2.1") > v("1.22.1-1.el9"), "the epoch wins");
        assert!(v("1.20.1-14.el9_2.1") > v("1.20.1-14.el9"));
        assert!(v("8.7p1-38.el9") > v("8.7p1-34.el9_3.3"));
        assert_eq!(v("1.20.1"), v("1.20.1-14.el9"), "no release on one side: releases not compared");
        assert_eq!(v("0:2.0-1"), v("2.0-1"));
        assert_eq!(v("1:1.20.1-14.el9").to_string(), "1:1.20.1-14.el9");
        assert!(RpmVersion::parse("").is_err() && RpmVersion::parse("x:1").is_err() && RpmVersion::parse("1:").is_err());
        // Where Debian and rpm disagree: a letter run against a digit run.
        assert!(v("1.a") < v("1.0"));
    }
}
