"""SM2/SM3 verifiers for the tests that are not cardd's own.

Signatures (GM/T 0003, digest SM3, user ID 1234567812345678) are checked
with the openssl command line and, through tests/js/sm2_verify.js, with the
npm package sm-crypto; batch proofs are an RFC 9162 Merkle tree with SM3
in place of SHA-256, rebuilt here. Only the standard library is used.

Formats: an SM2 JWK is {"kty":"EC","crv":"SM2","x":..,"y":..,"kid":..}
(32-byte big-endian coordinates, base64url); a signature is 64 bytes r||s;
a detached JWS is H..S with header {"alg":"SM2","kid":..}; a batch proof is
H..S~N~INDEX~PATH over the root object (ROOT_OBJECT).

verify_* return False for a signature or proof that does not hold or is
malformed, and raise ValueError for a malformed JWK; verify_node raises
RuntimeError when node, tests/js/node_modules or the script fails.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from tests.integration import harness as h
from tests.integration.test_batch_sign import root_of as rfc9162_root_of

DISTID = "1234567812345678"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2 = "1.2.156.10197.1.301"
ROOT_OBJECT = '{"typ":"cardd-merkle","v":1,"hash":"SM3","n":%d,"root":"%s"}'
JS_DIR = h.ROOT / "tests" / "js"
JS_SCRIPT = JS_DIR / "sm2_verify.js"
DECIMAL = re.compile(r"0|[1-9][0-9]{0,14}")   # fullmatch; as sm2_verify.js
OPENSSL_TIMEOUT = 30.0
NODE_TIMEOUT = 120.0


# ------------------------------------------------------------------ hashes

def sm3(data):
    """SM3 digest (32 bytes) of data."""
    return hashlib.new("sm3", data).digest()


def b64url_strict(text):
    """base64url -> bytes, refusing non-canonical text (ValueError)."""
    data = h.b64url_decode(text)
    if h.b64url(data) != text:
        raise ValueError("not canonical base64url: %r" % text[:80])
    return data


# --------------------------------------------------------------------- DER

def der_len(n):
    """DER length octets for a body of n bytes."""
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def der_tlv(tag, body):
    """One DER TLV: tag, length, body."""
    return bytes([tag]) + der_len(len(body)) + body


def der_oid(dotted):
    """DER OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return der_tlv(0x06, bytes(out))


def der_uint(be):
    """DER INTEGER of the unsigned big-endian bytes be (minimal, 0x00 if the
    top bit is set)."""
    be = be.lstrip(b"\x00") or b"\x00"
    if be[0] & 0x80:
        be = b"\x00" + be
    return der_tlv(0x02, be)


def rs_to_der(sig64):
    """64-byte r||s -> DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs)."""
    if len(sig64) != 64:
        raise ValueError("an SM2 signature is 64 bytes, not %d" % len(sig64))
    return der_tlv(0x30, der_uint(sig64[:32]) + der_uint(sig64[32:]))


def spki_der(x, y):
    """DER SubjectPublicKeyInfo of the SM2 point (x, y)."""
    if len(x) != 32 or len(y) != 32:
        raise ValueError("SM2 coordinates are 32 bytes each")
    alg = der_tlv(0x30, der_oid(OID_EC_PUBLIC_KEY) + der_oid(OID_SM2))
    return der_tlv(0x30, alg + der_tlv(0x03, b"\x00\x04" + x + y))


def spki_pem(x, y):
    """PEM "PUBLIC KEY" of the SM2 point (x, y)."""
    body = base64.b64encode(spki_der(x, y)).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n"
            % "\n".join(lines))


# --------------------------------------------------------------------- JWK

def jwk_point(jwk):
    """(x, y) bytes of an SM2 JWK; ValueError when it is not one."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or \
            jwk.get("crv") != "SM2":
        raise ValueError("not an SM2 JWK: %r" % (jwk,))
    x, y = b64url_strict(jwk.get("x", "")), b64url_strict(jwk.get("y", ""))
    if len(x) != 32 or len(y) != 32:
        raise ValueError("SM2 JWK x/y must be 32 bytes: %r" % (jwk,))
    return x, y


def thumbprint(jwk):
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an SM2 JWK."""
    jwk_point(jwk)
    canon = '{"crv":"%s","kty":"%s","x":"%s","y":"%s"}' % (
        jwk["crv"], jwk["kty"], jwk["x"], jwk["y"])
    return h.b64url(hashlib.sha256(canon.encode("ascii")).digest())


# ------------------------------------------------------------------ openssl

