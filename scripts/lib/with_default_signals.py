"""Runs a command with every signal at its default action, glibc's own 32 and 33
included (glibc's sigaction refuses those, so the system call sets them), as a
clean parent (a container runtime) starts a program.

Usage: python3 scripts/lib/with_default_signals.py COMMAND [ARGS...]
"""

import ctypes
import os
import signal
import sys

SYS_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)
default = ctypes.create_string_buffer(152)  # a zeroed struct sigaction: SIG_DFL
for number in range(1, 65):
    libc.syscall(SYS_RT_SIGACTION, number, default, None, 8)
signal.pthread_sigmask(signal.SIG_SETMASK, [])
os.execvp(sys.argv[1], sys.argv[1:])
