#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Verify cardd's signed answers (protocol/PROTOCOL.md §4, §10, §11).

One file, for a hospital system to drop in. It needs python3-cryptography
(Ed25519, SHA-256, SM3) and python3-ecdsa (the curve arithmetic under SM2),
nothing else:

    import cardd_verify
    answer = cardd_verify.verify(body_bytes, card_signature, jwks)
    answer["statement"]      # the parsed statement (or batch body)
    answer["kind"]           # "jws" or "batch"
    answer["alg"], answer["kid"]

verify() checks every kind of answer cardd gives:

- a detached JWS ``H..S`` (§4.1; ``sign_mode per-answer``), EdDSA (Ed25519)
  or SM2 (SM3 digest, user ID 1234567812345678, signature r || s, §11);
- a batch proof ``H..S~N~INDEX~PATH`` (§4.3; ``sign_mode batch``): an RFC
  9162 inclusion proof of the statement in a Merkle tree (SHA-256 with
  EdDSA, SM3 with SM2) whose root object the JWS signs;
- over a statement (GET, RESP), or over the whole body of an HTTP batch
  (``POST /v1/check``, §5.2) or of a FHIR response (§12.2), which is one
  payload, or one leaf.

It verifies the bytes exactly as received and only then parses them; it
never re-serialises. It refuses, with a VerifyError saying why: an ``alg``
that does not fit the key its ``kid`` names (EdDSA needs kty OKP / crv
Ed25519, SM2 needs kty EC / crv SM2), a kid not in the JWKS, a JWS whose
middle (payload) part is not empty, base64url that is padded, of the
standard alphabet or not canonical, a header with ``crit``, a proof whose
path does not fit N and INDEX or whose N is below 2, and signed bytes that
are not an answer (a root object, say, whose signature the JWS part of a
proof is). An answer to an electronic card code (§10) is verified like
any other; ``code=`` (the code text as scanned) also checks that the
answer is about that code: its ``code`` member is base64url(SHA-256(code)).

A valid signature says the answer is genuine, not that the card is valid:
read ``statement["result"]`` and ``statement["reason"]`` for that.

