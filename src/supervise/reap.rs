//! Reaping: envgate collects every process that ends under it.
//!
//! As PID 1 every orphan of the container is reparented to envgate; outside a
//! PID namespace envgate makes itself a child subreaper (prctl(2)), so the orphans
//! of its program come to it instead of to the host's init. Either way each one
//! is waited for as soon as SIGCHLD says it ended, so no zombie stays.

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Makes envgate the reaper of its descendants' orphans when it is not PID 1.
pub fn become_subreaper() {
    if nix::unistd::getpid().as_raw() != 1 {
        // Without it (an old kernel) orphans go to init, as they would without envgate.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
}

/// Waits for every child that has ended; returns the status of `program` if it
/// was one of them.
#[must_use]
pub fn reap_ended(program: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return found,
            Ok(status) if status.pid() == Some(program) => found = Some(status),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return found,
        }
    }
}

/// Waits (blocking) until `program` has ended, reaping whatever else ends meanwhile.
#[must_use]
pub fn wait_for(program: Pid) -> WaitStatus {
    loop {
        match waitpid(None, None) {
            Ok(status) if status.pid() == Some(program) => return status,
            Err(Errno::ECHILD) => return WaitStatus::Exited(program, 0),
            Ok(_) | Err(_) => {}
        }
    }
}

/// The exit code a shell would report for `status`: the program's own code, or
/// 128+N when signal N killed it.
#[must_use]
pub fn exit_code(status: WaitStatus) -> u8 {
    match status {
        WaitStatus::Exited(_, code) => u8::try_from(code & 0xff).unwrap_or(1),
        WaitStatus::Signaled(_, signal, _) => 128u8.saturating_add(signal as u8),
        _ => 1,
    }
}

/// How `status` reads in the audit trail: `exited 3`, `killed by SIGTERM`.
#[must_use]
pub fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited {code}"),
        WaitStatus::Signaled(_, signal, _) => format!("killed by {}", signal.as_str()),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn codes_are_a_shells() {
        let pid = Pid::from_raw(42);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), 3);
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, false)),
            143
        );
        assert_eq!(
            describe(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            "killed by SIGKILL"
        );
    }
}
