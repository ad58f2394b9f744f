"""Mutation score of the modules whose bugs the suite must catch (a habit, not a CI step).

Runs mutmut (pinned below) on a throwaway copy of the tracked tree, so the checkout is never
touched, and prints, per module, how many mutants the tests killed. A surviving mutant is a
change to the code that no test noticed: read it with `--show`, then write the test.

    .venv/bin/python scripts/mutation_score.py                 # config/ and vertex_jobs/
    .venv/bin/python scripts/mutation_score.py --paths config/jobs.py --show 20
    .venv/bin/python scripts/mutation_score.py --rev <commit> --paths config.py ...

Goal: at least 85 % killed in each target. mutmut is not a test requirement; the script
installs it into the running venv when it is missing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
MUTMUT = "mutmut==3.8.1"
DEFAULT_PATHS = ("config", "vertex_jobs")
GOAL = 0.85
# Left out: tests that run project code in a subprocess started outside the copy (it cannot
# load mutmut's trampolines, which read its config from the working directory), and the
# line-count rule (mutmut's rewritten modules are longer than the sources).
LEFT_OUT = (
    "not imported_from_the_project_root and not another_checkout_path"
    " and not long_source_files_say_why"
)
PYTEST_ARGS = ["-p", "no:cacheprovider", "-q", "-x", "-k", LEFT_OUT]


def _ensure_mutmut() -> None:
    try:
        import mutmut  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", MUTMUT], check=True)


def _copy_tree(rev: str | None, into: Path) -> None:
    """The tracked files of the working tree (or of `rev`), without venvs or caches."""
    if rev:
        archive = subprocess.run(
            ["git", "archive", rev], cwd=PROJECT_DIR, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
        return
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    files = [name for name in listed.stdout.splitlines() if (PROJECT_DIR / name).is_file()]
    tar = subprocess.run(
        ["tar", "-c", "-f", "-", "-T", "-"],
        cwd=PROJECT_DIR,
        input="\n".join(files).encode(),
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=tar.stdout, check=True)


def _configure(copy: Path, paths: list[str], extra_pytest_args: list[str]) -> None:
    """mutmut reads [tool.mutmut] from pyproject.toml; every tracked top-level entry is
    copied next to the mutants so the tests find the stacks, images and policy pack."""
    also_copy = sorted(
        entry.name
        for entry in copy.iterdir()
        if entry.name not in {"mutants", ".git"} and not entry.name.startswith(".venv")
    )
    quoted = ", ".join(f'"{name}"' for name in also_copy)
    sources = ", ".join(f'"{path}"' for path in paths)
    pytest_args = ", ".join(f'"{arg}"' for arg in [*PYTEST_ARGS, *extra_pytest_args])
    with (copy / "pyproject.toml").open("a") as pyproject:
        pyproject.write(
            f"\n[tool.mutmut]\nsource_paths = [{sources}]\nalso_copy = [{quoted}]\n"
            'pytest_add_cli_args_test_selection = ["tests"]\n'
            f"pytest_add_cli_args = [{pytest_args}]\n"
        )


def _results(copy: Path) -> dict[str, str]:
    listed = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    )
    results = {}
    for line in listed.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            results[name] = status
    return results


def _module(mutant: str) -> str:
    """`vertex_jobs.trials.x_best_trial__mutmut_3` -> `vertex_jobs.trials`."""
    return mutant.rsplit(".", 1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", nargs="+", default=list(DEFAULT_PATHS))
    parser.add_argument("--rev", help="a git revision instead of the working tree")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--show", type=int, default=0, help="print this many survivors")
    parser.add_argument(
        "--pytest-arg",
        action="append",
        default=[],
        help="extra pytest argument, e.g. --pytest-arg=--deselect=<test id> (repeatable)",
    )
    args = parser.parse_args()
    _ensure_mutmut()
    with tempfile.TemporaryDirectory(prefix="vtrain-mutants-") as temporary:
        copy = Path(temporary)
        _copy_tree(args.rev, copy)
        _configure(copy, args.paths, args.pytest_arg)
        log = copy / "mutmut.log"
        with log.open("w") as output:
            subprocess.run(
                [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)],
                cwd=copy,
                stdout=output,
                stderr=subprocess.STDOUT,
                check=False,
            )
        results = _results(copy)
        if not any(status in ("killed", "survived") for status in results.values()):
            print(log.read_text()[-3000:], file=sys.stderr)
        by_module: dict[str, Counter] = defaultdict(Counter)
        for mutant, status in results.items():
            by_module[_module(mutant)][status] += 1
        total = Counter()
        print(f"{'module':40} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} score")
        for module in sorted(by_module):
            counts = by_module[module]
            total.update(counts)
            print(_row(module, counts))
        print(_row("total", total))
        survivors = [name for name, status in results.items() if status == "survived"]
        for name in survivors[: args.show]:
            shown = subprocess.run(
                [sys.executable, "-m", "mutmut", "show", name],
                cwd=copy,
                capture_output=True,
                text=True,
                check=False,
            )
            print(f"\n--- {name}\n{shown.stdout.strip()}")
        killed = total["killed"] + total["timeout"]
        return 0 if results and killed / sum(total.values()) >= GOAL else 1


def _row(label: str, counts: Counter) -> str:
    mutants = sum(counts.values())
    killed = counts["killed"] + counts["timeout"]
    score = killed / mutants if mutants else 0.0
    return (
        f"{label:40} {mutants:8} {killed:7} {counts['survived']:9} {counts['no tests']:9} "
        f"{score:6.1%}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
