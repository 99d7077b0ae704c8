//! Form Pengajuan as a file (YAML) and as an API body (JSON): any input either parses into a
//! valid form or gives an error; a parsed form survives a JSON round trip unchanged.
#![no_main]
use kolokasi::domain::RequestForm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(form) = RequestForm::from_yaml(text) {
        let json = serde_json::to_string(&form).expect("a parsed form serialises");
        let again = RequestForm::from_json(&json).expect("a serialised form parses again");
        assert_eq!(form, again);
    }
    let _ = RequestForm::from_json(text);
});
