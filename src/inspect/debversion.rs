//! Debian package versions and their order, as `dpkg --compare-versions` defines it:
//! `[epoch:]upstream[-revision]`, epochs compared as numbers, upstream and revision by dpkg's
//! `verrevcmp` (runs of non-digits compared character by character with letters before other
//! characters and `~` before everything, even the end; runs of digits compared as numbers).
//!
//! Also orders plain dotted versions (`1.18`). rpm versions are ordered by rpm's own rules in
//! [`super::rpmversion`] (they differ in `^` and in letters against digits).

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebVersionError {
    #[error("version {0:?} is empty")]
    Empty(String),
    #[error("version {0:?} has an epoch that is not a number")]
    Epoch(String),
}

/// A parsed Debian version. Equality is dpkg's (`1.0` equals `1.00`, `1.0-0` equals `1.0`),
/// not textual.
#[derive(Clone)]
pub struct DebVersion {
    epoch: u64,
    upstream: String,
    /// Empty when the version has no `-revision` (dpkg treats that like `0`).
    revision: String,
}

impl DebVersion {
    pub fn parse(input: &str) -> Result<Self, DebVersionError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DebVersionError::Empty(input.to_string()));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => (e.parse::<u64>().map_err(|_| DebVersionError::Epoch(input.to_string()))?, rest),
            None => (0, s),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        if upstream.is_empty() {
            return Err(DebVersionError::Empty(input.to_string()));
        }
        Ok(Self { epoch, upstream: upstream.to_string(), revision: revision.to_string() })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The upstream part (no epoch, no revision).
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    pub fn revision(&self) -> &str {
        &self.revision
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

impl fmt::Debug for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DebVersion({self})")
    }
}

/// dpkg's weight of one character in a non-digit run; `None` is the end of the run.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` (lib/dpkg/version.c), on one upstream or revision part.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn parts() {
        let x = v("1:8.9p1-3ubuntu0.6");
        assert_eq!((x.epoch(), x.upstream(), x.revision()), (1, "8.9p1", "3ubuntu0.6"));
        // Only the last hyphen starts the revision.
        let y = v("2.0-rc1-4");
        assert_eq!((y.upstream(), y.revision()), ("2.0-rc1", "4"));
        assert_eq!(v("1.18").revision(), "");
        assert_eq!(v("1:8.9p1-3ubuntu0.6").to_string(), "1:8.9p1-3ubuntu0.6");
        assert!(DebVersion::parse("").is_err());
        assert!(DebVersion::parse("x:1.0").is_err());
        assert!(DebVersion::parse("1:").is_err());
    }

    /// Cases from dpkg's own test suite (t-version.c) and from the lab's packages.
    #[test]
    fn known_orderings() {
        use Ordering::*;
        let cases = [
            ("0", "0", Equal),
            ("0", "00", Equal),
            ("1.0", "1.00", Equal),
            ("1.0", "1.0-0", Equal),
            ("1", "2", Less),
            ("1.2", "1.10", Less),
            ("0:1.0", "1.0", Equal),
            ("1:0.1", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0~", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0-1", "1.0-2", Less),
            ("1.0-1ubuntu1", "1.0-1", Greater),
            ("2.30", "2.30-1", Less),
            ("1.18.0-6ubuntu14.4", "1.18", Greater),
            ("1.18.0-6ubuntu14.4", "1.20", Less),
            ("1.18.0-0ubuntu1.4", "1.18.0-6ubuntu14.4", Less),
            ("14.11-0ubuntu0.22.04.1", "14", Greater),
            ("8.1.2-1ubuntu2.14", "8.1.10", Less),
            ("a", "b", Less),
            ("a", "A", Greater),
            ("1.0.", "1.0", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(v(a).cmp(&v(b)), want, "{a} vs {b}");
            assert_eq!(v(b).cmp(&v(a)), want.reverse(), "{b} vs {a}");
        }
    }

    fn version() -> impl Strategy<Value = String> {
        // Small alphabets make equal prefixes, zeros and `~` collide often.
        ("(1:)?[0-9][0-9a~.+]{0,6}", "(-[0-9a~.+]{1,4})?").prop_map(|(u, r)| format!("{u}{r}"))
    }

    /// Two versions that share a prefix, so the comparison reaches `~`, zeros, ends and revisions
    /// instead of deciding on the first digit.
    fn close_pair() -> impl Strategy<Value = (String, String)> {
        let tail = || ("[0-9a~.+]{0,3}", "(-[0-9a~.]{1,3})?");
        ("(1:)?[0-9][0-9a~.]{0,4}", tail(), tail()).prop_map(|(p, (sa, ra), (sb, rb))| (format!("{p}{sa}{ra}"), format!("{p}{sb}{rb}")))
    }

    proptest! {
        #[test]
        fn antisymmetric(a in version(), b in version()) {
            prop_assert_eq!(v(&a).cmp(&v(&b)), v(&b).cmp(&v(&a)).reverse());
        }

        #[test]
        fn antisymmetric_on_close_versions((a, b) in close_pair()) {
            prop_assert_eq!(v(&a).cmp(&v(&b)), v(&b).cmp(&v(&a)).reverse());
        }

        #[test]
        fn reflexive(a in version()) {
            prop_assert_eq!(v(&a).cmp(&v(&a)), Ordering::Equal);
        }

        #[test]
        fn transitive(a in version(), b in version(), c in version()) {
            let mut xs = [v(&a), v(&b), v(&c)];
            xs.sort();
            prop_assert!(xs[0] <= xs[2], "{:?}", xs);
        }

        #[test]
        fn tilde_sorts_before_everything(a in "[0-9][0-9.]{0,5}", suffix in "[0-9a-z.+]{0,3}") {
            let with_tilde = format!("{a}~{suffix}");
            prop_assert!(v(&with_tilde) < v(&a), "{} !< {}", with_tilde, a);
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,20}") {
            let _ = DebVersion::parse(&s);
        }
    }

    /// The real `dpkg --compare-versions` as the oracle (the development machines are Debian).
    #[test]
    fn agrees_with_dpkg() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let dpkg = |a: &str, op: &str, b: &str| {
            let status = std::process::Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .status()
                .unwrap_or_else(|e| panic!("this test needs dpkg (Debian/Ubuntu): {e}"));
            status.success()
        };
        for _ in 0..300 {
            let (a, b) = close_pair().new_tree(&mut runner).unwrap().current();
            let ours = v(&a).cmp(&v(&b));
            let theirs = if dpkg(&a, "lt", &b) {
                Ordering::Less
            } else if dpkg(&a, "eq", &b) {
                Ordering::Equal
            } else {
                Ordering::Greater
            };
            assert_eq!(ours, theirs, "{a} vs {b}");
        }
    }
}
