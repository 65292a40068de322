//! Every file envgate reads or writes, and every byte it prints, goes through here.
//!
//! Reads: only regular files (a FIFO or a device would block or never end), opened
//! without blocking, and never more than a stated limit. Writes: output files are
//! replaced atomically through a fresh temporary file, and only when what stands at
//! the destination is a regular file (never a symlink, a device or a FIFO). Printing:
//! a closed pipe (`envgate docs | head -1`) ends the output quietly instead of
//! panicking.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::libc;

/// A short, lower-case reason for an IO error, without the OS error number.
#[must_use]
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        ErrorKind::NotFound => "no such file".to_owned(),
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        ErrorKind::IsADirectory => "it is a directory".to_owned(),
        ErrorKind::FileTooLarge => "the file is too large".to_owned(),
        _ if error.raw_os_error() == Some(libc::ELOOP) => "it is a symbolic link".to_owned(),
        _ if error.raw_os_error() == Some(libc::ENXIO) => {
            "it is a FIFO or socket with no reader".to_owned()
        }
        // envgate's own reasons (not a regular file, …) are already written for people.
        _ if error.get_ref().is_some() => error.to_string(),
        _ => {
            let text = error.to_string();
            text.split(" (os error")
                .next()
                .unwrap_or(&text)
                .to_lowercase()
        }
    }
}

/// An error saying what kind of thing stands at a path where a regular file is meant.
fn not_regular(kind: std::fs::FileType) -> std::io::Error {
    let what = if kind.is_dir() {
        return std::io::Error::from(ErrorKind::IsADirectory);
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "something else"
    };
    std::io::Error::new(
        ErrorKind::InvalidInput,
        format!("not a regular file (it is {what})"),
    )
}

/// Reads a regular file of at most `limit` bytes. Symlinks are followed (mounted
/// Kubernetes secrets are symlinks), but what they lead to must be a regular file.
///
/// # Errors
/// Not found, permission denied, not a regular file, or
/// [`ErrorKind::FileTooLarge`] past `limit`.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(not_regular(meta.file_type()));
    }
    // Sized from the start: one read for a file of the size it says.
    let capacity = usize::try_from(meta.len().min(limit) + 1).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::from(ErrorKind::FileTooLarge));
    }
    Ok(bytes)
}

/// Opens `path` for appending, creating it with mode 0600. Never follows a
/// symlink; accepts a regular file (made 0600 if it was not) or a character
/// device (`/dev/null`, a terminal); refuses a FIFO, a socket or a directory.
///
/// # Errors
/// Why the file cannot be opened (a symlink, a FIFO, permission denied, …).
pub fn open_private_append(path: &Path) -> std::io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_char_device() {
        return Ok(file);
    }
    if !kind.is_file() {
        return Err(not_regular(kind));
    }
    nix::sys::stat::fchmod(&file, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(std::io::Error::from)?;
    Ok(file)
}

/// Writes `contents` to `path` atomically: a fresh temporary file (random name,
/// created exclusively) in the same directory, then a rename over the destination.
/// The destination must be absent or a regular file.
///
/// # Errors
/// Why it could not be written; nothing at `path` has changed then.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_atomically_with_mode(path, contents, 0o600)
}

/// [`write_atomically`] with the file's permission bits `mode` (a schema or a
/// docs file is source, `0o644`; anything that may hold a value stays `0o600`).
///
/// # Errors
/// As [`write_atomically`].
pub fn write_atomically_with_mode(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => return Err(not_regular(meta.file_type())),
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".envgate-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(&dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// Writes `text` to standard output. A closed pipe ends the output quietly.
pub fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Writes `text` to standard error. A closed pipe ends the output quietly.
pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let error = read_regular(&fifo, 10).unwrap_err();
        assert!(io_reason(&error).contains("FIFO"), "{error}");
        let error = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(io_reason(&error).contains("device"), "{error}");
    }

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "12345").unwrap();
        assert_eq!(read_regular(&file, 5).unwrap(), b"12345");
        assert_eq!(
            read_regular(&file, 4).unwrap_err().kind(),
            ErrorKind::FileTooLarge
        );
    }

    #[test]
    fn atomic_writes_refuse_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_atomically(&link, b"new").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let plain = dir.path().join("plain");
        write_atomically(&plain, b"one").unwrap();
        write_atomically(&plain, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), "two");
    }
}
