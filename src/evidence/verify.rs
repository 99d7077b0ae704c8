//! `evidence verify ARCHIVE`: checks a bundle offline — no database, no configuration. Every
//! file against the manifest (changed, missing, added), the manifest's signature, the audit
//! slice (links, disclosed rows' hashes, the head), and the export's audit row, which must
//! record exactly the manifest's hashes. Every problem is named; none stops the other checks.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::collect::File;
use super::manifest::{self, FileEntry, Manifest};
use super::proof::{self, SliceProof};

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
    let slice = check_proof(&mut report, &manifest, &by_path);
    if let Some(slice) = slice {
        check_export_row(&mut report, &manifest, &slice);
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

/// TODO(design): the manifest is signed by the audit checkpoint key once the keyed audit chain
/// (branch `audit-keyed`) lands; until then a bundle is unsigned and a given key cannot match.
fn check_signature(report: &mut VerifyReport, files: &BTreeMap<&str, &File>, public_key: Option<&str>) {
    match (files.get(manifest::SIGNATURE), public_key) {
        (None, None) => report.add("signature", vec![], "the manifest is not signed (this kolokasi has no audit checkpoint key); its files are anchored by the export's audit row".into()),
        (None, Some(_)) => report.add("signature", vec![format!("a public key was given but the bundle has no {}", manifest::SIGNATURE)], String::new()),
        (Some(_), _) => report.add("signature", vec![format!("{} cannot be checked by this kolokasi (no Ed25519 support yet)", manifest::SIGNATURE)], String::new()),
    }
}

fn check_proof(report: &mut VerifyReport, m: &Manifest, files: &BTreeMap<&str, &File>) -> Option<SliceProof> {
    let Some(file) = files.get(manifest::PROOF) else {
        report.add("audit proof", vec![format!("{}: missing", manifest::PROOF)], String::new());
        return None;
    };
    let slice: SliceProof = match serde_json::from_slice(&file.bytes) {
        Ok(s) => s,
        Err(e) => {
            report.add("audit proof", vec![format!("{}: not an audit slice: {e}", manifest::PROOF)], String::new());
            return None;
        }
    };
    let mut problems = match proof::check(&slice) {
        Ok(_) => Vec::new(),
        Err(p) => p.into_iter().map(|p| format!("{}: {p}", manifest::PROOF)).collect(),
    };
    if slice.request_id != m.request_id {
        problems.push(format!("{}: the slice is of request {}, the manifest of {}", manifest::PROOF, slice.request_id, m.request_id));
    }
    let mine = slice.entries().count();
    let fine = format!(
        "{} rows linked from row {} to the head (row {}, {}); {mine} rows of this request recomputed, {} of other requests linked only (v1 chain, head not signed)",
        slice.rows.len(),
        slice.rows.first().map_or(0, |r| r.seq),
        slice.head_seq,
        short(&slice.head_hash),
        slice.rows.len() - mine
    );
    report.add("audit proof", problems, fine);
    Some(slice)
}

/// The export's audit row records exactly the hashes the manifest lists (all but the proof).
fn check_export_row(report: &mut VerifyReport, m: &Manifest, slice: &SliceProof) {
    let row = slice.entries().find(|e| e.seq == m.export_audit_seq);
    let problems = match row {
        None => vec![format!("the export's audit row {} is not in {}", m.export_audit_seq, manifest::PROOF)],
        Some(r) if r.action != "evidence.export" => vec![format!("audit row {} is {:?}, not the export", r.seq, r.action)],
        Some(r) => {
            let recorded: Vec<FileEntry> = r
                .after_json
                .as_deref()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| serde_json::from_value(v["files"].clone()).ok())
                .unwrap_or_default();
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
