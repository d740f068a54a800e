"""A time limit for work in the main thread (SIGALRM), nestable; no processes involved."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager


@contextmanager
def time_limit(seconds: float):
    """Raise TimeoutError in this (main) thread after `seconds`; a no-op in other threads.

    Limits nest: leaving an inner one re-arms whatever time the outer one had left."""
    def expire(signum, frame):
        raise TimeoutError

    try:
        previous = signal.signal(signal.SIGALRM, expire)
    except ValueError:  # not the main thread: no signal-based limit is possible
        yield
        return
    started = time.monotonic()
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))
