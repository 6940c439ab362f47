"""PROTOCOL.md §4: every answer verifies with implementations that are not
cardd's own (python3-cryptography and the openssl command line), the
JWKS publishes the right key under its RFC 7638 thumbprint, and a batch
answer signs its whole body."""

import hashlib
import json
import tempfile

from tests.integration import harness
from tests.integration.harness import (AT, CSV_HEADER, b64url, b64url_decode,
                                       csv_line, jwk_thumbprint, split_jws,
                                       verify_cryptography, verify_openssl)

CSV = "\n".join([
    CSV_HEADER,
    csv_line("000000000010", status="active", permit="WP000010",
             **{"class": "A"}, permit_from="2024-01-01",
             permit_until="2026-12-31", birth="1980-02-29", region="440300",
             xregion="*", medical="2024-01-01..2025-12-31", rev="5"),
    csv_line("000000000011", status="lost", permit="WP000011",
             **{"class": "C"}, permit_from="2024-01-01",
             permit_until="2026-12-31", birth="1980-03-01", region="440300",
             rev="2"),
]) + "\n"


def tamper(body):
    """The same statement saying something else."""
    if b'"result":"valid"' in body:
        return body.replace(b'"result":"valid"', b'"result":"invalid"')
    if b'"result":"covered"' in body:
        return body.replace(b'"result":"covered"', b'"result":"not_covered"')
    return body.replace(b'"rev":', b'"rev":1', 1)


