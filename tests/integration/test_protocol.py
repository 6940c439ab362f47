"""HTTP/1.1 and RESP as clients use them (PROTOCOL.md §5-6):
keep-alive, pipelining, requests in 1-byte pieces, HTTP/1.0, Expect:
100-continue, HEAD, /healthz and /readyz; RESP pipelining, inline
commands, PING, INFO, QUIT; and the real curl and redis-cli."""

import json
import subprocess
import threading

from tests.integration import harness
from tests.integration.harness import AT, resp_encode

N_CARDS = 200
VQ = "/v1/validity?card=000000000000&at=%s" % AT
CQ = "/v1/coverage?card=000000000000&scheme=medical&region=440300&at=%s" % AT


class HTTPProtocolTest(harness.DaemonTestCase):
    GEN = (N_CARDS, 1, AT)

    def assertAnswer(self, r, nonce=None, check="validity", reason="ok"):
        self.assertEqual(r.status, 200, r)
        st = self.assertStatement(r.body, check, "000000000000",
                                  reason=reason, nonce=nonce, at=AT,
                                  region="440300" if check == "coverage"
                                  else None)
        self.assertSigned(r.body, r.header("card-signature"))
        return st

    def test_keep_alive(self):
        with self.d.http() as c:
            for i in range(300):
                if i % 3 == 0:
                    self.assertAnswer(c.get(VQ + "&nonce=k%d" % i), "k%d" % i)
                elif i % 3 == 1:
                    r = c.get(CQ + "&nonce=k%d" % i)
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(json.loads(r.body)["nonce"], "k%d" % i)
                else:
                    r = c.get("/healthz")
                    self.assertEqual((r.status, r.body),
                                     (200, b'{"status":"ok"}'))
                self.assertIsNone(r.header("connection") if i % 3 == 2
                                  else None)
            self.assertFalse(c.closed_by_peer(0.2))

    def test_pipelining(self):
        reqs = b"".join(harness.HTTPClient.build(
            "GET", VQ + "&nonce=p%d" % i) for i in range(50))
        with self.d.http() as c:
            c.send(reqs)
            for i in range(50):
                self.assertAnswer(c.read_response(), "p%d" % i)
            self.assertEqual(c.buf, b"")
            self.assertAnswer(c.get(VQ))

    def test_pipelining_mixed(self):
        batch = json.dumps({"checks": [{"check": "validity",
                                        "card": "000000000001", "at": AT}]})
        reqs = [
            harness.HTTPClient.build("GET", VQ + "&nonce=m0"),
            harness.HTTPClient.build("POST", "/v1/check",
                                     [("content-length", str(len(batch)))],
                                     None) + batch.encode(),
            harness.HTTPClient.build("GET", "/v1/validity?card=bad"),
            harness.HTTPClient.build("GET", "/nowhere"),
            harness.HTTPClient.build("HEAD", VQ),
            harness.HTTPClient.build("GET", VQ + "&nonce=m5"),
        ]
        with self.d.http() as c:
            c.send(b"".join(reqs))
            self.assertAnswer(c.read_response(), "m0")
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(json.loads(r.body)["results"][0]["reason"],
                             "permit_expired")
            self.assertEqual(c.read_response().status, 400)
            self.assertEqual(c.read_response().status, 404)
            r = c.read_response(head=True)
            self.assertEqual(r.status, 200)
            self.assertAnswer(c.read_response(), "m5")

    def test_one_byte_writes(self):
        body = json.dumps({"checks": [{"check": "coverage",
                                       "card": "000000000000",
                                       "scheme": "medical", "at": AT,
                                       "nonce": "one"}]}).encode()
        with self.d.http() as c:
            for b in harness.HTTPClient.build("GET", VQ + "&nonce=byte"):
                c.send(bytes([b]))
            self.assertAnswer(c.read_response(), "byte")
            for b in harness.HTTPClient.build("POST", "/v1/check", None,
                                              body):
                c.send(bytes([b]))
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertSigned(r.body, r.header("card-signature"))
            self.assertEqual(json.loads(r.body)["results"][0]["nonce"], "one")

    def test_http10(self):
        with self.d.http() as c:
            r = c.request("GET", VQ, version="HTTP/1.0")
            self.assertAnswer(r)
            self.assertTrue(c.closed_by_peer(), "HTTP/1.0 left open")
        with self.d.http() as c:
            r = c.request("GET", VQ, [("Connection", "keep-alive")],
                          version="HTTP/1.0")
            self.assertAnswer(r)
            self.assertEqual(r.header("connection").lower(), "keep-alive")
            r = c.request("GET", "/healthz", [("Connection", "Keep-Alive")],
                          version="HTTP/1.0")
            self.assertEqual(r.status, 200)
            r = c.request("GET", "/healthz", version="HTTP/1.0")
            self.assertEqual(r.status, 200)
            self.assertTrue(c.closed_by_peer())

    def test_connection_close(self):
        with self.d.http() as c:
            r = c.request("GET", VQ, [("Connection", "close")])
            self.assertAnswer(r)
            self.assertEqual(r.header("connection"), "close")
            self.assertTrue(c.closed_by_peer())

    def test_expect_100_continue(self):
        body = json.dumps({"checks": [{"check": "validity",
                                       "card": "000000000000",
                                       "at": AT}]}).encode()
        with self.d.http() as c:
            c.send(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"
                   b"Expect: 100-continue\r\nContent-Type: application/json"
                   b"\r\nContent-Length: %d\r\n\r\n" % len(body))
            r = c.read_response()
            self.assertEqual(r.status, 100, r)
            self.assertEqual(r.body, b"")
            c.send(body)
            r = c.read_response()
            self.assertEqual(r.status, 200, r)
            self.assertSigned(r.body, r.header("card-signature"))
            # And again on the same connection.
            c.send(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"
                   b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n"
                   % len(body))
            self.assertEqual(c.read_response().status, 100)
            c.send(body)
            self.assertEqual(c.read_response().status, 200)

    def test_head(self):
        with self.d.http() as c:
            for target in (VQ, CQ, "/healthz", "/readyz", "/v1/keys",
                           "/metrics"):
                with self.subTest(target=target):
                    g = c.get(target)
                    h = c.request("HEAD", target)
                    self.assertEqual(h.status, 200, h)
                    self.assertEqual(h.body, b"")
                    self.assertEqual(h.header("content-type"),
                                     g.header("content-type"))
                    if target not in ("/metrics", "/readyz"):
                        self.assertEqual(h.header("content-length"),
                                         g.header("content-length"))
                    if target in (VQ, CQ):
                        self.assertIsNotNone(h.header("card-signature"))
                    # No stray body: the next answer parses.
                    self.assertEqual(c.get("/healthz").status, 200)

    def test_healthz_readyz(self):
        r = self.d.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/json")
        self.assertEqual(r.json(), {"status": "ok"})
        r = self.d.get("/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/json")
        j = r.json()
        self.assertIs(j["ready"], True)
        self.assertEqual(j["state"], "ready")
        self.assertEqual(j["cards"], N_CARDS)
        self.assertRegex(j["synced_at"], harness.RFC3339_MS)

    def test_response_headers(self):
        r = self.d.get(VQ)
        self.assertEqual(r.version, "HTTP/1.1")
        self.assertEqual(r.reason, "OK")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        self.assertRegex(r.header("date"),
                         r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} "
                         r"\d{2}:\d{2}:\d{2} GMT$")
        self.assertEqual(len(r.header_all("card-signature")), 1)

    def test_concurrent_clients(self):
        errors = []

        def client(k):
            try:
                with self.d.http() as c:
                    for i in range(30):
                        r = c.get("/v1/validity?card=%012d&at=%s&nonce=c%d"
                                  % (k, AT, i))
                        st = json.loads(r.body)
                        if r.status != 200 or st["nonce"] != "c%d" % i or \
                                st["card"] != "%012d" % k:
                            errors.append((k, i, r))
            except Exception as e:      # noqa: BLE001
                errors.append((k, repr(e)))
        ts = [threading.Thread(target=client, args=(k,)) for k in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertFalse(any(t.is_alive() for t in ts))
        self.assertEqual(errors, [])

    # -- curl

    def curl(self, *args):
        p = harness.run(["curl", "-sS", "--max-time", "5", "-D", "-",
                         "--noproxy", "*"] + list(args))
        self.assertEqual(p.returncode, 0, p.stderr)
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        while head.startswith(b"HTTP/1.1 100"):
            head, _, body = body.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in
                   (ln.partition(":") for ln in lines[1:])}
        return int(lines[0].split()[1]), headers, body

    def test_curl(self):
        base = "http://127.0.0.1:%d" % self.d.http_port
        status, h, body = self.curl(base + VQ + "&nonce=curl")
        self.assertEqual(status, 200)
        self.assertStatement(body, "validity", "000000000000", reason="ok",
                             nonce="curl")
        self.assertSigned(body, h["card-signature"])
        status, h, body = self.curl("--http1.0", base + CQ)
        self.assertEqual(status, 200)
        self.assertSigned(body, h["card-signature"])
        p = harness.run(["curl", "-sS", "--max-time", "5", "--noproxy", "*",
                         "-o", "/dev/null", "-w",
                         "%{http_code} %{size_download}", "-I",
                         base + "/healthz"])
        self.assertEqual((p.returncode, p.stdout), (0, b"200 0"), p.stderr)
        payload = json.dumps({"checks": [
            {"check": "validity", "card": "000000000000", "at": AT}] * 40})
        status, h, body = self.curl("-H", "Expect: 100-continue",
                                    "-H", "Content-Type: application/json",
                                    "--data-binary", payload,
                                    base + "/v1/check")
        self.assertEqual(status, 200, body)
        self.assertSigned(body, h["card-signature"])
        self.assertEqual(len(json.loads(body)["results"]), 40)
        status, h, body = self.curl(base + "/v1/validity?card=x")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["error"], "bad_request")


