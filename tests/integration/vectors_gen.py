"""The test vectors of protocol/PROTOCOL.md §4.4, made here from the fixed
keys of §8 (tests/data/rfc8037-a1.pem, Ed25519) and §11.1
(tests/data/sm2-example.pem, SM2), with code that is not cardd's: Ed25519
by python3-cryptography, SM2 signatures by the openssl command line, the
Merkle trees by RFC 9162's recursive definitions (§2.1.1 MTH, §2.1.3.1
PATH), not by a verifier's iterative walk.

Each vector is a JSON object in a ```json block just after a line
`<!-- vector: NAME -->`. Everything in them is deterministic except the
SM2 signatures (a fresh k each time): those found in PROTOCOL.md are kept
when they verify over the signing input made here, else made anew.

    /usr/bin/python3 -m tests.integration.vectors_gen --check  # 1: stale
    /usr/bin/python3 -m tests.integration.vectors_gen --write  # rewrite

test_verifiers uses extract() and build() to check the document against
this file and to verify every vector with both verifier libraries and
cardctl verify.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import (
    Encoding, PublicFormat, load_pem_private_key)

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "protocol" / "PROTOCOL.md"
ED_KEY = ROOT / "tests" / "data" / "rfc8037-a1.pem"
SM2_KEY = ROOT / "tests" / "data" / "sm2-example.pem"
DISTID = "1234567812345678"

MARKER = re.compile(r"^<!-- vector: ([a-z0-9-]+) -->\n```json\n(.*?)\n```$",
                    re.M | re.S)

# §10's worked example: the code, and so its hash in an answer.
CODE = ("eyJhbGciOiJFZERTQSIsImtpZCI6ImtQcktfcW14VldhWVZBOXd3QkY2SXVvM3ZWeno3"
        "VHhIQ1R3WEJ5Z3JTNGsiLCJ0eXAiOiJjYXJkLWNvZGUrand0In0.eyJpc3MiOiJkZW1v"
        "LWNhcmQtcGxhdGZvcm0iLCJzdWIiOiIwMDAwMDAwMDAwMDEiLCJpYXQiOjE3OTYxOTg0"
        "MDAsImV4cCI6MTc5NjE5ODQ2MCwianRpIjoiWm05eUxYUm9aUzFsZUdGdGNHeGwifQ.lp"
        "YWVym_zWGGFQI9rbGiZVbrzjKABTCJKV_N1_sWdsvA3l1Vb-b5lXV93tZjmDljG_R3Btl"
        "GcVqWcO4kT_uuDg")
CODE_HASH = "h-5CpyzoGEQ_TZ0G_oGG5qznVBSjr2Y3JCnsmHUzZzs"

SYNCED, ISSUED = "2026-11-28T06:00:00.000Z", "2026-11-28T06:00:00.250Z"


# ------------------------------------------------------------- encodings

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(data):
    return hashlib.sha256(data).digest()


def sm3(data):
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


# ------------------------------------------------------------------ keys

def ed25519_key():
    """(private key, JWK) of RFC 8037 A.1."""
    key = load_pem_private_key(ED_KEY.read_bytes(), None)
    x = b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    canon = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % x
    kid = b64url(sha256(canon.encode()))
    return key, {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid,
                 "use": "sig", "alg": "EdDSA"}


def openssl(*args, data=None):
    r = subprocess.run(["openssl"] + [str(a) for a in args], input=data,
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(map(str, args)),
                                               r.stderr.decode()))
    return r.stdout


def sm2_jwk():
    """The JWK of §11.1's key, read by openssl."""
    der = openssl("pkey", "-in", SM2_KEY, "-pubout", "-outform", "DER")
    x, y = b64url(der[-64:-32]), b64url(der[-32:])
    canon = '{"crv":"SM2","kty":"EC","x":"%s","y":"%s"}' % (x, y)
    return {"kty": "EC", "crv": "SM2", "x": x, "y": y,
            "kid": b64url(sha256(canon.encode())), "use": "sig",
            "alg": "SM2"}


