//! Playbook files: load-time checks must reject, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let registry = kolokasi::actions::builtin();
    let _ = kolokasi::engine::playbook::Playbook::parse(text, "fuzz.yaml", &registry);
});
