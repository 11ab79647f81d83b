"""Modal's official Python SDK (modal==1.6.4) against modal-secrets-server.

Run by tests/official/run.sh with MODAL_SERVER_URL, MODAL_TOKEN_ID and MODAL_TOKEN_SECRET set and an
environment named by the first argument created beside `main`. Every check is an assert; each passed
check prints one `PASS <name>` line, which run.sh counts. Any failure raises and exits non-zero.
"""

import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import modal
import modal.exception

EXTRA_ENV = sys.argv[1] if len(sys.argv) > 1 else "dev"
PAGE_COUNT = 250

passed = 0


def ok(name):
    global passed
    passed += 1
    print(f"PASS {name}", flush=True)


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f"{fn.__qualname__}{args} did not raise {exc_type.__name__}")


def keys_of(name, environment_name=None):
    """The key names the server reports for a secret (SecretGetOrCreate metadata), via a fresh handle."""
    secret = modal.Secret.from_name(name, environment_name=environment_name).hydrate()
    # No public accessor for the key names in 1.6.4; the metadata is what the server sent.
    return set(secret._get_metadata().keys)


assert modal.__version__ == "1.6.4", f"expected modal 1.6.4, got {modal.__version__}"

# --- create, and from_name(...).hydrate() --------------------------------------------------------
started = datetime.now(timezone.utc)
modal.Secret.objects.create("sdk-a", {"K1": "v1", "K2": "v2"})
secret = modal.Secret.from_name("sdk-a").hydrate()
assert secret.object_id.startswith("st-"), f"object_id {secret.object_id!r}"
assert secret.name == "sdk-a", f"name {secret.name!r}"
ok("objects.create then Secret.from_name(...).hydrate()")

assert keys_of("sdk-a") == {"K1", "K2"}, keys_of("sdk-a")
ok("hydrated metadata carries the key names")

again = modal.Secret.from_name("sdk-a").hydrate()
assert again.object_id == secret.object_id, (again.object_id, secret.object_id)
ok("a second lookup finds the same id")

raises(modal.exception.AlreadyExistsError, modal.Secret.objects.create, "sdk-a", {"K1": "x"})
modal.Secret.objects.create("sdk-a", {"OTHER": "x"}, allow_existing=True)
assert keys_of("sdk-a") == {"K1", "K2"}, "allow_existing must leave the secret untouched"
ok("objects.create: AlreadyExistsError, and allow_existing keeps the contents")

raises(modal.exception.NotFoundError, modal.Secret.from_name("sdk-missing").hydrate)
ok("from_name of a missing secret: NotFoundError")

err = raises(Exception, modal.Secret.from_name("sdk-a", required_keys=["K1", "NOPE"]).hydrate)
assert "missing key" in str(err).lower(), f"required_keys error: {type(err).__name__}: {err}"
modal.Secret.from_name("sdk-a", required_keys=["K1", "K2"]).hydrate()
ok("required_keys: a missing key is refused, present keys pass")

# --- info() ----------------------------------------------------------------------------------------
info = secret.info()
assert info.name == "sdk-a", info
assert info.environment_name == "main", info
assert isinstance(info.created_at, datetime), info
assert started - timedelta(seconds=5) <= info.created_at <= datetime.now(timezone.utc) + timedelta(seconds=5), (
    started,
    info.created_at,
)
assert info.created_by, f"created_by should name the creator: {info}"
assert info.last_used is None, info
ok("info(): name, environment, created_at, created_by, last_used")

# --- update() --------------------------------------------------------------------------------------
secret.update({"K2": "changed", "K3": "v3"})
assert keys_of("sdk-a") == {"K1", "K2", "K3"}, keys_of("sdk-a")
refreshed = secret.info(refresh=True)  # SecretGetInfo
assert refreshed.name == "sdk-a" and refreshed.created_at == info.created_at, refreshed
ok("update() merges keys; info(refresh=True) still agrees")