def verify_openssl(jwk, signing_input, sig64, workdir):
    """True when openssl verifies sig64 (r||s) over signing_input."""
    pem = spki_pem(*jwk_point(jwk))
    if len(sig64) != 64:
        return False
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        paths = [os.path.join(d, n) for n in ("key.pem", "input", "sig.der")]
        for path, data in zip(paths, (pem.encode(), signing_input,
                                      rs_to_der(sig64))):
            with open(path, "wb") as f:
                f.write(data)
        r = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths[0],
             "-rawin", "-in", paths[1], "-sigfile", paths[2],
             "-digest", "sm3", "-pkeyopt", "distid:" + DISTID],
            capture_output=True, timeout=OPENSSL_TIMEOUT)
    return r.returncode == 0 and b"Signature Verified Successfully" in r.stdout


def verify_jws(jwk, payload, detached_jws, workdir):
    """True when detached_jws (H..S, alg SM2, jwk's kid) signs payload."""
    jwk_point(jwk)
    if isinstance(detached_jws, bytes):
        detached_jws = detached_jws.decode("ascii", "replace")
    try:
        hdr_b64, hdr, sig = h.split_jws(detached_jws)
        if h.b64url(sig) != detached_jws.split(".")[2]:
            return False
    except ValueError:          # json.JSONDecodeError is one too
        return False
    if not isinstance(hdr, dict) or hdr.get("alg") != "SM2" or \
            hdr.get("kid") != jwk.get("kid") or "crit" in hdr:
        return False
    return verify_openssl(jwk, h.signing_input(hdr_b64, payload), sig,
                          workdir)


# ------------------------------------------------------------------- batch

def node_hash(left, right):
    """SM3 Merkle interior node: SM3(0x01 || left || right)."""
    return sm3(b"\x01" + left + right)


def root_of(leaf, index, n, path):
    """RFC 9162 §2.1.3.2 over SM3 nodes: the root from leaf and its path,
    or None (test_batch_sign's walk, with node_hash)."""
    return rfc9162_root_of(leaf, index, n, path, node_hash)


def parse_proof(proof):
    """H..S~N~INDEX~PATH -> (jws, n, index, [32-byte hashes]); ValueError."""
    jws, n, index, path_b64 = proof.split("~")
    if not DECIMAL.fullmatch(n) or not DECIMAL.fullmatch(index):
        raise ValueError("n and index must be decimal: %r" % proof)
    path = b64url_strict(path_b64)
    if len(path) % 32:
        raise ValueError("path is not a list of 32-byte hashes")
    return jws, int(n), int(index), [path[i:i + 32]
                                     for i in range(0, len(path), 32)]


def verify_batch(jwk, statement, proof, workdir):
    """True when proof (H..S~N~INDEX~PATH, SM3 tree) holds for statement."""
    jwk_point(jwk)
    if isinstance(statement, str):
        statement = statement.encode("utf-8")
    if isinstance(proof, bytes):
        proof = proof.decode("ascii", "replace")
    try:
        jws, n, index, path = parse_proof(proof)
    except ValueError:
        return False
    root = root_of(sm3(b"\x00" + statement), index, n, path)
    if root is None:
        return False
    payload = (ROOT_OBJECT % (n, h.b64url(root))).encode("ascii")
    return verify_jws(jwk, payload, jws, workdir)


# -------------------------------------------------------------------- node

def node_line(item):
    """One JSON input line for sm2_verify.js; bytes values are converted."""
    item = dict(item)
    for key in ("input", "statement"):
        if isinstance(item.get(key), bytes):
            item[key] = item[key].decode("utf-8")
    if isinstance(item.get("sig"), bytes):
        item["sig"] = h.b64url(item["sig"])
    return json.dumps(item, separators=(",", ":"))


def check_node():
    """Raise RuntimeError unless node and tests/js/node_modules are here."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is missing: apt-get install nodejs npm")
    if not (JS_DIR / "node_modules" / "sm-crypto").is_dir():
        raise RuntimeError("%s/node_modules is missing: run (cd tests/js && "
                           "npm ci --no-audit --no-fund) or make deps"
                           % JS_DIR)
    return node


def verify_node(items):
    """sm-crypto's verdicts (True = ok) for items, in one node run: each
    {"jwk","input","sig"} or {"jwk","statement","proof"}."""
    node = check_node()
    text = "".join(node_line(i) + "\n" for i in items)
    r = subprocess.run([node, str(JS_SCRIPT)], input=text.encode("utf-8"),
                       capture_output=True, timeout=NODE_TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError("sm2_verify.js exited %d: %s" % (
            r.returncode, r.stderr.decode(errors="replace").strip()))
    out = r.stdout.decode("ascii").splitlines()
    if len(out) != len(items) or set(out) - {"ok", "fail"}:
        raise RuntimeError("sm2_verify.js answered %r for %d items"
                           % (out, len(items)))
    return [line == "ok" for line in out]
