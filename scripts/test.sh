#!/usr/bin/env bash
# Builds the test environments from scratch (or refreshes them) and runs the whole suite:
#   .venv         the program, the trainer and the tests (protobuf 6)
#   policy/.venv  the CrossGuard policy pack (pulumi-policy pins protobuf 5)
# Extra arguments go to pytest, e.g. scripts/test.sh -k storage
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
pip_quiet=(--quiet --disable-pip-version-check)

"$python" -m venv .venv
.venv/bin/pip install "${pip_quiet[@]}" -r requirements-dev.txt

if [ -f policy/requirements.txt ]; then
  "$python" -m venv policy/.venv
  policy/.venv/bin/pip install "${pip_quiet[@]}" -r policy/requirements.txt
fi

# The policy tests skip without policy/.venv on a developer's machine; here it was just
# built, so a missing one is an error.
export VTRAIN_REQUIRE_POLICY_PACK=1

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
