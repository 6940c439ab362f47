"""Harness for the cardd integration tests.

Starts the real cardd on free loopback ports with a config, a signing key
and card data in a temporary folder, waits until it is ready, and stops it
with SIGTERM (SIGKILL and a failure if it hangs). Small HTTP/1.1 and RESP
clients built on raw sockets let the tests say exactly which bytes go on
the wire. Every socket has a timeout and every loop a deadline.

Only the standard library and python3-cryptography are used; signatures
are checked with implementations that are not cardd's own (cryptography
and the openssl command line).
"""

import base64
import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import zoneinfo
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ROOT = Path(__file__).resolve().parents[2]


def _build_dir():
    b = Path(os.environ.get("CARDD_BUILD") or "build")
    return b if b.is_absolute() else ROOT / b


BUILD = _build_dir()
CARDD = BUILD / "cardd"
CARDCTL = BUILD / "cardctl"
# A sanitizer build (make asan/tsan) keeps freed memory in quarantine and
# shadow memory beside it, so memory bounds are scaled for it.
SANITIZED = BUILD.name in ("asan", "tsan")
MEMORY_SCALE = 4 if SANITIZED else 1

HOST = "127.0.0.1"
TIMEOUT = 5.0           # seconds, for any one socket operation
START_TIMEOUT = 10.0    # seconds for cardd to become ready
STOP_TIMEOUT = 10.0     # seconds for cardd to exit after SIGTERM

# A fixed day for answers that depend on the date.
AT = "2025-06-15"

CSV_HEADER = ("card,status,permit,class,permit_from,permit_until,birth,"
              "region,xregion,medical,pension,unemployment,injury,"
              "maternity,rev")
CSV_COLUMNS = CSV_HEADER.split(",")

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: ThreadSanitizer")

REASONS = ["ok", "unknown_card", "holder_mismatch", "record_invalid",
           "card_suspended", "card_lost", "card_revoked",
           "permit_not_yet_valid", "permit_expired", "not_enrolled",
           "coverage_not_started", "coverage_lapsed", "region_not_covered"]
# Only for checks asked by card code, before all the others (PROTOCOL.md §10).
CODE_REASONS = ["code_invalid", "code_expired", "code_replayed"]


def check_binaries():
    for b in (CARDD, CARDCTL):
        if not os.access(b, os.X_OK):
            raise RuntimeError("%s is missing: build it first (make "
                               "BUILD=%s all)" % (b, BUILD))


# ---------------------------------------------------------------- encoding

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, bytes):
        text = text.decode("ascii")
    if not B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url: %r" % text[:80])
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def csv_line(card, **fields):
    """One CSV line in CSV_COLUMNS order; a field with a comma is quoted."""
    vals = [card]
    for col in CSV_COLUMNS[1:]:
        v = str(fields.get(col, ""))
        if "," in v or '"' in v:
            v = '"' + v.replace('"', '""') + '"'
        vals.append(v)
    return ",".join(vals)


def shanghai_today(zone="Asia/Shanghai"):
    return datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date().isoformat()


def parse_rfc3339_ms(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ") \
        .replace(tzinfo=datetime.timezone.utc)


# ------------------------------------------------------------- signatures

def jwk_thumbprint(x):
    """RFC 7638 thumbprint of an Ed25519 OKP key (x is base64url)."""
    canon = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % x
    return b64url(hashlib.sha256(canon.encode("ascii")).digest())


def split_jws(jws):
    """A detached JWS H..S -> (H, header dict, signature bytes)."""
    if isinstance(jws, bytes):
        jws = jws.decode("ascii")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise ValueError("not a detached JWS: %r" % jws)
    hdr = json.loads(b64url_decode(parts[0]))
    sig = b64url_decode(parts[2])
    return parts[0], hdr, sig


def signing_input(hdr_b64, payload):
    return (hdr_b64 + "." + b64url(payload)).encode("ascii")


def verify_cryptography(pub_raw, payload, jws):
    """True when the detached JWS holds over payload for this key."""
    hdr_b64, _, sig = split_jws(jws)
    try:
        Ed25519PublicKey.from_public_bytes(pub_raw).verify(
            sig, signing_input(hdr_b64, payload))
        return True
    except InvalidSignature:
        return False


def public_pem(pub_raw):
    der = ED25519_SPKI_PREFIX + pub_raw
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    return ("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n"
            % body)


def verify_openssl(pub_raw, payload, jws, workdir):
    """Verify with the openssl command line; returns (ok, output)."""
    hdr_b64, _, sig = split_jws(jws)
    d = Path(tempfile.mkdtemp(prefix="ossl-", dir=workdir))
    (d / "pub.pem").write_text(public_pem(pub_raw))
    (d / "input").write_bytes(signing_input(hdr_b64, payload))
    (d / "sig").write_bytes(sig)
    p = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
         str(d / "pub.pem"), "-rawin", "-in", str(d / "input"), "-sigfile",
         str(d / "sig")], capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    return p.returncode == 0 and "Signature Verified Successfully" in out, out


