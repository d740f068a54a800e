"""Each run's budget of time and memory, enforced in this process and inherited by its workers.

Time: a SIGALRM timer (deadline.py) raises `BudgetExceeded` at the deadline, wherever the main
thread is. A Python handler runs only between bytecodes, so when this is the whole process (the
console script) a CPU-time timer whose signal kills the process also runs: at the budget plus
5 s of CPU time it ends even a C call that never returns to Python (forked workers do not
inherit it).
Memory: the address-space limit (RLIMIT_AS), so an allocation over the budget fails with
MemoryError where it is made, instead of the machine swapping.
The console script also keeps every ctrl-C (one landing in a finalizer is not lost) and, before
computing on arrays, tunes glibc's malloc to reuse their memory.
"""

from __future__ import annotations

import mmap
import os
import re
import resource
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from .deadline import Limit, time_limit

DEFAULT_SECONDS = 60.0
DEFAULT_MEMORY = 2 * 1024**3
MIN_MEMORY = 256 * 1024**2
MAX_MEMORY = 2**62
MAX_SECONDS = 7 * 24 * 3600.0
BATCH_SECONDS_PER_LINE = 1.0  # a batch's default budget grows with its length
GRACE = 5.0  # seconds between the deadline and the timers that enforce it
TIME_VARIABLE = "BACKPROP_TIME_LIMIT"
MEMORY_VARIABLE = "BACKPROP_MEMORY_LIMIT"

