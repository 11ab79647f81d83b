#!/usr/bin/env python3
"""Seed corpora for the server's fuzz targets (server_request, gateway_request, auth_token): valid requests of every
method in every content type, which the fuzzer then mutates. Writes fuzz/corpus/<target>/."""
import base64, os, struct, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")

def frame(msg: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(msg)) + msg

sid = b"st-aaaaaaaaaaaaaaaaaaaaaa"
messages = {
    0: [b"\x0a\x07planted", b"\x0a\x03foo\x20\x02\x2a\x06\x0a\x01A\x12\x011",
        b"\x0a\x03foo\x20\x03\x2a\x06\x0a\x01B\x12\x012\x1a\x03dev",
        b"\x20\x05\x2a\x06\x0a\x01E\x12\x01e", b"\x0a\x07planted\x3a\x07PLANTED"],
    1: [b"\x12\x02\x08\x0a", b""],
    2: [b"\x0a\x19" + sid],
    3: [b"\x0a\x19" + sid + b"\x12\x06\x0a\x01A\x12\x01v", b"\x0a\x19" + sid + b"\x12\x03\x0a\x01A"],
    4: [b"\x0a\x19" + sid],
    5: [b""], 6: [b""], 7: [b""], 8: [b""],
}
os.makedirs(os.path.join(root, "server_request"), exist_ok=True)
n = 0
for method, msgs in messages.items():
    for msg in msgs:
        for ct in range(4):
            body = frame(msg)
            if ct == 3:
                body = base64.b64encode(body)
            for chunk in (0, 3):
                head = bytes([method | (ct << 4) | 0x40, 0, chunk, 127, 0, 0, 1])
                with open(os.path.join(root, "server_request", f"seed-{n:03d}"), "wb") as f:
                    f.write(head + body)
                n += 1
# With a header (the auth token header) and no token.
head = bytes([5 | (1 << 4), 1, 0, 10, 0, 0, 1])
hdr = b"x-modal-auth-token"
with open(os.path.join(root, "server_request", "seed-jwt"), "wb") as f:
    f.write(head + bytes([len(hdr)]) + hdr + bytes([5]) + b"a.b.c" + frame(b""))

# The gateway takes the same input format.
import shutil
os.makedirs(os.path.join(root, "gateway_request"), exist_ok=True)
for name in os.listdir(os.path.join(root, "server_request")):
    if name.startswith("seed-"):
        shutil.copy(os.path.join(root, "server_request", name), os.path.join(root, "gateway_request", name))

os.makedirs(os.path.join(root, "auth_token"), exist_ok=True)
# The token the target's signer issues (key [42; 32], ak-fuzz, 7, fuzz, 1800000000), built here the
# same way, and some broken shapes.
import hmac, hashlib, json
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=")
header = b64(b'{"alg":"HS256","typ":"JWT"}')
payload = b64(json.dumps({"exp": 1800003600, "iat": 1800000000, "sub": "ak-fuzz", "ws": 7, "wsn": "fuzz"}, separators=(",", ":")).encode())
signing = header + b"." + payload
sig = b64(hmac.new(bytes([42] * 32), signing, hashlib.sha256).digest())
for i, token in enumerate([signing + b"." + sig, signing + b".", b"a.b.c", header + b"..", b"..", b""]):
    with open(os.path.join(root, "auth_token", f"seed-{i}"), "wb") as f:
        f.write(token)
print(f"seeds written under {os.path.normpath(root)}", file=sys.stderr)
