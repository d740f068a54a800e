"""Time limits for work in the main thread (SIGALRM), nestable; no processes involved.

One timer serves every limit in force: it is set for the earliest deadline, and when it fires
the outermost expired limit raises its error. So a run's overall budget is never swallowed by
an inner limit that some code catches (an inner `TimeoutError` is caught; the budget's error is
not an `Exception`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

REPEAT_SECONDS = 0.05


class Limit:
    """One limit in force: its deadline (a time.monotonic() instant) and the error it raises."""

    def __init__(self, deadline: float, error: Callable[[], BaseException]) -> None:
        self.deadline = deadline
        self.error = error

    def move(self, deadline: float) -> None:
        """End this limit at another instant instead."""
        with _alarm_blocked():
            self.deadline = deadline
            _arm()


_limits: list[Limit] = []
_installed = False


@contextmanager
def _alarm_blocked():
    """SIGALRM held back while the list of limits changes; one due meanwhile comes after."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _arm() -> None:
    if not _limits:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    earliest = min(limit.deadline for limit in _limits)
    signal.setitimer(signal.ITIMER_REAL, max(earliest - time.monotonic(), 1e-6))


def _expire(signum, frame) -> None:
    now = time.monotonic()
    for limit in _limits:
        if limit.deadline <= now:
            # Python may swallow the error (raised inside a garbage-collector callback or a
            # __del__): the timer fires again until the limit is left.
            signal.setitimer(signal.ITIMER_REAL, REPEAT_SECONDS)
            raise limit.error()
    _arm()  # woken early (a timer rounds), or the limit has just ended


@contextmanager
def time_limit(seconds: float, error: Callable[[], BaseException] = TimeoutError):
    """Raise `error()` in this (main) thread after `seconds`; a no-op in other threads.
    Yields the Limit, which can be moved."""
    global _installed
    entry = Limit(time.monotonic() + seconds, error)
    if threading.current_thread() is not threading.main_thread():
        yield entry
        return
    with _alarm_blocked():
        if not _installed:  # kept installed: a SIGALRM due while blocked must not kill us
            signal.signal(signal.SIGALRM, _expire)
            _installed = True
        _limits.append(entry)
        _arm()
    try:
        yield entry
    finally:
        with _alarm_blocked():
            _limits.remove(entry)
            _arm()


def _forget_in_child() -> None:
    """A forked child has no timer (POSIX clears it) and keeps none of its parent's limits."""
    _limits.clear()


os.register_at_fork(after_in_child=_forget_in_child)
