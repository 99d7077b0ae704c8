//! The container: a `.zip` (deflate; the `zip` crate is already in the tree for the asset
//! register's spreadsheets). Entries are written in the order given, with a fixed timestamp,
//! so the same files give the same archive.

use std::io::{Read, Write};

use zip::write::SimpleFileOptions;

use super::EvidenceError;
use super::collect::File;

/// Entries larger than this are refused when reading (a hostile archive must not exhaust memory).
pub const MAX_ENTRY: u64 = 256 * 1024 * 1024;

pub fn write(files: &[File]) -> Result<Vec<u8>, EvidenceError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).unix_permissions(0o644);
    for f in files {
        zip.start_file(f.path.as_str(), options)?;
        zip.write_all(&f.bytes).map_err(|source| EvidenceError::Io { path: f.path.clone(), source })?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Every entry of the archive, in archive order. Names that would escape a folder (`..`,
/// absolute paths) are kept as written: nothing is extracted, they are only compared.
pub fn read(bytes: &[u8]) -> Result<Vec<File>, EvidenceError> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let path = entry.name()?.to_string();
        if entry.size() > MAX_ENTRY {
            return Err(EvidenceError::Io { path, source: std::io::Error::other("entry too large") });
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.take(MAX_ENTRY).read_to_end(&mut data).map_err(|source| EvidenceError::Io { path: path.clone(), source })?;
        out.push(File { path, bytes: data });
    }
    Ok(out)
}
