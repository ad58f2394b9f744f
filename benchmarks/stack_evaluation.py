"""How long the real program takes to evaluate each shipped stack under the test engine.

Prints, per stack: resources registered, mean and best wall time over N runs, and the peak
Python memory of one run. Run: `.venv/bin/python benchmarks/stack_evaluation.py [N]`.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness.engine import run_stack  # noqa: E402
from tests.harness.stack_config import stack_names  # noqa: E402


def main(repeats: int) -> None:
    run_stack("dev")  # warm imports (pulumi_gcp alone takes a while) before timing
    print(f"{'stack':<10}{'resources':>10}{'mean ms':>10}{'best ms':>10}{'peak MiB':>10}")
    for stack in stack_names():
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            run = run_stack(stack)
            timings.append((time.perf_counter() - started) * 1000)
        tracemalloc.start()
        run_stack(stack)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(
            f"{stack:<10}{len(run.resources):>10}{statistics.mean(timings):>10.0f}"
            f"{min(timings):>10.0f}{peak:>10.1f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
