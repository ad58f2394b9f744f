"""Run the two-replica trainer test many times and count the runs that pass.

A race at a replica's shutdown shows up only now and then (a replica killed by SIGABRT
after it trained, "terminate called without an active exception": a gloo thread of a
process group that destroy_process_group had not really closed, still releasing the last
collective's tensors when the interpreter shut down), so one green run proves little.
This runs tests/trainer/test_distributed.py (chief and worker as two `python -m
trainer.task` processes in one gloo process group, a resumed pair, and two pairs that
only join and leave a group) N times, optionally next to busy-looping processes that take
CPU from the replicas the way a loaded CI machine does, and prints how many runs passed.

    python benchmarks/distributed_repeat.py            # 10 runs
    python benchmarks/distributed_repeat.py --runs 30 --load 2

Exits non-zero when any run failed.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEST_FILE = "tests/trainer/test_distributed.py"
# Lines worth showing from a failed run: the abort itself and pytest's verdicts.
NOTABLE = re.compile(r"terminate called|Fatal Python error|assert -?\d+ == 0|^(FAILED|ERROR) ")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=10, help="runs (default 10)")
    parser.add_argument("--runs", dest="runs_flag", type=int, help="same as the positional")
    parser.add_argument(
        "--load", type=int, default=0, help="busy-looping processes to run alongside (default 0)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run")
    args = parser.parse_args()
    if args.runs_flag is not None:
        args.runs = args.runs_flag
    if args.runs < 1 or args.load < 0:
        parser.error("--runs must be >= 1 and --load >= 0")
    return args


def run_test_file(timeout: float) -> tuple[bool, list[str]]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST_FILE]
    try:
        result = subprocess.run(
            command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return False, [f"timed out after {timeout:.0f}s (a replica hung?)"]
    output = result.stdout + result.stderr
    notable = [line.strip() for line in output.splitlines() if NOTABLE.search(line)]
    return result.returncode == 0, notable[:6]


def main() -> int:
    args = parse_args()
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)
    ]
    passed = 0
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            ok, notable = run_test_file(args.timeout)
            passed += ok
            print(f"run {run}/{args.runs}: {'pass' if ok else 'FAIL'}", flush=True)
            for line in [] if ok else notable:
                print(f"    {line}", flush=True)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    elapsed = time.monotonic() - started
    print(f"{passed}/{args.runs} passed ({args.load} load processes, {elapsed:.0f}s)")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
