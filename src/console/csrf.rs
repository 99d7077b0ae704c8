//! Cross-site request forgery: every POST form carries the session's synchronizer token in a
//! hidden `_csrf` field; a POST without it, or with another session's, is refused with 403
//! before anything is read or changed. The sign-in form, which has no session yet, carries a
//! token that must match a short-lived cookie set with the form (double submit).

use super::ConsoleError;
use super::form::FormData;

/// Compares two tokens in time that depends only on their lengths (`subtle`).
pub fn tokens_match(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Refuses the form unless its `_csrf` field is `expected`.
pub fn check(expected: &str, form: &FormData) -> Result<(), ConsoleError> {
    if tokens_match(expected, form.get("_csrf")) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_token_matches() {
        assert!(tokens_match("abc123", "abc123"));
        assert!(!tokens_match("abc123", "abc124"));
        assert!(!tokens_match("abc123", "abc12"));
        assert!(!tokens_match("", ""));
    }
}