class SignatureTest(harness.DaemonTestCase):
    CSV = CSV

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="sig-", dir=self.d.dir)

    def answers(self):
        """A few signed answers over both interfaces: (label, body, jws)."""
        out = []
        for q in ("/v1/validity?card=000000000010&at=%s" % AT,
                  "/v1/coverage?card=000000000010&scheme=medical&region="
                  "110000&at=%s&nonce=xyz" % AT,
                  "/v1/validity?permit=wp000011&at=%s" % AT,
                  "/v1/validity?card=123456789&at=%s" % AT):
            r = self.d.get(q)
            self.assertEqual(r.status, 200, r)
            out.append(("http " + q, r.body, r.header("card-signature")))
        with self.d.resp() as c:
            for args in (("VALIDITY", "000000000010", "AT", AT),
                         ("COVERAGE", "000000000010", "medical", "AT", AT,
                          "NONCE", "n-1"),
                         ("VALIDITY", "WP000011", "BYPERMIT")):
                rep = c.command(*args)
                self.assertIsInstance(rep, list, rep)
                out.append(("resp " + " ".join(args), rep[0],
                            rep[1].decode()))
        return out

    def test_jwks_is_cacheable(self):
        """Cache-Control max-age and an ETag (the SHA-256 of the bytes);
        If-None-Match with it is a 304 without a body; answers are never
        cached."""
        r = self.d.get("/v1/keys")
        self.assertEqual(r.header("cache-control"), "max-age=300")
        tag = '"%s"' % b64url(hashlib.sha256(r.body).digest())
        self.assertEqual(r.header("etag"), tag)
        with self.d.http() as c:
            for inm in (tag, 'W/"x", ' + tag, "*"):
                with self.subTest(inm=inm):
                    n = c.get("/v1/keys", [("If-None-Match", inm)])
                    self.assertEqual(n.status, 304)
                    self.assertEqual(n.body, b"")
                    self.assertEqual(n.header("etag"), tag)
            n = c.get("/v1/keys", [("If-None-Match", '"stale"')])
            self.assertEqual((n.status, n.body), (200, r.body))
            a = c.get("/v1/validity?card=000000000010")
            self.assertEqual(a.header("cache-control"), "no-store")
            self.assertIsNone(a.header("etag"))

    def test_jwks(self):
        r = self.d.get("/v1/keys")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/jwk-set+json")
        jwks = r.json()
        self.assertEqual(list(jwks), ["keys"])
        self.assertEqual(len(jwks["keys"]), 1)
        k = jwks["keys"][0]
        self.assertEqual(k["kty"], "OKP")
        self.assertEqual(k["crv"], "Ed25519")
        for private in ("d", "p", "q", "dp", "dq", "qi", "k"):
            self.assertNotIn(private, k, "JWKS leaks private material")
        self.assertEqual(len(b64url_decode(k["x"])), 32)
        self.assertEqual(b64url(b64url_decode(k["x"])), k["x"],
                         "x is not canonical unpadded base64url")
        self.assertEqual(k["kid"], jwk_thumbprint(k["x"]))
        if "alg" in k:
            self.assertEqual(k["alg"], "EdDSA")
        if "use" in k:
            self.assertEqual(k["use"], "sig")
        # The key is the one cardctl keygen made and printed.
        self.assertEqual(jwks, self.d.keygen_jwks)

    def test_jwks_over_resp_equals_http(self):
        with self.d.resp() as c:
            rep = c.command("JWKS")
            self.assertIsInstance(rep, bytes, rep)
            self.assertEqual(rep, self.d.jwks_bytes())
            self.assertEqual(c.command("jwks"), rep)

    def test_header_and_kid(self):
        for label, body, jws in self.answers():
            with self.subTest(label):
                hdr_b64, hdr, sig = split_jws(jws)
                self.assertEqual(json.loads(b64url_decode(hdr_b64)),
                                 {"alg": "EdDSA", "kid": self.kid})
                self.assertEqual(hdr["kid"], jwk_thumbprint(b64url(self.pub)))
                self.assertEqual(len(sig), 64)
                self.assertEqual(json.loads(body)["kid"], self.kid)

    def test_verify_with_cryptography(self):
        for label, body, jws in self.answers():
            with self.subTest(label):
                self.assertTrue(verify_cryptography(self.pub, body, jws))
                self.assertFalse(verify_cryptography(self.pub, tamper(body),
                                                     jws), "tampered verifies")
                self.assertFalse(verify_cryptography(self.pub, body + b" ",
                                                     jws))

    def test_verify_with_openssl_cli(self):
        for label, body, jws in self.answers()[:4]:
            with self.subTest(label):
                ok, out = verify_openssl(self.pub, body, jws, self.work)
                self.assertTrue(ok, out)
                ok, out = verify_openssl(self.pub, tamper(body), jws,
                                         self.work)
                self.assertFalse(ok, "tampered statement verifies: " + out)

    def test_tampered_signature_or_header_fails(self):
        _, body, jws = self.answers()[0]
        hdr_b64, _, sig = split_jws(jws)
        bad = bytearray(sig)
        bad[10] ^= 1
        self.assertFalse(verify_cryptography(
            self.pub, body, hdr_b64 + ".." + b64url(bytes(bad))))
        other = b64url(json.dumps({"alg": "EdDSA", "kid": "other"},
                                  separators=(",", ":")).encode())
        self.assertFalse(verify_cryptography(
            self.pub, body, other + ".." + b64url(sig)))

    def test_each_answer_signed_anew(self):
        # Same question twice: issued_at and so the signature may differ,
        # but both verify; equal bytes give the same (deterministic) sig.
        a = self.d.get("/v1/validity?card=000000000010&at=%s" % AT)
        b = self.d.get("/v1/validity?card=000000000010&at=%s" % AT)
        for r in (a, b):
            self.assertTrue(verify_cryptography(self.pub, r.body,
                                                r.header("card-signature")))
        if a.body == b.body:
            self.assertEqual(a.header("card-signature"),
                             b.header("card-signature"))

    # -- batches

    def post_batch(self, checks, conn=None):
        body = json.dumps({"checks": checks}).encode()
        if conn is None:
            with self.d.http() as c:
                return c.request("POST", "/v1/check",
                                 [("Content-Type", "application/json")],
                                 body)
        return conn.request("POST", "/v1/check",
                            [("Content-Type", "application/json")], body)

    def test_batch(self):
        checks = [
            {"check": "validity", "card": "000000000010", "at": AT},
            {"check": "coverage", "card": "000000000010", "scheme": "medical",
             "region": "500000", "at": AT, "nonce": "b1"},
            {"check": "validity", "permit": "wp000011", "at": AT},
            {"check": "coverage", "card": "999999999", "scheme": "pension",
             "at": AT},
            {"check": "validity", "card": "000000000010", "at": "2027-01-01",
             "birth": "1980-02-29"},
        ]
        r = self.post_batch(checks)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/json")
        jws = r.header("card-signature")
        self.assertIsNotNone(jws)
        self.assertSigned(r.body, jws)
        ok, out = verify_openssl(self.pub, r.body, jws, self.work)
        self.assertTrue(ok, out)
        self.assertFalse(verify_cryptography(self.pub, tamper(r.body), jws))
        self.assertNotRegex(r.body, rb"\s")
        self.assertTrue(r.body.startswith(b'{"results":['), r.body[:40])
        results = json.loads(r.body)["results"]
        self.assertEqual(list(json.loads(r.body)), ["results"])
        self.assertEqual(len(results), len(checks))
        raw = [json.dumps(x, separators=(",", ":")).encode() for x in results]
        self.assertStatement(raw[0], "validity", "000000000010", reason="ok",
                             rev=5, at=AT)
        self.assertStatement(raw[1], "coverage", "000000000010",
                             reason="ok", scheme="medical", region="500000",
                             at=AT, nonce="b1", rev=5)
        self.assertStatement(raw[2], "validity", "WP000011", by_permit=True,
                             reason="card_lost", rev=2, at=AT)
        self.assertStatement(raw[3], "coverage", "999999999",
                             scheme="pension", reason="unknown_card", rev=0)
        self.assertStatement(raw[4], "validity", "000000000010",
                             reason="permit_expired", at="2027-01-01")
        # The same answers one by one (but for issued_at).
        single = self.d.get("/v1/coverage?card=000000000010&scheme=medical&"
                            "region=500000&at=%s&nonce=b1" % AT)
        one = json.loads(single.body)
        one.pop("issued_at")
        results[1].pop("issued_at")
        self.assertEqual(results[1], one)

    def test_batch_of_100_and_101(self):
        checks = [{"check": "validity", "card": "%012d" % i, "at": AT,
                   "nonce": "n%d" % i} for i in range(100)]
        with self.d.http() as c:
            r = self.post_batch(checks, c)
            self.assertEqual(r.status, 200, r)
            self.assertSigned(r.body, r.header("card-signature"))
            results = json.loads(r.body)["results"]
            self.assertEqual([x["nonce"] for x in results],
                             ["n%d" % i for i in range(100)])
            self.assertEqual(results[10]["reason"], "ok")
            self.assertEqual(results[11]["reason"], "card_lost")
            self.assertEqual(results[12]["reason"], "unknown_card")
            r = self.post_batch(checks + [checks[0]], c)
            self.assertEqual(r.status, 413, r)
            self.assertEqual(r.json()["error"], "too_large")
            self.assertIsNone(r.header("card-signature"))
            # Either the server says it closes and does, or the
            # connection goes on.
            if r.header("connection") == "close":
                self.assertTrue(c.closed_by_peer())
            else:
                self.assertEqual(c.get("/healthz").status, 200)


