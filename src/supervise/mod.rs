//! Supervisor mode (`--init`, `--watch`, `--mask`): envgate stays the program's
//! parent instead of exec'ing it.
//!
//! - `--init` does what tini does: the program starts as a child with the same
//!   clean signal state as in exec mode; SIGTERM, SIGINT, SIGHUP, SIGQUIT,
//!   SIGUSR1, SIGUSR2 and SIGWINCH are forwarded to it (unless the kernel sent
//!   them to the whole process group already: a terminal's keys); every process
//!   that ends under envgate is reaped ([`reap`]); envgate exits with the
//!   program's status, 128+N when signal N killed it.
//! - `--watch` re-reads and re-validates the configuration every
//!   `SECRETS_CACHE_TTL` (plus up to a tenth, [`watch::next_delay`]). A change
//!   restarts the program (restart signal, stop timeout, SIGKILL, start with the
//!   new environment) or, with `--reload-signal`, rewrites delivered files and
//!   signals it ([`watch::plan`]). An invalid configuration or an unavailable
//!   store never stops the running program.
//! - `--mask` sends the program's output through [`pump`], which masks every
//!   sensitive value ([`mask`]).
//!
//! The loop runs on the main thread and takes every signal itself (SIGCHLD
//! included, [`signals::next_or_ready`]), with a timeout for the next refresh.
//! A refresh runs on a thread of its own: the loop keeps forwarding signals and
//! reaping while the store is slow or silent, and receives the refresh's result
//! when it is done (a byte on a pipe wakes it). The next refresh is counted from
//! the end of the last one. When the program stops, a refresh in flight is
//! abandoned ([`crate::secrets::abandon`]) and its result dropped.

pub mod mask;
pub mod pump;
pub mod reap;
pub mod watch;

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use secrecy::{ExposeSecret, SecretString};

use crate::audit::{Audit, AuditEvent};
use crate::error::Error;
use crate::launch::{self, Prepared, SecretsDir};
use crate::signals::{self, STOP_SIGNALS, Taken};
use mask::Masker;
use pump::MaskedOutput;
use watch::{Change, Value};

/// How long output may still drain after the program ended.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The supervisor's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperviseOptions {
    /// `--init`: stay as the program's parent.
    pub init: bool,
    /// `--watch`: refresh every `SECRETS_CACHE_TTL`.
    pub watch: bool,
    /// `--mask`: mask sensitive values in the program's output.
    pub mask: bool,
    /// `--restart-signal` (default SIGTERM).
    pub restart_signal: Signal,
    /// `--reload-signal`: rewrite delivered files and send this instead of restarting.
    pub reload_signal: Option<Signal>,
    /// `--stop-timeout` (default 30 s): then SIGKILL.
    pub stop_timeout: Duration,
}

impl Default for SuperviseOptions {
    fn default() -> Self {
        Self {
            init: false,
            watch: false,
            mask: false,
            restart_signal: Signal::SIGTERM,
            reload_signal: None,
            stop_timeout: Duration::from_secs(30),
        }
    }
}

impl SuperviseOptions {
    /// Whether envgate supervises (any of `--init`, `--watch`, `--mask`).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.init || self.watch || self.mask
    }
}

/// Parses a signal name as people write it: `TERM`, `SIGTERM`, `sighup`, `15`.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let upper = text.trim().to_ascii_uppercase();
    let parsed = if let Ok(number) = upper.parse::<i32>() {
        Signal::try_from(number).ok()
    } else if upper.starts_with("SIG") {
        upper.parse::<Signal>().ok()
    } else {
        format!("SIG{upper}").parse::<Signal>().ok()
    };
    match parsed {
        Some(Signal::SIGKILL | Signal::SIGSTOP) | None => Err(format!(
            "expected a signal that can be caught, such as TERM, HUP, USR1 or QUIT (got {text:?})"
        )),
        Some(signal) => Ok(signal),
    }
}

/// One configuration of the program, ready to start.
#[derive(Debug)]
pub struct Generation {
    /// The program with this configuration's environment.
    pub prepared: Prepared,
    /// Every schema variable's value, to compare and to mask.
    pub values: Vec<Value>,
    /// The delivered files, removed when this generation is dropped.
    pub files: Option<SecretsDir>,
}

