//! Hostile text: bidi overrides and isolates, zero-width and other format characters, and
//! control characters (a terminal escape) are refused in every text field of a request with an
//! error naming the field, and in reasons; text is kept in NFC.

mod common;

use common::*;
use kolokasi::domain::RequestForm;
use kolokasi::service::{Command, ServiceError};
use serde_json::Value;

/// One of each class: RLO (right-to-left override), RLI (isolate), ZWSP, ZWJ, BOM, LRM, an ESC
/// starting a terminal escape, and a soft hyphen.
const HOSTILE: &[&str] = &["\u{202E}", "\u{2067}", "\u{200B}", "\u{200D}", "\u{FEFF}", "\u{200E}", "\u{1b}[2J", "\u{00AD}"];

/// Every string leaf of `v` with its path as serde_path_to_error prints it (`servers[0].name`).
fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(path),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| leaves(x, format!("{path}[{i}]"), out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out)),
        _ => {}
    }
}

fn pointer(path: &str) -> String {
    format!("/{}", path.replace("][", "/").replace('[', ".").replace(']', "").replace('.', "/"))
}

#[test]
fn every_text_field_refuses_each_hostile_class_naming_the_field() {
    let form = serde_json::to_value(sample_form()).unwrap();
    let mut paths = Vec::new();
    leaves(&form, String::new(), &mut paths);
    assert!(paths.len() > 15, "{paths:?}");
    let mut checked = 0;
    for path in &paths {
        for bad in HOSTILE {
            let mut f = form.clone();
            let leaf = f.pointer_mut(&pointer(path)).unwrap_or_else(|| panic!("{path}"));
            let s = leaf.as_str().unwrap().to_string();
            let mid = s.char_indices().nth(s.chars().count() / 2).map_or(s.len(), |(i, _)| i);
            *leaf = Value::String(format!("{}{bad}{}", &s[..mid], &s[mid..]));
            let err = RequestForm::from_json(&f.to_string()).expect_err(&format!("{path} took {bad:?}")).to_string();
            assert!(err.contains(path.as_str()), "the error names {path}: {err}");
            checked += 1;
        }
    }
    eprintln!("{checked} hostile values refused in {} fields", paths.len());
    // The error for a free-text field says what is wrong.
    let mut f = form.clone();
    *f.pointer_mut("/unit/name").unwrap() = Value::String("Dinas\u{202E}kcatta".into());
    let err = RequestForm::from_json(&f.to_string()).unwrap_err().to_string();
    assert!(err.contains("unit.name") && err.contains("direction-changing") && err.contains("U+202E"), "{err}");
    // The same from YAML.
    let yaml = include_str!("../deploy/examples/colocation-request-lab.yaml").replacen("name: ", "name: \u{200B}", 1);
    let err = RequestForm::from_yaml(&yaml).unwrap_err().to_string();
    assert!(err.contains("U+200B") && err.contains("name"), "{err}");
}

#[test]
fn text_is_kept_in_nfc() {
    let mut form = serde_json::to_value(sample_form()).unwrap();
    *form.pointer_mut("/unit/name").unwrap() = Value::String("Dinas Pariwisata Cafe\u{301}".into());
    let parsed = RequestForm::from_json(&form.to_string()).unwrap();
    assert_eq!(parsed.unit.name.as_str(), "Dinas Pariwisata Caf\u{e9}");
}

/// Reasons (an audit row's "why") refuse the same characters, through the service and the
/// run controls; nothing is changed.
#[tokio::test]
async fn reasons_refuse_hostile_text_and_change_nothing() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    for bad in HOSTILE {
        let err = svc.apply(&admin(), &id, Command::Verify { reason: Some(format!("lengkap{bad}")) }).await.unwrap_err();
        assert!(matches!(&err, ServiceError::Invalid(m) if m.starts_with("reason:")), "{bad:?}: {err}");
    }
    assert_eq!(svc.store.request(&id).await.unwrap().state, kolokasi::lifecycle::State::Submitted);
    let engine = kolokasi::actions::controls_engine(svc.clone());
    let err = engine.unwind(&operator(), &format!("{id}/colocation"), "batal\u{202E}").await.unwrap_err();
    assert!(err.to_string().contains("reason"), "{err}");
}