class RESPProtocolTest(harness.DaemonTestCase):
    GEN = (N_CARDS, 1, AT)

    def assertAnswer(self, rep, nonce=None, card="000000000000",
                     reason="ok", check="validity", region=None):
        self.assertIsInstance(rep, list, rep)
        self.assertEqual(len(rep), 2)
        st = self.assertStatement(rep[0], check, card, reason=reason,
                                  nonce=nonce, region=region)
        self.assertSigned(rep[0], rep[1].decode())
        return st

    def test_pipelining(self):
        cmds = []
        for i in range(100):
            if i % 10 == 9:
                cmds.append(resp_encode("PING"))
            else:
                cmds.append(resp_encode("VALIDITY", "%012d" % i, "AT", AT,
                                        "NONCE", "r%d" % i))
        with self.d.resp() as c:
            c.send(b"".join(cmds))
            for i in range(100):
                rep = c.read_reply()
                if i % 10 == 9:
                    self.assertEqual(rep, "PONG")
                else:
                    st = self.assertAnswer(rep, "r%d" % i, "%012d" % i,
                                           reason=None)
                    self.assertEqual(st["at"], AT)
            self.assertEqual(c.buf, b"")

    def test_inline(self):
        with self.d.resp() as c:
            c.send(b"VALIDITY 000000000000\r\n")
            self.assertAnswer(c.read_reply())
            c.send(b"validity 000000000000 at 2025-06-15 nonce abc\r\n")
            self.assertEqual(self.assertAnswer(c.read_reply(), "abc")["at"],
                             AT)
            c.send(b'Coverage "000000000000" medical Region \'440300\' '
                   b'AT 2025-06-15\n')
            self.assertAnswer(c.read_reply(), check="coverage",
                              region="440300")
            c.send(b"\r\n\r\nPING\r\nping hello\r\n")
            self.assertEqual(c.read_reply(), "PONG")
            self.assertEqual(c.read_reply(), b"hello")
            c.send(b"VALIDITY wp0000007919 BYPERMIT AT 2025-06-15\r\n")
            rep = c.read_reply()
            self.assertIsInstance(rep, list, rep)
            self.assertStatement(rep[0], "validity", "WP0000007919",
                                 by_permit=True, reason="permit_expired")

    def test_one_byte_writes(self):
        with self.d.resp() as c:
            for b in resp_encode("VALIDITY", "000000000000", "NONCE", "b1"):
                c.send(bytes([b]))
            self.assertAnswer(c.read_reply(), "b1")
            for b in b"PING\r\n":
                c.send(bytes([b]))
            self.assertEqual(c.read_reply(), "PONG")

    def test_ping_info_quit(self):
        with self.d.resp() as c:
            self.assertEqual(c.command("PING"), "PONG")
            self.assertEqual(c.command("ping", "hi there"), b"hi there")
            info = c.command("INFO")
            self.assertIsInstance(info, bytes)
            fields = {}
            for line in info.decode().split("\r\n"):
                if line and not line.startswith("#"):
                    k, sep, v = line.partition(":")
                    self.assertTrue(sep, "INFO line %r" % line)
                    fields[k] = v
            self.assertEqual(fields.get("cards"), str(N_CARDS))
            self.assertEqual(fields.get("ready"), "1")
            names = [cmd[0] for cmd in c.command("COMMAND")]
            self.assertIn(b"validity", names)
            self.assertEqual(c.command("COMMAND", "COUNT"), len(names))
            self.assertEqual(c.command("QUIT"), "OK")
            self.assertTrue(c.closed_by_peer())

    def test_case_insensitive_commands(self):
        with self.d.resp() as c:
            self.assertAnswer(c.command("vAlIdItY", "000000000000", "nOnCe",
                                        "x"), "x")
            rep = c.command("validity", "wp0000000000", "bYpErMiT")
            self.assertIsInstance(rep, list, rep)
            self.assertStatement(rep[0], "validity", "WP0000000000",
                                 by_permit=True, reason="ok")
            rep = c.command("coverage", "000000000000", "medical", "region",
                            "110000", "at", AT)
            self.assertAnswer(rep, check="coverage", region="110000")

    def test_redis_cli(self):
        port = str(self.d.resp_port)
        p = harness.run(["redis-cli", "-h", "127.0.0.1", "-p", port,
                         "VALIDITY", "000000000000", "AT", AT, "NONCE",
                         "cli"])
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 2, p.stdout)
        body = lines[0].encode()
        self.assertStatement(body, "validity", "000000000000", reason="ok",
                             nonce="cli", at=AT)
        self.assertSigned(body, lines[1])
        p = harness.run(["redis-cli", "-h", "127.0.0.1", "-p", port, "PING"])
        self.assertEqual(p.stdout.strip(), b"PONG")
        p = harness.run(["redis-cli", "-h", "127.0.0.1", "-p", port,
                         "VALIDITY", "bad"])
        self.assertIn(b"ERR", p.stdout + p.stderr)
        # Several commands through one redis-cli session (stdin).
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", port],
                           input=b"PING\nCOVERAGE 000000000002 medical AT "
                                 b"2025-06-15\nJWKS\n",
                           capture_output=True, timeout=30)
        out = p.stdout.decode().splitlines()
        self.assertEqual(out[0], "PONG")
        self.assertIn('"reason":"coverage_lapsed"', out[1])
        self.assertEqual(out[3].encode(), self.d.jwks_bytes())

    def test_redis_benchmark(self):
        p = harness.run(["redis-benchmark", "-h", "127.0.0.1", "-p",
                         str(self.d.resp_port), "-n", "2000", "-c", "4",
                         "-P", "8", "-q", "VALIDITY", "000000000000"],
                        timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout.decode(), r"requests per second")
        self.assertAlive()
        with self.d.resp() as c:
            self.assertAnswer(c.command("VALIDITY", "000000000000"))
