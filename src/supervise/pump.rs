//! The masking pipes: the program's stdout and stderr go into two pipes, and one
//! thread per stream masks what comes out and writes it to envgate's own.
//!
//! The pipes outlive restarts (every generation of the program writes into the
//! same ones), so the streams stay in order across a `--watch` restart. Each
//! stream is copied by its own thread, so stdout and stderr stay separate and
//! neither waits for the other.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroize;

use super::mask::{MaskStream, Masker};

/// How much is read from a pipe at once.
const CHUNK: usize = 256 * 1024;

/// The capacity asked for each pipe (Linux's default is 64 KiB): fewer switches
/// between the program and envgate when output is heavy.
const PIPE_CAPACITY: nix::libc::c_int = 1024 * 1024;

/// The masker the pump threads use; replaced when `--watch` brings new values.
type Shared = Arc<Mutex<Arc<Masker>>>;

/// Two masking pipes and their pump threads.
#[derive(Debug)]
pub struct MaskedOutput {
    stdout: OwnedFd,
    stderr: OwnedFd,
    masker: Shared,
    done: Receiver<()>,
}

impl MaskedOutput {
    /// Creates the pipes and starts the threads.
    ///
    /// # Errors
    /// The OS error when a pipe or a thread cannot be created.
    pub fn start(masker: Masker) -> std::io::Result<Self> {
        let masker: Shared = Arc::new(Mutex::new(Arc::new(masker)));
        let (done_sender, done) = channel();
        let stdout = start_pump(duplicate(&std::io::stdout())?, &masker, done_sender.clone())?;
        let stderr = start_pump(duplicate(&std::io::stderr())?, &masker, done_sender)?;
        Ok(Self {
            stdout,
            stderr,
            masker,
            done,
        })
    }

    /// The write ends the program gets as its stdout and stderr.
    #[must_use]
    pub fn descriptors(&self) -> (RawFd, RawFd) {
        (self.stdout.as_raw_fd(), self.stderr.as_raw_fd())
    }

    /// Masks with `masker` from the next chunk on.
    pub fn set_masker(&self, masker: Masker) {
        if let Ok(mut shared) = self.masker.lock() {
            *shared = Arc::new(masker);
        }
    }

    /// Closes envgate's write ends and waits up to `grace` for both streams to
    /// drain (a descendant that still holds a pipe would keep it open forever).
    pub fn finish(self, grace: Duration) {
        let Self {
            stdout,
            stderr,
            done,
            ..
        } = self;
        drop(stdout);
        drop(stderr);
        let deadline = Instant::now() + grace;
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            if done.recv_timeout(left).is_err() {
                return;
            }
        }
    }
}

/// A descriptor of envgate's own on `stream`'s open file (its writes go where
/// the stream's go), for a pump to write to.
fn duplicate(stream: &impl AsFd) -> std::io::Result<File> {
    Ok(File::from(stream.as_fd().try_clone_to_owned()?))
}

/// One pipe whose read end a new thread masks into `target`; returns the write end.
fn start_pump(target: File, masker: &Shared, done: Sender<()>) -> std::io::Result<OwnedFd> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // Above the system's pipe-max-size this fails; the default capacity still works.
    let _ = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_CAPACITY));
    let masker = Arc::clone(masker);
    std::thread::Builder::new()
        .name("envgate-mask".to_owned())
        .spawn(move || {
            pump(File::from(read), target, &masker);
            let _ = done.send(());
        })?;
    Ok(write)
}

/// Copies `source` to `target`, masked, until the pipe ends. When `target` is
/// gone (EPIPE), stops reading, so the program meets a closed pipe as it would
/// without masking.
fn pump(mut source: File, mut target: File, masker: &Shared) {
    let mut chunk = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + 1024);
    let mut stream = MaskStream::default();
    loop {
        let read = match source.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let current = masker.lock().map(|shared| Arc::clone(&shared)).ok();
        let Some(current) = current else { break };
        stream.push(&current, &chunk[..read], &mut out);
        let written = target.write_all(&out);
        // Reused, so overwritten by the next chunk; zeroed once at the end.
        out.clear();
        if written.is_err() {
            break;
        }
    }
    if let Ok(current) = masker.lock().map(|shared| Arc::clone(&shared)) {
        stream.finish(&current, &mut out);
        let _ = target.write_all(&out);
    }
    drop(source);
    out.zeroize();
    chunk.zeroize();
}
