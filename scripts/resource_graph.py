"""Print every shipped stack's resource graph as canonical JSON, to compare two revisions.

Runs the real program through the test engine (tests/harness/engine.py) and prints, per
stack, each registration: URN, parent URN, provider, dependency URNs and plain inputs.
Compare a refactor: `python scripts/resource_graph.py --rename OLD=NEW ... > before.json` on
the old revision (each --rename maps an intended URN change), the same without renames on
the new one, then `diff before.json after.json`: any line left is a change in behaviour.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

try:
    from tests.harness.engine import run_stack
    from tests.harness.stack_config import stack_names
except ImportError:  # revisions before the harness folder existed
    from tests.engine import run_stack, stack_names


def graph(stack: str) -> dict:
    run = run_stack(stack)
    return {
        "resources": sorted(
            (
                {
                    "urn": resource.urn,
                    "parent": resource.parent,
                    "provider": (resource.provider or "").split("::")[-2:-1],
                    "dependencies": sorted(resource.dependencies),
                    # The pickled dynamic provider names its module; compatibility tests pin it.
                    "inputs": {k: v for k, v in resource.plain_inputs.items() if k != "__provider"},
                }
                for resource in run.resources
            ),
            key=lambda entry: entry["urn"],
        ),
        "outputs": run.plain_outputs,
    }


def _plain(value: object) -> object:
    """Assets as their path relative to the project, so two checkouts compare equal."""
    path = getattr(value, "path", None)
    if isinstance(path, str):
        return {"asset": Path(path).resolve().relative_to(PROJECT_DIR).as_posix()}
    raise TypeError(f"cannot print {value!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    args = parser.parse_args()
    text = json.dumps({stack: graph(stack) for stack in stack_names()}, default=_plain)
    for rename in args.rename:
        old, new = rename.split("=", 1)
        text = text.replace(old, new)
    graphs = json.loads(text)
    for stack_graph in graphs.values():  # renamed URNs sort anew
        for entry in stack_graph["resources"]:
            entry["dependencies"].sort()
        stack_graph["resources"].sort(key=lambda entry: entry["urn"])
    print(json.dumps(graphs, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