_UNITS = {"": 1024**2, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class Budget:
    """How long a run may take (seconds of wall time) and how much memory it may map."""

    seconds: float = DEFAULT_SECONDS
    memory: int = DEFAULT_MEMORY
    seconds_given: bool = False  # chosen by the user (an option or the environment)

    def time_message(self) -> str:
        return (f"the run went over its time budget of {_seconds(self.seconds)}; allow more "
                f"with --time-limit SECONDS (or {TIME_VARIABLE}) or give a smaller input")

    def memory_message(self) -> str:
        return (f"the run went over its memory budget of {_size(self.memory)}; allow more "
                f"with --memory-limit SIZE, e.g. 4G (or {MEMORY_VARIABLE}), or give a "
                "smaller input")


class BudgetExceeded(BaseException):
    """The time budget ran out. Not an Exception, so no `except Exception` on the way out
    (a SymPy call's own limit, a failed sample) can mistake it for its own failure."""


def parse_seconds(text: str, source: str) -> float:
    """A time budget in seconds: a positive number, at most a week."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_SECONDS:
        raise _input_error(f"{source} must be a number of seconds above 0 and at most "
                           f"{MAX_SECONDS:g} (a week), not {text}")
    return seconds


def parse_memory(text: str, source: str) -> int:
    """A memory budget: a number with a binary unit K, M, G or T (`512M`, `2G`, `1.5GiB`);
    a bare number is MiB."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if match is None:
        raise _input_error(f"{source} must be a size such as 512M or 2G, not {text!r}")
    scaled = float(match.group(1)) * _UNITS[match.group(2).lower()]
    size = MAX_MEMORY if not scaled < MAX_MEMORY else int(scaled)  # beyond any machine: no cap
    if size < MIN_MEMORY:
        raise _input_error(f"{source} must be at least {_size(MIN_MEMORY)} (Python and its "
                           f"libraries need that much), not {text!r}")
    return size


def from_options(seconds: float | None, memory: str | None,
                 environ: Mapping[str, str] = os.environ) -> Budget:
    """The budget from --time-limit and --memory-limit, else the environment, else defaults."""
    given = seconds is not None or bool(environ.get(TIME_VARIABLE))
    if seconds is not None:
        seconds = parse_seconds(str(seconds), "--time-limit")
    elif environ.get(TIME_VARIABLE):
        seconds = parse_seconds(environ[TIME_VARIABLE], TIME_VARIABLE)
    if memory is not None:
        size = parse_memory(memory, "--memory-limit")
    elif environ.get(MEMORY_VARIABLE):
        size = parse_memory(environ[MEMORY_VARIABLE], MEMORY_VARIABLE)
    else:
        size = DEFAULT_MEMORY
    return Budget(DEFAULT_SECONDS if seconds is None else seconds, size, given)


_current: Budget | None = None
_limit: Limit | None = None
_started = 0.0
_whole_process = False


def own_the_process() -> None:
    """This process runs one command and ends (the console script): the hard CPU limit, which
    cannot be lifted again, may be set, and a ctrl-C is never lost (see `_on_ctrl_c`)."""
    global _whole_process
    _whole_process = True
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored by the parent
        signal.signal(signal.SIGINT, _on_ctrl_c)
        sys.unraisablehook = _unraisable


_ctrl_c = False


def _on_ctrl_c(signum, frame) -> None:
    """Python's own handler, which also remembers the ctrl-C: one that lands while Python runs
    a finalizer or a weakref callback (a worker's pipe being closed) raises there, where
    Python can only report it ("Exception ignored") and go on."""
    global _ctrl_c
    _ctrl_c = True
    raise KeyboardInterrupt


def _unraisable(unraisable) -> None:
    """Python's report of an exception it cannot raise, without the swallowed ctrl-C: that
    one is remembered, and raised again by `reraise_ctrl_c`."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def reraise_ctrl_c() -> None:
    """Raise KeyboardInterrupt again for a ctrl-C that was swallowed where it landed."""
    if _ctrl_c:
        raise KeyboardInterrupt


def end_on_interrupt() -> None:
    """After the first ctrl-C a process that runs one command only ends: a further ctrl-C
    landing while it does would print a second line or Python's traceback of it."""
    if _whole_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def current() -> Budget:
    """The budget in force (the defaults outside a run)."""
    return _current or Budget()


def deadline() -> float | None:
    """The time.monotonic() instant the running command's budget ends, if one is in force."""
    return _limit.deadline if _limit is not None else None


def for_batch(lines: int, grace: float = GRACE) -> float | None:
    """The deadline of a batch of `lines` problems, which stops grading cooperatively then:
    unless the user chose the time, the budget grows by BATCH_SECONDS_PER_LINE per line, and
    the timer that would interrupt the run moves `grace` seconds later, so the batch can still
    write a row for every line."""
    global _current
    if _limit is None or _current is None:
        return None
    if not _current.seconds_given:
        _current = Budget(_current.seconds + BATCH_SECONDS_PER_LINE * lines, _current.memory)
    return cooperative(grace)


def cooperative(grace: float = GRACE) -> float | None:
    """The deadline of a run that stops itself there and keeps what it has done (a batch's
    rows, a training run's steps): the timers that would interrupt it move `grace` seconds
    later. None outside a run."""
    if _limit is None or _current is None:
        return None
    end = _started + _current.seconds
    _set_cpu_timer(end + grace - time.monotonic())
    _limit.move(end + grace)
    return end


@contextmanager
def enforced(budget: Budget) -> Iterator[Budget]:
    """Run the body within `budget`; restores the previous limits afterwards (tests run many
    commands in one process)."""
    global _current, _limit, _started
    address_space = resource.getrlimit(resource.RLIMIT_AS)
    _current, _started = budget, time.monotonic()
    try:
        _set_memory_limit(budget.memory)
        _set_cpu_timer(budget.seconds + GRACE)
        with time_limit(budget.seconds, BudgetExceeded) as limit:
            _limit = limit
            yield budget
    finally:
        _current, _limit = None, None
        resource.setrlimit(resource.RLIMIT_AS, address_space)
        if _whole_process:
            signal.setitimer(signal.ITIMER_PROF, 0)


@contextmanager
def waiting() -> Iterator[None]:
    """Time spent waiting for a person to type (practice) is not the run's: the wall-clock
    budget stands still meanwhile (CPU time does not pass either)."""
    global _started
    if _limit is None:
        yield
        return
    before, deadline_then = time.monotonic(), _limit.deadline
    _limit.move(before + MAX_SECONDS)
    try:
        yield
    finally:
        waited = time.monotonic() - before
        _started += waited
        _limit.move(deadline_then + waited)


@contextmanager
def side_by_side(threads: int) -> Iterator[None]:
    """While `threads` threads compute at once, CPU time passes up to `threads` times as fast
    as wall time: the CPU-time stop moves so that it still falls after the wall-clock deadline
    (which stays the budget), and moves back afterwards."""
    if _limit is None or not _whole_process:
        yield
        return
    _set_cpu_timer(threads * (_limit.deadline - time.monotonic() + GRACE))
    try:
        yield
    finally:
        _set_cpu_timer(_limit.deadline - time.monotonic() + GRACE)


# mallopt's parameters (glibc's malloc.h), and the thresholds for arrays: where glibc's own
# adjustment ends once blocks of 32 MiB have been freed (blocks up to 32 MiB from the heap, and
# up to twice that kept free there).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
ARRAYS_MMAP_THRESHOLD = 32 * 1024**2
ARRAYS_TRIM_THRESHOLD = 2 * ARRAYS_MMAP_THRESHOLD
_TUNED_BY_USER = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def tune_for_arrays() -> None:
    """In a whole process on glibc: freed arrays' memory stays for the next ones. By default
    glibc maps each block over 128 KiB afresh and gives back the top of the heap whenever
    128 KiB is free there, so a loop that frees its arrays and makes the same ones again (a
    sweep's chunks, a training step) faults in every page of them every time. A library
    caller's malloc is left alone: the setting lasts for the rest of the process."""
    if not _whole_process or any(name in os.environ for name in _TUNED_BY_USER):
        return
    mallopt = _mallopt()
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, ARRAYS_MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, ARRAYS_TRIM_THRESHOLD)


