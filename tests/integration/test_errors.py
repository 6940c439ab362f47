"""Bad input gets a clear error and never hurts anyone else
(PROTOCOL.md §5.4 and §6): HTTP JSON errors with the right status, RESP
-ERR with the connection going on, framing errors that close, garbage,
silent clients, and all the while a second client gets right answers."""

import json
import random
import socket
import threading
import time

from tests.integration import harness
from tests.integration.harness import AT, CSV_HEADER, RespError, csv_line

CARD = "100000000001"
CSV = "\n".join([
    CSV_HEADER,
    csv_line(CARD, status="active", permit="WP" + CARD, **{"class": "B"},
             permit_from="2024-01-01", permit_until="2026-12-31",
             birth="1990-01-01", region="310000",
             medical="2025-01-01..2025-12-31", rev="9"),
]) + "\n"
GOOD_Q = "/v1/validity?card=%s&at=%s" % (CARD, AT)

BAD_VALIDITY = [
    "card=12345",
    "card=" + "1" * 33,
    "card=1234-5678",
    "card=%C3%A9abcdef",
    "card=1234567%",
    "card=1234567%4",
    "card=1234567%zz",
    "card=123456+789",
    "card=123456%00789",
    "card",
    "permit=abc",
    "permit=WP12345-6",
    "",
    "at=2025-06-15",
    "card=%s&permit=WP%s" % (CARD, CARD),
    "card=%s&card=%s" % (CARD, CARD),
    "card=%s&at=2025-06-15&at=2025-06-15" % CARD,
    "card=%s&at=2026-02-30" % CARD,
    "card=%s&at=2023-02-29" % CARD,
    "card=%s&at=1900-02-29" % CARD,
    "card=%s&at=2025-04-31" % CARD,
    "card=%s&at=2025-13-01" % CARD,
    "card=%s&at=2025-06-00" % CARD,
    "card=%s&at=2025-6-15" % CARD,
    "card=%s&at=20250615" % CARD,
    "card=%s&at=2025-06-15T00:00" % CARD,
    "card=%s&at=" % CARD,
    "card=%s&birth=1990-02-30" % CARD,
    "card=%s&birth=yesterday" % CARD,
    "card=%s&nonce=" % CARD,
    "card=%s&nonce=%s" % (CARD, "a" * 65),
    "card=%s&nonce=a.b" % CARD,
    "card=%s&nonce=a%%2Bb" % CARD,
    "card=%s&nonce=a=b" % CARD,
    "card=%s&nonce=ab%%3D%%3D" % CARD,
    "card=%s&foo=1" % CARD,
    "card=%s&check=validity" % CARD,
    "card=%s&scheme=medical" % CARD,
    "card=%s&region=310000" % CARD,
    "card=%s&%s=1" % (CARD, "x" * 200),
    "card=%s&birth=%s" % (CARD, "1" * 200),
]
BAD_COVERAGE = [
    "card=%s" % CARD,
    "card=%s&scheme=" % CARD,
    "card=%s&scheme=dental" % CARD,
    "card=%s&scheme=medical&scheme=pension" % CARD,
    "card=%s&scheme=medical&region=31000" % CARD,
    "card=%s&scheme=medical&region=3100000" % CARD,
    "card=%s&scheme=medical&region=31000a" % CARD,
    "card=%s&scheme=medical&region=" % CARD,
    "scheme=medical",
    "card=abc&scheme=medical",
]
BAD_BATCH = [
    b"{",
    b"",
    b"[]",
    b"null",
    b'{"checks":"x"}',
    b'{"checks":{}}',
    b'{"checks":[]}',
    b'{"checks":[1]}',
    b'{"checks":[{"card":"%s"}]}' % CARD.encode(),
    b'{"checks":[{"check":"validity"}]}',
    b'{"checks":[{"check":"status","card":"%s"}]}' % CARD.encode(),
    b'{"checks":[{"check":"validity","card":"%s","foo":"1"}]}'
    % CARD.encode(),
    b'{"checks":[{"check":"validity","card":%s}]}' % CARD.encode(),
    b'{"checks":[{"check":"coverage","card":"%s"}]}' % CARD.encode(),
    b'{"checks":[{"check":"validity","card":"%s","check":"validity"}]}'
    % CARD.encode(),
    b'{"checks":[{"check":"validity","card":"%s"}],"more":1}'
    % CARD.encode(),
    b'{"checks":[{"check":"validity","card":"%s"}],'
    b'"checks":[{"check":"validity","card":"%s"}]}'
    % (CARD.encode(), CARD.encode()),
    b'{"checks":[{"check":"validity","card":"%s","at":"2026-02-30"}]}'
    % CARD.encode(),
]


