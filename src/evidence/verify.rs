//! `evidence verify ARCHIVE`: checks a bundle offline — no database, no configuration. Every
//! file against the manifest (changed, missing, added), the manifest's signature, the audit
//! slice (links, disclosed rows' hashes, the head), and the export's audit row, which must
//! record exactly the manifest's hashes. Every problem is named; none stops the other checks.

use std::collections::BTreeMap;

use serde::Serialize;

use super::collect::File;
use super::manifest::{self, FileEntry, Manifest};
use crate::store::audit::proof::{self, AuditProof};

/// One check and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub request_id: Option<String>,
    pub ok: bool,
    pub checks: Vec<Check>,
    /// Every problem found, each naming its file or row.
    pub problems: Vec<String>,
}

impl VerifyReport {
    fn add(&mut self, name: &'static str, problems: Vec<String>, fine: String) {
        let ok = problems.is_empty();
        let detail = if ok { fine } else { problems.join("; ") };
        self.problems.extend(problems);
        self.checks.push(Check { name, ok, detail });
    }

    pub fn to_text(&self) -> String {
        let mut out = format!("evidence of {}: {}\n", self.request_id.as_deref().unwrap_or("?"), if self.ok { "VERIFIED" } else { "NOT VERIFIED" });
        for c in &self.checks {
            out.push_str(&format!("  [{}] {}: {}\n", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail));
        }
        for p in &self.problems {
            out.push_str(&format!("  problem: {p}\n"));
        }
        out
    }
}

/// Checks the archive `bytes`; `public_key` (hex) is the key the manifest must be signed with.
pub fn verify(bytes: &[u8], public_key: Option<&str>) -> VerifyReport {
    let mut report = VerifyReport { request_id: None, ok: false, checks: Vec::new(), problems: Vec::new() };
    let files = match super::archive::read(bytes) {
        Ok(files) => files,
        Err(e) => {
            report.add("archive", vec![format!("not a readable archive: {e}")], String::new());
            return report;
        }
    };
    let by_path: BTreeMap<&str, &File> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    let Some(manifest) = read_manifest(&mut report, &by_path) else { return report };
    report.request_id = Some(manifest.request_id.clone());
    check_files(&mut report, &manifest, &files);
    check_signature(&mut report, &by_path, public_key);
    if let Some(proof) = check_proof(&mut report, &manifest, &by_path, public_key) {
        check_export_row(&mut report, &manifest, &proof);
    }
    report.ok = report.problems.is_empty();
    report
}

fn read_manifest(report: &mut VerifyReport, files: &BTreeMap<&str, &File>) -> Option<Manifest> {
    let Some(file) = files.get(manifest::MANIFEST) else {
        report.add("manifest", vec![format!("{} is missing", manifest::MANIFEST)], String::new());
        return None;
    };
    match serde_json::from_slice::<Manifest>(&file.bytes) {
        Ok(m) if m.format == manifest::FORMAT => {
            let made = m.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            report.add("manifest", vec![], format!("{} files listed, request {}, made {made} by {}", m.files.len(), m.request_id, m.created_by));
            Some(m)
        }
        Ok(m) => {
            report.add("manifest", vec![format!("{}: unknown format {:?}", manifest::MANIFEST, m.format)], String::new());
            None
        }
        Err(e) => {
            report.add("manifest", vec![format!("{} is not a manifest: {e}", manifest::MANIFEST)], String::new());
            None
        }
    }
}

/// Each listed file is there with its hash and size; nothing else is in the archive.
fn check_files(report: &mut VerifyReport, m: &Manifest, files: &[File]) {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for f in files {
        *seen.entry(f.path.as_str()).or_default() += 1;
    }
    for (path, n) in &seen {
        if *n > 1 {
            problems.push(format!("{path}: {n} entries of the same name"));
        }
    }
    for entry in &m.files {
        match files.iter().find(|f| f.path == entry.path) {
            None => problems.push(format!("{}: missing (listed in the manifest)", entry.path)),
            Some(f) => {
                let actual = FileEntry::of(&f.path, &f.bytes);
                if actual.sha256 != entry.sha256 || actual.size != entry.size {
                    problems.push(format!("{}: content changed (SHA-256 {} in the manifest, {} in the archive)", entry.path, short(&entry.sha256), short(&actual.sha256)));
                }
            }
        }
    }
    let own = [manifest::MANIFEST, manifest::SIGNATURE];
    for f in files.iter().filter(|f| !own.contains(&f.path.as_str())) {
        if !m.files.iter().any(|e| e.path == f.path) {
            problems.push(format!("{}: in the archive but not in the manifest", f.path));
        }
    }
    report.add("files", problems, format!("{} files match the manifest (SHA-256 and size)", m.files.len()));
}

/// The manifest's Ed25519 signature, against `public_key` if given, else the embedded key
/// (which must be the audit proof's checkpoint key).
fn check_signature(report: &mut VerifyReport, files: &BTreeMap<&str, &File>, public_key: Option<&str>) {
    let problems = match signature_problem(files, public_key) {
        Some(p) => vec![p],
        None => vec![],
    };
    let by = if public_key.is_some() { "the given public key" } else { "the embedded checkpoint key (pass --public-key to name who signed)" };
    report.add("signature", problems, format!("{} is signed by {by}", manifest::MANIFEST));
}

