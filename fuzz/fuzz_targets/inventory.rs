//! Data-center inventory files: parse and check, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = kolokasi::capacity::Inventory::from_yaml(text, "fuzz.yaml");
});