# ------------------------------------------------------------ HTTP client

class PeerClosed(Exception):
    pass


class HTTPResponse:
    def __init__(self, version, status, reason, headers, body, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(lowercase name, value)]
        self.body = body
        self.head = head

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<HTTP %d %r %r>" % (self.status, self.headers,
                                    self.body[:300])


class _Connection:
    """One TCP connection to the daemon, with its unread bytes in buf."""

    PROTO = "TCP"

    def __init__(self, port, timeout=TIMEOUT):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("%s read deadline passed" % self.PROTO)
        self.sock.settimeout(min(left, self.timeout))
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            raise PeerClosed("server closed the connection")
        self.buf += data

    def closed_by_peer(self, timeout=3.0):
        """True when the server closes the connection within timeout
        (after any bytes already buffered); False if it sends more or
        keeps it open."""
        if self.buf:
            return False
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.buf += data
            return False



class HTTPClient(_Connection):
    """One HTTP/1.x connection with exact control of the bytes sent."""

    PROTO = "HTTP"

    @staticmethod
    def build(method, target, headers=None, body=None, version="HTTP/1.1",
              host=True):
        lines = ["%s %s %s" % (method, target, version)]
        hdrs = list(headers or [])
        if host and not any(k.lower() == "host" for k, _ in hdrs):
            hdrs.insert(0, ("Host", "cardd.test"))
        if body is not None and not any(
                k.lower() in ("content-length", "transfer-encoding")
                for k, _ in hdrs):
            hdrs.append(("Content-Length", str(len(body))))
        lines += ["%s: %s" % kv for kv in hdrs]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return raw + (body or b"")

    def request(self, method, target, headers=None, body=None,
                version="HTTP/1.1"):
        if isinstance(body, str):
            body = body.encode()
        self.send(self.build(method, target, headers, body, version))
        return self.read_response(head=method == "HEAD")

    def get(self, target, headers=None):
        return self.request("GET", target, headers)

    def read_response(self, head=False, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("response head too long")
            self._recv(deadline)
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/1\.[01]) (\d{3}) (.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if not sep or not k or k != k.strip():
                raise AssertionError("bad header line %r" % line)
            headers.append((k.lower(), v.strip()))
        status = int(m.group(2))
        length = 0
        cl = [v for k, v in headers if k == "content-length"]
        if status >= 200 and status not in (204, 304):
            if len(cl) != 1 or not cl[0].isdigit():
                raise AssertionError("response without one Content-Length:"
                                     " %r" % raw)
            if not head:
                length = int(cl[0])
        while len(self.buf) < length:
            self._recv(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        return HTTPResponse(m.group(1), status, m.group(3), headers, body,
                            raw)


def http_get(port, target, headers=None):
    with HTTPClient(port) as c:
        return c.request("GET", target, headers)


# ------------------------------------------------------------ RESP client

class RespError:
    def __init__(self, message):
        self.message = message

    def __repr__(self):
        return "-%s" % self.message

    def __eq__(self, other):
        return isinstance(other, RespError) and other.message == self.message


def resp_encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RESPClient(_Connection):
    """One RESP connection, commands in and parsed replies out."""

    PROTO = "RESP"

    def command(self, *args):
        self.send(resp_encode(*args))
        return self.read_reply()

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._recv(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self, timeout=None):
        return self._reply(time.monotonic() + (timeout or self.timeout))

    def _reply(self, deadline):
        line = self._line(deadline)
        if not line:
            raise AssertionError("empty RESP line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._recv(deadline)
            data, tail, self.buf = (self.buf[:n], self.buf[n:n + 2],
                                    self.buf[n + 2:])
            if tail != b"\r\n":
                raise AssertionError("bulk string not ended by CRLF")
            return data
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._reply(deadline) for _ in range(n)]
        raise AssertionError("bad RESP reply line %r" % line)



# ------------------------------------------------------------- /metrics

METRIC_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? '
    r'(-?[0-9.]+(?:[eE][-+]?[0-9]+)?|[+-]Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')


def parse_metrics(text):
    """Prometheus text 0.0.4 -> ({(name, ((label, value), ...)): float},
    {family: type}). Raises AssertionError on a line that does not parse."""
    samples, types = {}, {}
    for line in text.split("\n"):
        if line == "":
            continue
        if line.startswith("#"):
            m = re.match(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
                         r"(counter|gauge|histogram|summary|untyped)$", line)
            if m:
                types[m.group(1)] = m.group(2)
            elif not re.match(r"^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$", line):
                raise AssertionError("bad comment line %r" % line)
            continue
        m = METRIC_LINE.match(line)
        if not m:
            raise AssertionError("bad metrics line %r" % line)
        labels = []
        body = m.group(2) or ""
        pos = 0
        while pos < len(body):
            lm = LABEL.match(body, pos)
            if not lm:
                raise AssertionError("bad labels in %r" % line)
            labels.append((lm.group(1), lm.group(2)))
            pos = lm.end()
        key = (m.group(1), tuple(sorted(labels)))
        if key in samples:
            raise AssertionError("duplicate sample %r" % line)
        samples[key] = float(m.group(3))
    return samples, types


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


# ----------------------------------------------------------------- daemon

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def run(args, timeout=30, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True,
                          timeout=timeout, **kw)


def keygen(path, mode=0o600):
    p = run([CARDCTL, "keygen", path])
    if p.returncode != 0:
        raise RuntimeError("cardctl keygen failed: %r" % p.stderr)
    os.chmod(path, mode)
    return json.loads(p.stdout)


class Daemon:
    """One cardd process with its own folder, ports, key and data."""

    def __init__(self, csv=None, config=None, gen=None, key_mode=0o600,
                 key_file=None, name="cardd"):
        check_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="cardd-it-%s-" % name))
        self.config_path = self.dir / "cardd.conf"
        self.csv_path = self.dir / "cards.csv"
        self.key_path = self.dir / "signing.pem"
        self.stderr_path = self.dir / "stderr.log"
        self.extra = dict(config or {})
        self.proc = None
        self.http_port = self.resp_port = None
        self.returncode = None
        if key_file is not None:
            shutil.copyfile(key_file, self.key_path)
            os.chmod(self.key_path, key_mode)
            self.keygen_jwks = None
        else:
            self.keygen_jwks = keygen(self.key_path, key_mode)
        if gen is not None:
            n, seed, today = gen
            p = run([CARDCTL, "gen", n, "--seed", seed, "--today", today,
                     "-o", self.csv_path])
            if p.returncode != 0:
                raise RuntimeError("cardctl gen failed: %r" % p.stderr)
            if csv:
                with open(self.csv_path, "a") as f:
                    f.write(csv)
        elif csv is not None:
            self.csv_path.write_text(csv)

    # -- files

    def write_config(self):
        conf = {
            "http_listen": "%s:%d" % (HOST, self.http_port),
            "resp_listen": "%s:%d" % (HOST, self.resp_port),
            "source": "file:cards.csv",
            "signing_key": "signing.pem",
            "auth": "none",
            "threads": "2",
        }
        conf.update(self.extra)
        text = "# written by tests/integration/harness.py\n"
        text += "".join("%s %s\n" % kv for kv in conf.items()
                        if kv[1] is not None)
        self.config_path.write_text(text)

    def replace_csv(self, text):
        """Write a new file and rename it over cards.csv (atomic)."""
        tmp = self.dir / "cards.csv.new"
        tmp.write_text(text)
        os.rename(tmp, self.csv_path)

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @contextlib.contextmanager
    def explained(self):
        """A failure inside carries the tail of cardd's log, which says
        why a connection was closed (timeouts, errors)."""
        try:
            yield
        except (AssertionError, PeerClosed, OSError) as e:
            raise AssertionError("%r\n-- cardd's log, last lines:\n%s" %
                                 (e, self.stderr()[-3000:])) from e

    # -- life

    def start(self, wait_ready=True, keep_ports=False):
        """keep_ports: a restart on the ports of the last start (a load
        balancer in front knows them)."""
        for attempt in range(3):
            if not (keep_ports and self.http_port):
                self.http_port, self.resp_port = free_port(), free_port()
                while self.resp_port == self.http_port:
                    self.resp_port = free_port()
            self.write_config()
            with open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(
                    [str(CARDD), "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    cwd=self.dir)
            if not wait_ready:
                return
            try:
                self.wait_ready()
                return
            except RuntimeError:
                if "cannot listen" in self.stderr() and attempt < 2 and \
                        not keep_ports:
                    continue        # lost a port race: new ports
                raise

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise RuntimeError("cardd exited with %d at start:\n%s" %
                                   (self.proc.returncode, self.stderr()))
            try:
                r = http_get(self.http_port, "/readyz")
                if r.status == 200:
                    return
            except (OSError, PeerClosed):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("cardd not ready within %gs:\n%s" %
                           (timeout, self.stderr()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status. A hang is killed and
        raises AssertionError."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
                self.returncode = "hang"
                raise AssertionError("cardd did not exit within %gs of "
                                     "SIGTERM; killed" % timeout)
        self.returncode = self.proc.returncode
        return self.returncode

    def assert_clean_log(self):
        """No sanitizer report in the log (make asan runs these tests)."""
        log = self.stderr()
        for mark in SANITIZER_MARKS:
            if mark in log:
                raise AssertionError("sanitizer report in cardd's log:\n" +
                                     log[log.index(mark) - 200:][:4000])

    def cleanup(self):
        self.kill()
        if not os.environ.get("CARDD_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- clients

    def http(self, timeout=TIMEOUT):
        return HTTPClient(self.http_port, timeout)

    def resp(self, timeout=TIMEOUT):
        return RESPClient(self.resp_port, timeout)

    def get(self, target, headers=None):
        return http_get(self.http_port, target, headers)

    def jwks_bytes(self):
        r = self.get("/v1/keys")
        assert r.status == 200, r
        return r.body

    def public_key(self, kid):
        for k in json.loads(self.jwks_bytes())["keys"]:
            if k.get("kid") == kid:
                return b64url_decode(k["x"])
        raise AssertionError("kid %r not in the JWKS" % kid)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return parse_metrics(r.body.decode())


def wait_for(pred, timeout, interval=0.1):
    """Poll pred() until it returns a true value or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ------------------------------------------------------------- test base

class DaemonTestCase(unittest.TestCase):
    """One cardd per class. Subclasses set CSV, GEN and CONFIG."""

    CSV = None
    GEN = None
    CONFIG = {}
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(csv=cls.CSV, gen=cls.GEN, config=cls.CONFIG,
                       name=cls.__name__)
        cls.addClassCleanup(cls.d.cleanup)
        cls.prepare()
        cls.d.start()
        jwks = json.loads(cls.d.jwks_bytes())
        cls.kid = jwks["keys"][0]["kid"]
        cls.pub = b64url_decode(jwks["keys"][0]["x"])

    @classmethod
    def prepare(cls):
        """Before the start: files in cls.d.dir, keys into cls.d.extra."""

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        if rc != 0:
            raise AssertionError("cardd exited with %r after SIGTERM:\n%s"
                                 % (rc, cls.d.stderr()[-3000:]))
        cls.d.assert_clean_log()

    def assertAlive(self):
        self.assertTrue(self.d.alive(), "cardd died:\n" +
                        self.d.stderr()[-3000:])

    # -- statements

    def assertStatement(self, body, check, id_, result=None, reason=None,
                        by_permit=False, scheme=None, region=None, at=None,
                        rev=None, nonce=None):
        """Check every member of a statement (PROTOCOL.md §3); returns it
        parsed."""
        self.assertIsInstance(body, bytes)
        self.assertNotRegex(body, rb"\s", "statement is not compact")
        pairs = json.loads(body, object_pairs_hook=list)
        st = dict(pairs)
        self.assertEqual(len(st), len(pairs), "repeated member")
        names = [k for k, _ in pairs]
        idk = "permit" if by_permit else "card"
        want = ["v", "check", idk]
        if check == "coverage":
            want.append("scheme")
        if region is not None:
            want.append("region")
        want += ["at", "result", "reason", "rev", "synced_at", "issued_at",
                 "kid"]
        if nonce is not None:
            want.append("nonce")
        self.assertEqual(names[:len(want)], want, body)
        for k in ("card", "permit", "scheme", "region", "nonce"):
            if k not in want:
                self.assertNotIn(k, st, body)
        self.assertIs(type(st["v"]), int)
        self.assertEqual(st["v"], 1)
        self.assertEqual(st["check"], check)
        self.assertEqual(st[idk], id_)
        if scheme is not None:
            self.assertEqual(st["scheme"], scheme)
        if region is not None:
            self.assertEqual(st["region"], region)
        if at is not None:
            self.assertEqual(st["at"], at)
        self.assertRegex(st["at"], r"^\d{4}-\d{2}-\d{2}$")
        if reason is not None:
            self.assertEqual(st["reason"], reason, body)
        self.assertIn(st["reason"], REASONS)
        ok = st["reason"] == "ok"
        pos, neg = (("valid", "invalid") if check == "validity"
                    else ("covered", "not_covered"))
        self.assertEqual(st["result"], pos if ok else neg, body)
        if result is not None:
            self.assertEqual(st["result"], result, body)
        self.assertIs(type(st["rev"]), int)
        self.assertGreaterEqual(st["rev"], 0)
        if rev is not None:
            self.assertEqual(st["rev"], rev, body)
        if st["reason"] == "unknown_card":
            self.assertEqual(st["rev"], 0)
        for k in ("synced_at", "issued_at"):
            self.assertRegex(st[k], RFC3339_MS)
        issued = parse_rfc3339_ms(st["issued_at"])
        synced = parse_rfc3339_ms(st["synced_at"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - issued).total_seconds()), 120,
                        "issued_at is not now")
        self.assertLessEqual(synced, issued + datetime.timedelta(
            milliseconds=1))
        self.assertLess((issued - synced).total_seconds(), 3600)
        self.assertEqual(st["kid"], self.kid)
        if nonce is not None:
            self.assertEqual(st["nonce"], nonce)
        return st

    def assertSigned(self, body, jws):
        """The detached JWS holds over body for the daemon's key."""
        hdr_b64, hdr, _ = split_jws(jws)
        self.assertEqual(hdr, {"alg": "EdDSA", "kid": self.kid})
        self.assertTrue(verify_cryptography(self.pub, body, jws),
                        "signature does not verify: %r" % body)


# ------------------------------------------------------------------ Redis
#
# Added for tests/integration/test_redis*.py: a throwaway redis-server on
# a free loopback port (no persistence, so a restart is an empty Redis),
# and the cardctl commands that feed it and compare it with a snapshot.

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_START_TIMEOUT = 10.0


class RedisServer:
    """One redis-server in its own folder on a loopback port. start() again
    after kill() or stop() brings up an empty Redis on the same port."""

    def __init__(self, name="redis", args=()):
        if not os.access(REDIS_SERVER, os.X_OK):
            raise RuntimeError("redis-server is missing (%s)" % REDIS_SERVER)
        self.dir = Path(tempfile.mkdtemp(prefix="cardd-it-%s-" % name))
        self.log_path = self.dir / "redis.log"
        self.port = None
        self.proc = None
        self.args = list(args)      # more options, e.g. --replicaof

    @property
    def url(self):
        return "redis://%s:%d" % (HOST, self.port)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout=REDIS_START_TIMEOUT):
        fixed = self.port is not None
        for attempt in range(3):
            if not fixed:
                self.port = free_port()
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", HOST,
                 "--save", "", "--appendonly", "no", "--dir", str(self.dir),
                 "--daemonize", "no", "--logfile", str(self.log_path)] +
                self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd=self.dir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self.command("PING", timeout=1.0) == "PONG":
                        return self
                except (OSError, PeerClosed, AssertionError):
                    pass
                time.sleep(0.02)
            self.kill()
            if fixed or attempt == 2:
                break
        raise RuntimeError("redis-server did not answer PING on port %s "
                           "within %gs:\n%s" % (self.port, timeout,
                                                self.log()[-2000:]))

    def command(self, *args, timeout=TIMEOUT):
        """One command over a fresh connection; returns the parsed reply
        (RespError for an error reply)."""
        with RESPClient(self.port, timeout) as c:
            return c.command(*args)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: Redis goes away at once, losing everything."""
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self):
        """SIGTERM (nothing is saved: --save '' --appendonly no)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self):
        self.kill()
        if not os.environ.get("CARDD_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def cardctl(*args, timeout=60, check=True):
    """Run cardctl; with check, a non-zero exit raises AssertionError with
    its stderr."""
    p = run([CARDCTL] + list(args), timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("cardctl %s exited with %d:\n%s" % (
            " ".join(str(a) for a in args), p.returncode,
            p.stderr.decode("utf-8", "replace")[-2000:]))
    return p


def cardctl_gen(path, n, seed, today=AT):
    return cardctl("gen", n, "--seed", seed, "--today", today, "-o", path)


def cardctl_import(path, url):
    return cardctl("import", path, "--redis", url)


def cardctl_publish(url, card, *fields, remove=False):
    """cardctl publish --redis URL CARD field=value ... (or --remove)."""
    if remove:
        return cardctl("publish", "--redis", url, "--remove", card)
    return cardctl("publish", "--redis", url, card,
                   *["%s=%s" % kv for kv in fields])


def barrier(url, daemons, card, permit, rev, timeout=10.0):
    """Publish card at rev through url and see it on every daemon, then
    remove it and see it gone: every change published before has then
    been applied. Returns the time just before the removal."""
    cardctl_publish(url, card, ("status", "active"), ("permit", permit),
                    ("class", "A"), ("permit_from", "2024-01-01"),
                    ("permit_until", "2030-12-31"), ("birth", "1990-01-01"),
                    ("region", "310000"), ("rev", rev))
    _see_on_all(daemons, card, lambda st: st.get("rev") == rev,
                "published", timeout)
    t = time.time()
    cardctl_publish(url, card, remove=True)
    _see_on_all(daemons, card, lambda st: st.get("reason") == "unknown_card",
                "removed", timeout)
    return t


def _see_on_all(daemons, card, pred, what, timeout):
    """Ask each daemon over RESP until pred(statement) holds."""
    for d in daemons:
        def seen(d=d):
            with d.resp() as c:
                r = c.command("VALIDITY", card, "AT", AT)
            return isinstance(r, list) and pred(json.loads(r[0]))
        if not wait_for(seen, timeout, 0.02):
            raise AssertionError("barrier card %s %s, not seen on the daemon "
                                 "on RESP port %d within %gs" % (
                                     card, what, d.resp_port, timeout))


def cardctl_export(out, url=None, snapshot=None):
    """cardctl export --redis URL | --snapshot FILE, -o out."""
    args = ["export"] + (["--redis", url] if url else
                         ["--snapshot", snapshot]) + ["-o", out]
    return cardctl(*args)


def export_diff(a, b, label_a="a", label_b="b", lines=40):
    """None when the two files are equal byte for byte; otherwise a short
    description and the start of a unified diff."""
    import difflib
    da, db = Path(a).read_bytes(), Path(b).read_bytes()
    if da == db:
        return None
    la = da.decode("utf-8", "replace").splitlines()
    lb = db.decode("utf-8", "replace").splitlines()
    diff = list(difflib.unified_diff(la, lb, label_a, label_b, n=0,
                                     lineterm=""))
    return ("%s: %d lines, %s: %d lines, %d differing lines; first:\n%s" %
            (label_a, len(la), label_b, len(lb),
             sum(1 for x in diff[2:] if x[:1] in "+-"),
             "\n".join(diff[:lines])))


class TCPProxy:
    """A loopback TCP relay to target_port that can fail the way a network
    does: go_silent() stops relaying on the open connections without a FIN
    or RST (and accepts new ones without relaying them), cut_far_side()
    then closes their far side (the server forgets the client) while the
    near side hears nothing, and new connections are relayed again."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []         # {"near": sock, "far": sock, "silent": bool}
        self.silent = False
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "redis://%s:%d" % (HOST, self.port)

    def _accept(self):
        while not self.closed:
            try:
                near, _ = self.lsock.accept()
            except OSError:
                return
            pair = {"near": near, "far": None, "silent": self.silent}
            if not pair["silent"]:
                try:
                    pair["far"] = socket.create_connection(
                        (HOST, self.target), timeout=TIMEOUT)
                    pair["far"].settimeout(None)
                except OSError:
                    near.close()
                    continue
            with self.lock:
                self.pairs.append(pair)
            if pair["far"] is not None:
                for a, b in (("near", "far"), ("far", "near")):
                    threading.Thread(target=self._pump,
                                           args=(pair, a, b),
                                           daemon=True).start()

    def _pump(self, pair, src, dst):
        while True:
            try:
                data = pair[src].recv(65536)
            except (OSError, AttributeError):   # cut meanwhile
                data = b""
            if not data:
                if not pair["silent"]:
                    try:
                        pair[dst].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                return
            if pair["silent"]:
                continue            # dropped on the floor
            try:
                pair[dst].sendall(data)
            except (OSError, AttributeError):   # cut meanwhile
                return

    def go_silent(self):
        with self.lock:
            self.silent = True
            for p in self.pairs:
                p["silent"] = True

    def cut_far_side(self):
        """Close the far side of every silent connection; relay new
        connections again."""
        with self.lock:
            for p in self.pairs:
                if p["silent"] and p["far"] is not None:
                    try:
                        p["far"].shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    p["far"].close()
                    p["far"] = None
            self.silent = False

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            for p in self.pairs:
                for k in ("near", "far"):
                    if p[k] is not None:
                        try:
                            p[k].shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        p[k].close()


def redis_pipeline(port, commands, timeout=30):
    """Send commands (lists of arguments) pipelined to Redis; returns the
    replies in order."""
    out = []
    with RESPClient(port, timeout) as c:
        for i in range(0, len(commands), 2000):
            chunk = commands[i:i + 2000]
            c.send(b"".join(resp_encode(*[str(a) for a in cmd])
                            for cmd in chunk))
            out += [c.read_reply(timeout) for _ in chunk]
    return out


class Sentinel(RedisServer):
    """One Redis Sentinel (redis-server --sentinel) on a loopback port,
    monitoring master NAME at master_port with a quorum of 2; it rewrites
    its own config file, so each has its own folder."""

    def __init__(self, name, master_port, down_after_ms=1000):
        super().__init__("sentinel")
        self.master_name = name
        self.master_port = master_port
        self.down_after_ms = down_after_ms

    def start(self, timeout=REDIS_START_TIMEOUT):
        if self.port is None:
            self.port = free_port()
        conf = self.dir / "sentinel.conf"
        if not conf.exists():
            conf.write_text(
                "port %d\nbind %s\ndir %s\nlogfile %s\n"
                "sentinel monitor %s %s %d 2\n"
                "sentinel down-after-milliseconds %s %d\n"
                "sentinel failover-timeout %s 10000\n"
                "sentinel parallel-syncs %s 1\n" % (
                    self.port, HOST, self.dir, self.log_path,
                    self.master_name, HOST, self.master_port,
                    self.master_name, self.down_after_ms,
                    self.master_name, self.master_name))
        self.proc = subprocess.Popen(
            [REDIS_SERVER, str(conf), "--sentinel"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.dir)
        if wait_for(lambda: self._pong(), timeout):
            return self
        self.kill()
        raise RuntimeError("sentinel on port %d did not start:\n%s" %
                           (self.port, self.log()[-2000:]))

    def _pong(self):
        try:
            return self.command("PING", timeout=1.0) == "PONG"
        except (OSError, PeerClosed, AssertionError):
            return False


def _pairs(flat):
    """A flat [field, value, ...] reply of bulk strings as a str dict."""
    text = [x.decode() if isinstance(x, bytes) else x for x in flat]
    return dict(zip(text[0::2], text[1::2]))


class RedisFleet:
    """A Redis master, `replicas` replicas and 3 Sentinels on loopback
    ports, as conf/fleet describes in production. master and replicas
    are RedisServer objects whose roles swap on a failover: ask
    master_port() which one the Sentinels name now."""

    NAME = "cardd"

    def __init__(self, replicas=1, down_after_ms=1000, ports=None):
        """ports: {"redis": [master, replica...], "sentinel": [3 ports]}
        for a fixed layout (make fleet); free ports otherwise."""
        ports = ports or {}
        self.nodes = [RedisServer("redis-m")]
        self.nodes[0].port = (ports.get("redis") or [None])[0]
        self.nodes[0].start()
        for i in range(replicas):
            r = RedisServer("redis-r%d" % i, args=[
                "--replicaof", HOST, str(self.nodes[0].port)])
            r.port = (ports.get("redis") or [None] * (i + 2))[i + 1]
            self.nodes.append(r.start())
        self.sentinels = [Sentinel(self.NAME, self.nodes[0].port,
                                   down_after_ms) for _ in range(3)]
        for s, port in zip(self.sentinels, ports.get("sentinel") or
                           [None] * 3):
            s.port = port
            s.start()

    def url(self, query=""):
        return "sentinel://%s/%s%s" % (",".join(
            "%s:%d" % (HOST, s.port) for s in self.sentinels), self.NAME,
            query)

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def master_port(self):
        """The master's port as a live Sentinel names it (None: none)."""
        for s in self.sentinels:
            if not s.alive():
                continue
            try:
                r = s.command("SENTINEL", "get-master-addr-by-name",
                              self.NAME)
            except (OSError, PeerClosed):
                continue
            if isinstance(r, list):
                return int(r[1])
        return None

    def healthy_replicas(self, sentinel=None):
        """Replica ports every live Sentinel sees as up and in step."""
        seen = None
        for s in [sentinel] if sentinel else self.sentinels:
            if not s.alive():
                continue
            ok = set()
            for flat in s.command("SENTINEL", "replicas", self.NAME):
                f = _pairs(flat)
                if f.get("flags") == "slave" and \
                        f.get("master-link-status") == "ok":
                    ok.add(int(f["port"]))
            seen = ok if seen is None else seen & ok
        return seen or set()

    def wait_settled(self, replicas, timeout=40):
        """Until every Sentinel knows the others and sees `replicas`
        healthy replicas of the master."""
        def settled():
            for s in self.sentinels:
                m = _pairs(s.command("SENTINEL", "master", self.NAME))
                if int(m.get("num-other-sentinels", 0)) < 2:
                    return False
                if len(self.healthy_replicas(s)) < replicas:
                    return False
            return True
        if not wait_for(settled, timeout, interval=0.2):
            raise AssertionError("the Sentinels did not settle in %ds" %
                                 timeout)

    def cleanup(self):
        for x in self.sentinels + self.nodes:
            x.cleanup()
