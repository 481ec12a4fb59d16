"""Termination signals end a job the way Ctrl-C does.

Python turns Ctrl-C (SIGINT) into ``KeyboardInterrupt``, which unwinds the stack, so that
the atomic writers remove their temporary files and a staged, unverified output is
deleted. SIGTERM (``kill``, a job scheduler's time limit, ``timeout``) would kill the
process where it stands and leave those files behind; :func:`exit_on_termination`
makes it unwind too, exiting with the shell's code for a terminated process (143).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

TERMINATED_EXIT = 128 + signal.SIGTERM
INTERRUPTED_EXIT = 128 + signal.SIGINT  # Ctrl-C: the shell's code for SIGINT (130)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(TERMINATED_EXIT)


def exit_on_termination() -> None:
    """Make SIGTERM raise ``SystemExit(143)`` in this process (main thread only; a no-op
    elsewhere, where Python cannot install handlers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