def _mallopt():
    """glibc's mallopt, or None under another C library."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError, AttributeError):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):  # a Python built without ctypes
        return None


def _set_memory_limit(size: int) -> None:
    """The whole process may map `size` bytes; a process that runs commands among other work
    (a test suite) may map `size` more than it already has."""
    if not _whole_process:
        size += _mapped()
    cap_address_space(size)


def cap_child(memory: int | None = None) -> None:
    """In a forked child: the run's memory budget (which, as for its parent, comes on top of
    the mappings of a process that runs among other work), or the absolute cap `memory` when
    that is smaller."""
    budget = current().memory + (0 if _whole_process else _mapped())
    cap_address_space(budget if memory is None else min(memory, budget))


def above_mapped(size: int) -> int:
    """An absolute cap `size` above what this process maps, unless it runs one command and
    ends (the console script): a library caller may already map more than `size`."""
    return size + (0 if _whole_process else _mapped())


def cap_address_space(size: int) -> None:
    """Limit this process's address space to `size` bytes (never above the hard limit; a size
    beyond any machine, which setrlimit could not even take, is no limit)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = resource.RLIM_INFINITY if size >= MAX_MEMORY else size
    if hard != resource.RLIM_INFINITY:
        soft = hard if soft == resource.RLIM_INFINITY else min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def reserve(size: int) -> None:
    """MemoryError unless `size` bytes of address space can still be mapped (an anonymous
    mapping: no page of it is touched). Called before orjson, which cannot report an
    allocation that fails: the process would die instead. (mmap is imported with the budget,
    before any budget is tight.)"""
    try:
        mmap.mmap(-1, size).close()
    except OSError:
        raise MemoryError from None


def room() -> int | None:
    """How many more bytes this process may map under its address-space limit (None when
    there is no limit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(soft - _mapped(), 0)


def _mapped() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _set_cpu_timer(seconds: float) -> None:
    """In a whole process, end it (SIGPROF, whose default action terminates) after `seconds`
    more CPU seconds, however stuck it is."""
    if _whole_process:
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.01))


def _input_error(message: str):
    from .errors import InputError

    return InputError(message)


def _seconds(seconds: float) -> str:
    return f"{seconds:g} s"


def _size(size: int) -> str:
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