class ErrorsTest(harness.DaemonTestCase):
    CSV = CSV
    CONFIG = {"idle_timeout": "2"}

    def tearDown(self):
        self.assertServing()

    def assertServing(self):
        """A fresh client on each interface gets a right, signed answer."""
        self.assertAlive()
        r = self.d.get(GOOD_Q)
        self.assertEqual(r.status, 200, r)
        self.assertStatement(r.body, "validity", CARD, reason="ok", rev=9)
        self.assertSigned(r.body, r.header("card-signature"))
        with self.d.resp() as c:
            rep = c.command("VALIDITY", CARD, "AT", AT)
            self.assertIsInstance(rep, list, rep)
            self.assertStatement(rep[0], "validity", CARD, reason="ok")
            self.assertSigned(rep[0], rep[1].decode())

    def assertJSONError(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("content-type"), "application/json", r)
        self.assertIsNone(r.header("card-signature"))
        err = r.json()
        self.assertEqual(sorted(err), ["detail", "error"], r)
        self.assertIsInstance(err["error"], str)
        self.assertIsInstance(err["detail"], str)
        self.assertTrue(err["detail"], "empty detail")
        if code is not None:
            self.assertEqual(err["error"], code, r)
        return err

    # -- HTTP 400, connection goes on

    def test_http_400_bad_parameters(self):
        with self.d.http() as c:
            for path, bad in ([("/v1/validity", q) for q in BAD_VALIDITY] +
                              [("/v1/coverage", q) for q in BAD_COVERAGE]):
                with self.subTest(path=path, query=bad):
                    r = c.get("%s?%s" % (path, bad))
                    self.assertJSONError(r, 400, "bad_request")
                    self.assertNotEqual(r.header("connection"), "close")
                    # The same connection answers the next request.
                    ok = c.get(GOOD_Q)
                    self.assertEqual(ok.status, 200, ok)

    def test_http_400_does_not_echo_input(self):
        secret = "ZQXJ" + "7" * 20
        r = self.d.get("/v1/validity?card=%s!&at=2025-99-99" % secret)
        self.assertJSONError(r, 400, "bad_request")
        self.assertNotIn(secret.encode(), r.body)
        self.assertNotIn(secret, self.d.stderr())

    def test_http_400_bad_batch(self):
        with self.d.http() as c:
            for body in BAD_BATCH:
                with self.subTest(body=body):
                    r = c.request("POST", "/v1/check",
                                  [("Content-Type", "application/json")],
                                  body)
                    self.assertJSONError(r, 400, "bad_request")
                    ok = c.get(GOOD_Q)
                    self.assertEqual(ok.status, 200, ok)

    def test_batch_error_names_the_check(self):
        body = json.dumps({"checks": [
            {"check": "validity", "card": CARD},
            {"check": "validity", "card": CARD},
            {"check": "validity", "card": "12"}]}).encode()
        with self.d.http() as c:
            r = c.request("POST", "/v1/check", None, body)
        err = self.assertJSONError(r, 400, "bad_request")
        self.assertIn("checks[2]", err["detail"])

    # -- 404, 405

    def test_http_404(self):
        with self.d.http() as c:
            for target in ("/", "/v2/validity?card=%s" % CARD,
                           "/v1/validity/?card=%s" % CARD, "/V1/VALIDITY",
                           "/v1/validityx", "/metrics/x", "/v1",
                           "/v1/keys/1", "*"):
                with self.subTest(target=target):
                    r = c.get(target)
                    self.assertJSONError(r, 404, "not_found")
                    self.assertEqual(c.get("/healthz").status, 200)

    METHOD_CASES = [("POST", "/v1/validity?card=" + CARD),
                    ("PUT", "/v1/coverage"), ("GET", "/v1/check"),
                    ("HEAD", "/v1/check"), ("DELETE", "/healthz"),
                    ("POST", "/v1/keys"), ("OPTIONS", "/readyz"),
                    ("PATCH", "/metrics")]

    def test_http_405(self):
        for method, target in self.METHOD_CASES:
            if method == "HEAD":
                continue        # test_http_head_errors_have_no_body
            with self.subTest(method=method, target=target):
                with self.d.http() as c:
                    body = b"" if method in ("POST", "PUT", "PATCH") else None
                    r = c.request(method, target, None, body)
                    self.assertJSONError(r, 405, "method_not_allowed")
                    self.assertEqual(c.get("/healthz").status, 200)

    def test_http_head_errors_have_no_body(self):
        # RFC 9110 §9.3.2: no body in an answer to HEAD, whatever the
        # status; a body would be read as the next answer's head.
        for target, status in (("/v1/check", 405), ("/nowhere", 404),
                               ("/v1/validity?card=abc", 400)):
            with self.subTest(target=target):
                with self.d.http() as c:
                    r = c.request("HEAD", target)
                    self.assertEqual(r.status, status, r)
                    self.assertEqual(c.buf, b"")
                    self.assertFalse(c.closed_by_peer(0.3),
                                     "body bytes after a HEAD answer")
                    nxt = c.get("/healthz")
                    self.assertEqual((nxt.status, nxt.body),
                                     (200, b'{"status":"ok"}'))

    def test_http_405_has_allow(self):
        # RFC 9110 §15.5.6: a 405 MUST carry Allow with the methods the
        # resource supports.
        for method, target in self.METHOD_CASES:
            with self.subTest(method=method, target=target):
                with self.d.http() as c:
                    body = b"" if method in ("POST", "PUT", "PATCH") else None
                    r = c.request(method, target, None, body)
                self.assertEqual(r.status, 405, r)
                allow = r.header("allow")
                self.assertIsNotNone(allow, "405 without Allow: %r" % r)
                methods = {m.strip() for m in allow.split(",")}
                want = {"POST"} if target == "/v1/check" else {"GET", "HEAD"}
                self.assertTrue(want <= methods, allow)

    # -- errors that close the connection

    def assertClosingError(self, c, r, status, code=None):
        self.assertJSONError(r, status, code)
        self.assertEqual(r.header("connection"), "close", r)
        self.assertTrue(c.closed_by_peer(), "connection left open")

    def test_http_413_body_too_large(self):
        for length in (65537, 70000, 10 ** 9):
            with self.subTest(length=length):
                with self.d.http() as c:
                    c.send(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n" % length)
                    r = c.read_response()
                    self.assertClosingError(c, r, 413, "too_large")
        # At the limit the body is read and judged (a bad batch).
        with self.d.http() as c:
            body = b'{"checks":[' + b" " * (65536 - 13) + b"]}"
            self.assertEqual(len(body), 65536)
            r = c.request("POST", "/v1/check", None, body)
            self.assertJSONError(r, 400, "bad_request")

    def test_http_431_head_too_large(self):
        with self.d.http() as c:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                   b"a" * 9000 + b"\r\n\r\n")
            r = c.read_response()
            self.assertClosingError(c, r, 431, "too_large")
        with self.d.http() as c:
            c.send(b"GET /healthz?" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
            r = c.read_response()
            self.assertClosingError(c, r, 431, "too_large")
        # Many small headers add up too.
        with self.d.http() as c:
            c.send(b"GET /healthz HTTP/1.1\r\n" +
                   b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100)
                            for i in range(80)) + b"\r\n")
            r = c.read_response()
            self.assertIn(r.status, (400, 431), r)
            self.assertClosingError(c, r, r.status)

    def test_http_501_chunked(self):
        for te in (b"chunked", b"gzip, chunked", b"identity"):
            with self.subTest(te=te):
                with self.d.http() as c:
                    c.send(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: " + te + b"\r\n\r\n"
                           b"0\r\n\r\n")
                    r = c.read_response()
                    self.assertClosingError(c, r, 501)

    def test_http_bad_content_length(self):
        for cl in (b"abc", b"-1", b"1 2", b"0x10", b""):
            with self.subTest(cl=cl):
                with self.d.http() as c:
                    c.send(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: " + cl + b"\r\n\r\n")
                    r = c.read_response()
                    self.assertClosingError(c, r, 400, "bad_request")

    def test_http_errors_name_the_parameter(self):
        """The detail names the parameter or member at fault, but only a
        name of a-z and _: never a number or code put in the wrong place."""
        cases = [
            ("/v1/validity?card=000000000001&colour=red",
             "unknown query parameter colour"),
            ("/v1/validity?card=000000000001&at=2025-01-01&at=2025-01-02",
             "at is given twice"),
            ("/v1/validity?000000000001=1", "unknown query parameter"),
            ("/v1/validity?card=000000000001&Card=1",
             "unknown query parameter"),
        ]
        with self.d.http() as c:
            for path, detail in cases:
                with self.subTest(path=path):
                    r = c.get(path)
                    self.assertJSONError(r, 400, "bad_request")
                    self.assertEqual(json.loads(r.body)["detail"], detail)
            r = c.request("POST", "/v1/check",
                          [("Content-Type", "application/json")],
                          '{"checks":[{"check":"validity","card":'
                          '"000000000001","colour":"red"}]}')
            self.assertEqual(json.loads(r.body)["detail"],
                             "checks[0]: unknown member colour")

    def test_batch_body_faults_have_their_own_detail(self):
        """Bad JSON, a member twice, a byte-order mark and an extra
        top-level member each say what they are (and where); a number
        sent as a member name is never echoed."""
        good = '{"check":"validity","card":"000000000001"}'
        cases = [
            ('{"checks":[' + good, "the body ends before its JSON value "
             "does (line 1, column 53)"),
            ('{"checks":[' + good + ']} x', "the body goes on after its "
             "JSON value (line 1, column 57)"),
            ('{"checks":[' + good + '],nope}', "the body is not valid JSON "
             "(line 1, column 59)"),
            ('{"checks":[],"checks":[]}', "member checks is given twice "
             "(line 1, column 21)"),
            ('{"checks":[{"check":"validity","card":"000000000001",'
             '"card":"000000000002"}]}', "member card is given twice "
             "(line 1, column 59)"),
            ('{"checks":[{"check":"validity","000000000009":"1",'
             '"000000000009":"1"}]}', "a member is given twice "
             "(line 1, column 64)"),
            ('\ufeff{"checks":[' + good + ']}', "the body starts with a "
             "byte-order mark; send JSON without one (RFC 8259 section "
             "8.1)"),
            ('{"checks":[' + good + '],"mode":"fast"}',
             "unknown top-level member mode (the body has one member, "
             "checks)"),
            ('{"checks":[' + good + '],"000000000009":1}',
             "unknown top-level member (the body has one member, checks)"),
            ('{"check":"validity"}', "unknown top-level member check (the "
             "body has one member, checks)"),
            ('{}', 'checks is missing: the body is {"checks":[...]}'),
            ('[' + good + ']', 'the body must be a JSON object: '
             '{"checks":[...]}'),
            ('{"checks":{}}', "checks must be an array of checks"),
            ('{"checks":["\xff"]}', None),
        ]
        with self.d.http() as c:
            for body, detail in cases:
                with self.subTest(body=body):
                    raw = body.encode("utf-8")
                    if detail is None:     # a byte that is not UTF-8
                        raw = b'{"checks":["\xff"]}'
                        detail = ("the body is not valid UTF-8 (line 1, "
                                  "column 12)")
                    r = c.request("POST", "/v1/check",
                                  [("Content-Type", "application/json")],
                                  raw)
                    err = self.assertJSONError(r, 400, "bad_request")
                    self.assertEqual(err["detail"], detail)
                    self.assertNotIn(b"000000000009", r.body)

    def test_http_post_without_content_length(self):
        """PROTOCOL.md §5.4: 411, and the connection closes (a body, if
        one follows, cannot be framed)."""
        for path in (b"/v1/check", b"/fhir/CoverageEligibilityRequest/$check"):
            with self.subTest(path=path):
                with self.d.http() as c:
                    c.send(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n\r\n"
                           b'{"checks":[]}')
                    r = c.read_response()
                    self.assertEqual(r.status, 411, r.body)
                    self.assertEqual(r.header("connection"), "close")
                    self.assertIn(b"Content-Length", r.body)
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_http_malformed_request_line(self):
        for raw in (b"GARBAGE\r\n\r\n",
                    b"GET /healthz\r\n\r\n",
                    b"GET  /healthz HTTP/1.1\r\n\r\n",
                    b"GET /healthz HTTP/2.0\r\n\r\n",
                    b"GET /healthz HTTP/1.1 extra\r\n\r\n",
                    b"GET /he\x01lthz HTTP/1.1\r\n\r\n",
                    b"G(T /healthz HTTP/1.1\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nX: a\x00b\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\n folded: x\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nNoColon\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\rHost: x\r\n\r\n"):
            with self.subTest(raw=raw):
                with self.d.http() as c:
                    c.send(raw)
                    r = c.read_response()
                    self.assertClosingError(c, r, 400, "bad_request")

    # -- RESP

    RESP_BAD = [
        (("FOO",), "ERR unknown command"),
        (("FLUSHALL",), "ERR unknown command"),
        (("VALIDITY",), "ERR wrong number of arguments"),
        (("COVERAGE", CARD), "ERR wrong number of arguments"),
        (("COVERAGE",), "ERR wrong number of arguments"),
        (("PING", "a", "b"), "ERR wrong number of arguments"),
        (("VALIDITY", "abc"), "ERR "),
        (("VALIDITY", "1234-56789"), "ERR "),
        (("VALIDITY", "1" * 33), "ERR "),
        (("VALIDITY", CARD, "AT"), "ERR "),
        (("VALIDITY", CARD, "AT", "2026-02-30"), "ERR "),
        (("VALIDITY", CARD, "AT", AT, "AT", AT), "ERR "),
        (("VALIDITY", CARD, "BIRTH", "1990-13-01"), "ERR "),
        (("VALIDITY", CARD, "FOO", "bar"), "ERR "),
        (("VALIDITY", CARD, "REGION", "310000"), "ERR "),
        (("VALIDITY", CARD, "NONCE", "a.b"), "ERR "),
        (("VALIDITY", CARD, "NONCE", "a" * 65), "ERR "),
        (("VALIDITY", CARD, "BYPERMIT", "BYPERMIT"), "ERR "),
        (("VALIDITY", CARD, "extra"), "ERR "),
        (("COVERAGE", CARD, "dental"), "ERR "),
        (("COVERAGE", CARD, "medical", "REGION", "1"), "ERR "),
        (("COVERAGE", CARD, "medical", "REGION"), "ERR "),
        (("AUTH", "token"), "ERR "),
    ]

    def test_resp_errors_keep_connection(self):
        with self.d.resp() as c:
            for args, prefix in self.RESP_BAD:
                with self.subTest(args=args):
                    rep = c.command(*args)
                    self.assertIsInstance(rep, RespError, rep)
                    self.assertTrue(rep.message.startswith(prefix),
                                    rep.message)
                    self.assertEqual(c.command("PING"), "PONG")
            rep = c.command("VALIDITY", CARD, "AT", AT)
            self.assertStatement(rep[0], "validity", CARD, reason="ok")

    def test_resp_error_does_not_echo_card(self):
        secret = "ZQXJ" + "8" * 20 + "!"
        with self.d.resp() as c:
            rep = c.command("VALIDITY", secret)
        self.assertIsInstance(rep, RespError)
        self.assertNotIn(secret[:-1], rep.message)

    def test_resp_framing_errors_close(self):
        for raw in (b"*x\r\n",
                    b"*1\r\n!3\r\nfoo\r\n",
                    b"*1\r\n$5000\r\n",
                    b"*1\r\n$-5\r\n",
                    b"*1\r\n$3\r\nfooXX",
                    b"*40\r\n",
                    b'VALIDITY "abc\r\n',
                    b"VALIDITY 'abc\r\n"):
            with self.subTest(raw=raw):
                with self.d.resp() as c:
                    c.send(raw)
                    rep = c.read_reply()
                    self.assertIsInstance(rep, RespError, rep)
                    self.assertTrue(rep.message.startswith(
                        "ERR Protocol error"), rep.message)
                    self.assertTrue(c.closed_by_peer(), "left open")

    def test_resp_answers_before_framing_error(self):
        # Commands before the broken one in the same write are answered.
        with self.d.resp() as c:
            c.send(b"PING\r\n" + harness.resp_encode("PING", "x") +
                   b"*x\r\n")
            self.assertEqual(c.read_reply(), "PONG")
            self.assertEqual(c.read_reply(), b"x")
            rep = c.read_reply()
            self.assertIsInstance(rep, RespError)
            self.assertTrue(c.closed_by_peer())

    # -- garbage, silence, and a second client throughout

    def test_garbage_on_both_ports(self):
        rng = random.Random(20251115)
        failures = []
        stop = threading.Event()
        count = [0]

        def second_client():
            try:
                with self.d.http() as h, self.d.resp() as r:
                    for i in range(100000):
                        if stop.is_set():
                            return
                        a = h.get(GOOD_Q)
                        if a.status != 200 or b'"reason":"ok"' not in a.body:
                            failures.append(("http", a))
                        b = r.command("VALIDITY", CARD, "AT", AT)
                        if not isinstance(b, list) or \
                                b'"reason":"ok"' not in b[0]:
                            failures.append(("resp", b))
                        count[0] += 1
                        time.sleep(0.005)
            except Exception as e:      # noqa: BLE001 - reported below
                failures.append(("exception", repr(e)))

        t = threading.Thread(target=second_client, daemon=True)
        t.start()
        try:
            for i in range(60):
                port = self.d.http_port if i % 2 else self.d.resp_port
                size = rng.choice([1, 2, 7, 100, 1000, 5000, 20000, 70000])
                data = bytes(rng.getrandbits(8) for _ in range(size))
                if i % 7 == 0:
                    data = data.replace(b"\n", b"")    # no line end at all
                s = socket.create_connection((harness.HOST, port),
                                             timeout=2)
                try:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                    deadline = time.monotonic() + 3
                    while time.monotonic() < deadline:
                        if not s.recv(65536):
                            break
                except OSError:
                    pass        # reset by the server: fine
                finally:
                    s.close()
        finally:
            stop.set()
            t.join(10)
        self.assertFalse(t.is_alive(), "second client hangs")
        self.assertEqual(failures, [])
        self.assertGreater(count[0], 0)
        self.assertAlive()

    def test_silent_client(self):
        silent_h = socket.create_connection((harness.HOST, self.d.http_port),
                                            timeout=5)
        silent_r = socket.create_connection((harness.HOST, self.d.resp_port),
                                            timeout=5)
        half = socket.create_connection((harness.HOST, self.d.http_port),
                                        timeout=5)
        try:
            half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            for _ in range(5):
                self.assertServing()
            # idle_timeout 2: the server closes all three on its own.
            for s in (silent_h, silent_r, half):
                s.settimeout(max(0.1, t0 + 6 - time.monotonic()))
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    self.fail("idle connection not closed after "
                              "idle_timeout")
                except ConnectionResetError:
                    data = b""
                self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - t0, 6)
        finally:
            for s in (silent_h, silent_r, half):
                s.close()

    def test_metrics_count_errors(self):
        before, _ = self.d.metrics()
        self.d.get("/v1/validity?card=abc")
        self.d.get("/nowhere")
        with self.d.resp() as c:
            c.command("VALIDITY", "abc")
            c.command("NOPE")
        after, _ = self.d.metrics()

        def delta(**labels):
            name = "cardd_errors_total"
            return (harness.metric(after, name, **labels) -
                    harness.metric(before, name, **labels))
        self.assertEqual(delta(interface="http", kind="bad_request"), 1)
        self.assertEqual(delta(interface="http", kind="not_found"), 1)
        self.assertEqual(delta(interface="resp", kind="bad_request"), 2)