def _der_ints(der):
    """r, s of a DER ECDSA-Sig-Value."""
    assert der[0] == 0x30
    body = der[2:] if der[1] < 0x80 else der[2 + (der[1] & 0x7F):]
    out = []
    for _ in range(2):
        assert body[0] == 0x02
        n = body[1]
        out.append(int.from_bytes(body[2:2 + n], "big"))
        body = body[2 + n:]
    return out


def sm2_sign(data):
    """openssl's SM2 signature (SM3, user ID 1234567812345678) as r || s."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "input")
        with open(path, "wb") as f:
            f.write(data)
        der = openssl("pkeyutl", "-sign", "-inkey", SM2_KEY, "-rawin", "-in",
                      path, "-digest", "sm3", "-pkeyopt", "distid:" + DISTID)
    return b"".join(v.to_bytes(32, "big") for v in _der_ints(der))


def sm2_verifies(data, sig_b64):
    """openssl's verdict on an SM2 signature r || s (base64url)."""
    sig = b64url_decode(sig_b64)
    if len(sig) != 64:
        return False
    r, s = sig[:32], sig[32:]

    def der_int(v):
        v = v.lstrip(b"\x00") or b"\x00"
        v = b"\x00" + v if v[0] & 0x80 else v
        return b"\x02" + bytes([len(v)]) + v
    body = der_int(r) + der_int(s)
    der = b"\x30" + bytes([len(body)]) + body
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, n) for n in ("key.pem", "in", "sig")]
        pem = openssl("pkey", "-in", SM2_KEY, "-pubout")
        for p, v in zip(paths, (pem, data, der)):
            with open(p, "wb") as f:
                f.write(v)
        r = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths[0],
             "-rawin", "-in", paths[1], "-sigfile", paths[2], "-digest",
             "sm3", "-pkeyopt", "distid:" + DISTID], capture_output=True,
            timeout=30)
    return r.returncode == 0 and b"Signature Verified Successfully" in r.stdout


# ------------------------------------------------------------ statements

def s_coverage(kid):
    """§8's statement (and §11.1's, with the SM2 kid)."""
    return ('{"v":1,"check":"coverage","card":"000000000000","scheme":'
            '"medical","region":"440300","at":"2026-11-28","result":'
            '"covered","reason":"ok","rev":1,"synced_at":"%s","issued_at":'
            '"%s","kid":"%s","nonce":"q7Zx0nYp"}' % (SYNCED, ISSUED, kid))


def s_validity(kid):
    """§11.1's second statement."""
    return ('{"v":1,"check":"validity","card":"000000000000","at":'
            '"2026-11-28","result":"valid","reason":"ok","rev":1,'
            '"synced_at":"%s","issued_at":"%s","kid":"%s","nonce":'
            '"Hb3kq9Tm"}' % (SYNCED, ISSUED, kid))


def s_permit(kid):
    """A negative answer, asked by permit number."""
    return ('{"v":1,"check":"validity","permit":"WP0000007919","at":'
            '"2026-11-28","result":"invalid","reason":"permit_expired",'
            '"rev":4,"synced_at":"%s","issued_at":"%s","kid":"%s"}'
            % (SYNCED, ISSUED, kid))


def s_code(kid):
    """An answer to §10's code (issuer demo-card-platform), without
    disclosure: the code's hash and the issuer in place of the card."""
    return ('{"v":1,"check":"coverage","code":"%s","iss":'
            '"demo-card-platform","scheme":"medical","at":"2026-12-02",'
            '"result":"covered","reason":"ok","rev":1,"synced_at":'
            '"2026-12-02T07:59:30.000Z","issued_at":"2026-12-02T08:00:05.120Z"'
            ',"kid":"%s","nonce":"c0deAns1"}' % (CODE_HASH, kid))


