"""Modal's official Python SDK (modal==1.6.4) as a helper for tests/official/interop.mjs.

Reads one JSON command per line on stdin and answers one JSON line on stdout:
  {"op": "describe", "name": N, "env": E}      -> the secret as the SDK sees it (keys, info)
  {"op": "create", "name": N, "values": {...}, "env": E}
  {"op": "list", "env": E}                     -> [{"name", "object_id"}], newest first
  {"op": "exists", "name": N, "env": E}        -> true / false (NotFoundError)
A failure answers {"error": <exception class>, "message": <text>}. Never prints a secret value.
"""

import json
import os
import sys

import modal
import modal.exception

assert modal.__version__ == "1.6.4", f"expected modal 1.6.4, got {modal.__version__}"


def timestamp(dt):
    return None if dt is None else dt.timestamp()


def describe(name, env=None):
    secret = modal.Secret.from_name(name, environment_name=env).hydrate()
    info = secret.info()
    return {
        "object_id": secret.object_id,
        # No public accessor for the key names in 1.6.4; the metadata is what the server sent.
        "keys": sorted(secret._get_metadata().keys),
        "name": info.name,
        "created_by": info.created_by,
        "environment_name": info.environment_name,
        "created_at": timestamp(info.created_at),
        "last_used": timestamp(info.last_used),
    }


AUDIT_DIR = os.environ.get("MODAL_SECRETS_AUDIT_DIR")


def record(values):
    """For the secrets audit of npm test (tests/audit/): the values this SDK sends."""
    if not AUDIT_DIR:
        return
    path = os.path.join(AUDIT_DIR, f"secrets-interop.py-{os.getpid()}.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        for value in values:
            if isinstance(value, str) and value:
                f.write(json.dumps({"kind": "value", "value": value, "from": "interop.py"}) + "\n")


def handle(cmd):
    op = cmd["op"]
    env = cmd.get("env")
    if op == "describe":
        return describe(cmd["name"], env)
    if op == "create":
        record(cmd["values"].values())
        modal.Secret.objects.create(cmd["name"], cmd["values"], environment_name=env)
        return True
    if op == "list":
        return [{"name": s.name, "object_id": s.object_id} for s in modal.Secret.objects.list(environment_name=env or "")]
    if op == "exists":
        try:
            modal.Secret.from_name(cmd["name"], environment_name=env).hydrate()
            return True
        except modal.exception.NotFoundError:
            return False
    raise ValueError(f"unknown op {op!r}")


for line in sys.stdin:
    try:
        answer = {"ok": handle(json.loads(line))}
    except Exception as e:  # reported to the caller, which fails the check
        answer = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(answer), flush=True)
