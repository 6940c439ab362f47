"""sign_mode batch (protocol/PROTOCOL.md §4.3), verified by an
implementation that is not ours: RFC 9162 inclusion proofs and the root
object rebuilt here in Python, the Ed25519 signature checked with
python3-cryptography. Also cardctl verify and cardbench on the same
answers."""

import base64
import hashlib
import json
import os
import subprocess
import unittest

from tests.integration import harness as h


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaf, index, n, path, node=node):
    """RFC 9162 §2.1.3.2, as the RFC writes it (node: the interior hash,
    SHA-256 unless told)."""
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


def verify_batch(pub_raw, statement, proof):
    """True when proof (H..S~n~index~path) holds for statement."""
    jws, n, index, path_b64 = proof.split("~")
    hdr, empty, sig = jws.split(".")
    assert empty == ""
    path = h.b64url_decode(path_b64)
    assert len(path) % 32 == 0
    leaf = hashlib.sha256(b"\x00" + statement).digest()
    root = root_of(leaf, int(index), int(n),
                   [path[i:i + 32] for i in range(0, len(path), 32)])
    if root is None:
        return False
    payload = ('{"typ":"cardd-merkle","v":1,"n":%d,"root":"%s"}'
               % (int(n), b64u(root))).encode()
    return h.verify_cryptography(pub_raw, payload, hdr + ".." + sig)


class BatchSignTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = h.Daemon(gen=(5000, 11, "2026-11-28"),
                         config={"sign_mode": "batch"}, name="batch")
        cls.d.start()
        jwks = h.http_get(cls.d.http_port, "/v1/keys").json()
        cls.pub = h.b64url_decode(jwks["keys"][0]["x"])
        cls.jwks_path = cls.d.dir / "jwks.json"
        cls.jwks_path.write_text(json.dumps(jwks))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    def pipelined(self, n):
        """n VALIDITY commands in one write; the replies."""
        with self.d.resp() as c:
            c.send(b"".join(h.resp_encode("VALIDITY", "%012d" % i, "NONCE",
                                          "n%d" % i) for i in range(n)))
            return [c.read_reply() for _ in range(n)]

    def test_pipelined_answers_share_a_tree(self):
        replies = self.pipelined(64)
        batched = 0
        for i, (stmt, sig) in enumerate(replies):
            sig = sig.decode()
            self.assertIn(b'"card":"%012d"' % i, stmt)
            self.assertIn(b'"nonce":"n%d"' % i, stmt)
            if "~" in sig:
                batched += 1
                self.assertTrue(verify_batch(self.pub, stmt, sig), sig)
                # Any other statement fails against this proof.
                other = replies[(i + 1) % len(replies)][0]
                self.assertFalse(verify_batch(self.pub, other, sig))
            else:
                self.assertTrue(h.verify_cryptography(self.pub, stmt, sig))
        self.assertGreater(batched, 32, "pipelined answers were not batched")

    def test_tampered_proofs_fail(self):
        stmt, sig = self.pipelined(16)[5]
        sig = sig.decode()
        self.assertIn("~", sig)
        jws, n, index, path = sig.split("~")
        bad = [jws + "~%d~%s~%s" % (int(n) + 1, index, path),
               jws + "~%s~%d~%s" % (n, (int(index) + 1) % int(n), path),
               jws + "~%s~%s~%s" % (n, index, path[:-43]),
               jws[:-2] + ("AA" if jws[-2:] != "AA" else "BA") +
               "~%s~%s~%s" % (n, index, path)]
        for b in bad:
            self.assertFalse(verify_batch(self.pub, stmt, b), b)
        self.assertFalse(verify_batch(self.pub, stmt.replace(b'"rev"',
                                                             b'"Rev"'), sig))

    def test_a_lone_answer_is_a_plain_jws(self):
        with self.d.resp() as c:
            stmt, sig = c.command("VALIDITY", "000000000000")
        self.assertNotIn(b"~", sig)
        self.assertTrue(h.verify_cryptography(self.pub, stmt, sig.decode()))

    def test_http_pipelined_and_batch_body(self):
        with self.d.http() as c:
            req = b"".join(h.HTTPClient.build(
                "GET", "/v1/coverage?card=%012d&scheme=medical" % i)
                for i in range(20))
            c.send(req)
            rs = [c.read_response() for _ in range(20)]
        for r in rs:
            self.assertEqual(r.status, 200)
            sig = r.header("card-signature")
            ok = verify_batch(self.pub, r.body, sig) if "~" in sig else \
                h.verify_cryptography(self.pub, r.body, sig)
            self.assertTrue(ok, sig)

    def test_cardctl_verify_both_kinds(self):
        for stmt, sig in self.pipelined(8):
            p = subprocess.run([h.CARDCTL, "verify", "--jwks",
                                self.jwks_path], input=stmt + b"\n" + sig +
                               b"\n", capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"valid", p.stdout)
            bad = stmt.replace(b"valid", b"VALID", 1)
            p = subprocess.run([h.CARDCTL, "verify", "--jwks",
                                self.jwks_path], input=bad + b"\n" + sig +
                               b"\n", capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 1, p.stdout)

    def test_cardbench_verifies_every_answer(self):
        bench = h.BUILD / "cardbench"
        out = self.d.dir / "bench.json"
        p = subprocess.run([bench, "--resp", "127.0.0.1:%d" % self.d.resp_port,
                            "-c", "8", "-t", "1", "-P", "8", "-n", "4000",
                            "--cards", "5000", "--nonce", "--verify-every",
                            "1", "--verify-cpu", "100", "--jwks", "auto",
                            "--json", out], capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rep = json.loads(out.read_text())
        v = rep["verify"]
        self.assertEqual(v["failed"], 0)
        self.assertGreater(v["batch"], 0)
        self.assertGreater(v["ok"] + v["dropped"], 3000)

    def test_cardbench_open_loop_keeps_its_schedule(self):
        # 2000/s for 2 s: every scheduled request is sent and answered
        # (none more: the schedule is the ceiling), and each one's latency
        # is split into send lag and service time.
        out = self.d.dir / "open.json"
        p = subprocess.run([h.BUILD / "cardbench", "--resp",
                            "127.0.0.1:%d" % self.d.resp_port, "-c", "8",
                            "-t", "1", "--rate", "2000", "-d", "2",
                            "--warmup", "0.5", "--cards", "5000", "--json",
                            out], capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rep = json.loads(out.read_text())
        self.assertEqual(rep["config"]["mode"], "open")
        self.assertEqual(rep["errors"]["failed"], 0)
        self.assertLessEqual(rep["answers"] + rep["unfinished"], 4001)
        self.assertGreater(rep["answers"], 3200)
        for k in ("service_us", "send_lag_us"):
            self.assertEqual(rep[k]["count"], rep["answers"])
        self.assertLessEqual(rep["service_us"]["p50"],
                             rep["latency_us"]["p50"])


if __name__ == "__main__":
    unittest.main()
