"""Benchmark backprop-cli: cold start, engine passes, the end-to-end run of a large program, the
sweep, the Hessian and Jacobian against grad, and hostile inputs against the time and memory
budget.

    python benchmarks/bench.py [--quick] [--repeat N] [--sizes 1000,10000,100000] [--profile]

Everything is measured in one run and reported as medians with their spread and as ratios,
because the machines we run on are noisy (see GUIDE.md, "Performance"). Targets are printed as
PASS/MISS for information only: the script exits 0 unless it crashes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from backprop_cli import api, budget
from backprop_cli.engine import compile_tape, run_forward, run_reverse
from backprop_cli.gradient import evaluate, leaf_values
from backprop_cli.graph import build_graph
from backprop_cli.parse import parse_program
from backprop_cli.render import json_format

COLD_START_TARGET = 1.15  # command / `python -c "import sympy"`
HESSIAN_TARGET = 3.0  # hessian / grad --json on a 5,000-node program
HESSIAN_SIZES = (1_000, 2_500, 5_000)
JACOBIAN_TARGET = 1.5  # jacobian with 10 outputs / one grad --json
JACOBIAN_NODES = 10_000
BACKWARD_TARGET = 2.0  # backward / forward
END_TO_END_TARGET = 3.0  # seconds, 10^5-node program through the CLI
END_TO_END_TARGET_NODES = 100_000

BUDGET_SECONDS = budget.DEFAULT_SECONDS  # what every command gets unless told otherwise
BUDGET_BYTES = budget.DEFAULT_MEMORY

EXAMPLE = ["grad", "x*y + tanh(x)", "--x", "1", "--y", "2"]
POINT = {"x": "0.5", "y": "-1.25", "w": "0.75"}
DEFAULT_SIZES = (1_000, 10_000, 100_000)


# ----------------------------------------------------------------------------------------------
# Statistics and printing


def summary(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max and interquartile range of a list of timings."""
    ordered = sorted(samples)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "iqr": q3 - q1, "n": len(ordered)}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> None:
    """Left-align the first column, right-align the others."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(cells[0]).ljust(widths[0])]
        parts += [str(cell).rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return indent + "  ".join(parts).rstrip()

    print(line(headers))
    print(indent + "  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def heading(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def machine_report() -> None:
    versions = []
    for package in ("backprop-cli", "typer", "click", "rich", "sympy"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print("backprop-cli benchmark")
    print(f"  machine   {platform.platform()} ({platform.machine()})")
    print(f"  python    {platform.python_implementation()} {platform.python_version()} "
          f"at {sys.executable}")
    print(f"  cpus      {os.cpu_count()} (usable: {affinity}); load average {load}")
    print(f"  packages  {', '.join(versions)}")


# ----------------------------------------------------------------------------------------------
# A deterministic, realistic program: named statements over earlier statements and 3 variables

_TEMPLATES = (
    "tanh({a}*{v} + {b})",
    "sigmoid({a} - {b}*{v})",
    "tanh({a})*{b} + exp(-{c}*{c})",
    "log(1 + {a}*{a}) * sigmoid({b})",
    "tanh({a} + {b}*{c}) / (1 + {v}*{v})",
)


def program_text(statements: int, seed: int = 0) -> str:
    """`statements` named lines mixing tanh/sigmoid/exp/log/mul/add/div over earlier lines.

    Most inputs are among the last few statements (depth), some anywhere before (fan-out).
    Values stay bounded (squashing functions), so no node is flagged at the benchmark point.
    """
    rng = random.Random(seed)
    variables = tuple(POINT)
    lines = []

    def earlier(i: int) -> str:
        if i < 3:
            return rng.choice(variables)
        if rng.random() < 0.75:
            return f"h{rng.randrange(max(0, i - 8), i)}"
        return f"h{rng.randrange(i)}"

    for i in range(statements):
        template = _TEMPLATES[rng.randrange(len(_TEMPLATES))]
        text = template.format(a=earlier(i), b=earlier(i), c=earlier(i), v=rng.choice(variables))
        lines.append(f"h{i} = {text}")
    return "\n".join(lines) + "\n"


def program_of_size(nodes: int, seed: int = 0) -> str:
    """A program whose graph has about `nodes` nodes (within a few tenths of a percent).

    The slope comes from two small samples; one correction pass fixes the drift that shared
    subexpressions cause on large programs.
    """
    sample = 400
    small = len(build_graph(parse_program(program_text(sample, seed))))
    large = len(build_graph(parse_program(program_text(2 * sample, seed))))
    per_statement = (large - small) / sample
    statements = max(1, round((nodes - (small - per_statement * sample)) / per_statement))
    actual = len(build_graph(parse_program(program_text(statements, seed))))
    statements = max(1, statements + round((nodes - actual) / per_statement))
    return program_text(statements, seed)


# ----------------------------------------------------------------------------------------------
# 1. Cold start


def cold_start_commands() -> list[tuple[str, list[str]]]:
    python = sys.executable
    commands = [(f"python -m backprop_cli {EXAMPLE[0]} ...",
                 [python, "-m", "backprop_cli", *EXAMPLE])]
    script = shutil.which("backprop") or _sibling_script()
    if script:
        commands.append(("backprop grad ... (console script)", [script, *EXAMPLE]))
    commands.append(('python -c "import sympy"  [floor]', [python, "-c", "import sympy"]))
    commands.append(('python -c "import typer, rich.console"',
                     [python, "-c", "import typer, rich.console"]))
    commands.append(('python -c "pass"', [python, "-c", "pass"]))
    return commands


def _sibling_script() -> str | None:
    candidate = Path(sys.executable).with_name("backprop")
    return str(candidate) if candidate.exists() else None


def run_once(argv: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - start, done.returncode, done.stderr


def bench_cold_start(rounds: int) -> None:
    heading(f"1. Cold start: `backprop {' '.join(EXAMPLE)}` ({rounds} interleaved rounds)")
    commands = []
    for name, argv in cold_start_commands():
        _, code, stderr = run_once(argv)  # warm the page cache and byte-code caches
        if code != 0:
            print(f"  SKIPPED {name}: exit {code}: {stderr.strip()[:200]}")
            continue
        commands.append((name, argv))
    times: dict[str, list[float]] = {name: [] for name, _ in commands}
    for round_number in range(rounds):
        shift = round_number % len(commands)
        for name, argv in commands[shift:] + commands[:shift]:  # rotate: no command always first
            elapsed, _, _ = run_once(argv)
            times[name].append(elapsed)

    floor_name = next((name for name in times if "[floor]" in name), None)
    floor = summary(times[floor_name])["median"] if floor_name else None
    rows, verdicts = [], []
    for name, samples in times.items():
        s = summary(samples)
        ratio = paired = ""
        if floor_name:
            ratio = f"{s['median'] / floor:.2f}x"
            per_round = [a / b for a, b in zip(samples, times[floor_name], strict=True)]
            paired = f"{statistics.median(per_round):.2f}x"
        rows.append([name, ms(s["median"]), ms(s["min"]), ms(s["max"]), ms(s["iqr"]), ratio,
                     paired])
        if floor_name and name.startswith(("python -m", "backprop")):
            verdicts.append((name, s["median"] / floor))
    print_table(["command", "median ms", "min", "max", "IQR", "/ floor", "paired"], rows)
    print("  (/ floor: ratio of medians; paired: median of per-round ratios)")
    for name, ratio in verdicts:
        print(f"  target <= {COLD_START_TARGET:.2f}x floor: {verdict(ratio <= COLD_START_TARGET)}"
              f"  {name} = {ratio:.2f}x")
    _bytecode_note()


def _bytecode_note() -> None:
    """Say so when the project's modules are compiled from source on every start."""
    package = Path(api.__file__).resolve().parent
    sources = sorted(package.rglob("*.py"))
    missing = [p for p in sources if not Path(importlib.util.cache_from_source(str(p))).exists()]
    if not missing:
        return
    start = time.perf_counter()
    for path in missing:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    elapsed = time.perf_counter() - start
    reason = " (PYTHONDONTWRITEBYTECODE is set)" if sys.dont_write_bytecode else ""
    print(f"  note: {len(missing)} of {len(sources)} backprop_cli modules have no byte-code "
          f"cache{reason}; compiling them takes {ms(elapsed)} ms of each start above")


