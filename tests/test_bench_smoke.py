"""The benchmark script runs (quick mode, smallest size). No timing is asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"


def test_bench_quick_runs_and_exits_zero() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--sizes", "1000", "--sweep-points", "1000"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for section in ("1. Cold start", "2. Engine", "3. End to end", "7. Hostile inputs",
                    "9. Speed targets"):
        assert section in done.stdout
