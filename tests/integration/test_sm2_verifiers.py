"""The SM2/SM3 verifiers of tests/integration/sm2.py (openssl, and
sm-crypto through tests/js/sm2_verify.js) checked against keys and
signatures made by the openssl command line, and an SM3 Merkle tree built
here from RFC 9162's recursive definitions (§2.1.1, §2.1.3.1), not from the
verifiers' iterative algorithm. Needs no cardd."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests.integration import harness as h
from tests.integration import sm2

DISTID = "1234567812345678"
STATEMENTS = [b'{"card":"%d","ok":true}' % i for i in range(5)]


def openssl(*args):
    """Run the openssl command line; its stdout, or fail loudly."""
    r = subprocess.run(["openssl"] + list(args), capture_output=True,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def der_read(data, tag):
    """One DER TLV with this tag at the start of data -> (body, rest)."""
    assert data[0] == tag, data.hex()
    n, off = data[1], 2
    if n & 0x80:
        n, off = int.from_bytes(data[2:2 + (n & 0x7F)], "big"), 2 + (n & 0x7F)
    return data[off:off + n], data[off + n:]


def der_to_rs(der):
    """DER ECDSA-Sig-Value -> 64-byte r||s."""
    body, rest = der_read(der, 0x30)
    assert rest == b""
    r, body = der_read(body, 0x02)
    s, body = der_read(body, 0x02)
    assert body == b""
    return b"".join(int.from_bytes(v, "big").to_bytes(32, "big")
                    for v in (r, s))


def jwk_thumbprint(jwk):
    """RFC 7638 by another route: json.dumps with sorted keys, hashlib."""
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    canon = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return h.b64url(hashlib.sha256(canon.encode()).digest())


def gen_key(workdir, name):
    """A fresh SM2 key from openssl -> (private key path, JWK)."""
    key = os.path.join(workdir, name + ".pem")
    openssl("genpkey", "-algorithm", "SM2", "-out", key)
    der = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
    assert der[-65] == 4, der.hex()
    jwk = {"kty": "EC", "crv": "SM2", "x": h.b64url(der[-64:-32]),
           "y": h.b64url(der[-32:]), "use": "sig", "alg": "SM2"}
    jwk["kid"] = jwk_thumbprint(jwk)
    return key, jwk


def sign(workdir, key, data, distid=DISTID):
    """openssl's SM2/SM3 signature of data, as 64-byte r||s."""
    fd, path = tempfile.mkstemp(dir=workdir)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    der = openssl("pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", path,
                  "-digest", "sm3", "-pkeyopt", "distid:" + distid)
    os.unlink(path)
    return der_to_rs(der)


def make_jws(workdir, key, kid, payload, alg="SM2"):
    """A detached JWS H..S over payload, signed by openssl."""
    hdr = h.b64url(json.dumps({"alg": alg, "kid": kid}).encode())
    sig = sign(workdir, key, (hdr + "." + h.b64url(payload)).encode())
    return hdr + ".." + h.b64url(sig)


def flip(data, i=0):
    """data with one bit of byte i flipped."""
    b = bytearray(data)
    b[i] ^= 0x01
    return bytes(b)


def sm3(data):
    """SM3, straight from hashlib (not sm2.sm3)."""
    return hashlib.new("sm3", data).digest()


