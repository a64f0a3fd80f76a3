//! Output files: checked before any work, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{ModelError, Result};

/// Checks, before any work, that `path` can take an output file: a new file
/// or a regular one to replace (a symbolic link, directory, device or other
/// special file only with `force`), in a directory that exists and can be
/// written. `-` is refused: it is no file (the outcome goes to standard
/// output already).
pub fn check_output_file(path: &Path, force: bool) -> Result<()> {
    let bad = |reason: String| Err(ModelError::Output { path: path.to_path_buf(), reason });
    if path.as_os_str() == "-" {
        return bad("`-` is not a file here; name a file (the outcome is printed on standard \
                    output, --json for JSON)"
            .into());
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => return bad("is a directory; name a file".into()),
        Ok(m) if !force && m.file_type().is_symlink() => {
            return bad("is a symbolic link; shiftkit replaces regular files only (remove it, \
                        or pass --force to replace the link)"
                .into())
        }
        Ok(m) if !force && !m.is_file() && !m.file_type().is_symlink() => {
            return bad("is not a regular file (a device, FIFO or socket); name a file, or pass \
                        --force to replace it"
                .into())
        }
        _ => {}
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return bad(format!("the directory {} does not exist", dir.display()));
    }
    writable(&dir).or_else(bad)
}

/// Whether `dir` takes a new file: a temporary one there, removed at once.
fn writable(dir: &Path) -> std::result::Result<(), String> {
    match tempfile::Builder::new().prefix(".shiftkit-").tempfile_in(dir) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("cannot write in {} ({})", dir.display(), os_cause(&e))),
    }
}

/// What went wrong, without the temporary file's name that tempfile adds.
fn os_cause(e: &std::io::Error) -> String {
    e.raw_os_error()
        .map_or_else(|| e.to_string(), |c| std::io::Error::from_raw_os_error(c).to_string())
}

/// Checks, before any work, that `dir` can take an output directory: `-` and
/// anything that exists but is not a directory are refused, and the nearest
/// existing folder on its way must be writable.
pub fn check_output_dir(dir: &Path) -> Result<()> {
    let bad = |reason: String| Err(ModelError::Output { path: dir.to_path_buf(), reason });
    if dir.as_os_str() == "-" {
        return bad("`-` is not a directory here; name one".into());
    }
    if dir.exists() && !dir.is_dir() {
        return bad("exists and is not a directory".into());
    }
    let existing = dir.ancestors().find(|a| a.is_dir()).unwrap_or(Path::new("."));
    let existing = if existing.as_os_str().is_empty() { Path::new(".") } else { existing };
    writable(existing).or_else(bad)
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    // The cause without the temporary file's name (tempfile adds it).
    let io =
        |e: std::io::Error| ModelError::Write { path: path.to_path_buf(), reason: os_cause(&e) };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".shiftkit-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    // Temporary files are private (0600); the result is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