/// What supervision needs besides the first generation.
pub struct Supervision<'a> {
    /// The options.
    pub options: &'a SuperviseOptions,
    /// `SECRETS_CACHE_TTL`.
    pub ttl: Duration,
    /// The audit trail.
    pub audit: &'a Audit,
    /// Re-reads and re-validates (on a thread of its own); `None` when the
    /// configuration is invalid or the store unavailable (already reported and
    /// audited).
    pub refresh: &'a (dyn Fn() -> Option<Generation> + Sync),
}

/// Runs the program under envgate until it ends; returns envgate's exit code.
///
/// # Errors
/// When the program cannot be started (126), or the masking pipes cannot be made.
#[allow(clippy::needless_pass_by_value)] // the refresh closure is borrowed for the run
pub fn run(supervision: Supervision<'_>, first: Generation) -> Result<u8, Error> {
    reap::become_subreaper();
    signals::take_over();
    // A stop signal that came before stops envgate, nothing launched.
    signals::stop_if_pending();
    let mut masked = Vec::new();
    add_sensitive(&mut masked, &first.values);
    let output = if supervision.options.mask {
        let pipes = MaskedOutput::start(Masker::new(&masked));
        Some(pipes.map_err(|error| Error::NotExecutable {
            program: first.prepared.program().to_owned(),
            reason: format!("cannot create the masking pipes: {error}"),
        })?)
    } else {
        None
    };
    let mut supervisor = Supervisor {
        options: supervision.options,
        audit: supervision.audit,
        output,
        masked,
    };
    supervisor.run(first, supervision.ttl, supervision.refresh)
}

/// What the supervisor's loop acts on.
enum Event {
    /// A held signal arrived.
    Signal(Taken),
    /// The refresh thread has its result.
    Refreshed,
    /// The next refresh is due.
    Due,
}

/// The loop's state: the running generation and program, and the refresh.
struct Loop<'scope> {
    current: Generation,
    pid: Pid,
    /// When the next refresh starts (`None`: no more refreshes).
    next_refresh: Option<Instant>,
    /// The refresh in flight.
    refreshing: Option<std::thread::ScopedJoinHandle<'scope, Option<Generation>>>,
    /// A stop signal came: a refresh's result is dropped.
    stopping: bool,
}

/// The running supervisor's state.
struct Supervisor<'a> {
    options: &'a SuperviseOptions,
    audit: &'a Audit,
    output: Option<MaskedOutput>,
    /// Every sensitive value masked so far (old values stay masked).
    masked: Vec<(String, SecretString)>,
}