CLI: ``cardd_verify.py --jwks keys.json [--code CODE] STATEMENT_FILE
SIGNATURE``; prints the verdict, exits 0 when genuine, 1 when not (2 for
bad arguments). STATEMENT_FILE ``-`` reads standard input.
"""

import argparse
import base64
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PublicKey
from ecdsa.ellipticcurve import INFINITY, CurveFp, PointJacobi

__all__ = ["verify", "VerifyError", "code_hash"]

USER_ID = b"1234567812345678"           # GM/T 0009's default SM2 user ID
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,14}")    # < 2^53, as JavaScript's
_ALGS = {"EdDSA": ("OKP", "Ed25519", "SHA-256"), "SM2": ("EC", "SM2", "SM3")}
_ROOT_OBJECT = {
    "SHA-256": '{"typ":"cardd-merkle","v":1,"n":%d,"root":"%s"}',
    "SM3": '{"typ":"cardd-merkle","v":1,"hash":"SM3","n":%d,"root":"%s"}',
}
_FHIR_STATEMENT = "urn:cardd:fhir:statement"


class VerifyError(Exception):
    """The answer is not a genuine cardd answer; str() says why."""


# ------------------------------------------------------------ encodings

def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text, what):
    """Strict unpadded base64url (RFC 7515 §2) -> bytes."""
    if not isinstance(text, str):
        raise VerifyError("%s is not a string" % what)
    if "=" in text:
        raise VerifyError("%s is padded base64url ('='): cardd's base64url "
                          "is unpadded (RFC 7515 §2)" % what)
    if "+" in text or "/" in text:
        raise VerifyError("%s is standard base64 ('+' or '/'), not "
                          "base64url" % what)
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise VerifyError("%s is not base64url" % what)
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise VerifyError("%s is not canonical base64url (its last "
                          "character has bits set that encode nothing)"
                          % what)
    return data


def _json(data, what):
    """JSON from UTF-8 bytes; NaN and Infinity refused, as in JavaScript."""
    def constant(name):
        raise ValueError("%s is not JSON" % name)
    try:
        return json.loads(data.decode("utf-8"), parse_constant=constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise VerifyError("%s is not UTF-8 JSON: %s" % (what, e)) from None


def code_hash(code):
    """The ``code`` member of an answer to this card code (§10):
    base64url (unpadded) of the SHA-256 of the code text as asked."""
    if isinstance(code, str):
        code = code.encode("utf-8")
    return _b64url(hashlib.sha256(code).digest())


def _sm3(data):
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _sha256(data):
    return hashlib.sha256(data).digest()


# ------------------------------------------------------------------ SM2

# GM/T 0003.5 recommended curve parameters (sm2p256v1).
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_CURVE = CurveFp(_P, _A, _B, 1)
_G = PointJacobi(_CURVE, _GX, _GY, 1, _N, generator=True)


def _be32(v):
    return v.to_bytes(32, "big")


class _SM2Key:
    def __init__(self, x, y):
        self.xb, self.yb = x, y
        xi, yi = int.from_bytes(x, "big"), int.from_bytes(y, "big")
        if xi >= _P or yi >= _P or not _CURVE.contains_point(xi, yi):
            raise ValueError("not a point of the SM2 curve")
        self.point = PointJacobi(_CURVE, xi, yi, 1, _N)
        # Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GM/T 0003.2
        self.z = _sm3((len(USER_ID) * 8).to_bytes(2, "big") + USER_ID +
                      b"".join(_be32(v) for v in (_A, _B, _GX, _GY)) +
                      x + y)

    def verify(self, message, sig):
        """GM/T 0003.2 §7: sig is r || s (32 bytes each, big-endian)."""
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        if not (1 <= r < _N and 1 <= s < _N):
            return False
        t = (r + s) % _N
        if t == 0:
            return False
        e = int.from_bytes(_sm3(self.z + message), "big")
        pt = _G.mul_add(s, self.point, t)
        if pt == INFINITY:
            return False
        return (e + pt.x()) % _N == r


class _EdKey:
    def __init__(self, x):
        self.key = Ed25519PublicKey.from_public_bytes(x)

    def verify(self, message, sig):
        try:
            self.key.verify(sig, message)
            return True
        except InvalidSignature:
            return False


# ----------------------------------------------------------------- keys

def _load_jwks(jwks):
    if isinstance(jwks, (bytes, bytearray)):
        jwks = _json(bytes(jwks), "the JWKS")
    elif isinstance(jwks, str):
        jwks = _json(jwks.encode("utf-8"), "the JWKS")
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise VerifyError('the JWKS is not an object {"keys":[...]} '
                          "(GET /v1/keys, RESP JWKS)")
    return jwks["keys"]


def _key_for(keys, alg, kid):
    """The verifying key for a header's alg and kid; refuses a kid that no
    key has, and an alg that does not fit the kid's key (alg confusion)."""
    named = [k for k in keys if isinstance(k, dict) and k.get("kid") == kid]
    if not named:
        raise VerifyError("unknown kid %r: no key of the JWKS has it (a "
                          "server that rotated its key publishes the new "
                          "one at GET /v1/keys)" % kid)
    kty, crv, _ = _ALGS[alg]
    fit = [k for k in named if k.get("kty") == kty and k.get("crv") == crv]
    if not fit:
        k = named[0]
        raise VerifyError("alg %s does not fit the key %r (kty %r, crv %r): "
                          "%s needs kty %s, crv %s" % (
                              alg, kid, k.get("kty"), k.get("crv"), alg,
                              kty, crv))
    if len(fit) > 1:
        raise VerifyError("the JWKS has %d %s keys with kid %r" %
                          (len(fit), crv, kid))
    jwk = fit[0]
    if "alg" in jwk and jwk["alg"] != alg:
        raise VerifyError("the key %r is for alg %r, not %s" %
                          (kid, jwk["alg"], alg))
    if "use" in jwk and jwk["use"] != "sig":
        raise VerifyError("the key %r is not for signatures (use %r)" %
                          (kid, jwk["use"]))
    if "key_ops" in jwk and (not isinstance(jwk["key_ops"], list) or
                             "verify" not in jwk["key_ops"]):
        raise VerifyError("the key %r may not verify (key_ops)" % kid)
    x = _b64url_decode(jwk.get("x"), "the key's x")
    if len(x) != 32:
        raise VerifyError("the key %r: x is %d bytes, not 32" % (kid, len(x)))
    try:
        if alg == "EdDSA":
            return _EdKey(x)
        y = _b64url_decode(jwk.get("y"), "the key's y")
        if len(y) != 32:
            raise VerifyError("the key %r: y is %d bytes, not 32" %
                              (kid, len(y)))
        return _SM2Key(x, y)
    except ValueError as e:
        raise VerifyError("the key %r is not a usable %s key: %s" %
                          (kid, crv, e)) from None


