"""Every run within its budget of time and memory, and inputs within their size limit.

Slow or memory-hungry cases run as real processes with small budgets, so the suite stays fast;
what is asserted is the outcome (one line naming the budget, exit code 2), never a duration.
"""

from __future__ import annotations

import ast
import json
import math
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backprop_cli import budget
from backprop_cli.budget import Budget, BudgetExceeded, enforced, parse_memory
from backprop_cli.cli import app
from backprop_cli.commands.arguments import MAX_INPUT_BYTES
from backprop_cli.deadline import time_limit
from backprop_cli.errors import ExitCode, InputError

runner = CliRunner()


def run(*args: str, env: dict | None = None, stdin=subprocess.DEVNULL, timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "backprop_cli", *args], capture_output=True,
                          text=True, stdin=stdin, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def chain(length: int) -> str:
    """A program whose every node depends on the one before: long to run, small to write."""
    return "\n".join(["z0 = x", *(f"z{k} = sin(z{k - 1})*x" for k in range(1, length))])


# ----------------------------------------------------------------------------------------------
# The budget's own rules


@pytest.mark.parametrize(("text", "size"), [("512M", 512 * 1024**2), ("2G", 2 * 1024**3),
                                            ("1.5GiB", 3 * 1024**3 // 2), ("300", 300 * 1024**2),
                                            ("4096k", None), ("1T", 1024**4)])
def test_memory_sizes_are_binary_units(text, size):
    if size is None:
        with pytest.raises(InputError, match="at least 256 MiB"):
            parse_memory(text, "--memory-limit")
    else:
        assert parse_memory(text, "--memory-limit") == size


@pytest.mark.parametrize("text", ["", "2Q", "-1G", "lots", "1e3G"])
def test_a_bad_size_is_refused(text):
    with pytest.raises(InputError, match="512M or 2G"):
        parse_memory(text, "--memory-limit")


def test_option_wins_over_environment_and_environment_over_default():
    env = {"BACKPROP_TIME_LIMIT": "7", "BACKPROP_MEMORY_LIMIT": "1G"}
    assert budget.from_options(None, None, {}) == Budget(60.0, 2 * 1024**3, False)
    assert budget.from_options(None, None, env) == Budget(7.0, 1024**3, True)
    assert budget.from_options(3.0, "512M", env) == Budget(3.0, 512 * 1024**2, True)
    with pytest.raises(InputError, match="BACKPROP_TIME_LIMIT"):
        budget.from_options(None, None, {"BACKPROP_TIME_LIMIT": "soon"})


def test_an_inner_time_limit_never_swallows_the_budget():
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), enforced(Budget(0.2, 2 * 1024**3)):
        while True:
            try:
                with time_limit(5.0):
                    while True:
                        pass
            except TimeoutError:  # what a SymPy call's own limit would catch
                pass
            except Exception:  # what a failed sample would catch
                pass
    assert time.monotonic() - started < 5.0


def test_limits_are_restored_after_a_run():
    before = resource.getrlimit(resource.RLIMIT_AS)
    with enforced(Budget(30.0, 1024**3)):
        assert resource.getrlimit(resource.RLIMIT_AS)[0] >= 1024**3
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_command_in_process_leaves_no_limit_behind():
    before = resource.getrlimit(resource.RLIMIT_AS)
    result = runner.invoke(app, ["grad", "x*y", "--x", "1", "--y", "2", "--time-limit", "30",
                                 "--memory-limit", "1G"])
    assert result.exit_code == 0, result.stderr
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# ----------------------------------------------------------------------------------------------
# Commands over their budget


