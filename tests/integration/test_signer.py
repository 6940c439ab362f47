"""The signer pool (daemon/signer.c, sign_queue.c): answers are signed off
the workers' loops and come back in the order asked, however many jobs
they span, in both sign modes; a reload changes keys under load without
an answer signed by a key other than the one it names; a closed
connection with answers in flight harms nobody; an idle daemon's workers
and signers sleep. Signatures are checked with python3-cryptography."""

import json
import os
import signal
import socket
import threading
import time
import unittest

from tests.integration import harness as h
from tests.integration.test_batch_sign import verify_batch


def verify_any(pub, stmt, sig):
    """A batch proof or a plain detached JWS, checked with cryptography."""
    sig = sig.decode() if isinstance(sig, bytes) else sig
    if "~" in sig:
        return verify_batch(pub, stmt, sig)
    return h.verify_cryptography(pub, stmt, sig)


def thread_stats(pid, name):
    """(voluntary context switches, CPU ns) summed over pid's threads
    called name."""
    switches = ns = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        with open(base + "comm") as f:
            if f.read().strip() != name:
                continue
        with open(base + "status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    switches += int(line.split()[1])
        with open(base + "schedstat") as f:
            ns += int(f.read().split()[0])
    return switches, ns


class OrderTest(unittest.TestCase):
    """Long pipelines, mixed with replies that need no signature."""

    MODES = ("batch", "per-answer")

    @classmethod
    def setUpClass(cls):
        cls.ds = {}
        for mode in cls.MODES:
            d = h.Daemon(gen=(3000, 5, "2026-11-28"),
                         config={"sign_mode": mode, "signers": "2",
                                 "log_level": "debug"},
                         name="signer-" + mode)
            d.start()
            jwks = json.loads(d.jwks_bytes())
            d.pub = h.b64url_decode(jwks["keys"][0]["x"])
            cls.ds[mode] = d

    @classmethod
    def tearDownClass(cls):
        for d in cls.ds.values():
            d.stop()
            d.assert_clean_log()
            d.cleanup()

    def mixed(self, d, n):
        """n requests in one write: checks, PINGs and bad commands in a
        fixed pattern; every reply in its place, every signature good."""
        reqs = []
        for i in range(n):
            if i % 7 == 3:
                reqs.append(h.resp_encode("PING"))
            elif i % 11 == 5:
                reqs.append(h.resp_encode("VALIDITY"))     # arity error
            else:
                reqs.append(h.resp_encode("VALIDITY", "%012d" % (i % 3000),
                                          "NONCE", "n%d" % i))
        with d.explained(), d.resp(timeout=60) as c:
            c.send(b"".join(reqs))
            replies = [c.read_reply() for _ in range(n)]
        for i, r in enumerate(replies):
            if i % 7 == 3:
                self.assertEqual(r, "PONG", i)
            elif i % 11 == 5:
                self.assertIsInstance(r, h.RespError, i)
            else:
                stmt, sig = r
                self.assertIn(b'"nonce":"n%d"' % i, stmt, i)
                self.assertIn(b'"card":"%012d"' % (i % 3000), stmt, i)
                self.assertTrue(verify_any(d.pub, stmt, sig), i)

    def test_a_pipeline_longer_than_a_job(self):
        # 3000 requests: more than one job holds (1024) and more than a
        # connection may have waiting (256), so the connection pauses
        # and resumes while jobs come back.
        for mode, d in self.ds.items():
            with self.subTest(mode=mode):
                self.mixed(d, 3000)

    def test_many_connections_at_once(self):
        for mode, d in self.ds.items():
            with self.subTest(mode=mode):
                errors = []

                def client(k):
                    try:
                        self.mixed(d, 400)
                    except Exception as e:          # reported below
                        errors.append("%d: %r" % (k, e))

                ts = [threading.Thread(target=client, args=(k,))
                      for k in range(8)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(120)
                self.assertEqual(errors, [])

    def test_http_pipeline_keeps_order(self):
        for mode, d in self.ds.items():
            with self.subTest(mode=mode), d.explained(), \
                    d.http(timeout=60) as c:
                n = 600
                c.send(b"".join(h.HTTPClient.build(
                    "GET", "/v1/validity?card=%012d&nonce=h%d" % (i, i)
                    if i % 9 else "/nowhere") for i in range(n)))
                for i in range(n):
                    r = c.read_response()
                    if i % 9 == 0:
                        self.assertEqual(r.status, 404, i)
                        continue
                    self.assertEqual(r.status, 200, i)
                    self.assertIn(b'"nonce":"h%d"' % i, r.body)
                    self.assertTrue(verify_any(
                        d.pub, r.body, r.header("card-signature")), i)

    def test_closed_with_answers_in_flight(self):
        for mode, d in self.ds.items():
            with self.subTest(mode=mode):
                for _ in range(20):
                    s = socket.create_connection((h.HOST, d.resp_port))
                    s.sendall(b"".join(h.resp_encode(
                        "VALIDITY", "%012d" % i) for i in range(500)))
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()                       # RST, answers pending
                with d.resp() as c:
                    stmt, sig = c.command("VALIDITY", "000000000001")
                    self.assertTrue(verify_any(d.pub, stmt, sig))
                self.assertTrue(d.alive())


class RotationUnderLoadTest(unittest.TestCase):
    """SIGHUP with a new key while pipelined answers are being signed:
    each answer verifies with the key its kid names, never another."""

    def test_each_answer_signed_by_the_key_it_names(self):
        for mode in ("batch", "per-answer"):
            with self.subTest(mode=mode):
                self.rotate(mode)

    def rotate(self, mode):
        d = h.Daemon(gen=(2000, 3, "2026-11-28"),
                     config={"sign_mode": mode}, name="rotate-" + mode)
        try:
            d.start()
            keys = {}
            for k in json.loads(d.jwks_bytes())["keys"]:
                keys[k["kid"]] = h.b64url_decode(k["x"])
            stop = time.monotonic() + 3
            answers, errors = [], []

            def load():
                try:
                    with d.resp(timeout=60) as c:
                        while time.monotonic() < stop:
                            c.send(b"".join(h.resp_encode(
                                "VALIDITY", "%012d" % i) for i in range(100)))
                            answers.extend(c.read_reply() for _ in range(100))
                            time.sleep(0.03)    # bounded: ~100 rounds
                except Exception as e:              # reported below
                    errors.append(repr(e))

            t = threading.Thread(target=load)
            t.start()
            for _ in range(3):
                time.sleep(0.6)
                new = d.dir / "new.pem"
                h.keygen(new)
                os.rename(new, d.key_path)
                d.proc.send_signal(signal.SIGHUP)
                self.assertTrue(h.wait_for(lambda: any(
                    k["kid"] not in keys for k in
                    json.loads(d.jwks_bytes())["keys"]), 5), d.stderr())
                for k in json.loads(d.jwks_bytes())["keys"]:
                    keys[k["kid"]] = h.b64url_decode(k["x"])
            t.join(60)
            self.assertEqual(errors, [])
            self.assertGreater(len(answers), 1000)
            kids = set()
            for i, (stmt, sig) in enumerate(answers):
                kid = json.loads(stmt)["kid"]
                kids.add(kid)
                self.assertTrue(verify_any(keys[kid], stmt, sig), kid)
                for other, pub in keys.items():
                    if other != kid and i % 20 == 0:
                        self.assertFalse(verify_any(pub, stmt, sig))
            self.assertGreater(len(kids), 1, "no rotation under load")
            d.stop()
            d.assert_clean_log()
        finally:
            d.cleanup()


class IdleTest(unittest.TestCase):
    """Without a systemd watchdog, nothing wakes a worker or a signer
    while no request comes (issue 11: an idle daemon uses no CPU)."""

    def test_workers_and_signers_sleep(self):
        d = h.Daemon(gen=(100, 1, "2026-11-28"),
                     config={"sign_mode": "batch"}, name="idle")
        try:
            d.start()
            self.assertIn("signers=", d.stderr())
            with d.resp() as c:
                c.command("VALIDITY", "000000000001")   # everyone awake once
            time.sleep(0.5)
            before = {n: thread_stats(d.proc.pid, n)
                      for n in ("cardd-worker", "cardd-signer")}
            time.sleep(3)
            for name, (sw, _) in before.items():
                after, _ = thread_stats(d.proc.pid, name)
                self.assertEqual(after - sw, 0,
                                 "%s woke %d times in 3 s of idle" %
                                 (name, after - sw))
            d.stop()
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
