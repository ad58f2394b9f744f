#!/usr/bin/env bash
# The local stack in one command (README: Train on this machine), on a machine with the
# Pulumi CLI and no cloud account:
#   1. ./venv from requirements-local.txt (the program, the emulator, the apps' requirements;
#      the same ./venv Pulumi.yaml gives the CLI, so the program, its dynamic providers and
#      the emulator share one interpreter), rebuilt when that file changes;
#   2. the Vertex AI emulator at stacks/Pulumi.local.yaml's emulatorHost and
#      storageEmulatorHost, unless one already answers there (its state, logs and data under
#      .vtrain-local/emulator; it keeps running afterwards, for refresh and destroy);
#   3. `pulumi up -s local --yes` on a file backend under .vtrain-local/state
#      (PULUMI_BACKEND_URL: the user's own `pulumi login` is left alone);
#   4. where the jobs' outputs and models are.
# Extra arguments go to `pulumi up`, e.g. scripts/local_up.sh --refresh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pulumi >/dev/null 2>&1; then
  echo "scripts/local_up.sh: the Pulumi CLI is not installed (no 'pulumi' on PATH); get it from https://www.pulumi.com/docs/install/ and run this again" >&2
  exit 127
fi

python=${PYTHON:-python3}
local_dir=.vtrain-local
root=$PWD/$local_dir/emulator  # absolute: the storage emulator needs one
mkdir -p "$local_dir"

# 1. The virtual environment, reinstalled when requirements-local.txt (or what it includes)
# changes.
stamp=venv/.vtrain-requirements
wanted=$(cat requirements-local.txt requirements.txt images/*/requirements.txt | sha256sum)
if [ ! -x venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing ./venv from requirements-local.txt (first run: a few minutes)"
  "$python" -m venv venv
  venv/bin/pip install --quiet --disable-pip-version-check -r requirements-local.txt
  echo "$wanted" >"$stamp"
fi

# 2. The emulator, at the addresses the stack names.
read -r vertex_host vertex_port storage_port < <(venv/bin/python - <<'EOF'
from urllib.parse import urlsplit
import yaml
config = yaml.safe_load(open("stacks/Pulumi.local.yaml"))["config"]
host, port = config["vertex-training:emulatorHost"].rsplit(":", 1)
print(host, port, urlsplit(config["vertex-training:storageEmulatorHost"]).port)
EOF
)
answers() { venv/bin/python -c "import socket,sys; socket.create_connection(('$1', $2), 2)" 2>/dev/null; }
if answers "$vertex_host" "$vertex_port"; then
  if ! answers "$vertex_host" "$storage_port"; then
    echo "scripts/local_up.sh: something answers at $vertex_host:$vertex_port but no storage emulator at port $storage_port; stop it or change stacks/Pulumi.local.yaml" >&2
    exit 1
  fi
  echo "Using the emulator already at $vertex_host:$vertex_port"
else
  log=$local_dir/emulator.log
  echo "Starting the Vertex AI emulator at $vertex_host:$vertex_port (log: $log)"
  nohup venv/bin/python -m vertex_emulator serve --host "$vertex_host" --port "$vertex_port" \
    --storage-port "$storage_port" --root "$root" >"$log" 2>&1 &
  echo $! >"$local_dir/emulator.pid"
  for _ in $(seq 120); do
    grep -q "vertex emulator listening on" "$log" && break
    if ! kill -0 "$(cat "$local_dir/emulator.pid")" 2>/dev/null; then
      echo "scripts/local_up.sh: the emulator exited; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
  grep -q "vertex emulator listening on" "$log" || {
    echo "scripts/local_up.sh: the emulator did not start within 60 s; see $log" >&2
    exit 1
  }
  echo "Emulator running (pid $(cat "$local_dir/emulator.pid")); stop it with: kill $(cat "$local_dir/emulator.pid")"
fi

# 3. pulumi up on a local file backend. The stack holds no secrets; the passphrase only
# satisfies the file backend's secrets provider (pulumi writes an encryptionsalt line into
# stacks/Pulumi.local.yaml the first time).
export PULUMI_BACKEND_URL="file://$PWD/$local_dir/state"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-vtrain-local}"
export PULUMI_SKIP_UPDATE_CHECK=true
# The jobs' `wait` polls the emulator: seconds apart here, not Google's minute.
export VTRAIN_VERTEX_POLL_MAX_S="${VTRAIN_VERTEX_POLL_MAX_S-5}"
mkdir -p "$local_dir/state"
pulumi stack select local >/dev/null 2>&1 || pulumi stack init local
pulumi up --stack local --yes "$@"

# 4. Where the models are.
pulumi stack output --stack local --json | venv/bin/python scripts/local_models.py --root "$root"