fn signature_problem(files: &BTreeMap<&str, &File>, public_key: Option<&str>) -> Option<String> {
    use ed25519_dalek::{Signature, VerifyingKey};
    let Some(file) = files.get(manifest::SIGNATURE) else { return Some(format!("{}: missing", manifest::SIGNATURE)) };
    let sig: manifest::ManifestSignature = match serde_json::from_slice(&file.bytes) {
        Ok(s) => s,
        Err(e) => return Some(format!("{}: not a signature: {e}", manifest::SIGNATURE)),
    };
    if let Some(proof) = files.get(manifest::PROOF).and_then(|f| serde_json::from_slice::<AuditProof>(&f.bytes).ok())
        && proof.checkpoint.public_key != sig.public_key
    {
        return Some(format!("{}: signed by another key than the audit checkpoint", manifest::SIGNATURE));
    }
    let key_hex = public_key.unwrap_or(&sig.public_key);
    let key = hex::decode(key_hex).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let Some(key) = key else { return Some(format!("{key_hex:?} is not an Ed25519 public key (hex)")) };
    let Some(bytes) = hex::decode(&sig.signature).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return Some(format!("{}: malformed signature", manifest::SIGNATURE));
    };
    let manifest_bytes = &files.get(manifest::MANIFEST)?.bytes;
    match key.verify_strict(manifest::signed_message(manifest_bytes).as_bytes(), &Signature::from_bytes(&bytes)) {
        Ok(()) => None,
        Err(_) => Some(format!("{}: the signature does not match the manifest and key", manifest::MANIFEST)),
    }
}

fn check_proof(report: &mut VerifyReport, m: &Manifest, files: &BTreeMap<&str, &File>, public_key: Option<&str>) -> Option<AuditProof> {
    let Some(file) = files.get(manifest::PROOF) else {
        report.add("audit proof", vec![format!("{}: missing", manifest::PROOF)], String::new());
        return None;
    };
    let parsed: AuditProof = match serde_json::from_slice(&file.bytes) {
        Ok(s) => s,
        Err(e) => {
            report.add("audit proof", vec![format!("{}: not an audit proof: {e}", manifest::PROOF)], String::new());
            return None;
        }
    };
    let mut problems = Vec::new();
    let mut fine = String::new();
    match proof::verify(&parsed, public_key) {
        Ok(s) => {
            fine = format!(
                "{} rows linked from row {} to the signed checkpoint (row {}, {}); {} rows of this request checked, {} v1 rows; signed by {} ({:?})",
                s.rows, s.first_seq, s.checkpoint_seq, short(&s.checkpoint_hash), s.entries, s.v1_rows, short(&s.public_key), s.signed_by
            );
        }
        Err(e) => {
            let cause = std::error::Error::source(&e).map(|c| format!(": {c}")).unwrap_or_default();
            problems.push(format!("{}: {e}{cause}", manifest::PROOF));
        }
    }
    if parsed.request_id != m.request_id {
        problems.push(format!("{}: the proof is of request {}, the manifest of {}", manifest::PROOF, parsed.request_id, m.request_id));
    }
    report.add("audit proof", problems, fine);
    Some(parsed)
}

/// The export's audit row records exactly the hashes the manifest lists (all but the proof).
fn check_export_row(report: &mut VerifyReport, m: &Manifest, proof: &AuditProof) {
    let row = proof.rows.iter().filter_map(|r| r.entry.as_ref()).find(|e| e.seq == m.export_audit_seq);
    let problems = match row {
        None => vec![format!("the export's audit row {} is not in {}", m.export_audit_seq, manifest::PROOF)],
        Some(r) if r.action != "evidence.export" => vec![format!("audit row {} is {:?}, not the export", r.seq, r.action)],
        Some(r) => {
            let recorded: Vec<FileEntry> = r.after.as_ref().and_then(|v| serde_json::from_value(v["files"].clone()).ok()).unwrap_or_default();
            let listed: Vec<&FileEntry> = m.files.iter().filter(|f| f.path != manifest::PROOF).collect();
            let mut problems = Vec::new();
            for f in &listed {
                match recorded.iter().find(|x| x.path == f.path) {
                    None => problems.push(format!("{}: not recorded in the export's audit row {}", f.path, r.seq)),
                    Some(x) if x != *f => problems.push(format!("{}: the manifest's hash differs from the one recorded in audit row {}", f.path, r.seq)),
                    Some(_) => {}
                }
            }
            for x in recorded.iter().filter(|x| !listed.iter().any(|f| f.path == x.path)) {
                problems.push(format!("{}: recorded in audit row {} but not in the manifest", x.path, r.seq));
            }
            problems
        }
    };
    report.add("export audit row", problems, format!("audit row {} (evidence.export) records every file's SHA-256", m.export_audit_seq));
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}
