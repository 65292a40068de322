//! Termination signals before exec.
//!
//! As PID 1 (a container's ENTRYPOINT) a process has no default action for
//! SIGTERM, SIGINT, SIGHUP or SIGQUIT: without a handler, `docker stop` would wait
//! for the whole Secrets Manager deadline and then kill. So from the first
//! instruction until exec, envgate blocks these four. Before anything that can
//! wait (Secrets Manager), [`watch`] starts a thread that takes them with
//! sigwait(2); on the local path, which takes about a millisecond, no thread is
//! started and [`stop_if_pending`] looks for one right before exec. Either way, a
//! stop signal writes `process.interrupted` to the audit trail, says so on stderr,
//! and exits 128+N: nothing is launched. The launch resets the mask and every
//! disposition right before exec, so the program starts with a clean signal state.
//!
//! In supervisor mode (`--init`) envgate stays the program's parent, so it also
//! blocks the signals it forwards (SIGUSR1, SIGUSR2, SIGWINCH) and SIGCHLD from the
//! start: no thread, the SDK's included, ever runs a default action for them.
//! Before it starts the program, the supervisor calls [`take_over`]: the watcher
//! thread (if one was started) ends, and the supervisor takes every signal itself
//! with [`next`], on its own thread, with no hop between threads.
//!
//! Held signals are read from a signalfd(2) (nix's safe wrapper), waited on with
//! poll(2), so a wait can also end when another descriptor is ready.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use std::os::fd::{AsFd, BorrowedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The signals that stop envgate before exec.
pub const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// The signals a supervisor forwards to its program besides the stop signals.
pub const FORWARDED_SIGNALS: [Signal; 3] = [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGWINCH];

/// A signal taken by the watcher thread, and whether the kernel sent it (a
/// terminal's Ctrl-C or Ctrl-\, which reached the whole process group already)
/// rather than a process (`kill`, the container runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// The signal.
    pub signal: Signal,
    /// Sent by the kernel (`SI_KERNEL`): a terminal's keys or a child's exit.
    pub from_kernel: bool,
}

type Hook = Box<dyn Fn(Signal) + Send>;

static HOOK: OnceLock<Mutex<Option<Hook>>> = OnceLock::new();

/// The watcher thread, while it runs.
static WATCHER: OnceLock<Mutex<Option<JoinHandle<()>>>> = OnceLock::new();

/// Set by [`take_over`]: the watcher ends and starts no more.
static RETIRED: AtomicBool = AtomicBool::new(false);

/// How often the watcher looks whether it was retired.
const WATCHER_POLL: Duration = Duration::from_millis(50);

fn stop_set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in STOP_SIGNALS {
        set.add(signal);
    }
    set
}

/// Every signal envgate holds blocked: the stop signals, the forwarded ones and SIGCHLD.
fn held_set() -> SigSet {
    let mut set = stop_set();
    for signal in FORWARDED_SIGNALS {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the stop signals, the forwarded ones and SIGCHLD. Call first, before any
/// other thread exists, so that every thread inherits the mask.
pub fn guard_until_exec() {
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&held_set()), None);
}

/// From now on the caller takes every signal with [`next`]: the watcher thread,
/// if one runs, ends (within [`WATCHER_POLL`]) and none starts again. A signal
/// the watcher took meanwhile is raised again for the caller.
pub fn take_over() {
    RETIRED.store(true, Ordering::SeqCst);
    let handle = WATCHER
        .get()
        .and_then(|slot| slot.lock().ok().and_then(|mut slot| slot.take()));
    if let Some(handle) = handle {
        let _ = handle.join();
    }
}

/// The next held signal, waiting at most `timeout` (`None`: until one comes).
/// `None` when the time passed (or the wait was interrupted).
#[must_use]
pub fn next(timeout: Option<Duration>) -> Option<Taken> {
    next_or_ready(timeout, None).ok().flatten()
}

