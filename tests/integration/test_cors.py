"""Browser front ends (PROTOCOL.md §5.5): cors_origins lets named web
origins read answers (Card-Signature exposed) and answers their
preflights; other origins, and every origin without cors_origins, get no
CORS header; a bad list is refused by cardd -t with FILE:LINE."""

import json

from tests.integration import harness
from tests.integration.harness import AT

ORIGIN = "https://desk.hospital.example"
Q = "/v1/validity?card=000000000001&at=" + AT


class CORSTest(harness.DaemonTestCase):
    GEN = ("50", "3", AT)
    CONFIG = {"cors_origins": "https://desk.hospital.example, "
                              "http://127.0.0.1:3000"}

    def test_answer_to_a_named_origin(self):
        for origin in (ORIGIN, "http://127.0.0.1:3000"):
            with self.subTest(origin=origin):
                r = self.d.get(Q, [("Origin", origin)])
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("access-control-allow-origin"),
                                 origin)
                self.assertIn("Card-Signature", r.header(
                    "access-control-expose-headers"))
                self.assertEqual(r.header("vary"), "Origin")
                self.assertIsNotNone(r.header("card-signature"))

    def test_other_origins_get_nothing(self):
        for origin in ("https://evil.example", ORIGIN.upper(),
                       ORIGIN + "/", "null"):
            with self.subTest(origin=origin):
                r = self.d.get(Q, [("Origin", origin)])
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.header("access-control-allow-origin"))
                self.assertEqual(r.header("vary"), "Origin")

    def test_preflight(self):
        with self.d.http() as c:
            for path in ("/v1/check", "/v1/validity",
                         "/fhir/CoverageEligibilityRequest/$check"):
                with self.subTest(path=path):
                    r = c.request("OPTIONS", path, [
                        ("Origin", ORIGIN),
                        ("Access-Control-Request-Method", "POST"),
                        ("Access-Control-Request-Headers",
                         "authorization, content-type")])
                    self.assertEqual(r.status, 200, r.body)
                    self.assertEqual(r.body, b"")
                    self.assertEqual(r.header(
                        "access-control-allow-origin"), ORIGIN)
                    self.assertIn("POST", r.header(
                        "access-control-allow-methods"))
                    self.assertEqual(r.header(
                        "access-control-allow-headers"),
                        "Authorization, Content-Type")
            r = c.request("OPTIONS", "/v1/check", [
                ("Origin", "https://evil.example"),
                ("Access-Control-Request-Method", "POST")])
            self.assertEqual(r.status, 405)
            self.assertIsNone(r.header("access-control-allow-origin"))
            r = c.request("POST", "/v1/check", [
                ("Origin", ORIGIN), ("Content-Type", "application/json")],
                json.dumps({"checks": [{"check": "validity",
                                        "card": "000000000001"}]}))
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("access-control-allow-origin"), ORIGIN)

    def test_bad_lists_refused(self):
        for bad in ("desk.hospital.example", "https://x.example/path",
                    "* https://x.example", "https://X.example", ","):
            with self.subTest(bad=bad):
                conf = self.d.dir / "bad.conf"
                conf.write_text(self.d.config_path.read_text() +
                                "cors_origins %s\n" % bad)
                p = harness.run([harness.CARDD, "-t", "-c", conf])
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"bad.conf:", p.stderr)
                self.assertIn(b"cors_origins", p.stderr)


class NoCORSTest(harness.DaemonTestCase):
    """The default: no origin is let in, and nothing says Vary."""
    GEN = ("50", "3", AT)

    def test_no_headers(self):
        r = self.d.get(Q, [("Origin", ORIGIN)])
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("access-control-allow-origin"))
        self.assertIsNone(r.header("vary"))
        with self.d.http() as c:
            r = c.request("OPTIONS", "/v1/check", [
                ("Origin", ORIGIN), ("Access-Control-Request-Method", "POST")])
            self.assertEqual(r.status, 405)


class StarCORSTest(harness.DaemonTestCase):
    GEN = ("50", "3", AT)
    CONFIG = {"cors_origins": "*"}

    def test_any_origin(self):
        r = self.d.get(Q, [("Origin", "https://anything.example")])
        self.assertEqual(r.header("access-control-allow-origin"), "*")