# ------------------------------------------------------------------ JWS

def _verify_jws(keys, jws, payload, what="the statement"):
    """A detached JWS H..S over payload (§4.1, §11) -> (alg, kid)."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise VerifyError("not a detached JWS (HEADER..SIGNATURE): %d dots"
                          % (len(parts) - 1))
    hdr_b64, middle, sig_b64 = parts
    if middle != "":
        raise VerifyError("the JWS's middle (payload) part is not empty: "
                          "cardd's JWS are detached (RFC 7515 appendix F)")
    hdr = _json(_b64url_decode(hdr_b64, "the JWS header"), "the JWS header")
    if not isinstance(hdr, dict):
        raise VerifyError("the JWS header is not a JSON object")
    alg, kid = hdr.get("alg"), hdr.get("kid")
    if alg not in _ALGS:
        raise VerifyError("alg %r is not one cardd signs with (EdDSA, SM2)"
                          % (alg,))
    if not isinstance(kid, str):
        raise VerifyError("the JWS header has no kid")
    for m in ("crit", "b64"):
        if m in hdr:
            raise VerifyError("the JWS header has %r, which cardd never "
                              "sends" % m)
    sig = _b64url_decode(sig_b64, "the signature")
    if len(sig) != 64:
        raise VerifyError("the signature is %d bytes, not 64" % len(sig))
    key = _key_for(keys, alg, kid)
    signing_input = (hdr_b64 + "." + _b64url(payload)).encode("ascii")
    if not key.verify(signing_input, sig):
        raise VerifyError("the %s signature over %s does not match" %
                          (alg, what))
    return alg, kid


# --------------------------------------------------------------- Merkle

def _path_len(index, n):
    """Hashes in the RFC 9162 §2.1.3.1 inclusion path of leaf index in a
    tree of n leaves."""
    k = 0
    while n > 1:
        split = 1 << ((n - 1).bit_length() - 1)    # largest 2^j < n
        if index < split:
            n = split
        else:
            index, n = index - split, n - split
        k += 1
    return k


def _root_of(leaf, index, n, path, node):
    """RFC 9162 §2.1.3.2, without its final comparison; None on failure."""
    if index >= n:
        return None
    fn, sn, r = index, n - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def _verify_batch(keys, statement, proof):
    """A batch proof H..S~N~INDEX~PATH (§4.3, §11) -> dict."""
    parts = proof.split("~")
    if len(parts) != 4:
        raise VerifyError("not a batch proof (H..S~N~INDEX~PATH): %d '~'"
                          % (len(parts) - 1))
    jws, n_text, index_text, path_b64 = parts
    for name, text in (("N", n_text), ("INDEX", index_text)):
        if not _DECIMAL.fullmatch(text):
            raise VerifyError("the proof's %s %r is not a decimal number "
                              "(no sign, no leading zero)" % (name, text))
    n, index = int(n_text), int(index_text)
    if n < 2:
        raise VerifyError("the proof's N is %d: a batch has at least 2 "
                          "leaves (a lone answer gets a plain JWS)" % n)
    if index >= n:
        raise VerifyError("the proof's INDEX %d is not below N %d" %
                          (index, n))
    path = _b64url_decode(path_b64, "the proof's PATH")
    if len(path) % 32:
        raise VerifyError("the proof's PATH is %d bytes, not a multiple of "
                          "32" % len(path))
    hashes_ = [path[i:i + 32] for i in range(0, len(path), 32)]
    want = _path_len(index, n)
    if len(hashes_) != want:
        raise VerifyError("the proof's PATH has %d hashes; leaf %d of a "
                          "tree of %d has %d" % (len(hashes_), index, n,
                                                 want))
    # The tree's hash follows the header's alg, whose key is checked below.
    hdr_b64 = jws.split(".", 1)[0]
    hdr = _json(_b64url_decode(hdr_b64, "the JWS header"), "the JWS header")
    alg = hdr.get("alg") if isinstance(hdr, dict) else None
    if alg not in _ALGS:
        raise VerifyError("alg %r is not one cardd signs with (EdDSA, SM2)"
                          % (alg,))
    hname = _ALGS[alg][2]
    h = _sm3 if hname == "SM3" else _sha256
    root = _root_of(h(b"\x00" + statement), index, n, hashes_,
                    lambda l, r: h(b"\x01" + l + r))
    if root is None:
        raise VerifyError("the proof's PATH fits no tree of %d leaves" % n)
    root_object = (_ROOT_OBJECT[hname] % (n, _b64url(root))).encode("ascii")
    alg, kid = _verify_jws(keys, jws, root_object, "the root object (the "
                           "statement, N, INDEX or PATH is not the one "
                           "signed)")
    return {"kind": "batch", "alg": alg, "kid": kid, "hash": hname, "n": n,
            "index": index, "root": _b64url(root),
            "root_object": root_object.decode("ascii")}


# ------------------------------------------------------------ documents

def _is_statement(st):
    return isinstance(st, dict) and st.get("v") == 1 and \
        type(st["v"]) is int and isinstance(st.get("check"), str)


def _document(data):
    """What the signed bytes are: (kind, parsed, [statements])."""
    doc = _json(data, "the signed bytes")
    if not isinstance(doc, dict):
        raise VerifyError("the signed bytes are not a JSON object")
    if doc.get("typ") == "cardd-merkle":
        raise VerifyError("the signed bytes are a root object, not an "
                          "answer: a batch proof's JWS signs it, and it "
                          "never stands for a statement")
    if "v" in doc or "check" in doc:
        if not _is_statement(doc):
            raise VerifyError("the signed bytes are not a statement of "
                              "version 1")
        return "statement", doc, [doc]
    if list(doc) == ["results"] and isinstance(doc["results"], list):
        for i, st in enumerate(doc["results"]):
            if not _is_statement(st):
                raise VerifyError("results[%d] is not a statement" % i)
        return "http-batch", doc, doc["results"]
    if doc.get("resourceType") == "CoverageEligibilityResponse":
        sts = []
        for e in doc.get("extension") or []:
            if isinstance(e, dict) and e.get("url") == _FHIR_STATEMENT:
                text = e.get("valueString")
                st = _json(text.encode("utf-8"), "a FHIR statement") \
                    if isinstance(text, str) else None
                if not _is_statement(st):
                    raise VerifyError("a FHIR statement extension holds no "
                                      "statement")
                sts.append(st)
        return "fhir", doc, sts
    raise VerifyError("the signed bytes are not a cardd answer (a "
                      "statement, a batch body or a FHIR response)")


def verify(statement, signature, jwks, code=None):
    """Verify one answer of cardd.

    statement: the bytes exactly as received (the HTTP body, the RESP
      reply's first bulk string).
    signature: its Card-Signature (the RESP reply's second element): a
      detached JWS or a batch proof (str, or ASCII bytes).
    jwks: the JWKS you trust ({"keys":[...]} as a dict, or its JSON).
    code: optional, the electronic card code asked with (§10); then the
      answer must be about it.

    Returns a dict: statement (the parsed bytes: a statement, or an HTTP
    batch / FHIR body), statements (the statements in it), document
    ("statement", "http-batch" or "fhir"), kind ("jws" or "batch"), alg,
    kid, and for a batch proof hash, n, index, root and root_object.
    Raises VerifyError (its message says why) for anything else.
    """
    if not isinstance(statement, (bytes, bytearray, memoryview)):
        raise VerifyError("the statement must be bytes exactly as received, "
                          "not %s (never decode and re-encode it)"
                          % type(statement).__name__)
    statement = bytes(statement)
    if isinstance(signature, (bytes, bytearray)):
        try:
            signature = bytes(signature).decode("ascii")
        except UnicodeDecodeError:
            raise VerifyError("the signature is not ASCII") from None
    if not isinstance(signature, str):
        raise VerifyError("the signature must be a string")
    if signature != signature.strip() or not signature:
        raise VerifyError("the signature is empty or has white space around "
                          "it")
    keys = _load_jwks(jwks)
    if "~" in signature:
        out = _verify_batch(keys, statement, signature)
    else:
        alg, kid = _verify_jws(keys, signature, statement)
        out = {"kind": "jws", "alg": alg, "kid": kid}
    # Genuine bytes; only now are they read.
    document, doc, sts = _document(statement)
    for i, st in enumerate(sts):
        if st.get("kid") != out["kid"]:
            raise VerifyError("statement %d names kid %r but kid %r signed "
                              "it" % (i, st.get("kid"), out["kid"]))
    if code is not None:
        want = code_hash(code)
        if not any(st.get("code") == want for st in sts):
            raise VerifyError("the answer is not about this card code (its "
                              "code member is not %s)" % want)
    out.update(statement=doc, statements=sts, document=document)
    return out


# ------------------------------------------------------------------ CLI

def _describe(v):
    how = ("batch proof (%s tree of %d, leaf %d)" % (v["hash"], v["n"],
                                                     v["index"])
           if v["kind"] == "batch" else "detached JWS")
    lines = ["genuine: %s, alg %s, kid %s" % (how, v["alg"], v["kid"])]
    for st in v["statements"]:
        who = st.get("card") or st.get("permit") or st.get("code") or "?"
        lines.append("  %s %s: %s (%s), at %s" % (
            st.get("check"), who, st.get("result"), st.get("reason"),
            st.get("at")))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="cardd_verify.py",
        description="Verify a cardd answer against a JWKS. Exit 0: "
                    "genuine; 1: not.")
    p.add_argument("--jwks", required=True, help="the JWKS file you trust")
    p.add_argument("--code", help="the card code asked with: the answer "
                                  "must be about it")
    p.add_argument("statement_file", help="the statement (or body) bytes "
                                          "exactly as received; - for stdin")
    p.add_argument("signature", help="Card-Signature: a JWS or batch proof")
    a = p.parse_args(argv)
    try:
        with open(a.jwks, "rb") as f:
            jwks = f.read()
        if a.statement_file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(a.statement_file, "rb") as f:
                data = f.read()
    except OSError as e:
        print("not verified: %s" % e, file=sys.stderr)
        return 1
    try:
        v = verify(data, a.signature, jwks, code=a.code)
    except VerifyError as e:
        hint = ""
        if data.endswith(b"\n"):
            hint = (" (the file ends with a newline, which no answer has: "
                    "keep the bytes exactly as received)")
        print("NOT GENUINE: %s%s" % (e, hint), file=sys.stderr)
        return 1
    print(_describe(v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
