//! Secrets never enter the archive: every JSON value written into it passes through
//! [`redact`], which replaces the value of any key that names a secret (the host admin
//! password, even sealed; private keys; tokens; API keys) with `[redacted]`.

use serde_json::Value;

/// Key names (lower case, compared as substrings) whose values are secret.
const SECRET_KEYS: &[&str] = &["password", "private_key", "secret", "token", "api_key", "passphrase", "tsig_key"];

pub const REDACTED: &str = "[redacted]";

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|k| key.contains(k))
}

/// `value` with every secret-named key's value replaced.
pub fn redact(mut value: Value) -> Value {
    redact_in_place(&mut value);
    value
}

fn redact_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret(k) && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_in_place(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_secret_keys_are_replaced_and_others_kept() {
        let v = redact(json!({ "host_admin": { "user": "opd", "password": { "nonce": "x", "ct": "y" } }, "items": [{ "api_key": "k", "name": "n" }], "none": { "token": null } }));
        assert_eq!(v, json!({ "host_admin": { "user": "opd", "password": REDACTED }, "items": [{ "api_key": REDACTED, "name": "n" }], "none": { "token": null } }));
    }
}
