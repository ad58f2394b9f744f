"""The emulator tests' app: prints one JSON line of what it was given (argv, pid, cwd, the
Vertex variables), then does what its flags ask. Its score is a known function of the
trial parameters, so a test can name the best trial without trusting the emulator."""

import argparse
import json
import os
import subprocess
import sys
import time

PEAK = 5.0
VERTEX_PREFIXES = ("AIP_", "CLOUD_ML_", "CLUSTER_SPEC", "TF_CONFIG", "STORAGE_EMULATOR_HOST")


def score(x: float, y: int, opt: str | None) -> float:
    return 10 * y - (x - 0.3) ** 2 + (1 if opt == "adam" else 0)


def write_model(directory: str, text: str) -> str:
    """Write model.txt under AIP_MODEL_DIR: a gs:// URI through google-cloud-storage (the
    storage emulator, via STORAGE_EMULATOR_HOST), or a local path."""
    if not directory.startswith("gs://"):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "model.txt")
        with open(path, "w") as model:
            model.write(text)
        return path
    from google.cloud import storage

    bucket, _, prefix = directory.removeprefix("gs://").partition("/")
    name = prefix.rstrip("/") + "/model.txt"
    storage.Client().bucket(bucket).blob(name).upload_from_string(text)
    return f"gs://{bucket}/{name}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="probe")
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--message", default="")
    parser.add_argument("--write-model", action="store_true")
    parser.add_argument("--spawn-child", action="store_true")
    parser.add_argument("--no-metric", action="store_true")
    parser.add_argument("--peak-first", action="store_true")  # step 1 beats step 2 by PEAK
    parser.add_argument("--fail-if-y", type=int, default=None)
    parser.add_argument("--hang-if-opt", default=None)  # after reporting, sleep 600 s
    parser.add_argument("--x", type=float)
    parser.add_argument("--y", type=int)
    parser.add_argument("--opt")
    args = parser.parse_args()
    seen = {
        "argv": sys.argv[1:],
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(VERTEX_PREFIXES)},
    }
    print(json.dumps(seen), flush=True)
    if args.spawn_child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(json.dumps({"child_pid": child.pid}), flush=True)
    if args.write_model:
        where = write_model(
            os.environ["AIP_MODEL_DIR"], f"model of job {os.environ['CLOUD_ML_JOB_ID']}"
        )
        print(json.dumps({"model": where}), flush=True)
    if args.y is not None and args.y == args.fail_if_y:
        print(f"probe: y={args.y} is refused", file=sys.stderr, flush=True)
        return 3
    if (args.x, args.y, args.opt) != (None, None, None) and not args.no_metric:
        import hypertune

        value = score(
            args.x if args.x is not None else 0.3, args.y if args.y is not None else 0, args.opt
        )
        reporter = hypertune.HyperTune()
        first = value + PEAK if args.peak_first else value - 1
        reporter.report_hyperparameter_tuning_metric("score", first, global_step=1)
        reporter.report_hyperparameter_tuning_metric("score", value, global_step=2)
    time.sleep(600 if args.opt and args.opt == args.hang_if_opt else args.sleep)
    if args.message:
        print(args.message, file=sys.stderr, flush=True)
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
