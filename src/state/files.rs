//! Owner-only directories and files, written so a crash never leaves half a file.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::error::{StateError, StateResult};

/// Creates `dir` (and missing parents) readable by the owner only, and
/// tightens an existing one that others can read: it holds lead data and
/// refresh tokens.
pub(crate) fn private_dir(dir: &Path) -> StateResult<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StateError::io(format!("cannot create {}", dir.display()), e))?;
    let mode = fs::metadata(dir)
        .map_err(|e| StateError::io(format!("cannot stat {}", dir.display()), e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, Permissions::from_mode(0o700)).map_err(|e| {
            StateError::io(
                format!("cannot make {} owner-only (mode 0700)", dir.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically and durably, mode 0600: written
/// to a temporary file beside it, synced, renamed over it, and the directory
/// synced, so a crash leaves the old content or the new, never a mix.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> StateResult<()> {
    let dir = path
        .parent()
        .ok_or_else(|| StateError::io(format!("{} has no parent", path.display()), not_found()))?;
    let name = path.file_name().ok_or_else(|| {
        StateError::io(format!("{} has no file name", path.display()), not_found())
    })?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    // A temporary file left by a crash is stale: start afresh.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(StateError::io(
                format!("cannot remove {}", tmp.display()),
                e,
            ))
        }
    }
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        // Best effort: do not leave a copy of the content behind; the next
        // write removes it anyway.
        let _ = fs::remove_file(&tmp);
        StateError::io(format!("cannot write {}", path.display()), e)
    })
}

fn not_found() -> std::io::Error {
    std::io::ErrorKind::NotFound.into()
}
