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

use std::sync::{Mutex, OnceLock};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

/// The signals that stop envgate before exec.
pub const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

type Hook = Box<dyn Fn(Signal) + Send>;

static HOOK: OnceLock<Mutex<Option<Hook>>> = OnceLock::new();

fn stop_set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in STOP_SIGNALS {
        set.add(signal);
    }
    set
}

/// Blocks the stop signals. Call first, before any other thread exists, so that
/// every thread inherits the mask.
pub fn guard_until_exec() {
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&stop_set()), None);
}

static WATCHER: OnceLock<()> = OnceLock::new();

/// Starts the thread that stops envgate on a stop signal (once). Call before
/// anything that can wait.
pub fn watch() {
    WATCHER.get_or_init(|| {
        let set = stop_set();
        let spawned = std::thread::Builder::new()
            .name("envgate-signals".to_owned())
            .spawn(move || {
                loop {
                    if let Ok(signal) = set.wait() {
                        stop(signal);
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
