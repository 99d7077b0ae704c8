//! The server specification (declared by the unit) and what a server reports about itself
//! (os-release, dpkg status, lsblk, listeners…), compared the way the inspection step does.
#![no_main]
use kolokasi::domain::{ServerSpec, ServicePort, VersionConstraint};
use kolokasi::inspect::{DebVersion, Rules, compare, parse, version_satisfies};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (head, tail) = text.split_once('\u{0}').unwrap_or((text, text));
    let spec = serde_yaml_ng::from_str::<ServerSpec>(head);
    let facts = parse::server_facts(tail);
    if let (Ok(spec), Some(facts)) = (&spec, &facts) {
        let _ = compare(spec, facts, &Rules::default());
    }
    let _ = head.parse::<ServicePort>();
    if let (Ok(c), Ok(v)) = (head.parse::<VersionConstraint>(), DebVersion::parse(tail)) {
        let _ = version_satisfies(&v.to_string(), &c);
    }
    if let (Ok(a), Ok(b)) = (DebVersion::parse(head), DebVersion::parse(tail)) {
        // A total order: antisymmetric.
        assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
    }
});
