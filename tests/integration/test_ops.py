"""Operations (man/cardd.8): cardd -t, config errors with FILE:LINE, key
file permissions, --version, SIGTERM with connections open, SIGHUP."""

import json
import os
import signal
import socket
import subprocess
import time
import unittest

from tests.integration import harness
from tests.integration.harness import AT, CSV_HEADER, csv_line

CSV = CSV_HEADER + "\n" + csv_line(
    "400000000001", status="active", permit="WP40000001", **{"class": "A"},
    permit_from="2024-01-01", permit_until="2026-12-31", birth="1990-01-01",
    region="310000", medical="2025-01-01..2025-12-31", rev="1") + "\n"
Q = "/v1/validity?card=400000000001&at=%s" % AT
CARD = "400000000001"


class ConfigCheckTest(unittest.TestCase):
    """cardd -t -c FILE, without starting anything."""

    def setUp(self):
        self.d = harness.Daemon(csv=CSV, name="conftest")
        self.addCleanup(self.d.cleanup)
        self.d.http_port, self.d.resp_port = 1, 2   # -t binds nothing
        self.d.write_config()

    def cardd(self, *args):
        return harness.run([harness.CARDD] + list(args), timeout=20)

    def test_good_config(self):
        p = self.cardd("-t", "-c", self.d.config_path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"configuration OK", p.stdout)
        # The documented reference config parses too (its key is absent,
        # so only the key check may fail).
        p = self.cardd("-t", "-c", harness.ROOT / "conf/cardd.conf")
        self.assertNotRegex(p.stderr, rb"cardd\.conf:\d+:")

    BAD = [
        "bogus_key 1",
        "threads 0",
        "threads 65",
        "threads two",
        "max_staleness -1",
        "http_listen nowhere",
        "resp_listen 127.0.0.1:70000",
        "require_birth maybe",
        "sign_mode fast",
        "log_level loud",
        "timezone Mars/Olympus_Mons",
        "timezone zone.tab",    # a file there, but not a zone name
        "key_id bad kid!",
        "source ftp://example",
        "http_max_body 1x",
        'source "file:cards.csv',
        "max_staleness",
        "threads 2",            # given twice
    ]

    def test_bad_key_names_file_and_line(self):
        good = self.d.config_path.read_text()
        nlines = good.count("\n")
        for bad in self.BAD:
            with self.subTest(line=bad):
                self.d.config_path.write_text(good + "# comment\n\n" + bad +
                                              "\n")
                p = self.cardd("-t", "-c", self.d.config_path)
                self.assertNotEqual(p.returncode, 0, p.stdout)
                self.assertNotIn(b"configuration OK", p.stdout)
                where = "%s:%d" % (self.d.config_path, nlines + 3)
                self.assertIn(where, p.stderr.decode(), p.stderr)
        # Started for real, a bad file stops it the same way.
        self.d.config_path.write_text(good + "bogus_key 1\n")
        p = self.cardd("-c", self.d.config_path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("%s:%d" % (self.d.config_path, nlines + 1),
                      p.stderr.decode())

    def test_missing_config(self):
        p = self.cardd("-t", "-c", self.d.dir / "nope.conf")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"nope.conf", p.stderr)

    def test_key_file_modes(self):
        for mode in (0o644, 0o640, 0o604, 0o660, 0o602):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.d.key_path, mode)
                p = self.cardd("-t", "-c", self.d.config_path)
                self.assertNotEqual(p.returncode, 0, p.stdout)
                self.assertIn(b"signing.pem", p.stderr)
                self.assertIn(b"chmod", p.stderr)
        for mode in (0o600, 0o400):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.d.key_path, mode)
                p = self.cardd("-t", "-c", self.d.config_path)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_key_0644_refused_at_start(self):
        os.chmod(self.d.key_path, 0o644)
        self.d.start(wait_ready=False)
        try:
            rc = self.d.proc.wait(timeout=harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.d.kill()
            self.fail("cardd started with a world-readable key")
        self.assertNotEqual(rc, 0)
        self.assertIn("chmod", self.d.stderr())

    def test_not_an_ed25519_key(self):
        os.unlink(self.d.key_path)
        p = harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-out", self.d.key_path])
        self.assertEqual(p.returncode, 0, p.stderr)
        os.chmod(self.d.key_path, 0o600)
        p = self.cardd("-t", "-c", self.d.config_path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"Ed25519", p.stderr)
        self.d.key_path.write_text("not a key\n")
        p = self.cardd("-t", "-c", self.d.config_path)
        self.assertNotEqual(p.returncode, 0)
        os.unlink(self.d.key_path)
        p = self.cardd("-t", "-c", self.d.config_path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"signing.pem", p.stderr)

    def test_version_and_usage(self):
        p = self.cardd("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^cardd \d+\.\d+\.\d+\S*\n$")
        p = harness.run([harness.CARDCTL, "--version"])
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^cardctl \d+\.\d+\.\d+")
        p = self.cardd("-h")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"usage", p.stdout)
        for args in (("-x",), ("extra",), ("-c",)):
            with self.subTest(args=args):
                p = self.cardd(*args)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(b"usage", p.stderr)


