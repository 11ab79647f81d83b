"""One Python measurement of the client benchmarks (bench/client.mjs starts one process per run).

    python bench/client-tasks.py list           modal.Secret.objects.list() of the workspace, ms
    python bench/client-tasks.py dotenv FILE    dotenv_values(stream=...) of FILE, ms

`list` needs Modal's Python SDK (modal==1.6.4) and MODAL_SERVER_URL / MODAL_TOKEN_ID /
MODAL_TOKEN_SECRET; `dotenv` needs python-dotenv. Prints one JSON line, as bench/client-tasks.mjs.
"""

import hashlib
import io
import json
import sys
import time


def task_list():
    import modal

    warmup = modal.Secret.objects.list()
    t0 = time.perf_counter()
    items = modal.Secret.objects.list()
    ms = (time.perf_counter() - t0) * 1000
    if len(items) != len(warmup):
        raise SystemExit("list: inconsistent lengths")
    return {"value": ms, "count": len(items), "first": items[0].name if items else None}


def task_dotenv(path):
    from dotenv import dotenv_values

    with open(path, encoding="utf-8") as f:
        text = f.read()
    # No untimed parse first: CPython has no JIT to warm up, and one parse takes seconds.
    t0 = time.perf_counter()
    out = dotenv_values(stream=io.StringIO(text))
    ms = (time.perf_counter() - t0) * 1000
    # A digest of the result, compared with this package's by bench/client.mjs.
    canonical = json.dumps(out, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {"value": ms, "keys": len(out), "digest": hashlib.sha256(canonical.encode()).hexdigest()}


def main():
    task = sys.argv[1]
    if task == "list":
        result = task_list()
    elif task == "dotenv":
        result = task_dotenv(sys.argv[2])
    else:
        raise SystemExit(f"unknown task {task}")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