class KeyIdTest(harness.DaemonTestCase):
    """A configured key_id is the kid everywhere."""

    CSV = CSV
    CONFIG = {"key_id": "2026a"}

    def test_key_id(self):
        self.assertEqual(self.kid, "2026a")
        r = self.d.get("/v1/validity?card=000000000010&at=%s" % AT)
        self.assertEqual(r.status, 200, r)
        self.assertStatement(r.body, "validity", "000000000010", reason="ok")
        self.assertSigned(r.body, r.header("card-signature"))
        k = json.loads(self.d.jwks_bytes())["keys"][0]
        self.assertEqual(k["kid"], "2026a")


class RFC8037KeyTest(harness.DaemonTestCase):
    """The key of RFC 8037 A.1: the JWKS must publish the x and the kid
    the RFC prints (A.1, A.3), and the worked example of PROTOCOL.md §8
    verifies independently."""

    CSV = CSV
    RFC_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    RFC_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

    @classmethod
    def setUpClass(cls):
        cls.d = harness.Daemon(
            csv=cls.CSV, name=cls.__name__,
            key_file=harness.ROOT / "tests/data/rfc8037-a1.pem")
        cls.addClassCleanup(cls.d.cleanup)
        cls.d.start()
        k = json.loads(cls.d.jwks_bytes())["keys"][0]
        cls.kid, cls.pub = k["kid"], b64url_decode(k["x"])

    def test_rfc_key_published(self):
        k = json.loads(self.d.jwks_bytes())["keys"][0]
        self.assertEqual(k["x"], self.RFC_X)
        self.assertEqual(k["kid"], self.RFC_KID)
        self.assertEqual(jwk_thumbprint(self.RFC_X), self.RFC_KID)
        r = self.d.get("/v1/coverage?card=000000000010&scheme=medical&"
                       "at=%s" % AT)
        self.assertSigned(r.body, r.header("card-signature"))

    def test_worked_example(self):
        ex = json.loads((harness.ROOT / "tests/data/protocol_example.json")
                        .read_text())
        stmt = ex["stmt"].encode()
        self.assertEqual(harness.signing_input(ex["header"], stmt).decode(),
                         ex["signing_input"])
        self.assertTrue(verify_cryptography(b64url_decode(ex["x"]), stmt,
                                            ex["jws"]))
        self.assertFalse(verify_cryptography(b64url_decode(ex["x"]),
                                             tamper(stmt), ex["jws"]))
