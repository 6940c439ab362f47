"""Issue 5: only the right clients get in, nobody can enumerate cards, and
no input can hurt the daemon. TLS handshakes (and refused client
certificates), tokens right/wrong/missing, a check a client may not ask,
rate limits reached and recovered, connection limits per address, a
reader that never reads, a slowloris client, and other clients answered
throughout. Certificates are made here with the openssl command line."""

import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from tests.integration import harness as h


def openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())


def make_pki(d):
    """A CA, a server certificate, a client certificate, and a client
    certificate from another CA (self-signed)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=cardd test CA", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("hosp", "hospital-7"),
                     ("pharm", "pharmacy-9")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=" + cn, cwd=d)
        extra = ["-extfile", "san.ext"] if name == "server" else []
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-out", name + ".pem",
                "-days", "2", *extra, cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "evil.key",
            "-out", "evil.pem", "-days", "2", "-subj", "/CN=hospital-7",
            cwd=d)
    for k in d.glob("*.key"):
        os.chmod(k, 0o600)


def token(name):
    """(token, config line) from cardctl token."""
    p = h.run([h.CARDCTL, "token", name])
    lines = dict(l.split(": ", 1) for l in p.stdout.decode().splitlines())
    return lines["token"], lines["config"]


class TLSBase(unittest.TestCase):
    """A cardd with TLS on both listeners, tokens and client certificates."""

    verify = "optional"
    probe_cert = None

    @classmethod
    def setUpClass(cls):
        cls.pki = Path(tempfile.mkdtemp(prefix="cardd-pki-"))
        make_pki(cls.pki)
        cls.tok_pharm, line_pharm = token("pharmacy-1")
        cls.tok_all, line_all = token("ops")
        conf = {
            "auth": "required", "http_tls": "yes", "resp_tls": "yes",
            "tls_cert": cls.pki / "server.pem",
            "tls_key": cls.pki / "server.key",
            "tls_client_ca": cls.pki / "ca.pem",
            "tls_verify_client": cls.verify,
            # The harness writes "client VALUE"; more lines follow in it.
            "client": "%s\nclient %s\nclient hospital-7 cert=hospital-7 "
                      "allow=validity,coverage,metrics rate=1000" % (
                          line_pharm.replace("client ", "", 1).replace(
                              "allow=validity,coverage rate=100",
                              "allow=coverage rate=5 burst=5"),
                          line_all.replace("client ", "", 1).replace(
                              "rate=100", "rate=100000")),
        }
        cls.d = h.Daemon(gen=(2000, 5, "2026-11-28"), config=conf,
                         name="tls")
        cls.d.start(wait_ready=False)
        deadline = time.monotonic() + 30
        while True:
            try:
                if cls.https("/readyz", cert=cls.probe_cert)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or not cls.d.alive():
                err = cls.d.stderr()
                cls.d.kill()
                cls.d.cleanup()
                raise RuntimeError(err)
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    @classmethod
    def context(cls, cert=None):
        ctx = ssl.create_default_context(cafile=str(cls.pki / "ca.pem"))
        if cert:
            ctx.load_cert_chain(str(cls.pki / (cert + ".pem")),
                                str(cls.pki / (cert + ".key")))
        return ctx

    @classmethod
    def tls_socket(cls, port, cert=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        return cls.context(cert).wrap_socket(raw, server_hostname="localhost")

    @classmethod
    def https(cls, path, token=None, cert=None):
        """(status, headers text, body) of one GET over TLS."""
        with cls.tls_socket(cls.d.http_port, cert) as s:
            hdr = "Authorization: Bearer %s\r\n" % token if token else ""
            s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%s"
                       "Connection: close\r\n\r\n" % (path, hdr)).encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), head.decode(), body

    @classmethod
    def resp(cls, *cmds, cert=None):
        """The replies to RESP commands over TLS, on one connection."""
        with cls.tls_socket(cls.d.resp_port, cert) as s:
            for c in cmds:
                s.sendall(h.resp_encode(*c))
            buf = b""
            out = []
            end = time.monotonic() + 5
            while len(out) < len(cmds) and time.monotonic() < end:
                buf += s.recv(65536)
                while buf:
                    r, n = parse_reply(buf)
                    if n == 0:
                        break
                    out.append(r)
                    buf = buf[n:]
            return out


def parse_reply(buf):
    """(reply, bytes used) of a RESP reply, (None, 0) if incomplete."""
    if b"\r\n" not in buf:
        return None, 0
    line, rest = buf.split(b"\r\n", 1)
    kind = buf[:1]
    if kind in (b"+", b"-"):
        return line.decode(), len(line) + 2
    if kind == b"$":
        n = int(line[1:])
        if len(rest) < n + 2:
            return None, 0
        return rest[:n], len(line) + 2 + n + 2
    if kind == b"*":
        items, used = [], len(line) + 2
        for _ in range(int(line[1:])):
            r, n = parse_reply(buf[used:])
            if n == 0:
                return None, 0
            items.append(r)
            used += n
        return items, used
    raise ValueError(buf[:40])


class TLSTest(TLSBase):

    def test_handshake_and_signed_answer(self):
        status, head, body = self.https("/v1/validity?card=000000000000",
                                        token=self.tok_all)
        self.assertEqual(status, 200, body)
        jwks = self.https("/v1/keys")[2]
        import json
        x = h.b64url_decode(json.loads(jwks)["keys"][0]["x"])
        sig = [l.split(": ", 1)[1] for l in head.split("\r\n")
               if l.lower().startswith("card-signature:")][0]
        self.assertTrue(h.verify_cryptography(x, body, sig))

    def test_tls_1_1_refused(self):
        ctx = self.context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.tls_socket_ctx(ctx)

    def tls_socket_ctx(self, ctx):
        raw = socket.create_connection(("127.0.0.1", self.d.http_port),
                                       timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(100)
        s.close()
        if not data:
            raise ConnectionError("closed")
        return data

    def test_plain_text_on_a_tls_port(self):
        with socket.create_connection(("127.0.0.1", self.d.http_port),
                                      timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            try:
                data = s.recv(100)
            except ConnectionResetError:
                data = b""
            self.assertFalse(data.startswith(b"HTTP/1.1 200"), data)
        self.assertEqual(self.https("/healthz")[0], 200)

    def test_tokens_right_wrong_missing(self):
        path = "/v1/coverage?card=000000000001&scheme=medical"
        self.assertEqual(self.https(path, token=self.tok_all)[0], 200)
        status, head, body = self.https(path)
        self.assertEqual(status, 401)
        self.assertIn("WWW-Authenticate: Bearer", head)
        self.assertIn(b'"error":"unauthorized"', body)
        self.assertEqual(self.https(path, token="x" * 43)[0], 401)
        self.assertEqual(self.https(path, token=self.tok_all[:-1])[0], 401)
        r = self.resp(("VALIDITY", "000000000000"),
                      ("AUTH", "wrong"), ("AUTH", self.tok_all),
                      ("VALIDITY", "000000000000"))
        self.assertTrue(r[0].startswith("-NOAUTH"), r)
        self.assertTrue(r[1].startswith("-WRONGPASS"), r)
        self.assertEqual(r[2], "+OK")
        self.assertIsInstance(r[3], list)

    def test_check_not_allowed(self):
        # pharmacy-1 may ask coverage only.
        status, _, body = self.https("/v1/validity?card=000000000000",
                                     token=self.tok_pharm)
        self.assertEqual(status, 403, body)
        self.assertIn(b'"error":"forbidden"', body)
        r = self.resp(("AUTH", self.tok_pharm), ("VALIDITY", "000000000000"),
                      ("INFO",))
        self.assertTrue(r[1].startswith("-NOPERM"), r)
        self.assertTrue(r[2].startswith("-NOPERM"), r)
        self.assertEqual(self.https("/metrics", token=self.tok_pharm)[0], 403)

    def test_client_certificate_identity(self):
        status, _, body = self.https("/v1/validity?card=000000000000",
                                     cert="hosp")
        self.assertEqual(status, 200, body)
        r = self.resp(("INFO",), cert="hosp")
        self.assertIsInstance(r[0], bytes)
        self.assertIn(b"cards:2000", r[0])
        # A valid certificate that names no client gets nothing.
        self.assertEqual(self.https("/v1/validity?card=000000000000",
                                    cert="pharm")[0], 401)

    def test_cardctl_check_over_tls(self):
        base = [h.CARDCTL, "check", "--tls", "--cacert", self.pki / "ca.pem"]
        for proto, port in (("--http", self.d.http_port),
                            ("--resp", self.d.resp_port)):
            where = "localhost:%d" % port
            p = h.run(base + [proto, where, "--token", self.tok_all,
                              "validity", "000000000000", "--verify"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"signature valid", p.stderr)
            p = h.run(base + ["--cert", self.pki / "hosp.pem", "--key",
                              self.pki / "hosp.key", proto, where,
                              "coverage", "000000000000", "medical",
                              "--verify"])
            self.assertEqual(p.returncode, 0, p.stderr)
            p = h.run(base + [proto, where, "validity", "000000000000"])
            self.assertEqual(p.returncode, 2)
            self.assertRegex(p.stderr, rb"refused.*(NOAUTH|unauthorized)")

    def test_bad_client_certificate_refused(self):
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.https("/v1/validity?card=000000000000", cert="evil")
        self.assertEqual(self.https("/healthz")[0], 200)

    def test_rate_limit_reached_and_recovered(self):
        path = "/v1/coverage?card=000000000002&scheme=medical"
        codes = []
        with self.tls_socket(self.d.http_port) as s:
            for _ in range(12):
                s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: "
                           "Bearer %s\r\n\r\n" % (path, self.tok_pharm)
                           ).encode())
            data = b""
            end = time.monotonic() + 5
            while data.count(b"HTTP/1.1 ") < 12 and time.monotonic() < end:
                data += s.recv(65536)
        for part in data.split(b"HTTP/1.1 ")[1:]:
            codes.append(int(part[:3]))
        self.assertEqual(len(codes), 12)
        self.assertIn(429, codes)
        self.assertLessEqual(codes.count(200), 6)
        self.assertIn(b"Retry-After: 1", data)
        time.sleep(1.3)        # 5 per second refill
        self.assertEqual(self.https(path, token=self.tok_pharm)[0], 200)
        r = self.resp(*([("AUTH", self.tok_pharm)] +
                        [("COVERAGE", "000000000002", "medical")] * 10))
        self.assertIn("-ERR rate limited", r)


class RequiredCertTest(TLSBase):
    verify = "required"
    probe_cert = "hosp"

    def test_missing_certificate_refused(self):
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.https("/v1/validity?card=000000000000", token=self.tok_all)
        status = self.https("/v1/validity?card=000000000000", cert="hosp")[0]
        self.assertEqual(status, 200)


class LimitsTest(unittest.TestCase):
    """Limits on connections, slow readers and slowloris clients, with a
    well-behaved client answered throughout."""

    @classmethod
    def setUpClass(cls):
        cls.d = h.Daemon(gen=(2000, 6, "2026-11-28"), config={
            "max_connections_per_ip": "6", "request_timeout": "2",
            "idle_timeout": "3", "client_max_output": "64k"}, name="limits")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    def answered(self):
        """A normal client is answered at once."""
        with self.d.resp() as c:
            r = c.command("VALIDITY", "000000000000")
        self.assertIsInstance(r, list)

    def test_connections_per_address(self):
        time.sleep(0.3)       # earlier probes' connections are gone
        held = []
        for _ in range(6):
            s = socket.create_connection(("127.0.0.1", self.d.resp_port),
                                         timeout=5)
            s.sendall(b"PING\r\n")
            self.assertEqual(s.recv(100), b"+PONG\r\n")   # counted
            held.append(s)
        try:
            with socket.create_connection(("127.0.0.1", self.d.resp_port),
                                          timeout=5) as s:
                s.settimeout(5)
                self.assertEqual(s.recv(100),
                                 b"-ERR max number of clients reached\r\n")
        finally:
            for s in held:
                s.close()
        time.sleep(0.2)
        self.answered()

    def rss(self):
        with open("/proc/%d/status" % self.d.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def test_reader_that_never_reads(self):
        """It may fill the kernel's buffers, not the daemon's memory: the
        daemon stops reading from it, then cuts it off."""
        s = socket.create_connection(("127.0.0.1", self.d.resp_port),
                                     timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        cmd = h.resp_encode("VALIDITY", "000000000001") * 2000
        before = self.rss()
        sent, last_progress = 0, time.monotonic()
        s.setblocking(False)
        end = time.monotonic() + 8
        while time.monotonic() < end and sent < 60 * 2**20:
            try:
                sent += s.send(cmd)
                last_progress = time.monotonic()
            except BlockingIOError:
                if time.monotonic() - last_progress > 1:
                    break     # the daemon stopped taking input
                time.sleep(0.05)
            self.answered()
        grown = self.rss() - before
        self.assertLess(sent, 60 * 2**20, "the daemon took input without end")
        self.assertLess(grown, 32 * 2**20 * h.MEMORY_SCALE,
                        "the daemon buffered %d bytes" % grown)
        self.answered()
        end = time.monotonic() + 12
        closed = False
        while time.monotonic() < end and not closed:
            time.sleep(0.5)
            try:
                s.send(b"x")
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                closed = True
        s.close()
        self.assertTrue(closed, "a reader that never reads was not cut off")
        self.assertIn("client does not read its answers", self.d.stderr())
        self.answered()

    def test_slowloris(self):
        s = socket.create_connection(("127.0.0.1", self.d.http_port),
                                     timeout=10)
        start = time.monotonic()
        closed = False
        for ch in b"GET /v1/validity?card=000000000000 HTTP/1.1\r\nHost: x":
            try:
                s.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            time.sleep(0.3)
            self.assertLess(time.monotonic() - start, 8)
            if time.monotonic() - start > 4:
                s.settimeout(0.5)
                try:
                    closed = s.recv(100) == b""
                except socket.timeout:
                    pass
                except OSError:
                    closed = True
                if closed:
                    break
        s.close()
        self.assertTrue(closed, "a slowloris client was not cut off")
        self.assertIn("request not complete within request_timeout",
                      self.d.stderr())
        self.answered()

    def test_steady_pipeline_is_not_slowloris(self):
        """A client whose buffer never empties, because each write ends
        inside the next request, is served past request_timeout."""
        req = b"GET /v1/validity?card=000000000001 HTTP/1.1\r\nHost: x\r\n\r\n"
        with self.d.http(timeout=10) as c:
            c.send(req[:20])
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < 3.5:  # past request_timeout 2
                c.send(req[20:] + req[:20])
                n += 1
                self.assertEqual(c.read_response().status, 200, n)
                time.sleep(0.05)
            c.send(req[20:])
            self.assertEqual(c.read_response().status, 200)
        self.assertGreater(n, 10)


class AuthNoneTest(unittest.TestCase):

    def test_auth_none_only_on_loopback(self):
        d = Path(tempfile.mkdtemp(prefix="cardd-authnone-"))
        h.keygen(d / "signing.pem")
        (d / "c.conf").write_text("auth none\nhttp_listen 0.0.0.0:18088\n"
                                  "signing_key signing.pem\n")
        p = h.run([h.CARDD, "-t", "-c", d / "c.conf"])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"loopback", p.stderr)
        (d / "c.conf").write_text("http_listen 0.0.0.0:18088\n"
                                  "signing_key signing.pem\n")
        p = h.run([h.CARDD, "-t", "-c", d / "c.conf"])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no client is configured", p.stderr)


if __name__ == "__main__":
    unittest.main()