def split_point(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """RFC 9162 §2.1.1 Merkle Tree Hash, SM3 in place of SHA-256."""
    if len(leaves) == 1:
        return sm3(b"\x00" + leaves[0])
    k = split_point(len(leaves))
    return sm3(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def audit_path(m, leaves):
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), as a list of hashes."""
    if len(leaves) == 1:
        return []
    k = split_point(len(leaves))
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def root_object(n, root, hash_member=True):
    """The signed batch root object's exact bytes."""
    extra = '"hash":"SM3",' if hash_member else ""
    return ('{"typ":"cardd-merkle","v":1,%s"n":%d,"root":"%s"}'
            % (extra, n, h.b64url(root))).encode()


class SM2VerifiersTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cardd-sm2-")
        cls.key, cls.jwk = gen_key(cls.dir, "a")
        cls.key2, cls.jwk2 = gen_key(cls.dir, "b")
        cls.input = b"eyJhbGciOiJTTTIifQ.eyJjYXJkIjoiMSJ9"
        cls.sig = sign(cls.dir, cls.key, cls.input)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    # -- building blocks

    def test_sm3_vector(self):
        # GM/T 0004-2012 example 1, and the openssl command line.
        self.assertEqual(sm2.sm3(b"abc").hex(), "66c7f0f462eeedd9d1f2d46bdc1"
                         "0e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        out = subprocess.run(["openssl", "dgst", "-sm3", "-r"], input=b"\x00\x01",
                             capture_output=True, check=True).stdout
        self.assertEqual(sm2.sm3(b"\x00\x01").hex(), out.split()[0].decode())

    def test_spki_pem_is_openssls_encoding(self):
        x, y = (h.b64url_decode(self.jwk[c]) for c in "xy")
        der = openssl("pkey", "-in", self.key, "-pubout", "-outform", "DER")
        self.assertEqual(sm2.spki_der(x, y), der)
        path = os.path.join(self.dir, "spki.pem")
        Path(path).write_text(sm2.spki_pem(x, y))
        text = openssl("pkey", "-pubin", "-in", path, "-text", "-noout")
        self.assertIn(b"ASN1 OID: SM2", text)
        point = "pub:04:" + ":".join("%02x" % b for b in x + y)
        self.assertIn(point.encode(), text.replace(b"\n", b"").replace(b" ", b""))
        again = openssl("pkey", "-pubin", "-in", path, "-pubout")
        self.assertEqual(again.decode(), sm2.spki_pem(x, y))
        self.assertRaises(ValueError, sm2.spki_pem, x[:31], y)

    def test_rs_to_der(self):
        high = b"\x80" + b"\x11" * 31
        low = b"\x00\x00" + b"\x7f" * 30
        self.assertEqual(sm2.rs_to_der(high + low).hex(),
                         "3043" + "022100" + high.hex() + "021e" + low[2:].hex())
        self.assertEqual(sm2.rs_to_der(b"\x00" * 63 + b"\x01").hex(),
                         "3006020100020101")
        self.assertRaises(ValueError, sm2.rs_to_der, b"\x01" * 63)
        for i in range(4):      # openssl's own DER, back and forth
            der = openssl("pkeyutl", "-sign", "-inkey", self.key, "-rawin",
                          "-in", self.key, "-digest", "sm3",
                          "-pkeyopt", "distid:" + DISTID)
            self.assertEqual(sm2.rs_to_der(der_to_rs(der)), der)

    def test_thumbprint(self):
        tp = sm2.thumbprint(self.jwk)
        self.assertEqual(tp, jwk_thumbprint(self.jwk))
        self.assertEqual(len(tp), 43)
        self.assertNotEqual(tp, sm2.thumbprint(self.jwk2))
        self.assertEqual(tp, sm2.thumbprint(dict(self.jwk, kid="other",
                                                 use="enc")))
        self.assertRaises(ValueError, sm2.thumbprint, dict(self.jwk, crv="P-256"))

    # -- signatures

    def test_verify_openssl(self):
        v = sm2.verify_openssl
        self.assertTrue(v(self.jwk, self.input, self.sig, self.dir))
        self.assertFalse(v(self.jwk, flip(self.input, 5), self.sig, self.dir))
        self.assertFalse(v(self.jwk, self.input, flip(self.sig, 40), self.dir))
        self.assertFalse(v(self.jwk, self.input, flip(self.sig, 3), self.dir))
        self.assertFalse(v(self.jwk2, self.input, self.sig, self.dir))
        self.assertFalse(v(self.jwk, self.input, self.sig[:63], self.dir))
        other_id = sign(self.dir, self.key, self.input, "1234567812345679")
        self.assertFalse(v(self.jwk, self.input, other_id, self.dir))

    def test_verify_jws(self):
        payload = b'{"card":"1","ok":true}'
        jws = make_jws(self.dir, self.key, self.jwk["kid"], payload)
        v = sm2.verify_jws
        self.assertTrue(v(self.jwk, payload, jws, self.dir))
        self.assertFalse(v(self.jwk, payload + b" ", jws, self.dir))
        hdr, _, sig = jws.split(".")
        bad = h.b64url(flip(h.b64url_decode(sig), 50))
        self.assertFalse(v(self.jwk, payload, hdr + ".." + bad, self.dir))
        self.assertFalse(v(dict(self.jwk2, kid=self.jwk["kid"]), payload, jws,
                           self.dir))
        self.assertFalse(v(self.jwk2, payload, jws, self.dir))
        self.assertFalse(v(self.jwk, payload, hdr + "." + sig, self.dir))
        es = make_jws(self.dir, self.key, self.jwk["kid"], payload, "ES256")
        self.assertFalse(v(self.jwk, payload, es, self.dir))
        wrong_kid = make_jws(self.dir, self.key, "other", payload)
        self.assertFalse(v(self.jwk, payload, wrong_kid, self.dir))

    def test_verify_node_signatures(self):
        other_id = sign(self.dir, self.key, self.input, "1234567812345679")
        items = [(self.jwk, self.input, self.sig, True),
                 (self.jwk, flip(self.input, 5), self.sig, False),
                 (self.jwk, self.input, flip(self.sig, 40), False),
                 (self.jwk, self.input, flip(self.sig, 3), False),
                 (self.jwk2, self.input, self.sig, False),
                 (self.jwk, self.input, self.sig[:63], False),
                 (self.jwk, self.input, other_id, False)]
        got = sm2.verify_node([{"jwk": j, "input": i.decode(),
                                "sig": h.b64url(s)} for j, i, s, _ in items])
        self.assertEqual(got, [want for *_, want in items])

    def test_verify_node_refuses_bad_input(self):
        bad = dict(self.jwk, x=self.jwk["x"][:-2])
        with self.assertRaisesRegex(RuntimeError, "exited 2"):
            sm2.verify_node([{"jwk": bad, "input": "a", "sig": "AA"}])
        with self.assertRaisesRegex(RuntimeError, "exited 2"):
            sm2.verify_node([{"jwk": self.jwk, "input": "a"}])
        with mock.patch.object(sm2, "JS_DIR", Path(self.dir)):
            with self.assertRaisesRegex(RuntimeError, "node_modules"):
                sm2.verify_node([])

    # -- batch proofs

    def batch(self, statements):
        """Proofs for every statement of one SM3 tree, its root signed."""
        n, root = len(statements), mth(statements)
        jws = make_jws(self.dir, self.key, self.jwk["kid"], root_object(n, root))
        return ["%s~%d~%d~%s" % (jws, n, m, h.b64url(b"".join(
            audit_path(m, statements)))) for m in range(n)]

    def batch_cases(self):
        """(statement, proof, verdict) cases on a tree of 5."""
        proofs = self.batch(STATEMENTS)
        cases = [(s, p, True) for s, p in zip(STATEMENTS, proofs)]
        jws, n, m, path = proofs[2].split("~")
        raw = h.b64url_decode(path)
        cases += [
            (STATEMENTS[2] + b" ", proofs[2], False),
            (STATEMENTS[3], proofs[2], False),
            (STATEMENTS[2], "~".join([jws, n, m, h.b64url(flip(raw, 33))]),
             False),
            (STATEMENTS[2], "~".join([jws, n, "3", path]), False),
            (STATEMENTS[2], "~".join([jws, "6", m, path]), False),
            (STATEMENTS[2], "~".join([jws, n, m, h.b64url(raw[:-32])]), False),
            (STATEMENTS[2], "~".join([jws, n, m, path + "A" * 43]), False),
            (STATEMENTS[2], "~".join([jws, n, "+2", path]), False),
            (STATEMENTS[2], "~".join([jws, n, m + "\n", path]), False),
            (STATEMENTS[2], "~".join([jws, n, m, path + "\n"]), False),
            (STATEMENTS[2], "~".join([jws, n, m]), False)]
        for alg, kid in (("SM2", "other"), ("ES256", self.jwk["kid"])):
            resigned = make_jws(self.dir, self.key, kid,
                                root_object(5, mth(STATEMENTS)), alg)
            cases.append((STATEMENTS[2], "~".join([resigned, n, m, path]),
                          False))
        return cases

    def unhashed_root_case(self):
        """A proof whose JWS signs the root object without "hash"."""
        root = mth(STATEMENTS[:2])
        jws = make_jws(self.dir, self.key, self.jwk["kid"],
                       root_object(2, root, hash_member=False))
        return (STATEMENTS[0], "%s~2~0~%s" % (
            jws, h.b64url(audit_path(0, STATEMENTS[:2])[0])), False)

    def test_verify_batch(self):
        cases = self.batch_cases() + [self.unhashed_root_case()]
        one = self.batch(STATEMENTS[:1])[0]
        self.assertTrue(one.endswith("~1~0~"))
        cases.append((STATEMENTS[0], one, True))
        got = [sm2.verify_batch(self.jwk, s, p, self.dir) for s, p, _ in cases]
        self.assertEqual(got, [want for *_, want in cases])
        self.assertFalse(sm2.verify_batch(self.jwk2, STATEMENTS[0],
                                          cases[0][1], self.dir))

    def test_verify_node_batch(self):
        cases = self.batch_cases() + [self.unhashed_root_case()]
        cases.append((STATEMENTS[0], self.batch(STATEMENTS[:1])[0], True))
        items = [{"jwk": self.jwk, "statement": s, "proof": p}
                 for s, p, _ in cases]
        items.append({"jwk": self.jwk2, "statement": STATEMENTS[0],
                      "proof": cases[0][1]})
        self.assertEqual(sm2.verify_node(items),
                         [want for *_, want in cases] + [False])


if __name__ == "__main__":
    unittest.main()