impl Supervisor<'_> {
    fn run(
        &mut self,
        first: Generation,
        ttl: Duration,
        refresh: &(dyn Fn() -> Option<Generation> + Sync),
    ) -> Result<u8, Error> {
        let (wake_read, wake_write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|errno| Error::NotExecutable {
                    program: first.prepared.program().to_owned(),
                    reason: format!("cannot create the supervisor's pipe: {}", errno.desc()),
                })?;
        let result = std::thread::scope(|scope| {
            let mut loop_state = Loop {
                current: first,
                pid: Pid::from_raw(0),
                next_refresh: None,
                refreshing: None,
                stopping: false,
            };
            loop_state.pid = self.start(&loop_state.current)?;
            let delay = || watch::next_delay(ttl, random());
            loop_state.next_refresh = self.options.watch.then(|| Instant::now() + delay());
            loop {
                let until = if loop_state.refreshing.is_some() {
                    None
                } else {
                    loop_state.next_refresh
                };
                match Self::next_event(until, wake_read.as_fd()) {
                    Event::Signal(taken) if taken.signal == Signal::SIGCHLD => {
                        if let Some(status) = reap::reap_ended(loop_state.pid) {
                            if loop_state.refreshing.is_some() {
                                crate::secrets::abandon();
                            }
                            return Ok(self.finish(status));
                        }
                    }
                    Event::Signal(taken) => {
                        Self::forward(loop_state.pid, taken);
                        if STOP_SIGNALS.contains(&taken.signal) {
                            // Stopping: no refresh may restart what is being stopped.
                            loop_state.stopping = true;
                            loop_state.next_refresh = None;
                            if loop_state.refreshing.is_some() {
                                crate::secrets::abandon();
                            }
                        }
                    }
                    Event::Due => {
                        let wake = &wake_write;
                        loop_state.refreshing = Some(scope.spawn(move || {
                            let fresh = refresh();
                            let _ = nix::unistd::write(wake, b"r");
                            fresh
                        }));
                    }
                    Event::Refreshed => {
                        let mut byte = [0u8; 1];
                        let _ = nix::unistd::read(wake_read.as_fd(), &mut byte);
                        let Some(handle) = loop_state.refreshing.take() else {
                            continue;
                        };
                        let fresh = handle.join().ok().flatten();
                        if loop_state.stopping {
                            continue;
                        }
                        loop_state.next_refresh = Some(Instant::now() + delay());
                        let outcome = self.apply(&mut loop_state, fresh);
                        // The refresh's alerts, off the loop: signals keep flowing.
                        let audit = self.audit.clone();
                        scope.spawn(move || audit.send_alerts());
                        if let Some(code) = outcome? {
                            return Ok(code);
                        }
                    }
                }
            }
        });
        drop(wake_write);
        result
    }

    /// Applies a refresh's result: nothing, a reload or a restart. `Some(code)`
    /// when a stop signal came during the restart and envgate is done.
    fn apply(
        &mut self,
        state: &mut Loop<'_>,
        fresh: Option<Generation>,
    ) -> Result<Option<u8>, Error> {
        let Some(fresh) = fresh else {
            self.refresh_failed();
            return Ok(None);
        };
        match watch::plan(
            &state.current.values,
            &fresh.values,
            self.options.reload_signal,
        ) {
            Change::Unchanged => self.refreshed("unchanged", Vec::new()),
            Change::Reload(names) => self.reload(state.pid, &mut state.current, fresh, names),
            Change::Restart(names) => {
                let (status, stop_asked) = self.stop(state.pid, &names);
                if stop_asked {
                    return Ok(Some(self.finish(status)));
                }
                state.current = fresh;
                self.mask_also(&state.current.values);
                state.pid = self.start(&state.current)?;
            }
        }
        Ok(None)
    }

    /// The next thing the loop acts on: a signal, the refresh's result, or
    /// `until` passing (a refresh is due).
    fn next_event(until: Option<Instant>, refreshed: BorrowedFd<'_>) -> Event {
        loop {
            let timeout = match until {
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Event::Due;
                    }
                    Some(left)
                }
                None => None,
            };
            match signals::next_or_ready(timeout, Some(refreshed)) {
                Ok(Some(taken)) => return Event::Signal(taken),
                Err(()) => return Event::Refreshed,
                // The time passed or the wait was interrupted: look at the deadline again.
                Ok(None) => {}
            }
        }
    }

    /// Starts the program with `generation`'s environment, audited.
    fn start(&self, generation: &Generation) -> Result<Pid, Error> {
        let descriptors = self.output.as_ref().map(MaskedOutput::descriptors);
        let pid = launch::spawn(&generation.prepared, descriptors)?;
        self.audit.emit(&AuditEvent {
            event: "process.start",
            severity: "info",
            program: Some(generation.prepared.program().to_owned()),
            child_pid: Some(pid.as_raw()),
            outcome: Some("success"),
            ..AuditEvent::default()
        });
        Ok(pid)
    }

    /// The next signal, or `None` when `until` passed first.
    fn next_signal(until: Option<Instant>) -> Option<Taken> {
        loop {
            let timeout = match until {
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    Some(left)
                }
                None => None,
            };
            // `None` from a wait that was interrupted: look at the deadline again.
            if let Some(taken) = signals::next(timeout) {
                return Some(taken);
            }
        }
    }

    /// Passes a signal on, unless the kernel sent it to the whole process group
    /// (the program, in envgate's group, has it already).
    fn forward(pid: Pid, taken: Taken) {
        if !taken.from_kernel {
            let _ = kill(pid, taken.signal);
        }
    }

    /// Stops the program for a restart: the restart signal, then SIGKILL after the
    /// stop timeout. Returns its status and whether a stop signal came meanwhile.
    fn stop(&self, pid: Pid, names: &[String]) -> (WaitStatus, bool) {
        self.audit.emit(&AuditEvent {
            event: "process.restart",
            severity: "info",
            reason: Some("secrets changed"),
            vars: names.to_vec(),
            child_pid: Some(pid.as_raw()),
            signal: Some(self.options.restart_signal.as_str()),
            ..AuditEvent::default()
        });
        crate::fsio::eprint(&format!(
            "envgate: {} changed; restarting the program with the new values.\n",
            names.join(", ")
        ));
        let _ = kill(pid, self.options.restart_signal);
        let mut deadline = Some(Instant::now() + self.options.stop_timeout);
        let mut stop_asked = false;
        loop {
            match Self::next_signal(deadline) {
                Some(taken) if taken.signal == Signal::SIGCHLD => {
                    if let Some(status) = reap::reap_ended(pid) {
                        return (status, stop_asked);
                    }
                }
                Some(taken) => {
                    Self::forward(pid, taken);
                    stop_asked |= STOP_SIGNALS.contains(&taken.signal);
                }
                None => {
                    crate::fsio::eprint(&format!(
                        "envgate: the program did not stop within {} s of {}; killing it.\n",
                        self.options.stop_timeout.as_secs_f64(),
                        self.options.restart_signal.as_str()
                    ));
                    let _ = kill(pid, Signal::SIGKILL);
                    deadline = None;
                }
            }
        }
    }

    /// Rewrites the changed delivered files in place and sends the reload signal.
    fn reload(
        &mut self,
        pid: Pid,
        current: &mut Generation,
        fresh: Generation,
        names: Vec<String>,
    ) {
        let Some(files) = &current.files else { return };
        for name in &names {
            let value = fresh
                .values
                .iter()
                .find(|value| &value.name == name)
                .and_then(|value| value.value.as_ref());
            let Some(value) = value else { continue };
            if let Err(error) = files.replace(name, value) {
                crate::fsio::eprint(&format!(
                    "envgate: {error}; the program keeps its values.\n"
                ));
                self.refresh_failed();
                return;
            }
        }
        self.mask_also(&fresh.values);
        current.values = fresh.values;
        if let Some(signal) = self.options.reload_signal {
            let _ = kill(pid, signal);
        }
        self.refreshed("reloaded", names);
    }

    fn refreshed(&self, outcome: &'static str, vars: Vec<String>) {
        self.audit.emit(&AuditEvent {
            event: "secret.refresh",
            severity: "info",
            outcome: Some(outcome),
            vars,
            ..AuditEvent::default()
        });
    }

    /// A refresh found an invalid configuration or no store: the program keeps running.
    fn refresh_failed(&self) {
        self.audit.emit(&AuditEvent {
            event: "secret.refresh",
            severity: "critical",
            alert: Some("critical"),
            outcome: Some("failure"),
            reason: Some("the program keeps its current values"),
            ..AuditEvent::default()
        });
        crate::fsio::eprint(
            "envgate: refresh failed; the program keeps running with its current values; the next refresh retries.\n",
        );
    }

    /// Adds `values`' sensitive ones to the masker.
    fn mask_also(&mut self, values: &[Value]) {
        let before = self.masked.len();
        add_sensitive(&mut self.masked, values);
        if let Some(output) = &self.output
            && self.masked.len() != before
        {
            output.set_masker(Masker::new(&self.masked));
        }
    }

    /// The program ended: drain its output, reap the rest, audit, return its code.
    fn finish(&mut self, status: WaitStatus) -> u8 {
        if let Some(output) = self.output.take() {
            output.finish(DRAIN_GRACE);
        }
        let _ = reap::reap_ended(Pid::from_raw(-1));
        let code = reap::exit_code(status);
        self.audit.emit(&AuditEvent {
            event: "process.exit",
            severity: if code == 0 { "info" } else { "warning" },
            child_pid: status.pid().map(Pid::as_raw),
            status: Some(reap::describe(status)),
            exit_code: Some(code),
            ..AuditEvent::default()
        });
        code
    }
}

/// Adds the sensitive values of `values` not yet in `masked`.
fn add_sensitive(masked: &mut Vec<(String, SecretString)>, values: &[Value]) {
    for value in values.iter().filter(|value| value.sensitive) {
        let Some(secret) = &value.value else { continue };
        let known = masked
            .iter()
            .any(|(_, seen)| seen.expose_secret() == secret.expose_secret());
        if !known {
            masked.push((value.name.clone(), secret.clone()));
        }
    }
}

/// A random number for the refresh splay.
fn random() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_ne_bytes(bytes)
}
