"""PROTOCOL.md §11: answers signed with SM2/SM3 (sign_alg sm2), end to end
against the real daemon, verified by implementations that are not ours:
the openssl command line (pkeyutl -verify -digest sm3 with the GM/T 0009
user ID, after converting r||s to DER) and the npm package sm-crypto
(tests/js), both through tests/integration/sm2.py. Per-answer and batch
answers over HTTP and RESP; a tampered statement, proof or signature
fails; cardctl verify agrees. Then the keys: a key of the wrong kind, an
EC key on another curve, a key others can read, refused at start and on
SIGHUP; rotation from SM2 to Ed25519 and back keeps the old key
published."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from tests.integration import harness as h
from tests.integration import sm2
from tests.integration.harness import AT, CSV_HEADER, csv_line

CARD = "000000000100"
CSV = "\n".join([
    CSV_HEADER,
    csv_line(CARD, status="active", permit="WP000100", **{"class": "A"},
             permit_from="2024-01-01", permit_until="2027-12-31",
             birth="1985-05-05", region="440300",
             medical="2024-01-01..2026-06-30", rev="3"),
]) + "\n"


def sm2_keygen(path, mode=0o600):
    """An SM2 private key by the openssl command line."""
    p = subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out",
                        str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    os.chmod(path, mode)


def tamper(data):
    """The same bytes with one changed."""
    b = bytearray(data if isinstance(data, bytes) else data.encode())
    b[len(b) // 2] ^= 0x01
    return bytes(b)


def flip_sig(jws):
    """A detached JWS (or the JWS part of a proof) with its signature's
    first character changed."""
    head, rest = jws.split("..", 1)
    c = "B" if rest[0] != "B" else "C"
    return head + ".." + c + rest[1:]


class SM2Base(h.DaemonTestCase):
    """One cardd signing with a fresh SM2 key."""

    CSV = CSV
    MODE = "per-answer"

    @classmethod
    def prepare(cls):
        cls.d.key_path.unlink()
        sm2_keygen(cls.d.key_path)
        cls.d.extra.update({"sign_alg": "sm2", "sign_mode": cls.MODE})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.jwk = json.loads(cls.d.jwks_bytes())["keys"][0]
        cls.work = cls.d.dir

    def answers(self):
        """(statement, signature string) pairs: HTTP validity and
        coverage, RESP validity."""
        out = []
        for q in ("/v1/validity?card=%s&at=%s" % (CARD, AT),
                  "/v1/coverage?card=%s&scheme=medical&at=%s" % (CARD, AT)):
            r = self.d.get(q)
            self.assertEqual(r.status, 200, r)
            out.append((r.body, r.header("card-signature")))
        with self.d.resp() as c:
            rep = c.command("VALIDITY", CARD, "AT", AT)
            self.assertIsInstance(rep, list, rep)
            out.append((rep[0], rep[1].decode()))
        return out


class SM2PerAnswerTest(SM2Base):

    def test_jwks_is_an_sm2_key_with_its_thumbprint(self):
        self.assertEqual(self.jwk["kty"], "EC")
        self.assertEqual(self.jwk["crv"], "SM2")
        self.assertEqual(self.jwk["alg"], "SM2")
        self.assertEqual(self.jwk["use"], "sig")
        self.assertEqual(len(h.b64url_decode(self.jwk["x"])), 32)
        self.assertEqual(len(h.b64url_decode(self.jwk["y"])), 32)
        self.assertEqual(self.jwk["kid"], sm2.thumbprint(self.jwk))
        # The key served is the one in the file.
        pem = subprocess.run(["openssl", "pkey", "-in", str(self.d.key_path),
                              "-pubout"], capture_output=True,
                             text=True).stdout
        self.assertEqual(sm2.spki_pem(h.b64url_decode(self.jwk["x"]),
                                      h.b64url_decode(self.jwk["y"])
                                      ).strip(), pem.strip())

    def test_openssl_verifies_every_answer(self):
        for stmt, sig in self.answers():
            _, hdr, raw = h.split_jws(sig)
            self.assertEqual(hdr, {"alg": "SM2", "kid": self.jwk["kid"]})
            self.assertEqual(len(raw), 64)
            self.assertEqual(json.loads(stmt)["kid"], self.jwk["kid"])
            self.assertTrue(sm2.verify_jws(self.jwk, stmt, sig, self.work),
                            stmt)
            self.assertFalse(sm2.verify_jws(self.jwk, tamper(stmt), sig,
                                            self.work))
            self.assertFalse(sm2.verify_jws(self.jwk, stmt, flip_sig(sig),
                                            self.work))

    def test_sm_crypto_verifies_every_answer(self):
        items, want = [], []
        for stmt, sig in self.answers():
            hdr = sig.split("..")[0]
            inp = hdr + "." + h.b64url(stmt)
            s = sig.split("..")[1]
            items += [{"jwk": self.jwk, "input": inp, "sig": s},
                      {"jwk": self.jwk, "input": inp + "x", "sig": s},
                      {"jwk": self.jwk, "input": inp,
                       "sig": flip_sig(sig).split("..")[1]}]
            want += [True, False, False]
        self.assertEqual(sm2.verify_node(items), want)

    def test_cardctl_verify_agrees(self):
        jwks = self.d.dir / "jwks.json"
        jwks.write_bytes(self.d.jwks_bytes())
        for stmt, sig in self.answers():
            path = self.d.dir / "stmt.json"
            for body, ok in ((stmt, 0), (tamper(stmt), 1)):
                path.write_bytes(body)
                p = h.run([h.CARDCTL, "verify", "--jwks", jwks,
                           "--statement", path, "--jws", sig])
                self.assertEqual(p.returncode, ok, p.stderr)


class SM2BatchTest(SM2Base):
    """sign_mode batch: proofs over SM3 trees; a lone answer is a JWS."""

    MODE = "batch"

    def pipelined(self, n=40):
        """n RESP checks sent at once: most share trees. Each has its own
        nonce, so no two leaves are equal."""
        with self.d.resp() as c:
            c.send(b"".join(h.resp_encode("VALIDITY", CARD, "AT", AT,
                                          "NONCE", "n%d" % i)
                            for i in range(n)))
            return [c.read_reply() for _ in range(n)]

    def test_proofs_verify_with_openssl_and_sm_crypto(self):
        reps = self.pipelined()
        proofs = [(r[0], r[1].decode()) for r in reps if b"~" in r[1]]
        self.assertGreater(len(proofs), 1, "no batch proof in 40 answers")
        items, want = [], []
        for stmt, proof in proofs[:6]:
            jws, n, index, path = proof.split("~")
            self.assertGreaterEqual(int(n), 2)
            _, hdr, _ = h.split_jws(jws)
            self.assertEqual(hdr["alg"], "SM2")
            self.assertTrue(sm2.verify_batch(self.jwk, stmt, proof,
                                             self.work), proof)
            self.assertFalse(sm2.verify_batch(self.jwk, tamper(stmt), proof,
                                              self.work))
            other = "~".join([jws, n, str((int(index) + 1) % int(n)), path])
            self.assertFalse(sm2.verify_batch(self.jwk, stmt, other,
                                              self.work))
            bad = "~".join([flip_sig(jws), n, index, path])
            self.assertFalse(sm2.verify_batch(self.jwk, stmt, bad,
                                              self.work))
            items += [{"jwk": self.jwk, "statement": stmt.decode(),
                       "proof": proof},
                      {"jwk": self.jwk, "statement": tamper(stmt).decode(),
                       "proof": proof},
                      {"jwk": self.jwk, "statement": stmt.decode(),
                       "proof": other}]
            want += [True, False, False]
        self.assertEqual(sm2.verify_node(items), want)

    def test_pipelined_http_answers_carry_proofs_that_verify(self):
        with self.d.http() as c:
            c.send(b"".join(c.build("GET", "/v1/validity?card=%s&at=%s&"
                                    "nonce=h%d" % (CARD, AT, i))
                            for i in range(40)))
            reps = [c.read_response() for _ in range(40)]
        proofs = [(r.body, r.header("card-signature")) for r in reps
                  if "~" in r.header("card-signature")]
        self.assertGreater(len(proofs), 1, "no batch proof over HTTP")
        items = []
        for stmt, proof in proofs[:4]:
            self.assertTrue(sm2.verify_batch(self.jwk, stmt, proof,
                                             self.work), proof)
            self.assertFalse(sm2.verify_batch(self.jwk, tamper(stmt), proof,
                                              self.work))
            items += [{"jwk": self.jwk, "statement": stmt.decode(),
                       "proof": proof},
                      {"jwk": self.jwk, "statement": tamper(stmt).decode(),
                       "proof": proof}]
        self.assertEqual(sm2.verify_node(items), [True, False] * (
            len(items) // 2))

    def test_a_lone_answer_and_an_http_batch_are_plain_jws(self):
        r = self.d.get("/v1/validity?card=%s&at=%s" % (CARD, AT))
        sig = r.header("card-signature")
        self.assertNotIn("~", sig)
        self.assertTrue(sm2.verify_jws(self.jwk, r.body, sig, self.work))
        with self.d.http() as c:
            r = c.request("POST", "/v1/check", [("Content-Type",
                                                 "application/json")],
                          json.dumps({"checks": [
                              {"check": "validity", "card": CARD,
                               "at": AT}] * 3}))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(sm2.verify_jws(self.jwk, r.body,
                                       r.header("card-signature"),
                                       self.work))

    def test_cardctl_verify_checks_proofs(self):
        jwks = self.d.dir / "jwks.json"
        jwks.write_bytes(self.d.jwks_bytes())
        stmt, proof = next((r[0], r[1].decode()) for r in self.pipelined()
                           if b"~" in r[1])
        path = self.d.dir / "stmt.json"
        for body, ok in ((stmt, 0), (tamper(stmt), 1)):
            path.write_bytes(body)
            p = h.run([h.CARDCTL, "verify", "--jwks", jwks, "--statement",
                       path, "--jws", proof])
            self.assertEqual(p.returncode, ok, p.stderr)
            if ok == 0:
                self.assertIn(b"batch of", p.stdout + p.stderr)


class SM2ExampleTest(unittest.TestCase):
    """PROTOCOL.md §11's worked example (tests/data/sm2_example.json, its
    signatures made by the openssl command line): everything before the
    signature is rebuilt here, the signatures verify with openssl,
    sm-crypto and cardctl verify, and cardd with the example key
    publishes the same JWK and header."""

    @classmethod
    def setUpClass(cls):
        path = h.ROOT / "tests" / "data" / "sm2_example.json"
        cls.ex = json.loads(path.read_text())
        cls.jwk = cls.ex["jwk"]
        cls.work = Path(tempfile.mkdtemp(prefix="cardd-it-sm2ex-"))
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.key = cls.work / "signing.pem"
        shutil.copyfile(h.ROOT / cls.ex["key_pem"], cls.key)
        os.chmod(cls.key, 0o600)

    def test_deterministic_parts(self):
        ex, b = self.ex, self.ex["batch"]
        pem = subprocess.run(["openssl", "pkey", "-in", str(self.key),
                              "-pubout"], capture_output=True,
                             text=True).stdout
        self.assertEqual(sm2.spki_pem(h.b64url_decode(self.jwk["x"]),
                                      h.b64url_decode(self.jwk["y"])
                                      ).strip(), pem.strip())
        self.assertEqual(sm2.thumbprint(self.jwk), ex["kid"])
        self.assertEqual(ex["header_json"], json.dumps(
            {"alg": "SM2", "kid": ex["kid"]}, separators=(",", ":")))
        self.assertEqual(ex["header"], h.b64url(ex["header_json"].encode()))
        self.assertEqual(ex["signing_input"], ex["header"] + "." +
                         h.b64url(ex["statement"].encode()))
        leaves = [sm2.sm3(b"\x00" + t.encode()) for t in b["statements"]]
        self.assertEqual([h.b64url(x) for x in leaves], b["leaves"])
        root = sm2.sm3(b"\x01" + leaves[0] + leaves[1])
        self.assertEqual(h.b64url(root), b["root"])
        self.assertEqual(b["root_object"], '{"typ":"cardd-merkle","v":1,'
                         '"hash":"SM3","n":2,"root":"%s"}' % b["root"])
        self.assertEqual(b["signing_input"], ex["header"] + "." +
                         h.b64url(b["root_object"].encode()))

    def test_signatures_verify_elsewhere_and_with_cardctl(self):
        ex, b = self.ex, self.ex["batch"]
        self.assertTrue(sm2.verify_jws(self.jwk, ex["statement"].encode(),
                                       ex["jws"], self.work))
        items = [{"jwk": self.jwk, "input": ex["signing_input"],
                  "sig": ex["jws"].split("..")[1]}]
        for t, proof in zip(b["statements"], b["proofs"]):
            self.assertTrue(sm2.verify_batch(self.jwk, t.encode(), proof,
                                             self.work))
            items.append({"jwk": self.jwk, "statement": t, "proof": proof})
        self.assertEqual(sm2.verify_node(items), [True] * 3)
        jwks = self.work / "jwks.json"
        jwks.write_text(json.dumps({"keys": [self.jwk]}))
        stmt = self.work / "stmt.json"
        for t, sig in [(ex["statement"], ex["jws"])] + list(
                zip(b["statements"], b["proofs"])):
            stmt.write_text(t)
            p = h.run([h.CARDCTL, "verify", "--jwks", jwks, "--statement",
                       stmt, "--jws", sig])
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_cardd_publishes_the_same_key_and_header(self):
        d = h.Daemon(csv=CSV, config={"sign_alg": "sm2"},
                     key_file=self.key, name="sm2ex")
        self.addCleanup(d.cleanup)
        d.start()
        self.assertEqual(json.loads(d.jwks_bytes()), {"keys": [self.jwk]})
        self.assertEqual(d.jwks_bytes(), json.dumps(
            {"keys": [self.jwk]}, separators=(",", ":")).encode())
        r = d.get("/v1/validity?card=%s&at=%s" % (CARD, AT))
        sig = r.header("card-signature")
        self.assertEqual(sig.split("..")[0], self.ex["header"])
        self.assertTrue(sm2.verify_jws(self.jwk, r.body, sig, d.dir))
        self.assertEqual(d.stop(), 0)


def sm2_point(pem_path):
    """(x, y) of an SM2 key file, read by the openssl command line."""
    text = subprocess.run(["openssl", "pkey", "-in", str(pem_path), "-text",
                           "-noout"], capture_output=True, text=True,
                          check=True).stdout
    hexed, on = "", False
    for line in text.splitlines():
        if line.startswith("pub:"):
            on = True
        elif on and line.startswith("    "):
            hexed += line.strip().replace(":", "")
        elif on:
            break
    pt = bytes.fromhex(hexed)
    assert len(pt) == 65 and pt[0] == 4, pt
    return pt[1:33], pt[33:]


def openssl_sm2_sign(pem_path, data, workdir):
    """r||s of SM2/SM3 over data, by openssl pkeyutl (DER read here)."""
    src, out = Path(workdir) / "tosign", Path(workdir) / "sig.der"
    src.write_bytes(data)
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(pem_path),
                    "-rawin", "-in", str(src), "-digest", "sm3", "-pkeyopt",
                    "distid:" + sm2.DISTID, "-out", str(out)], check=True,
                   capture_output=True)
    der = out.read_bytes()
    at, rs = (2 if der[1] < 0x80 else 3), b""
    for _ in range(2):
        n = der[at + 1]
        rs += der[at + 2:at + 2 + n].lstrip(b"\x00").rjust(32, b"\x00")
        at += 2 + n
    return rs


class SM2CodesTest(h.DaemonTestCase):
    """Card codes signed by an SM2 issuer (§10 with §11), asked of a cardd
    that signs with SM2 too; codes minted here with the openssl command
    line, and with cardctl code."""

    CSV = CSV

    @classmethod
    def prepare(cls):
        cls.d.key_path.unlink()
        sm2_keygen(cls.d.key_path)
        cls.iss_key = cls.d.dir / "issuer-sm2.pem"
        sm2_keygen(cls.iss_key)
        cls.other_key = cls.d.dir / "other-sm2.pem"
        sm2_keygen(cls.other_key)
        x, y = sm2_point(cls.iss_key)
        cls.iss_jwk = {"kty": "EC", "crv": "SM2", "x": h.b64url(x),
                       "y": h.b64url(y), "kid": "sm-k1"}
        jwks = cls.d.dir / "issuer-sm2.json"
        jwks.write_text(json.dumps({"keys": [cls.iss_jwk]}))
        cls.d.extra.update({"sign_alg": "sm2",
                            "code_issuer": "sm-platform %s" % jwks})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.jwk = json.loads(cls.d.jwks_bytes())["keys"][0]

    def mint(self, alg="SM2", key=None, sub=CARD, tamper_payload=False):
        now = int(time.time())
        hdr = h.b64url(json.dumps({"alg": alg, "kid": "sm-k1",
                                   "typ": "card-code+jwt"}).encode())
        claims = {"iss": "sm-platform", "sub": sub, "iat": now,
                  "exp": now + 60, "jti": h.b64url(os.urandom(12))}
        pay = h.b64url(json.dumps(claims).encode())
        sig = openssl_sm2_sign(key or self.iss_key, (hdr + "." + pay).encode(),
                               self.d.dir)
        if tamper_payload:
            claims["sub"] = "000000000101"
            pay = h.b64url(json.dumps(claims).encode())
        return hdr + "." + pay + "." + h.b64url(sig)

    def ask(self, code):
        r = self.d.get("/v1/validity?code=%s&at=%s" % (code, AT))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(sm2.verify_jws(self.jwk, r.body,
                                       r.header("card-signature"),
                                       self.d.dir))
        return json.loads(r.body)

    def test_an_sm2_code_is_accepted(self):
        code = self.mint()
        st = self.ask(code)
        self.assertEqual((st["reason"], st["iss"]), ("ok", "sm-platform"))
        self.assertEqual(st["code"], h.b64url(
            __import__("hashlib").sha256(code.encode()).digest()))
        with self.d.resp() as c:
            rep = c.command("VALIDITY", code, "BYCODE", "AT", AT)
        self.assertEqual(json.loads(rep[0])["reason"], "ok")

    def test_cardctl_code_signs_with_an_sm2_key(self):
        p = h.run([h.CARDCTL, "code", CARD, "--key", self.iss_key, "--iss",
                   "sm-platform", "--kid", "sm-k1"])
        self.assertEqual(p.returncode, 0, p.stderr)
        code = p.stdout.decode().strip()
        hdr = json.loads(h.b64url_decode(code.split(".")[0]))
        self.assertEqual(hdr["alg"], "SM2")
        self.assertEqual(self.ask(code)["reason"], "ok")

    def test_wrong_sm2_codes_are_code_invalid(self):
        for code in (self.mint(key=self.other_key),
                     self.mint(tamper_payload=True),
                     self.mint(alg="EdDSA")):
            self.assertEqual(self.ask(code)["reason"], "code_invalid", code)


class SM2KeysTest(unittest.TestCase):
    """Keys refused at start and on SIGHUP; rotation across algorithms."""

    def daemon(self, alg, make_key, name="sm2keys"):
        d = h.Daemon(csv=CSV, config={"sign_alg": alg}, name=name)
        self.addCleanup(d.cleanup)
        d.key_path.unlink()
        make_key(d.key_path)
        return d

    def refused_at_start(self, d, words):
        d.start(wait_ready=False)
        self.assertTrue(h.wait_for(lambda: not d.alive(), 10),
                        "cardd started with a bad key")
        self.assertNotEqual(d.proc.returncode, 0)
        for w in words:
            self.assertIn(w, d.stderr())

    def test_wrong_keys_are_refused_at_start(self):
        def p256(path):
            subprocess.run(["openssl", "genpkey", "-algorithm", "EC",
                            "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                            str(path)], check=True, capture_output=True)
            os.chmod(path, 0o600)
        cases = [
            ("sm2", h.keygen, ["an Ed25519 key, but sign_alg is sm2"]),
            ("sm2", p256, ["not an SM2 key", "but sign_alg is sm2"]),
            ("ed25519", sm2_keygen, ["not an Ed25519 key",
                                     "sign_alg is ed25519"]),
            ("sm2", lambda p: sm2_keygen(p, 0o644), ["chmod 600"]),
        ]
        for alg, make, words in cases:
            with self.subTest(alg=alg, key=getattr(make, "__name__", "?")):
                self.refused_at_start(self.daemon(alg, make), words)

    def reload(self, d, **conf):
        log = d.stderr()
        ok, refused = log.count('msg="reloaded"'), log.count(
            'msg="reload refused')
        d.extra.update(conf)
        d.write_config()
        d.proc.send_signal(signal.SIGHUP)

        def seen():
            text = d.stderr()
            if text.count('msg="reload refused') > refused:
                return "refused"
            if text.count('msg="reloaded"') > ok:
                return "reloaded"
            return None
        r = h.wait_for(seen, 5, 0.02)
        self.assertIsNotNone(r, d.stderr()[-2000:])
        return r

    def signed(self, d):
        r = d.get("/v1/validity?card=%s&at=%s" % (CARD, AT))
        self.assertEqual(r.status, 200, r)
        return r.body, r.header("card-signature")

    def test_rotation_between_algorithms(self):
        d = self.daemon("sm2", sm2_keygen, name="sm2rotate")
        d.start()
        sm2_jwk = json.loads(d.jwks_bytes())["keys"][0]
        stmt, sig = self.signed(d)
        self.assertTrue(sm2.verify_jws(sm2_jwk, stmt, sig, d.dir))
        # A wrong key for the algorithm is refused; SM2 goes on signing.
        ed = d.dir / "ed.pem"
        h.keygen(ed)
        self.assertEqual(self.reload(d, signing_key=str(ed)), "refused")
        self.assertIn("but sign_alg is sm2", d.stderr())
        loose = d.dir / "loose.pem"
        sm2_keygen(loose, 0o644)
        self.assertEqual(self.reload(d, signing_key=str(loose)), "refused")
        self.assertIn("chmod 600", d.stderr())
        p256 = d.dir / "p256.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", str(p256)],
                       check=True, capture_output=True)
        os.chmod(p256, 0o600)
        self.assertEqual(self.reload(d, signing_key=str(p256)), "refused")
        self.assertIn("p256.pem: not an SM2 key", d.stderr())
        stmt, sig = self.signed(d)
        self.assertTrue(sm2.verify_jws(sm2_jwk, stmt, sig, d.dir))
        # Ed25519 now, the SM2 key still published.
        d.extra["signing_key"] = str(ed)
        self.assertEqual(self.reload(d, sign_alg="ed25519"), "reloaded")
        keys = json.loads(d.jwks_bytes())["keys"]
        self.assertEqual([k["kty"] for k in keys], ["OKP", "EC"])
        self.assertEqual(keys[1], sm2_jwk)
        stmt, sig = self.signed(d)
        self.assertTrue(h.verify_cryptography(h.b64url_decode(keys[0]["x"]),
                                              stmt, sig))
        self.assertEqual(json.loads(stmt)["kid"], keys[0]["kid"])
        # And back to SM2 with a new key: both older keys stay published.
        new = d.dir / "sm2-new.pem"
        sm2_keygen(new)
        self.assertEqual(self.reload(d, sign_alg="sm2",
                                     signing_key=str(new)), "reloaded")
        keys2 = json.loads(d.jwks_bytes())["keys"]
        self.assertEqual(keys2[0]["crv"], "SM2")
        self.assertNotEqual(keys2[0]["kid"], sm2_jwk["kid"])
        self.assertIn(sm2_jwk, keys2)
        self.assertIn(keys[0], keys2)
        stmt, sig = self.signed(d)
        self.assertTrue(sm2.verify_jws(keys2[0], stmt, sig, d.dir))
        self.assertFalse(sm2.verify_jws(sm2_jwk, stmt, sig, d.dir))
        self.assertEqual(d.stop(), 0, d.stderr()[-2000:])


if __name__ == "__main__":
    unittest.main()
