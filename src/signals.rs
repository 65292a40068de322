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
//! start: no thread, the SDK's included, ever runs a default action for them. Once
//! the program is started, [`handover`] turns the watcher thread into a pipe: every
//! signal it takes goes to the supervisor instead of stopping envgate.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

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

/// Where taken signals go once a supervisor has taken over.
static HANDOVER: OnceLock<Mutex<Option<Sender<Taken>>>> = OnceLock::new();

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

/// From now on every signal the watcher takes is sent to the returned receiver
/// instead of stopping envgate; starts the watcher if it is not running.
pub fn handover() -> Receiver<Taken> {
    let (sender, receiver) = channel();
    let slot = HANDOVER.get_or_init(|| Mutex::new(None));
    if let Ok(mut slot) = slot.lock() {
        *slot = Some(sender);
    }
    watch();
    receiver
}

/// Takes the next held signal (waits), with where it came from.
fn take(set: &SigSet) -> Option<Taken> {
    let mut info = std::mem::MaybeUninit::<nix::libc::siginfo_t>::uninit();
    // SAFETY: sigwaitinfo(2) reads the set and fills `info`; both outlive the call.
    let number = unsafe { nix::libc::sigwaitinfo(set.as_ref(), info.as_mut_ptr()) };
    if number < 0 {
        return None;
    }
    // SAFETY: sigwaitinfo returned a signal, so `info` is filled.
    let info = unsafe { info.assume_init() };
    let signal = Signal::try_from(number).ok()?;
    Some(Taken {
        signal,
        from_kernel: info.si_code == nix::libc::SI_KERNEL,
    })
}

/// What the watcher does with a signal: hand it over, or stop envgate (a stop
/// signal before a supervisor took over). Others before then are dropped.
fn dispatch(taken: Taken) {
    if let Some(Ok(slot)) = HANDOVER.get().map(Mutex::lock)
        && let Some(sender) = slot.as_ref()
    {
        let _ = sender.send(taken);
        return;
    }
    if STOP_SIGNALS.contains(&taken.signal) {
        stop(taken.signal);
    }
}

static WATCHER: OnceLock<()> = OnceLock::new();

/// Starts the thread that stops envgate on a stop signal (once). Call before
/// anything that can wait.
pub fn watch() {
    WATCHER.get_or_init(|| {
        let set = held_set();
        let spawned = std::thread::Builder::new()
            .name("envgate-signals".to_owned())
            .spawn(move || {
                loop {
                    if let Some(taken) = take(&set) {
                        dispatch(taken);
                    }
                }
            });
        if spawned.is_err() {
            // No watcher: let the signals act (or not, as PID 1) as before.
            let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
        }
    });
}

/// Stops envgate if a stop signal arrived (and waits, blocked) since the start.
pub fn stop_if_pending() {
    let mut pending = std::mem::MaybeUninit::<nix::libc::sigset_t>::uninit();
    // SAFETY: sigpending(2) fills the set it is given and touches nothing else.
    if unsafe { nix::libc::sigpending(pending.as_mut_ptr()) } != 0 {
        return;
    }
    // SAFETY: sigpending returned 0, so the set is initialised.
    let pending = unsafe { SigSet::from_sigset_t_unchecked(pending.assume_init()) };
    if let Some(signal) = STOP_SIGNALS
        .into_iter()
        .find(|signal| pending.contains(*signal))
    {
        stop(signal);
    }
}

/// Sets what to record when a stop signal arrives (the audit line).
pub fn on_stop(hook: impl Fn(Signal) + Send + 'static) {
    let slot = HOOK.get_or_init(|| Mutex::new(None));
    if let Ok(mut slot) = slot.lock() {
        *slot = Some(Box::new(hook));
    }
}

/// Stops envgate now for `signal`, as a stop signal before the launch does.
pub fn stop_now(signal: Signal) -> ! {
    stop(signal)
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
    // SAFETY: _exit ends the process at once, without running other threads'
    // destructors or atexit handlers; the audit line was written unbuffered.
    unsafe { nix::libc::_exit(128 + signal as i32) }
}