def http_body(kid):
    """An HTTP batch answer (POST /v1/check, §5.2): the whole body."""
    return '{"results":[%s,%s]}' % (s_validity(kid), s_permit(kid))


# ---------------------------------------------------------------- Merkle

def mth(leaves, h):
    """RFC 9162 §2.1.1 MTH over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return h(b"\x01" + mth(leaves[:k], h) + mth(leaves[k:], h))


def path(m, leaves, h):
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes, leaf to root."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return path(m, leaves[:k], h) + [mth(leaves[k:], h)]
    return path(m - k, leaves[k:], h) + [mth(leaves[:k], h)]


def root_object(n, root, sm3_tree):
    return ('{"typ":"cardd-merkle","v":1,%s"n":%d,"root":"%s"}'
            % ('"hash":"SM3",' if sm3_tree else "", n, b64url(root)))


# --------------------------------------------------------------- vectors

def header(alg, kid):
    return b64url(('{"alg":"%s","kid":"%s"}' % (alg, kid)).encode())


class Signer:
    """Signs with the two fixed keys. SM2 signatures are randomised, so
    one of `known` (base64url r || s, from the document) is reused when
    openssl says it holds over the signing input; else a new one is made."""

    def __init__(self, known=()):
        self.ed, self.ed_jwk = ed25519_key()
        self.sm2_jwk = sm2_jwk()
        self.known = list(known)

    def sign(self, alg, kid, payload):
        """(signing input, detached JWS) over payload bytes."""
        si = header(alg, kid) + "." + b64url(payload)
        if alg == "EdDSA":
            sig = b64url(self.ed.sign(si.encode()))
        else:
            sig = next((k for k in self.known
                        if sm2_verifies(si.encode(), k)), None) or \
                b64url(sm2_sign(si.encode()))
        return si, header(alg, kid) + ".." + sig


def batch_vector(signer, name, alg, kid, statements, note):
    sm3_tree = alg == "SM2"
    h = sm3 if sm3_tree else sha256
    leaves = [h(b"\x00" + s.encode()) for s in statements]
    root = mth(leaves, h)
    obj = root_object(len(leaves), root, sm3_tree)
    si, jws = signer.sign(alg, kid, obj.encode())
    proofs = ["%s~%d~%d~%s" % (jws, len(leaves), i,
                               b64url(b"".join(path(i, leaves, h))))
              for i in range(len(leaves))]
    return {"name": name, "note": note, "mode": "batch", "alg": alg,
            "hash": "SM3" if sm3_tree else "SHA-256", "kid": kid,
            "statements": statements, "leaves": [b64url(x) for x in leaves],
            "root": b64url(root), "root_object": obj, "signing_input": si,
            "signature": jws, "proofs": proofs}


def answer_vector(signer, name, alg, kid, statement, note, **extra):
    si, jws = signer.sign(alg, kid, statement.encode())
    v = {"name": name, "note": note, "mode": "per-answer", "alg": alg,
         "kid": kid}
    v.update(extra)
    v.update({"statement": statement, "signing_input": si,
              "signature": jws})
    return v


def must_fail(signer, good):
    """Answers every verifier must refuse, each a small change of a good
    one (or a signature that holds over bytes that are no answer)."""
    ed, sm = signer.ed_jwk["kid"], signer.sm2_jwk["kid"]
    code_v, body_v = good["ed25519-code-answer"], good["ed25519-http-batch"]
    edb, smb = good["ed25519-batch"], good["sm2-batch"]
    st, sig = code_v["statement"], code_v["signature"]
    hdr, _, s = sig.partition("..")
    out = []

    def add(why, statement, signature, **kw):
        case = {"why": why, "statement": statement, "signature": signature}
        case.update(kw)
        out.append(case)

    add("one byte of the statement changed", st.replace('"covered"',
        '"cOvered"'), sig)
    add("the statement with a trailing newline (bytes not as received)",
        st + "\n", sig)
    add("padded base64url signature", st, sig + "==")
    std = next(v for v in (code_v, body_v)
               if set(v["signature"].split("..")[1]) & set("-_"))
    add("standard base64 ('+', '/') in the signature", std["statement"],
        std["signature"].replace("-", "+").replace("_", "/"))
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_")
    # 64 bytes are 86 characters, the last carrying 2 bits and 4 spare.
    alt = alphabet[alphabet.index(s[-1]) | 1]
    add("non-canonical base64url signature (a spare bit set in the last "
        "character: the same bytes to a lenient decoder)", st,
        hdr + ".." + s[:-1] + alt)
    add("the JWS with the payload in its middle part (a valid compact JWS, "
        "but not a detached one)", st, hdr + "." + b64url(st.encode()) + "." +
        s)
    add("one byte of the signature changed", st,
        hdr + ".." + ("B" if s[0] != "B" else "C") + s[1:])
    _, unk = signer.sign("EdDSA", "no-such-kid", st.encode())
    add("a kid the JWKS does not have (signed by the right key)", st, unk)
    add("alg swapped: SM2 in the header of an Ed25519 signature",
        st, header("SM2", ed) + ".." + s)
    smv = good["sm2-batch"]
    sm_si_sig = smv["signature"].split("..")[1]
    add("alg swapped: EdDSA in the header, kid of the SM2 key",
        smv["statements"][0], header("EdDSA", sm) + ".." + sm_si_sig +
        smv["proofs"][0][len(smv["signature"]):])
    _, kidsig = signer.sign("EdDSA", ed, st.replace(ed, sm).encode())
    add("the statement names another kid than the one that signed it",
        st.replace(ed, sm), kidsig)
    add("a root object presented as a statement with the batch JWS (it "
        "verifies as a detached JWS: typ cardd-merkle is never an answer)",
        edb["root_object"], edb["signature"])
    add("one byte of a proof's path changed", edb["statements"][0],
        _flip_path(edb["proofs"][0]))
    add("a proof's path with one hash too many", edb["statements"][2],
        edb["proofs"][2] + b64url(b"\x00" * 32))
    add("a proof of the wrong leaf index", edb["statements"][0],
        edb["proofs"][0].replace("~3~0~", "~3~1~"))
    add("N with a leading zero (03 for 3)", edb["statements"][0],
        edb["proofs"][0].replace("~3~0~", "~03~0~"))
    add("padded base64url path", edb["statements"][0],
        edb["proofs"][0] + "=")
    leaf = sha256(b"\x00" + edb["statements"][0].encode())
    _, one = signer.sign("EdDSA", ed, root_object(1, leaf, False).encode())
    add("a tree of N = 1, signed (a lone answer is never a proof)",
        edb["statements"][0], one + "~1~0~")
    # The SM2 tree's leaves hashed with SHA-256, signed with SM2.
    sleaves = [sha256(b"\x00" + x.encode()) for x in smb["statements"]]
    _, shajws = signer.sign("SM2", sm, root_object(
        3, mth(sleaves, sha256), False).encode())
    add("an SM2-signed tree hashed with SHA-256 (SM2 trees are SM3)",
        smb["statements"][0], "%s~3~0~%s" % (shajws, b64url(b"".join(
            path(0, sleaves, sha256)))))
    add("an answer about another card code than the one asked",
        code_v["statement"], code_v["signature"], code=CODE[:-1] + (
            "A" if CODE[-1] != "A" else "B"))
    add("the HTTP batch's JWS over one of its statements (it signs the "
        "whole body)", s_validity(ed), body_v["signature"])
    return out


def _flip_path(proof):
    head, p = proof.rsplit("~", 1)
    raw = bytearray(b64url_decode(p))
    raw[0] ^= 0x01
    return head + "~" + b64url(bytes(raw))


def build(known=()):
    """Every vector of §4.4, by name, in document order."""
    signer = Signer(known)
    ed, sm = signer.ed_jwk["kid"], signer.sm2_jwk["kid"]
    assert b64url(sha256(CODE.encode())) == CODE_HASH
    good = {}
    good["jwks"] = {"keys": [signer.ed_jwk, signer.sm2_jwk]}
    good["ed25519-code-answer"] = answer_vector(
        signer, "ed25519-code-answer", "EdDSA", ed, s_code(ed),
        "an answer to the card code of §10, per answer; its code member is "
        "base64url(SHA-256(code))", code=CODE, code_hash=CODE_HASH)
    good["ed25519-http-batch"] = answer_vector(
        signer, "ed25519-http-batch", "EdDSA", ed, http_body(ed),
        "POST /v1/check per answer: one detached JWS over the whole body")
    good["ed25519-batch"] = batch_vector(
        signer, "ed25519-batch", "EdDSA", ed,
        [s_coverage(ed), s_code(ed), http_body(ed)],
        "sign_mode batch: a statement, a code answer and an HTTP batch body "
        "(one leaf) in a SHA-256 tree of 3")
    good["sm2-batch"] = batch_vector(
        signer, "sm2-batch", "SM2", sm,
        [s_coverage(sm), s_validity(sm), s_code(sm)],
        "sign_mode batch, sign_alg sm2: §11.1's two statements and a code "
        "answer in an SM3 tree of 3")
    good["must-fail"] = {"name": "must-fail", "note": "each case must be "
                         "refused with the jwks vector",
                         "cases": must_fail(signer, good)}
    return good


# -------------------------------------------------------------- document

def dump(vector):
    return json.dumps(vector, indent=1, ensure_ascii=False)


def extract(text=None):
    """{name: parsed vector} of the document's marked blocks."""
    text = PROTOCOL.read_text() if text is None else text
    out = {}
    for m in MARKER.finditer(text):
        if m.group(1) in out:
            raise ValueError("vector %s twice" % m.group(1))
        out[m.group(1)] = json.loads(m.group(2))
    return out


