"""cardctl against a running cardd: check over HTTP and RESP with
--verify, verify --jwks on check's output, a tampered statement, and gen
being deterministic."""

import json

from tests.integration import harness
from tests.integration.harness import AT, CARDCTL, CSV_HEADER


class CardctlTest(harness.DaemonTestCase):
    GEN = (20, 3, AT)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.jwks_path = cls.d.dir / "jwks.json"
        cls.jwks_path.write_bytes(cls.d.jwks_bytes())

    def cardctl(self, *args, stdin=None):
        return harness.run([CARDCTL] + list(args), input=stdin)

    def check(self, via, *args):
        addr = "127.0.0.1:%d" % (self.d.http_port if via == "http"
                                 else self.d.resp_port)
        return self.cardctl("check", "--" + via, addr, *args)

    def test_check_verify(self):
        cases = [
            (("validity", "000000000000", "--at", AT), "validity", False,
             "000000000000", None),
            (("coverage", "000000000000", "medical", "--region", "440300",
              "--at", AT, "--nonce", "ctl"), "coverage", False,
             "000000000000", "440300"),
            (("validity", "wp0000007919", "--permit", "--at", AT),
             "validity", True, "WP0000007919", None),
            (("coverage", "000000000002", "medical", "--at", AT,
              "--birth", "1990-02-28"), "coverage", False, "000000000002",
             None),
        ]
        for via in ("http", "resp"):
            for args, check, by_permit, id_, region in cases:
                with self.subTest(via=via, args=args):
                    p = self.check(via, *args, "--verify")
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertIn(b"signature valid", p.stderr)
                    lines = p.stdout.decode().split("\n")
                    self.assertEqual(len(lines), 3, p.stdout)
                    self.assertEqual(lines[2], "")
                    body = lines[0].encode()
                    self.assertStatement(body, check, id_,
                                         by_permit=by_permit, region=region,
                                         at=AT, nonce="ctl" if "--nonce" in
                                         args else None)
                    self.assertSigned(body, lines[1])
                    # cardctl verify reads check's two lines on stdin.
                    v = self.cardctl("verify", "--jwks", self.jwks_path,
                                     stdin=p.stdout)
                    self.assertEqual(v.returncode, 0, v.stderr)
                    self.assertIn(b"signature valid", v.stdout)

    def test_verify_tampered(self):
        p = self.check("http", "validity", "000000000000", "--at", AT)
        self.assertEqual(p.returncode, 0, p.stderr)
        body, jws = p.stdout.decode().split("\n")[:2]
        self.assertIn('"result":"valid"', body)
        bad = body.replace('"result":"valid"', '"result":"invalid"')
        v = self.cardctl("verify", "--jwks", self.jwks_path,
                         stdin=(bad + "\n" + jws + "\n").encode())
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        # --statement FILE --jws JWS
        st = self.d.dir / "st.json"
        st.write_text(body)
        v = self.cardctl("verify", "--jwks", self.jwks_path, "--statement",
                         st, "--jws", jws)
        self.assertEqual(v.returncode, 0, v.stderr)
        st.write_text(bad)
        v = self.cardctl("verify", "--jwks", self.jwks_path, "--statement",
                         st, "--jws", jws)
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        # another key's JWKS does not verify it
        other = self.d.dir / "other.pem"
        jwks2 = self.d.dir / "jwks2.json"
        jwks2.write_text(json.dumps(harness.keygen(other)))
        v = self.cardctl("verify", "--jwks", jwks2,
                         stdin=(body + "\n" + jws + "\n").encode())
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        # a broken JWS is not valid either
        v = self.cardctl("verify", "--jwks", self.jwks_path,
                         stdin=(body + "\nnot-a-jws\n").encode())
        self.assertEqual(v.returncode, 1, v.stdout + v.stderr)
        # no JWKS file: an error, not a verdict
        v = self.cardctl("verify", "--jwks", self.d.dir / "missing.json",
                         stdin=(body + "\n" + jws + "\n").encode())
        self.assertEqual(v.returncode, 2, v.stdout + v.stderr)

    def test_check_refused(self):
        p = self.check("http", "validity", "bad")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"refused", p.stderr)
        p = self.check("resp", "validity", "bad")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"refused", p.stderr)
        p = self.cardctl("check", "--http",
                         "127.0.0.1:%d" % harness.free_port(), "validity",
                         "000000000000")
        self.assertNotEqual(p.returncode, 0)

    def test_gen_deterministic(self):
        a = self.cardctl("gen", "50", "--seed", "9", "--today", AT)
        b = self.cardctl("gen", "50", "--seed", "9", "--today", AT)
        c = self.cardctl("gen", "50", "--seed", "10", "--today", AT)
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(a.stdout, b.stdout)
        self.assertNotEqual(a.stdout, c.stdout)
        lines = a.stdout.decode().split("\n")
        self.assertEqual(lines[0], CSV_HEADER)
        self.assertEqual(len(lines), 52)
        self.assertTrue(lines[1].startswith("000000000000,"))
        self.assertTrue(lines[50].startswith("000000000049,"))