# Python swallows an error raised inside a garbage-collector callback (hypothesis registers
# one); the timer then fires again, and pytest reports the swallowed one as a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_time_budget_ends_a_long_run_with_one_line():
    result = runner.invoke(app, ["grad", chain(20_000), "--x", "0.5", "--time-limit", "0.05"])
    assert result.exit_code == 2
    line = one_line(result.stderr)
    assert "time budget of 0.05 s" in line and "--time-limit" in line


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_time_budget_under_json_is_one_error_document():
    import json

    result = runner.invoke(app, ["grad", chain(20_000), "--x", "0.5", "--time-limit", "0.05",
                                 "--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["error"]["code"] == "budget_exceeded"


def test_time_budget_from_the_environment(tmp_path):
    program = tmp_path / "chain.bp"
    program.write_text(chain(20_000))
    result = run("grad", "--file", str(program), "--x", "0.5",
                 env={"BACKPROP_TIME_LIMIT": "0.05"})
    assert result.returncode == 2
    assert "time budget of 0.05 s" in one_line(result.stderr)


def test_memory_budget_ends_a_hungry_run_with_one_line(tmp_path):
    # 150,000 statements of three nodes each need about 380 MiB: over the smallest budget
    # allowed (at about 0.8 KB a node)
    program = tmp_path / "wide.bp"
    program.write_text("a0=x\n" + "\n".join(f"a{k}=tanh(a{k - 1}*x)+y" for k in range(1, 150_000))
                       + "\no = a0 + a1")
    result = run("grad", "--file", str(program), "--x", "0.5", "--y", "1", "--json",
                 "--memory-limit", "256M")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "memory budget of 256 MiB" in line and "--memory-limit" in line
    assert json.loads(result.stdout)["error"]["code"] == "budget_exceeded"


@pytest.mark.parametrize("points", ["5000000", "6500000"])
def test_a_long_sweep_at_the_edge_of_its_memory_budget_never_crashes(tmp_path, points):
    # At these sizes the CSV writer's last blocks fall near 256 MiB, where orjson, which cannot
    # report a failed allocation, crashed the process: the run completes or says why not.
    out = tmp_path / "sweep.csv"
    result = run("sweep", "x*x + tanh(x)", "--x", "-1:1", "--points", points, "--format", "csv",
                 "-o", str(out), "--memory-limit", "256M")
    assert result.returncode in (0, 2), result.returncode
    if result.returncode == 2:
        assert "memory budget of 256 MiB" in one_line(result.stderr)
        assert not out.exists()
    else:
        with open(out, "rb") as handle:
            handle.seek(-200, os.SEEK_END)
            last = [float(cell) for cell in handle.read().decode().split()[-1].split(",")]
        assert last[0] == 1.0
        assert math.isclose(last[1], 1 + math.tanh(1), rel_tol=1e-15)
        assert math.isclose(last[2], 2 + 1 / math.cosh(1) ** 2, rel_tol=1e-15)


GLIBC = budget._mallopt() is not None
# mallopt's parameter numbers in glibc's malloc.h
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def mallopt_calls(*args: str, env: dict | None = None) -> list:
    """The console script's calls of mallopt (parameter, value, glibc's answer) in a run."""
    code = textwrap.dedent("""
        import atexit, sys
        from backprop_cli import budget, console

        calls, real = [], budget._mallopt()

        def recorded(parameter, value):
            calls.append((parameter, value, real(parameter, value)))

        budget._mallopt = lambda: recorded
        atexit.register(lambda: print(calls, file=sys.stderr))
        sys.argv = ["backprop", *sys.argv[1:]]
        console.main()
    """)
    environment = {name: value for name, value in os.environ.items()
                   if name not in budget._TUNED_BY_USER}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            text=True, timeout=60, env={**environment, **(env or {})})
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stderr)


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc")
def test_the_console_script_tunes_malloc_before_computing_on_arrays():
    # Blocks up to 32 MiB from the heap, 64 MiB of it kept free; glibc accepts both (1).
    assert mallopt_calls("sweep", "x*x", "--x", "-1:1", "--points", "5", "--json") == [
        (M_MMAP_THRESHOLD, 32 * 1024**2, 1), (M_TRIM_THRESHOLD, 64 * 1024**2, 1)]


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc")
@pytest.mark.parametrize("env", [{"MALLOC_TRIM_THRESHOLD_": "1000000"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"}])
def test_malloc_tuned_by_the_user_is_left_alone(env):
    assert mallopt_calls("sweep", "x*x", "--x", "-1:1", "--points", "5", "--json",
                         env=env) == []


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc")
def test_a_scalar_command_leaves_malloc_alone():
    assert mallopt_calls("grad", "x*y", "--x", "1", "--y", "2", "--json") == []


def test_a_library_callers_malloc_is_left_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(budget, "_mallopt", lambda: lambda *call: calls.append(call))
    result = runner.invoke(app, ["sweep", "x*x", "--x", "-1:1", "--points", "5", "--json"])
    assert result.exit_code == 0, result.output
    budget.tune_for_arrays()
    assert calls == []


def test_a_two_thread_sweep_in_a_tuned_process_matches_the_closed_form(tmp_path):
    # The console script keeps freed arrays in the process (glibc's malloc tuned): every one
    # of 200,001 points, computed in two threads that each reuse their chunks' memory, is
    # x*x + tanh(x) and its derivative 2x + sech(x)^2.
    import numpy as np

    out = tmp_path / "sweep.csv"
    result = run("sweep", "x*x + tanh(x)", "--x", "-3:3", "--points", "200001", "--format",
                 "csv", "-o", str(out))
    assert result.returncode == 0, result.stderr
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    x = np.linspace(-3, 3, 200001)
    assert np.array_equal(table[:, 0], x)
    assert np.allclose(table[:, 1], x * x + np.tanh(x), rtol=1e-14, atol=0)
    assert np.allclose(table[:, 2], 2 * x + 1 / np.cosh(x) ** 2, rtol=1e-14, atol=0)


def test_a_ctrl_c_that_lands_in_a_weakref_callback_is_not_lost():
    # Python can only report ("Exception ignored") a KeyboardInterrupt raised inside a weakref
    # callback or a finalizer, such as the one closing a checker's pipe, and goes on: the
    # console script remembers it, raises it again at its next check, and prints nothing.
    code = textwrap.dedent("""
        import os, signal, weakref
        from backprop_cli import budget
        budget.own_the_process()

        class Pipe:
            pass

        def closed(_):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs here, between bytecodes
                pass
            print("callback ended")

        pipe = Pipe()
        watch = weakref.ref(pipe, closed)
        del pipe
        print("went on")
        try:
            budget.reraise_ctrl_c()
        except KeyboardInterrupt:
            print("raised again")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split("\n")[:2] == ["went on", "raised again"], result
    assert result.stderr == ""


def test_a_ctrl_c_swallowed_while_a_checker_pipe_is_closed_still_ends_the_batch(tmp_path):
    # The first ctrl-C lands inside a pipe's finalizer, as a real one can when a checker is
    # started or stopped: the batch ends there (exit 130, one line) instead of grading on.
    path = tmp_path / "b.jsonl"
    path.write_text("\n".join([json.dumps({"id": "fast", "expr": "x*y", "at": {"x": 1, "y": 2},
                                            "expect": ["d/dx=2"]})]
                              + [json.dumps({"id": "busy", "expr": "x**(9**9**9)", "wrt": "x",
                                             "answer": "1"})] * 3) + "\n")
    code = textwrap.dedent("""
        import os, signal, sys
        import multiprocessing.connection as connection
        from backprop_cli import console

        finalize, parent, fired = connection._ConnectionBase.__del__, os.getpid(), []

        def interrupted_inside(self):
            if not fired and os.getpid() == parent:
                fired.append(True)
                os.kill(parent, signal.SIGINT)
                for _ in range(1000):  # the handler runs here
                    pass
            finalize(self)

        connection._ConnectionBase.__del__ = interrupted_inside
        sys.argv = ["backprop", *sys.argv[1:]]
        console.main()
    """)
    result = subprocess.run([sys.executable, "-c", code, "check", "--batch", str(path),
                             "--json", "--timeout", "1"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == ExitCode.INTERRUPTED, result.stderr
    assert result.stderr == "error: interrupted\n"
    assert '"busy"' not in result.stdout  # no line graded after the ctrl-C


def test_a_ctrl_c_between_typer_and_the_command_is_one_line():
    code = textwrap.dedent("""
        import sys
        from backprop_cli import cli, console

        def interrupted(*args):
            raise KeyboardInterrupt

        cli.execute = interrupted
        sys.argv = ["backprop", "grad", "x", "--x", "1"]
        console.main()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == ExitCode.INTERRUPTED
    assert result.stderr == "error: interrupted\n"


def test_a_ctrl_c_the_parent_ignores_stays_ignored(tmp_path):
    # A job started with SIGINT ignored (a shell's background job) is not ended by it.
    out = tmp_path / "sweep.csv"
    command = " ".join([sys.executable, "-m", "backprop_cli", "sweep", "'x*x'", "--x", "-1:1",
                        "--points", "2000000", "--format", "csv", "-o", str(out)])
    process = subprocess.Popen(["sh", "-c", f"trap '' INT; exec {command}"],
                               stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)  # sh has set its trap
    while process.poll() is None:
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
    assert process.returncode == 0, process.stderr.read()
    with open(out, "rb") as handle:
        handle.seek(-100, os.SEEK_END)
        assert handle.read().decode().split()[-1] == "1.0,1.0,2.0"


def test_a_computation_stuck_in_c_is_ended_by_the_cpu_timer():
    # sum() over a range runs in C without looking at signals, so the wall-clock timer's Python
    # handler never runs; the CPU timer ends the process anyway.
    code = textwrap.dedent("""
        from backprop_cli import budget
        budget.GRACE = 0.5
        budget.own_the_process()
        with budget.enforced(budget.Budget(0.2, 2 * 1024**3)):
            sum(range(10**14))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGPROF


def test_the_cpu_timer_allows_two_threads_until_the_wall_deadline():
    # Two threads computing at once spend CPU time twice as fast as the clock: while they run,
    # the CPU stop must still fall after the wall-clock deadline (budget + grace), and it
    # comes back to one thread's measure afterwards.
    code = textwrap.dedent("""
        import signal
        from backprop_cli import budget
        budget.own_the_process()
        with budget.enforced(budget.Budget(10.0, 2 * 1024**3)):
            before = signal.getitimer(signal.ITIMER_PROF)[0]
            with budget.side_by_side(2):
                during = signal.getitimer(signal.ITIMER_PROF)[0]
            after = signal.getitimer(signal.ITIMER_PROF)[0]
        print(before, during, after)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    before, during, after = map(float, result.stdout.split())
    one = 10 + budget.GRACE  # the timer rounds up to its tick
    assert one - 1 < before < one + 0.1
    assert 2 * one - 2 < during < 2 * one + 0.1
    assert one - 1 < after < one + 0.1


def test_an_output_file_a_failed_run_made_is_removed_and_one_it_found_is_kept(tmp_path):
    from backprop_cli.commands.base import View

    made = tmp_path / "made.csv"
    _half_written(made, BudgetExceeded)
    assert not made.exists()
    found = tmp_path / "found.csv"
    found.write_text("old\n")
    _half_written(found, BudgetExceeded)
    assert found.read_text() == "old\n"
    with View("csv", 6, None, str(made)).stream() as out:
        out.write("whole\n")
    assert made.read_text() == "whole\n"
    link = tmp_path / "link.csv"  # a link to a file not made yet: the file is the run's
    link.symlink_to(tmp_path / "target.csv")
    _half_written(link, BudgetExceeded)
    assert not (tmp_path / "target.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found.csv", "link.csv", "made.csv"]


def _half_written(path: Path, failure: type[BaseException]) -> None:
    """A run that writes part of `path` through -o and then fails with `failure`."""
    from backprop_cli.commands.base import View

    with pytest.raises(failure), View("csv", 6, None, str(path)).stream() as out:
        out.write("half")
        raise failure


def test_an_existing_output_file_is_replaced_whole_with_its_permissions(tmp_path):
    from backprop_cli.commands.base import View

    found = tmp_path / "found.csv"
    found.write_text("old\n")
    found.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(found)
    for name in (found, link):
        _half_written(name, KeyboardInterrupt)
        assert found.read_text() == "old\n"
    with View("csv", 6, None, str(link)).stream() as out:
        out.write("whole\n")
    assert link.is_symlink() and found.read_text() == "whole\n"
    assert found.stat().st_mode & 0o777 == 0o640
    if os.geteuid() == 0:  # a group this user is not in: only root may give it
        os.chown(found, -1, 100)
        with View("csv", 6, None, str(found)).stream() as out:
            out.write("grouped\n")
        assert (found.read_text(), found.stat().st_gid) == ("grouped\n", 100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found.csv", "link.csv"]


def test_a_pipe_as_the_output_file_is_written_as_it_goes(tmp_path):
    import threading

    from backprop_cli.commands.base import View

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    with View("csv", 6, None, str(pipe)).stream() as out:
        out.write("through\n")
    reader.join(10)
    assert received == ["through\n"]
    assert pipe.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_file_that_cannot_be_replaced_is_written_where_it_is(tmp_path, monkeypatch):
    # A folder that takes no new file (mkstemp refused): the file is written in place, as
    # before, and a second name for it (a hard link) is written in place too.
    import tempfile

    from backprop_cli.commands.base import View

    found = tmp_path / "found.csv"
    found.write_text("old\n")
    inode = found.stat().st_ino
    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", lambda **_: (_ for _ in ()).throw(PermissionError))
        with View("csv", 6, None, str(found)).stream() as out:
            out.write("new\n")
    assert found.read_text() == "new\n" and found.stat().st_ino == inode
    (tmp_path / "other.csv").hardlink_to(found)
    with View("csv", 6, None, str(found)).stream() as out:
        out.write("both\n")
    assert (tmp_path / "other.csv").read_text() == "both\n"


def test_graph_to_an_existing_file_replaces_it_with_what_standard_output_shows(tmp_path,
                                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("graph.dot").write_text("an older drawing, longer than the new one " * 100)
    inode = Path("graph.dot").stat().st_ino
    command = ["graph", "x*y + sin(x)", "--x", "1", "--y", "2", "--format", "dot"]
    shown = CliRunner().invoke(app, command)
    written = CliRunner().invoke(app, [*command, "-o", "graph.dot"])
    assert shown.exit_code == written.exit_code == 0
    assert Path("graph.dot").read_text() == shown.stdout
    assert Path("graph.dot").stat().st_ino != inode  # a new file took the old one's place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.dot"]
    assert "empty file name" in one_line(run("graph", "x", "--x", "1", "-o", "").stderr)


def test_dev_stdout_as_the_output_file_writes_on_where_standard_output_is(tmp_path):
    command = [sys.executable, "-m", "backprop_cli", "sweep", "x*x", "--x", "-1:1", "--points",
               "3", "--format", "csv", "-o"]
    expected = subprocess.run([*command, "-"], capture_output=True, text=True, check=True).stdout
    out = tmp_path / "out.txt"
    script = f"{{ echo header; {' '.join(command)} /dev/stdout; echo footer; }} > {out}"
    subprocess.run(["sh", "-c", script], check=True, timeout=60)
    assert out.read_text() == "header\n" + expected + "footer\n"


def test_dev_stdout_sent_to_a_deleted_file_is_still_standard_output():
    import tempfile

    command = [sys.executable, "-m", "backprop_cli", "sweep", "x*x", "--x", "-1:1", "--points",
               "3", "--format", "csv", "-o"]
    expected = subprocess.run([*command, "-"], capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryFile() as out:  # already unlinked
        out.write(b"header\n")
        out.flush()
        subprocess.run([*command, "/dev/stdout"], stdout=out, check=True, timeout=60)
        out.seek(0)
        assert out.read().decode() == "header\n" + expected


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGHUP])
def test_a_run_ended_by_sigterm_or_sighup_leaves_no_half_file(tmp_path, ending):
    found, made = tmp_path / "found.csv", tmp_path / "made.csv"
    found.write_text("old\n")
    for out in (found, made):
        process = subprocess.Popen([sys.executable, "-m", "backprop_cli", "sweep", "x*x",
                                    "--x", "-1:1", "--points", "10000000", "--format", "csv",
                                    "-o", str(out)], stderr=subprocess.PIPE)
        while not any(p.name.endswith(".part") or p == made for p in tmp_path.iterdir()):
            time.sleep(0.01)  # the run has begun to write
        process.send_signal(ending)
        process.wait(60)
        assert process.returncode == -ending
    assert found.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found.csv"]


def test_dash_as_the_output_file_is_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sweep", "x^2", "--x", "-1:3", "--points", "3", "--format",
                                      "csv", "-o", "-"])
    assert result.exit_code == 0
    assert result.stdout.split() == ["x,value,derivative", "-1.0,1.0,-2.0", "1.0,1.0,2.0",
                                     "3.0,9.0,6.0"]
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# Input files


def test_an_oversize_file_is_refused_before_it_is_read(tmp_path):
    table = tmp_path / "table.csv"
    with open(table, "w") as handle:
        handle.write("node,value,adjoint\n")
        handle.truncate(MAX_INPUT_BYTES + 1)
    result = run("check", "x*y", "--x", "1", "--y", "2", "--table", str(table))
    assert result.returncode == 2
    assert "larger than the input limit of 16 MiB" in one_line(result.stderr)


@pytest.mark.parametrize("option", ["--file", "--table", "--batch"])
def test_an_endless_device_is_refused(option):
    args = {"--file": ["grad", "--file", "/dev/zero", "--x", "1"],
            "--table": ["check", "x", "--x", "1", "--table", "/dev/zero"],
            "--batch": ["check", "--batch", "/dev/zero"]}[option]
    result = run(*args)
    assert result.returncode == 2
    assert "/dev/zero is larger than the input limit" in one_line(result.stderr)


def test_oversize_standard_input_is_refused():
    result = subprocess.run([sys.executable, "-m", "backprop_cli", "grad", "--file", "-",
                             "--x", "1"], input=b"x" * (MAX_INPUT_BYTES + 10),
                            capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"standard input is larger than the input limit" in result.stderr


def test_a_fifo_without_a_writer_never_hangs(tmp_path):
    fifo = tmp_path / "program.fifo"
    os.mkfifo(fifo)
    result = run("grad", "--file", str(fifo), "--x", "1", "--time-limit", "0.5", timeout=30)
    assert result.returncode == 2
    assert "no end of input within the run's time budget" in one_line(result.stderr)


def test_a_fifo_with_a_writer_is_read(tmp_path):
    fifo = tmp_path / "program.fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen([sys.executable, "-m", "backprop_cli", "grad", "--file",
                                str(fifo), "--x", "3", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    with open(fifo, "w") as writer:
        writer.write("x*x")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert '"x":6.0' in out


def test_closed_standard_input_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "backprop_cli", "grad", "--file", "-", "--x", "1"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(0))
    assert result.returncode == 2
    assert "standard input is closed" in one_line(result.stderr)


def test_a_batch_over_its_time_budget_still_gives_every_row(tmp_path):
    slow = '{"id": %d, "expr": "besseli(y, x)", "wrt": "x", "answer": "besseli(y, x)"}'
    batch = tmp_path / "class.jsonl"
    batch.write_text("\n".join(slow % k for k in range(6)) + "\n")
    result = run("check", "--batch", str(batch), "--json", "--timeout", "60",
                 "--time-limit", "1.5")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == list(range(6))
    assert {row["error"]["code"] for row in rows} == {"time_budget"}
    assert result.returncode == ExitCode.INCOMPLETE
    assert one_line(result.stderr) == ("error: the batch is incomplete: 6 of 6 lines were not "
                                       "graded (the run's time budget ran out; allow more with "
                                       "--time-limit SECONDS)")


def test_a_batch_budget_grows_with_its_lines_unless_the_user_chose_it():
    with enforced(Budget(60.0, 2 * 1024**3)):
        started = time.monotonic()
        end = budget.for_batch(100)
        assert 160.0 - 1.0 < end - started <= 160.0
        assert budget.current().seconds == 160.0
    with enforced(Budget(10.0, 2 * 1024**3, seconds_given=True)):
        started = time.monotonic()
        end = budget.for_batch(100)
        assert 10.0 - 1.0 < end - started <= 10.0
    assert budget.for_batch(100) is None  # no run, no deadline


@pytest.mark.parametrize("command", [["grad", "x*y", "--x", "1", "--y", "2"],
                                     ["check", "x^2", "--wrt", "x", "--answer", "2x"]])
def test_a_memory_budget_beyond_any_machine_is_no_limit(command):
    result = run(*command, "--memory-limit", "99999999999999999999G")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_reader_that_closes_the_pipe_early_is_told_apart_from_a_whole_output(tmp_path):
    program = tmp_path / "wide.bp"
    program.write_text("\n".join(f"z{k} = x*y" for k in range(20_000)) + "\no = z0 + z1")
    process = subprocess.Popen([sys.executable, "-m", "backprop_cli", "grad", "--file",
                                str(program), "--x", "1", "--y", "2", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.read(10)
    process.stdout.close()  # as `| head -c 10` does
    error = process.stderr.read()
    assert process.wait(timeout=60) == 2
    assert one_line(error) == ("error: cannot write the output: the reader closed the pipe, so "
                               "the output is incomplete")


def test_ctrl_c_while_the_cli_is_still_loading_is_one_line():
    code = textwrap.dedent("""
        import sys
        from backprop_cli import console

        class Interrupted:
            def find_spec(self, name, path=None, target=None):
                if name == "backprop_cli.cli":
                    raise KeyboardInterrupt

        sys.meta_path.insert(0, Interrupted())
        console.main()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == ExitCode.INTERRUPTED
    assert result.stderr == "error: interrupted\n"


def test_a_memory_limit_of_hundreds_of_digits_is_no_limit():
    assert parse_memory("9" * 400 + "G", "--memory-limit") == budget.MAX_MEMORY


def test_limits_entered_and_left_as_the_timer_fires_leave_nothing_behind():
    # The timer's handler can run at any bytecode, also while the list of limits changes;
    # whatever the timing, no limit may stay behind and the signal may not stay blocked.
    import random

    from backprop_cli import deadline

    randomly = random.Random(9)
    stopped = time.monotonic() + 2.0
    while time.monotonic() < stopped:
        try:
            with time_limit(randomly.uniform(1e-5, 2e-3)):
                end = time.monotonic() + 1e-3
                while time.monotonic() < end:
                    pass
        except TimeoutError:
            pass
        assert deadline._limits == []
        assert signal.SIGALRM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


def test_a_checker_process_gets_the_smaller_of_its_cap_and_the_budget():
    code = textwrap.dedent("""
        import resource
        from backprop_cli import budget
        from backprop_cli.bounded import run_bounded

        def soft_limit():
            return resource.getrlimit(resource.RLIMIT_AS)[0]

        budget.own_the_process()
        with budget.enforced(budget.Budget(60, 300 * 1024**2)):
            print(run_bounded(soft_limit, (), 30, memory=1024**3).value)
            print(run_bounded(soft_limit, (), 30, memory=100 * 1024**2).value)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == [str(300 * 1024**2), str(100 * 1024**2)], result.stderr


def test_a_checker_process_that_cannot_start_is_an_outcome(monkeypatch):
    from backprop_cli import bounded

    def no_process(*args):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(bounded, "_start", no_process)
    outcome = bounded.run_bounded(abs, (1,), 10)
    assert not outcome.ok and "could not start a checker process" in outcome.reason
