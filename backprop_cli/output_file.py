"""Writing the file `-o FILE` names, for a run that may fail part way.

A run can end early: its time or memory budget runs out, ctrl-C, SIGTERM or SIGHUP, a full
disk. None of these may leave a half document behind as if it were a result. A file this run
makes is removed again. An existing file of this user's keeps its old contents until the new
ones are whole: they are written to a hidden file beside it (`.NAME.*.part`), which then takes
its place with its permission bits and group. Where that would change more than the contents
(the file is another user's, has other hard links, or its group cannot be kept), or the folder
takes no new file, the file itself is written as the run goes, as a shell's `>` would, and a
failed run leaves it incomplete. A path to this process's own standard output (`/dev/stdout`)
writes on where the stream is, as `-o -` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from .errors import InputError


def folder_checked(path: str) -> None:
    """Refuse, before a long run, a path whose folder is missing or takes no new file, as
    `writing` would refuse it after the run."""
    if not path:
        raise InputError("cannot write to an empty file name ('-' is standard output)")
    if os.path.isdir(path):
        raise InputError(f"cannot write {path}: {os.strerror(21)}")
    if path == "-" or os.path.lexists(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: {os.strerror(2)}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {path}: {os.strerror(13)}")


@contextmanager
def writing(path: str, binary: bool = False) -> Iterator:
    """The file `path` names, open for writing (text in UTF-8, or bytes)."""
    if not path:
        raise InputError("cannot write to an empty file name ('-' is standard output)")

    def refused(failure: OSError) -> InputError:
        return InputError(f"cannot write {path}: {failure.strerror or failure}")

    # The file the path names (through a symbolic link, even one that points nowhere yet) and
    # whether it is there before this run.
    target = os.path.realpath(path)
    made = not os.path.lexists(target)
    mode, encoding = ("wb", None) if binary else ("w", "utf-8")
    # `unfinished` holds the file that is not yet the result (the one made, or the spare) from
    # before it exists: SIGTERM and SIGHUP remove it from then on.
    with _removed_if_ended() as unfinished:
        spare = descriptor = out = None
        try:
            stream = _STREAMS.get(os.path.normpath(path)) or (
                None if made else _standard_stream(target))
            if stream is not None:  # `-o /dev/stdout`: on at the stream's place, not from 0
                sys.stdout.flush()
                sys.stderr.flush()
                descriptor = os.dup(stream)
            elif made:
                unfinished.append(target)
            elif not path.endswith(os.sep):
                spare = _spare_beside(target, unfinished)
                descriptor = None if spare is None else spare[0]
            out = (open(path, mode, encoding=encoding) if descriptor is None  # noqa: SIM115
                   else os.fdopen(descriptor, mode, encoding=encoding))
            with out:
                yield out
            if spare is not None:
                os.chmod(spare[1], spare[2])
                os.replace(spare[1], target)
            unfinished.clear()
        except BaseException as failure:
            if out is None and descriptor is not None:  # not yet owned by a file object
                with suppress(OSError):
                    os.close(descriptor)
            for name in unfinished:
                _remove(name)
            if isinstance(failure, OSError):
                raise refused(failure) from None
            raise


def _spare_beside(target: str, unfinished: list[str]) -> tuple[int, str, int] | None:
    """A new file beside the existing file `target` to write its new contents to: (descriptor,
    path, the target's permission bits), its path put in `unfinished` as it is made; None
    where the target itself is to be written (or refused by open(), with the system's
    reason, where this user may not write it)."""
    import signal
    import stat
    import tempfile

    try:
        found = os.stat(target)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1 or \
            found.st_uid != os.geteuid() or not os.access(target, os.W_OK):
        return None
    folder, name = os.path.split(target)
    ending = {signal.SIGTERM, signal.SIGHUP}  # held until the new file is in `unfinished`
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ending)
    try:
        descriptor, spare = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        unfinished.append(spare)
    except OSError:
        return None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        if found.st_gid != os.fstat(descriptor).st_gid:  # the file keeps its group, or
            os.fchown(descriptor, -1, found.st_gid)  # it is written in place
    except OSError:
        os.close(descriptor)
        _remove(spare)
        unfinished.remove(spare)
        return None
    return descriptor, spare, stat.S_IMODE(found.st_mode)


# Paths that name this process's standard output or error whatever it is (a file since
# deleted, a socket): what is written there goes on at the stream's place.
_STREAMS = {"/dev/stdout": 1, "/dev/fd/1": 1, "/proc/self/fd/1": 1,
            "/dev/stderr": 2, "/dev/fd/2": 2, "/proc/self/fd/2": 2}


def _standard_stream(target: str) -> int | None:
    """1 or 2 where the file is this process's standard output or error (`-o /dev/stdout`,
    with the output sent on to a file), else None."""
    try:
        found = os.stat(target)
    except OSError:
        return None
    for descriptor in (1, 2):
        try:
            stream = os.fstat(descriptor)
        except OSError:
            continue
        if (stream.st_dev, stream.st_ino) == (found.st_dev, found.st_ino):
            return descriptor
    return None


def _remove(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


@contextmanager
def _removed_if_ended() -> Iterator[list[str]]:
    """While the file is written, SIGTERM and SIGHUP first remove the files in the list this
    yields (those not yet the result), then end the process by the same signal, as they
    would have at once. The handler raises nothing: an exception at an arbitrary point
    (inside an extension module's import, say) could leave the process broken. A signal the
    process was started with ignored stays ignored."""
    import signal
    import threading

    unfinished: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield unfinished
        return
    # The run's own signals (ctrl-C, the time budget's timer) are held while the handlers are
    # set, put back, or running: an exception from one of them there would leave `ended` set
    # on, or swallow the SIGTERM.
    held = {signal.SIGINT, signal.SIGALRM, signal.SIGTERM, signal.SIGHUP}

    def ended(number: int, frame) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, held - {number})
        for name in unfinished:
            _remove(name)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        kept = {number: signal.signal(number, ended)
                for number in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(number) is signal.SIG_DFL}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        yield unfinished
    finally:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            for number, handler in kept.items():
                signal.signal(number, handler)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