raises(modal.exception.InvalidError, secret.update, {"BAD": 1})
ok("update() with a non-string value: InvalidError before any call")

# --- environments ----------------------------------------------------------------------------------
modal.Secret.objects.create("sdk-env", {"E": "1"}, environment_name=EXTRA_ENV)
in_env = modal.Secret.from_name("sdk-env", environment_name=EXTRA_ENV).hydrate()
assert in_env.info().environment_name == EXTRA_ENV, in_env.info()
raises(modal.exception.NotFoundError, modal.Secret.from_name("sdk-env").hydrate)
names_env = [s.name for s in modal.Secret.objects.list(environment_name=EXTRA_ENV)]
assert "sdk-env" in names_env and "sdk-a" not in names_env, names_env
raises(
    modal.exception.NotFoundError,
    modal.Secret.objects.create,
    "sdk-x",
    {"A": "1"},
    environment_name="no-such-env",
)
ok(f"environment {EXTRA_ENV!r}: create, lookup, list, isolation from main; unknown env NotFound")

# --- objects.list() over many secrets ------------------------------------------------------------
names = [f"page-{i:03d}" for i in range(PAGE_COUNT)]
t0 = time.monotonic()
for name in names:
    modal.Secret.objects.create(name, {"N": name.replace("-", "_")})
created_secs = time.monotonic() - t0
print(f"  (created {PAGE_COUNT} secrets in {created_secs:.1f}s)", flush=True)

listed = modal.Secret.objects.list()
counts = Counter(s.name for s in listed)
dupes = {n: c for n, c in counts.items() if c != 1}
assert not dupes, f"listed more than once: {dupes}"
missing = [n for n in names if counts[n] != 1]
assert not missing, f"missing from the list: {missing[:10]} (+{max(0, len(missing) - 10)})"
assert set(counts) == set(names) | {"sdk-a"}, sorted(set(counts) - set(names))
assert all(s.object_id.startswith("st-") for s in listed)
ok(f"objects.list(): all {PAGE_COUNT + 1} secrets, each exactly once (pages of 100)")

listed_names = [s.name for s in listed]
assert listed_names[: PAGE_COUNT] == list(reversed(names)), listed_names[:5]
ok("objects.list(): newest first")

ten = modal.Secret.objects.list(max_objects=10)
assert [s.name for s in ten] == list(reversed(names))[:10], [s.name for s in ten]
ok("objects.list(max_objects=10)")

cutoff = listed[PAGE_COUNT // 2].info().created_at
older = modal.Secret.objects.list(created_before=cutoff)
older_names = [s.name for s in older]
assert older_names == listed_names[PAGE_COUNT // 2 + 1 :], (older_names[:3], listed_names[PAGE_COUNT // 2 : PAGE_COUNT // 2 + 3])
ok("objects.list(created_before=...) is strict")

info_listed = listed[0].info()
assert info_listed.name == names[-1] and info_listed.environment_name == "main", info_listed
ok("a listed secret is hydrated with its metadata")

# --- objects.delete() ------------------------------------------------------------------------------
modal.Secret.objects.delete("sdk-a")
raises(modal.exception.NotFoundError, modal.Secret.from_name("sdk-a").hydrate)
raises(modal.exception.NotFoundError, modal.Secret.objects.delete, "sdk-a")
modal.Secret.objects.delete("sdk-a", allow_missing=True)
modal.Secret.objects.delete("sdk-env", environment_name=EXTRA_ENV)
assert [s.name for s in modal.Secret.objects.list(environment_name=EXTRA_ENV)] == []
ok("objects.delete(), allow_missing, and delete in an environment")

for name in names:
    modal.Secret.objects.delete(name)
assert modal.Secret.objects.list() == []
ok(f"deleted all {PAGE_COUNT}; the list is empty")

print(f"sdk: {passed} checks passed", flush=True)