# ----------------------------------------------------------------------------------------------
# 2. Engine


def engine_point(graph) -> dict[str, float]:
    return {name: float(POINT[name]) for name in graph.variable_names}


def bench_engine(programs: dict[int, str], repeat: int) -> None:
    heading("2. Engine: compile_tape, forward, backward (gc disabled, as the CLI runs)")
    rows, verdicts = [], []
    for text in programs.values():
        graph = build_graph(parse_program(text))
        point = engine_point(graph)
        n = len(graph)
        live = sum(graph.live()) / n
        # Small graphs run in about a millisecond: take more samples of them.
        samples = repeat * max(1, min(10, END_TO_END_TARGET_NODES // max(n, 1)))
        tape_t, fwd_t, bwd_t = [], [], []
        for _ in range(samples):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                tape = compile_tape(graph.ops, graph.inputs, graph.output)
                t1 = time.perf_counter()
                values = run_forward(tape, leaf_values(graph, point))
                t2 = time.perf_counter()
                run_reverse(tape, values, graph.output)
                t3 = time.perf_counter()
            finally:
                gc.enable()
            tape_t.append(t1 - t0)
            fwd_t.append(t2 - t1)
            bwd_t.append(t3 - t2)
            del tape, values
        per_node = _bytes_per_node(graph, point)
        f, b = summary(fwd_t), summary(bwd_t)
        ratio = b["median"] / f["median"]
        verdicts.append((n, ratio))
        rows.append([f"{n:,}", f"{live:.0%}", ms(summary(tape_t)["median"]),
                     f"{ms(f['median'])} [{ms(f['min'])}-{ms(f['max'])}]",
                     f"{ms(b['median'])} [{ms(b['min'])}-{ms(b['max'])}]",
                     f"{ratio:.2f}x", f"{(f['median'] + b['median']) / n * 1e9:.0f}",
                     f"{per_node:.0f}", str(samples)])
    print_table(["nodes", "live", "tape ms", "forward ms [min-max]", "backward ms [min-max]",
                 "bwd/fwd", "ns/node", "B/node", "runs"], rows)
    print("  (ns/node: forward+backward medians per node; B/node: tracemalloc peak of "
          "compile_tape+forward+backward)")
    for n, ratio in verdicts:
        print(f"  target backward <= {BACKWARD_TARGET:.1f}x forward: "
              f"{verdict(ratio <= BACKWARD_TARGET)}  {n:,} nodes = {ratio:.2f}x")


def _bytes_per_node(graph, point: dict[str, float]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tape = compile_tape(graph.ops, graph.inputs, graph.output)
        values = run_forward(tape, leaf_values(graph, point))
        run_reverse(tape, values, graph.output)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / len(graph)


# ----------------------------------------------------------------------------------------------
# 3. End to end


def cli_prefix() -> list[str]:
    script = shutil.which("backprop") or _sibling_script()
    return [script] if script else [sys.executable, "-m", "backprop_cli"]


def variable_forms() -> list[tuple[str, list[str]]]:
    """Ways to give the point to `grad --file`: the documented --NAME VALUE first, then --at."""
    options = [part for name, value in POINT.items() for part in (f"--{name}", value)]
    at = ",".join(f"{name}={value}" for name, value in POINT.items())
    return [("--x V --y V --w V", options), (f"--at {at}", ["--at", at])]


def bench_end_to_end(text: str, requested: int, runs: int, inprocess_runs: int,
                     profile: bool) -> None:
    n = len(build_graph(parse_program(text)))
    heading(f"3. End to end: {n:,}-node program ({text.count(chr(10)):,} statements, "
            f"{len(text) / 1e6:.2f} MB)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "program.txt"
        path.write_text(text, encoding="utf-8")
        argv = _working_argv([*cli_prefix(), "grad", "--file", str(path), "--json"])
        if argv is not None:
            shown = " ".join([Path(argv[0]).name, *argv[1:]]).replace(str(path), "PROG")
            print(f"  command: {shown}")
            _subprocess_runs(argv, requested, n, runs)
    _inprocess_breakdown(text, inprocess_runs)
    if profile:
        _profile(text)


def _subprocess_runs(argv: list[str], requested: int, n: int, runs: int) -> None:
    """The CLI run interleaved with the SymPy-import floor, so drift can be divided out."""
    floor_argv = [sys.executable, "-c", "import sympy"]
    times: dict[str, list[float]] = {"backprop grad --file PROG --json": [],
                                     'python -c "import sympy"  [floor]': []}
    for _ in range(runs):
        for (name, samples), command in zip(times.items(), (argv, floor_argv), strict=True):
            elapsed, code, stderr = run_once(command)
            if code != 0:
                print(f"  run of {name} failed (exit {code}): {stderr.strip()[:200]}")
                return
            samples.append(elapsed)
    cli, floor = times.values()
    rows = []
    for name, samples in times.items():
        s = summary(samples)
        rows.append([name, f"{s['median']:.3f}", f"{s['min']:.3f}", f"{s['max']:.3f}",
                     f"{s['iqr']:.3f}", str(s["n"])])
    print_table(["subprocess (stdout to /dev/null)", "median s", "min", "max", "IQR", "runs"],
                rows)
    median = statistics.median(cli)
    paired = statistics.median(a / b for a, b in zip(cli, floor, strict=True))
    print(f"  CLI / floor: {median / statistics.median(floor):.2f}x (paired {paired:.2f}x)")
    if requested >= END_TO_END_TARGET_NODES:
        print(f"  target < {END_TO_END_TARGET:.0f} s: {verdict(median < END_TO_END_TARGET)}"
              f"  median {median:.2f} s")
    else:
        print(f"  target < {END_TO_END_TARGET:.0f} s applies to "
              f"{END_TO_END_TARGET_NODES:,} nodes: n/a at {n:,}")


def _working_argv(base: list[str]) -> list[str] | None:
    """The first way of passing the point that the CLI accepts (checked with real output)."""
    for label, options in variable_forms():
        argv = [*base, *options]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        try:
            document = json.loads(done.stdout)
        except ValueError:
            document = {}
        if done.returncode == 0 and document.get("ok") is True:
            return argv
        message = document.get("error", {}).get("message") or done.stderr.strip()[:200]
        print(f"  NOTE: `grad --file PROG --json {label}` is rejected "
              f"(exit {done.returncode}: {message})")
    print("  SKIPPED the subprocess runs: no way of giving the point worked")
    return None


def _inprocess_breakdown(text: str, runs: int) -> None:
    """parse → graph → engine with gc off (as the CLI runs), then JSON with gc on, as a library
    caller has it. The JSON render is timed a second time with gc off, as the CLI has it, to
    show what the collector costs there.
    """
    names = ("parse_program", "build_graph", "evaluate", "json render", "sum of steps",
             "json render, gc off", "api.grad + render")
    steps: dict[str, list[float]] = {name: [] for name in names}
    given = frozenset(POINT)
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            program = parse_program(text, given=given)
            t1 = time.perf_counter()
            graph = build_graph(program)
            t2 = time.perf_counter()
            result = evaluate(graph, engine_point(graph))
            t3 = time.perf_counter()
        finally:
            gc.enable()
        del program, graph  # api.grad drops them before the CLI renders
        t4 = time.perf_counter()
        document = json_format.render(result)
        t5 = time.perf_counter()
        steps["parse_program"].append(t1 - t0)
        steps["build_graph"].append(t2 - t1)
        steps["evaluate"].append(t3 - t2)
        steps["json render"].append(t5 - t4)
        steps["sum of steps"].append(t3 - t0 + t5 - t4)
        del document
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            document = json_format.render(result)
            steps["json render, gc off"].append(time.perf_counter() - t0)
        finally:
            gc.enable()
        del result, document
        gc.collect()
        t0 = time.perf_counter()
        document = json_format.render(api.grad(text, POINT))
        steps["api.grad + render"].append(time.perf_counter() - t0)
        del document
    total = statistics.median(steps["sum of steps"])
    rows = []
    for name, samples in steps.items():
        s = summary(samples)
        share = f"{s['median'] / total:.0%}"
        rows.append([name, ms(s["median"]), ms(s["min"]), ms(s["max"]), share])
    print()
    print_table(["in process", "median ms", "min", "max", "/ sum"], rows)
    print(f"  ({runs} runs; api.grad + render also computes warnings and reads the point "
          "as the CLI does)")


def _profile(text: str) -> None:
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    json_format.render(api.grad(text, POINT))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    print()
    print("  cProfile of api.grad + json render, top functions by tottime:")
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    for line in lines[start:start + 13]:
        print("  " + line.replace(str(Path.cwd()) + os.sep, ""))


# ----------------------------------------------------------------------------------------------


def bench_sweep(points: int, runs: int) -> None:
    """Vectorised sweep: value and derivative of a ~100-node program at many points."""
    from backprop_cli.graph import build_graph
    from backprop_cli.parse import parse_program
    from backprop_cli.sweep import sweep

    heading(f"4. Sweep: {points:,} points of a ~100-node program (NumPy, vectorised)")
    text = program_of_size(100)
    nodes = len(build_graph(parse_program(text)))
    variables = build_graph(parse_program(text)).variable_names
    fixed = {name: 0.5 for name in variables[1:]}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sweep(text, fixed, variables[0], -2.0, 2.0, points)
        times.append(time.perf_counter() - start)
    stats = summary(times)
    print(f"  program: {nodes} nodes, sweeping {variables[0]}")
    print(f"  median {stats['median']:.3f} s (min {stats['min']:.3f}, max {stats['max']:.3f}), "
          f"{runs} runs; {stats['median'] / points * 1e9:.0f} ns per point")
    print(f"  target < 2 s at 10^6 points: {verdict(stats['median'] < 2.0)}"
          + ("" if points == 1_000_000 else " (not measured at 10^6 points)"))


def _interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Wall times of each command, run in rotation so drift hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for round_number in range(runs):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed, code, stderr = run_once(commands[name])
            if code != 0:
                raise RuntimeError(f"{name} failed (exit {code}): {stderr.strip()[:200]}")
            times[name].append(elapsed)
    return times


def _point_options() -> list[str]:
    return [part for name, value in POINT.items() for part in (f"--{name}", value)]


def bench_hessian(runs: int, sizes: Sequence[int] = HESSIAN_SIZES) -> None:
    """`hessian --json` against `grad --json` on the same programs, and its growth."""
    heading("5. Hessian (reverse over reverse) against grad, through the CLI")
    rows, medians = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            text = program_of_size(size)
            path = Path(folder) / f"program{size}.txt"
            path.write_text(text, encoding="utf-8")
            n = len(build_graph(parse_program(text)))
            commands = {command: [*cli_prefix(), command, "--file", str(path), "--json",
                                  *_point_options()] for command in ("grad", "hessian")}
            times = _interleaved(commands, runs)
            grad_s, hessian_s = (statistics.median(times[c]) for c in ("grad", "hessian"))
            paired = statistics.median(h / g for h, g in zip(times["hessian"], times["grad"],
                                                             strict=True))
            library = _library_hessian_seconds(text, runs)
            medians[n] = library
            ratio = hessian_s / grad_s
            rows.append([f"{n:,}", f"{grad_s:.3f}", f"{hessian_s:.3f}", f"{ratio:.2f}x",
                         f"{paired:.2f}x", ms(library), f"{library / n * 1e6:.1f}"])
    print_table(["nodes", "grad --json s", "hessian --json s", "hessian/grad", "paired",
                 "library ms", "µs/node"], rows)
    print("  (library: matrices.hessian in process; a constant µs/node is linear growth)")
    sizes_seen = sorted(medians)
    print(f"  target hessian <= {HESSIAN_TARGET:.0f}x grad at {sizes_seen[-1]:,} nodes: "
          f"{verdict(ratio <= HESSIAN_TARGET)}  {ratio:.2f}x")


def _library_hessian_seconds(text: str, runs: int) -> float:
    from backprop_cli.matrices import hessian

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        hessian(text, POINT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_jacobian(runs: int, nodes: int = JACOBIAN_NODES) -> None:
    """`jacobian` with 10 outputs against one `grad --json` on the same program."""
    heading(f"6. Jacobian with 10 outputs against one grad, {nodes:,}-node program")
    text = program_of_size(nodes)
    outputs = [line.partition(" = ")[0] for line in text.strip().splitlines()][-10:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "program.txt"
        path.write_text(text, encoding="utf-8")
        base = ["--file", str(path), "--json", *_point_options()]
        commands = {"grad --json": [*cli_prefix(), "grad", *base],
                    "jacobian --json (10 outputs)": [*cli_prefix(), "jacobian", *base,
                                                     "--output", ",".join(outputs)]}
        times = _interleaved(commands, runs)
    rows = [[name, f"{statistics.median(t):.3f}", f"{min(t):.3f}", f"{max(t):.3f}"]
            for name, t in times.items()]
    print_table(["command", "median s", "min", "max"], rows)
    grad_times, jacobian_times = times.values()
    ratio = statistics.median(jacobian_times) / statistics.median(grad_times)
    print(f"  target jacobian <= {JACOBIAN_TARGET}x grad: {verdict(ratio <= JACOBIAN_TARGET)}  "
          f"{ratio:.2f}x")


# ----------------------------------------------------------------------------------------------
# 8. Arrays: an MLP over a batch, against PyTorch's autograd on the same program

MLP_PROGRAM = """h = tanh(X @ W1 + b1)
logits = h @ W2 + b2
L = cross_entropy(logits, k)"""
MLP_TARGET = 1.5  # ours / torch float64 CPU autograd, forward and backward
MLP_SHAPES = {"X": (256, 784), "W1": (784, 128), "b1": (128,), "W2": (128, 10), "b2": (10,)}


def mlp_point(seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    point = {name: rng.normal(scale=0.05, size=shape) for name, shape in MLP_SHAPES.items()}
    point["k"] = rng.integers(0, 10, size=256).astype(float)
    return point


def _ours_mlp(point: dict) -> float:
    from backprop_cli.tensor_engine import evaluate_tensors

    graph = build_graph(parse_program(MLP_PROGRAM, given=frozenset(point)))
    started = time.perf_counter()
    evaluate_tensors(graph, point, data=frozenset({"X", "k"}))
    return time.perf_counter() - started


def _torch_mlp(point: dict) -> float:
    import torch

    tensors = {name: torch.tensor(value, dtype=torch.float64,
                                  requires_grad=name not in ("X", "k"))
               for name, value in point.items()}
    started = time.perf_counter()
    h = torch.tanh(tensors["X"] @ tensors["W1"] + tensors["b1"])
    logits = h @ tensors["W2"] + tensors["b2"]
    loss = torch.nn.functional.cross_entropy(logits, tensors["k"].long())
    loss.backward()
    return time.perf_counter() - started


def bench_tensors(runs: int) -> None:
    """An MLP 784-128-10 over 256 rows (tanh, softmax cross-entropy), forward and backward,
    beside torch float64 autograd when torch is installed; peak memory against the arrays."""
    heading("8. Arrays: MLP 784-128-10 over a batch of 256 rows, forward + backward")
    point = mlp_point()
    ours = [_ours_mlp(point) for _ in range(runs)]
    rows = [["backprop-cli (evaluate_tensors)", ms(statistics.median(ours)), ms(min(ours)),
             ms(max(ours))]]
    have_torch = importlib.util.find_spec("torch") is not None
    if have_torch:
        torch_times, ours = [], []
        for _ in range(runs):  # interleaved
            torch_times.append(_torch_mlp(point))
            ours.append(_ours_mlp(point))
        rows = [["backprop-cli (evaluate_tensors)", ms(statistics.median(ours)), ms(min(ours)),
                 ms(max(ours))],
                ["torch float64 autograd", ms(statistics.median(torch_times)),
                 ms(min(torch_times)), ms(max(torch_times))]]
    print_table(["engine", "median", "min", "max"], rows)
    if have_torch:
        ratio = statistics.median(ours) / statistics.median(torch_times)
        print(f"  target ours <= {MLP_TARGET}x torch: {verdict(ratio <= MLP_TARGET)}  "
              f"{ratio:.2f}x")
    else:
        print("  torch is not installed: `pip install torch` to measure the ratio")
    import math

    arrays = sum(8 * math.prod(shape) for shape in MLP_SHAPES.values())
    tracemalloc.start()
    _ours_mlp(point)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  memory allocated during the run (tracemalloc peak): {peak / 2**20:.1f} MiB for "
          f"{arrays / 2**20:.1f} MiB of inputs ({peak / arrays:.1f}x: every node keeps its "
          "value, adjoint and elementwise partial); peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


# ----------------------------------------------------------------------------------------------
# 7. Hostile inputs: each one a real process, against the budget


def dense_program(statements: int) -> str:
    """About 8 nodes per statement, quickly: `h{i} = tanh(h{i-1}*x + y)*exp(...)/(...)`."""
    lines = ["h0 = x*y"] + [f"h{i} = tanh(h{i - 1}*x + y)*exp(h{i - 1} - y)/(x + h{i - 1})"
                            for i in range(1, statements)]
    return "\n".join(lines) + "\n"


def hessian_program(variables: int) -> tuple[str, list[str]]:
    """A chain through `variables` variables (about 11 traced nodes per variable), and the
    --at option giving all of them."""
    lines = ["h0 = tanh(x0*x1)"] + [f"h{i} = tanh(x{i}*h{i - 1} + x{(i + 1) % variables})"
                                    for i in range(1, variables)]
    at = ",".join(f"x{i}={0.1 + 0.001 * i:g}" for i in range(variables))
    return "\n".join(lines) + "\n", ["--at", at]


def slow_fallback_program(calls: int) -> str:
    """`calls` statements summed, each calling a SymPy function outside the op table (a
    Bessel function of a huge order, evaluated by mpmath)."""
    lines = [f"h{i} = besselj(1e7 + {i}.5, x)" + (f" + h{i - 1}" if i else "")
             for i in range(calls)]
    return "\n".join(lines) + "\n"


GNU_TIME = Path("/usr/bin/time")


def peak_timed(argv: list[str], report: str) -> list[str]:
    """The command run under GNU time, which writes its peak RSS (KiB) to the file `report`:
    GNU time forks it from its own small process, whereas a child of this process would count
    this process's pages in its peak until its exec (vfork included). Unchanged where GNU time
    is not installed."""
    return [str(GNU_TIME), "-f", "%M", "-o", report, *argv] if GNU_TIME.exists() else argv


def reported_peak(report: str) -> int | None:
    """The peak RSS in KiB that GNU time wrote (the last line of its report), if any."""
    lines = report.strip().splitlines()
    return int(lines[-1]) if lines and lines[-1].isdigit() else None


def measured_run(argv: list[str], limit: float) -> tuple[float, int, int, str]:
    """Wall time, peak RSS in bytes, exit code, and the last line of stderr; killed after
    `limit` seconds. The peak is GNU time's (peak_timed), or else wait4's, which is at least
    this process's size."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        command = peak_timed(argv, rss.name)
        start = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=err, start_new_session=True)
        killed = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - start > limit:
                os.killpg(process.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        process.returncode = code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
        peak = reported_peak(rss.read())
    peak = peak * 1024 if peak is not None else usage.ru_maxrss * 1024
    last = f"killed after {limit:.0f} s" if killed else (lines[-1] if lines else "")
    return elapsed, peak, code, last


def hostile_cases(folder: Path, quick: bool) -> list[tuple[str, list[str]]]:
    """(what, argv) of every hostile case: large inputs each command must refuse quickly or
    finish within the budget."""
    def program(name: str, text: str) -> str:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    cli = cli_prefix()
    point = _point_options()
    sweep_nodes, sweep_points, csv_points = (300, 10_000, 100_000) if quick else (
        3_000, 65_536, 10_000_000)
    variables = 100 if quick else 1_000
    huge = program("huge.bp", dense_program(7_000 if quick else 50_000))
    sweep_program = program("sweep.bp", program_of_size(sweep_nodes))
    small = program("small.bp", program_of_size(100))
    hessian_text, hessian_at = hessian_program(variables)
    hessian_file = program("hessian.bp", hessian_text)
    many_text, many_at = hessian_program(2_500 if not quick else 300)
    many_file = program("hessian_many.bp", many_text)
    jacobian_text = program_of_size(14_000 if not quick else 1_000)
    names = [line.partition(" = ")[0] for line in jacobian_text.strip().splitlines()]
    jacobian_nodes = len(build_graph(parse_program(jacobian_text)))
    jacobian_file = program("jacobian.bp", jacobian_text)
    backtracking = program("tuple.bp", "a = x" + "\n " * 30_000 + "a, b\n")
    sweep_x = ["--x", "-2:2", "--y", "0.5", "--w", "0.1"]
    cases = [
        (f"sweep {sweep_nodes:,} nodes × {sweep_points:,} points --json",
         [*cli, "sweep", "--file", sweep_program, *sweep_x, "--points", str(sweep_points),
          "--json"]),
        (f"sweep 100 nodes × {csv_points:,} points to CSV",
         [*cli, "sweep", "--file", small, *sweep_x, "--points", str(csv_points), "--format",
          "csv"]),
        (f"sweep {sweep_nodes:,} nodes × 10,000,000 points (refused)",
         [*cli, "sweep", "--file", sweep_program, *sweep_x, "--points", "10000000"]),
        (f"hessian {variables:,} variables (table)",
         [*cli, "hessian", "--file", hessian_file, *hessian_at]),
        (f"hessian {variables:,} variables --json",
         [*cli, "hessian", "--file", hessian_file, *hessian_at, "--json"]),
        (f"hessian {len(many_at[1].split(',')):,} variables --json",
         [*cli, "hessian", "--file", many_file, *many_at, "--json"]),
        (f"jacobian {min(2_000, len(names)):,} outputs × {jacobian_nodes:,} nodes",
         [*cli, "jacobian", "--file", jacobian_file, *point, "--output",
          ",".join(names[-2_000:]), "--json"]),
        (f"jacobian final tuple after {60_000:,} characters of blank lines",
         [*cli, "jacobian", "--file", backtracking, "--x", "1", "--json"]),
        ("grad --exact on the large program",
         [*cli, "grad", "--file", huge, "--x", "0.5", "--y", "-1.25", "--exact", "--json"]),
        ("explain the large program", [*cli, "explain", "--file", huge, "--x", "0.5", "--y",
                                       "-1.25"]),
        ("graph (ascii) of the large program", [*cli, "graph", "--file", huge]),
        ("grad with 100 calls of SymPy functions (refused)",
         [*cli, "grad", "--file", program("slow.bp", slow_fallback_program(100)), "--x", "2"]),
    ]
    if not quick:
        cases.append(("grad with 20 calls of SymPy functions (the most allowed)",
                      [*cli, "grad", "--file", program("slow20.bp", slow_fallback_program(20)),
                       "--x", "2"]))
    if not quick and shutil.which("dot"):
        graphviz = program("graphviz.bp", program_of_size(2_000))
        cases.append(("graph --format svg of 2,000 nodes (Graphviz)",
                      [*cli, "graph", "--file", graphviz, "--format", "svg", "-o",
                       str(folder / "graph.svg")]))
    return cases


def bench_hostile(quick: bool) -> bool:
    """Every case as a real process: wall time and peak RSS against the budget. A case is
    within budget when it finished (succeeded, or was refused with one line and exit 2)
    within both."""
    heading(f"7. Hostile inputs against the budget ({BUDGET_SECONDS:.0f} s, "
            f"{BUDGET_BYTES / 1024**3:.0f} GiB)" + (" [quick: small variants]" if quick else ""))
    rows, all_within = [], True
    with tempfile.TemporaryDirectory() as folder:
        for what, argv in hostile_cases(Path(folder), quick):
            elapsed, peak, code, last = measured_run(argv, 2 * BUDGET_SECONDS)
            finished = code == 0 or (code == 2 and last.startswith("error: "))
            within = finished and elapsed <= BUDGET_SECONDS and peak <= BUDGET_BYTES
            all_within &= within
            outcome = "ok" if code == 0 else f"exit {code}"
            rows.append([what, outcome, f"{elapsed:.2f}", f"{peak / 1024**2:,.0f}",
                         "yes" if within else "NO"])
            if code != 0:
                rows.append([f"    {last[:90]}", "", "", "", ""])
    print_table(["case", "result", "wall s", "peak MB", "within"], rows)
    print(f"  every case within budget: {verdict(all_within)}")
    return all_within


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 10:
        raise argparse.ArgumentTypeError("sizes are node counts of at least 10, e.g. 1000,10000")
    return sizes


def bench_targets(quick: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from targets import bench_targets as run_targets

    run_targets(quick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="few rounds, for a smoke run in a few seconds")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="rounds/runs of every section (default 15 cold-start rounds, "
                             "7 engine runs, 5 end-to-end runs; --quick: 3, 2, 2)")
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                        metavar="N,N,...", help="graph sizes in nodes (default 1000,10000,100000);"
                                                " end to end uses the largest")
    parser.add_argument("--sweep-points", type=int, default=1_000_000, metavar="N",
                        help="points of the sweep benchmark (default 1,000,000)")
    parser.add_argument("--hostile-only", action="store_true",
                        help="run only section 7, the hostile inputs")
    parser.add_argument("--tensors-only", action="store_true",
                        help="run only section 8, the arrays (MLP against torch)")
    parser.add_argument("--targets-only", action="store_true",
                        help="run only section 9, the speed targets of issue 13")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of the largest end-to-end run, in process")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    rounds, engine_runs, e2e_runs = (3, 2, 2) if args.quick else (15, 7, 5)
    if args.repeat is not None:
        rounds = engine_runs = e2e_runs = args.repeat

    started = time.perf_counter()
    machine_report()
    if args.hostile_only:
        bench_hostile(args.quick)
        return 0
    if args.tensors_only:
        bench_tensors(3 if args.quick else 7)
        return 0
    if args.targets_only:
        bench_targets(args.quick)
        return 0
    bench_cold_start(rounds)
    programs = {size: program_of_size(size) for size in args.sizes}
    bench_engine(programs, engine_runs)
    largest = args.sizes[-1]
    bench_end_to_end(programs[largest], largest, e2e_runs, max(2, e2e_runs // 2 + 1),
                     args.profile)
    bench_sweep(args.sweep_points, max(2, e2e_runs))
    bench_hessian(max(3, e2e_runs), HESSIAN_SIZES if not args.quick else (300, 600))
    bench_jacobian(max(3, e2e_runs), JACOBIAN_NODES if not args.quick else 1_000)
    bench_tensors(max(3, e2e_runs))
    bench_hostile(args.quick)
    bench_targets(args.quick)
    print()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"done in {time.perf_counter() - started:.1f} s; load average now {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