# A detached JWS whose header starts {"alg":"SM2", and its signature.
SM2_JWS = re.compile(r"(eyJhbGciOiJTTTIi[A-Za-z0-9_-]*)\.\."
                     r"([A-Za-z0-9_-]{86})")


def known_sm2(text):
    """Every SM2 signature (base64url r || s) of detached JWS in text."""
    return sorted({m.group(2) for m in SM2_JWS.finditer(text)})


def render(text, vectors):
    """text with each marked block replaced by the vector of its name."""
    def sub(m):
        return "<!-- vector: %s -->\n```json\n%s\n```" % (
            m.group(1), dump(vectors[m.group(1)]))
    return MARKER.sub(sub, text)


def strip_sm2(v):
    """v with every SM2 signature replaced by a mark (they are random)."""
    if isinstance(v, dict):
        return {k: strip_sm2(x) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_sm2(x) for x in v]
    if isinstance(v, str):
        return SM2_JWS.sub(r"\1..<SM2>", v)
    return v


def main(argv):
    text = PROTOCOL.read_text()
    have = extract(text)
    vectors = build(known_sm2(text))
    missing = [n for n in vectors if n not in have]
    if "--write" in argv:
        PROTOCOL.write_text(render(text, vectors))
        print("wrote %d vectors; no marker for: %s" % (
            len(vectors) - len(missing), ", ".join(missing) or "none"))
        return 0
    if "--check" in argv:
        stale = [n for n in have if n in vectors and
                 strip_sm2(have[n]) != strip_sm2(vectors[n])]
        if stale or missing:
            print("stale: %s; missing: %s" % (stale, missing))
            return 1
        print("PROTOCOL.md's vectors are current")
        return 0
    for n, v in vectors.items():
        print("<!-- vector: %s -->\n```json\n%s\n```\n" % (n, dump(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
