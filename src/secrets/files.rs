//! Files that hold secrets or could (a backup of the store, a document printed with the host
//! admin's password): created for their owner only, mode 0600, in folders made 0700.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates (or truncates) `path` with mode 0600 and writes `bytes`. An existing file's mode is
/// tightened to 0600 first, so a file once world-readable does not stay so.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Opens `path` for writing, truncated, mode 0600 (tightened if it existed).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    if path.exists() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// Creates `dir` (and its parents) with mode 0700 for the folders it makes.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}