class ShutdownTest(unittest.TestCase):
    """SIGTERM drains: idle connections close at once, a request in
    flight is finished, and cardd exits 0 within a few seconds."""

    def test_sigterm_with_open_connections(self):
        d = harness.Daemon(csv=CSV, name="shutdown")
        self.addCleanup(d.cleanup)
        d.start()
        idle = [d.http(), d.http(), d.resp(), d.resp()]
        used = d.http()
        self.assertEqual(used.get(Q).status, 200)
        rused = d.resp()
        self.assertEqual(rused.command("PING"), "PONG")
        partial = d.http()
        req = harness.HTTPClient.build("GET", Q + "&nonce=late")
        partial.send(req[:20])
        time.sleep(0.2)
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        # The request in flight is finished and answered.
        time.sleep(0.2)
        partial.send(req[20:])
        r = partial.read_response()
        self.assertEqual(r.status, 200, r)
        self.assertIn(b'"nonce":"late"', r.body)
        try:
            rc = d.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            d.kill()
            self.fail("cardd did not exit within 5 s of SIGTERM")
        self.assertEqual(rc, 0, d.stderr())
        self.assertLess(time.monotonic() - t0, 5)
        for c in idle + [used, rused, partial]:
            self.assertTrue(c.closed_by_peer(1), "connection left open")
            c.close()
        self.assertIn("msg=stopped", d.stderr())
        with self.assertRaises(OSError):
            socket.create_connection((harness.HOST, d.http_port), timeout=1)


    def test_sigterm_answers_requests_already_sent(self):
        """Requests a client sent before SIGTERM, even those still in the
        kernel's buffer, are all answered before the connections close."""
        for mode in ("per-answer", "batch"):
            d = harness.Daemon(csv=CSV, config={"sign_mode": mode},
                               name="inflight")
            self.addCleanup(d.cleanup)
            d.start()
            conns = [d.resp() for _ in range(4)]
            for c in conns:
                c.send(b"".join(harness.resp_encode("VALIDITY", CARD)
                                for _ in range(200)))
            d.proc.send_signal(signal.SIGTERM)
            for c in conns:
                got = [c.read_reply(timeout=5) for _ in range(200)]
                self.assertTrue(all(isinstance(r, list) for r in got), mode)
                self.assertTrue(c.closed_by_peer(2), mode)
                c.close()
            self.assertEqual(d.proc.wait(timeout=10), 0, d.stderr())


class ReloadSignalTest(harness.DaemonTestCase):
    """SIGHUP: new keys (rotation) without dropping a connection."""

    CSV = CSV
    CONFIG = {"key_id": "2026a"}

    def jwks(self):
        return json.loads(self.d.jwks_bytes())

    def test_a_sighup_rotates_key(self):
        old = self.jwks()["keys"][0]
        with self.d.http() as keep, self.d.resp() as rkeep:
            self.assertEqual(keep.get(Q).status, 200)
            new_path = self.d.dir / "new.pem"
            harness.keygen(new_path)
            os.rename(new_path, self.d.key_path)
            self.d.proc.send_signal(signal.SIGHUP)
            self.assertTrue(harness.wait_for(
                lambda: self.jwks()["keys"][0]["x"] != old["x"], 5),
                "key not reloaded:\n" + self.d.stderr())
            new = self.jwks()["keys"][0]
            pub = harness.b64url_decode(new["x"])
            r = keep.get(Q)         # the old connection goes on
            self.assertEqual(r.status, 200, r)
            self.assertTrue(harness.verify_cryptography(
                pub, r.body, r.header("card-signature")),
                "an answer after SIGHUP does not verify with the published "
                "key (verifies with the old one: %s)" %
                harness.verify_cryptography(harness.b64url_decode(old["x"]),
                                            r.body,
                                            r.header("card-signature")))
            self.assertFalse(harness.verify_cryptography(
                harness.b64url_decode(old["x"]), r.body,
                r.header("card-signature")))
            rep = rkeep.command("VALIDITY", "400000000001")
            self.assertTrue(harness.verify_cryptography(pub, rep[0],
                                                        rep[1].decode()))
            self.assertEqual(rkeep.command("JWKS"), self.d.jwks_bytes())
        # A bad key on SIGHUP is refused; the running key stays.
        os.chmod(self.d.key_path, 0o644)
        self.d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(
            lambda: "reload refused" in self.d.stderr(), 5))
        self.assertEqual(self.jwks()["keys"][0]["x"], new["x"])
        self.assertEqual(self.d.get(Q).status, 200)
        os.chmod(self.d.key_path, 0o600)

    def test_b_sighup_reloads_config(self):
        # man/cardd.8: SIGHUP reloads the config (here: a new key_id).
        text = self.d.config_path.read_text()
        self.d.config_path.write_text(text.replace("key_id 2026a",
                                                   "key_id 2026b"))
        self.d.proc.send_signal(signal.SIGHUP)
        changed = harness.wait_for(
            lambda: self.jwks()["keys"][0]["kid"] == "2026b", 3)
        self.assertAlive()
        self.assertTrue(changed, "config not reloaded on SIGHUP: kid is "
                        "still %r" % self.jwks()["keys"][0]["kid"])
        r = self.d.get(Q)
        self.assertEqual(json.loads(r.body)["kid"], "2026b")