/// The next held signal (`Ok(Some)`), or `Err(())` as soon as `other` is
/// readable, waiting at most `timeout` (`Ok(None)` when the time passed).
/// A signal already pending comes first.
///
/// # Errors
/// `Err(())` when `other` became readable first.
#[allow(clippy::result_unit_err)] // "the other descriptor is ready" carries nothing
pub fn next_or_ready(
    timeout: Option<Duration>,
    other: Option<BorrowedFd<'_>>,
) -> Result<Option<Taken>, ()> {
    let Some(signals) = held_fd() else {
        std::thread::sleep(timeout.unwrap_or(WATCHER_POLL));
        return Ok(None);
    };
    if let Some(taken) = read_one(signals) {
        return Ok(Some(taken));
    }
    let mut ready = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
    if let Some(other) = other {
        ready.push(PollFd::new(other, PollFlags::POLLIN));
    }
    if poll(&mut ready, poll_timeout(timeout)).unwrap_or(0) == 0 {
        return Ok(None);
    }
    if let Some(taken) = read_one(signals) {
        return Ok(Some(taken));
    }
    let other_ready = ready
        .get(1)
        .and_then(PollFd::revents)
        .is_some_and(|events| !events.is_empty());
    if other_ready { Err(()) } else { Ok(None) }
}

/// `timeout` for poll(2), rounded up to the next millisecond (a shorter wait
/// would spin).
fn poll_timeout(timeout: Option<Duration>) -> PollTimeout {
    let Some(timeout) = timeout else {
        return PollTimeout::NONE;
    };
    let millis = timeout.as_micros().div_ceil(1000);
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}

/// The signalfd of every held signal, made once (non-blocking, close-on-exec).
fn held_fd() -> Option<&'static SignalFd> {
    static HELD: OnceLock<Option<SignalFd>> = OnceLock::new();
    HELD.get_or_init(|| {
        SignalFd::with_flags(&held_set(), SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).ok()
    })
    .as_ref()
}

/// One pending signal of `signals`' set, with where it came from; `None` when
/// none is pending.
fn read_one(signals: &SignalFd) -> Option<Taken> {
    let info = signals.read_signal().ok().flatten()?;
    let signal = Signal::try_from(i32::try_from(info.ssi_signo).ok()?).ok()?;
    Some(Taken {
        signal,
        from_kernel: info.ssi_code == nix::libc::SI_KERNEL,
    })
}

/// Starts the thread that stops envgate on a stop signal (once, and not after
/// [`take_over`]). Call before anything that can wait. Other signals it takes
/// before the program starts are dropped.
pub fn watch() {
    if RETIRED.load(Ordering::SeqCst) {
        return;
    }
    let slot = WATCHER.get_or_init(|| Mutex::new(None));
    let Ok(mut slot) = slot.lock() else { return };
    if slot.is_some() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("envgate-signals".to_owned())
        .spawn(move || {
            loop {
                let taken = next(Some(WATCHER_POLL));
                if RETIRED.load(Ordering::SeqCst) {
                    if let Some(taken) = taken {
                        // Not ours any more: pending again, for the supervisor.
                        let _ = nix::sys::signal::kill(nix::unistd::getpid(), taken.signal);
                    }
                    return;
                }
                if let Some(taken) = taken
                    && STOP_SIGNALS.contains(&taken.signal)
                {
                    stop(taken.signal);
                }
            }
        });
    match spawned {
        Ok(handle) => *slot = Some(handle),
        Err(_) => {
            // No watcher: let the stop signals act (or not, as PID 1) as before.
            let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&stop_set()), None);
        }
    }
}

/// Stops envgate if a stop signal arrived (and waits, blocked) since the start.
pub fn stop_if_pending() {
    // A descriptor of the stop signals alone: reading one takes only a stop
    // signal, and the process ends right after.
    let pending = SignalFd::with_flags(&stop_set(), SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .ok()
        .and_then(|stops| read_one(&stops));
    if let Some(taken) = pending {
        stop(taken.signal);
    }
}

/// Sets what to record when a stop signal arrives (the audit line).
pub fn on_stop(hook: impl Fn(Signal) + Send + 'static) {
    let slot = HOOK.get_or_init(|| Mutex::new(None));
    if let Ok(mut slot) = slot.lock() {
        *slot = Some(Box::new(hook));
    }
}

fn stop(signal: Signal) -> ! {
    if let Some(Ok(hook)) = HOOK.get().map(Mutex::lock)
        && let Some(hook) = hook.as_ref()
    {
        hook(signal);
    }
    crate::fsio::eprint(&format!(
        "envgate: stopped by {} before the program was launched; nothing was launched.\n",
        signal.as_str()
    ));
    // The audit line was written unbuffered; values are not in any buffer that
    // exit flushes.
    std::process::exit(128 + signal as i32)
}
