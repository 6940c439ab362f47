"""PROTOCOL.md §10: electronic card codes, end to end against the real
daemon. Codes are minted here by an issuer of our own (python3-cryptography's
Ed25519, header and payload JSON bytes and base64url built in this file,
not cardctl's), asked over HTTP (GET and POST /v1/check) and RESP by named
clients with bearer tokens, and every answer is checked member by member
and verified against GET /v1/keys with python3-cryptography (detached JWS,
and in one class batch proofs rebuilt by the RFC 9162 rules of §4.3).

What is covered: the code_invalid / code_expired rules with their
boundaries (lifetime, skew, expiry), the binding of a code to its first
client (code_replayed, "replay":"local"), minimal disclosure
(disclose=card,permit,until and the member order of §10), batches, bad
input (HTTP 400 / RESP -ERR, never echoed, the daemon answering after),
logs that never hold a code's text, and issuers added and removed by
SIGHUP. Times that matter are kept inside one second of the server's
clock (fresh_second), dates with a fixed at=."""

import hashlib
import json
import os
import secrets
import signal
import subprocess
import time
import unittest
import urllib.parse

from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding,
                                                          PublicFormat)

from tests.integration import harness as h
from tests.integration.test_batch_sign import verify_batch
from tests.integration.harness import (AT, CSV_HEADER, RFC3339_MS, RespError,
                                       b64url, b64url_decode, csv_line)

# ------------------------------------------------------------------ data

CARD, PERMIT, REV = "000000000100", "WP000100", 3
MED_UNTIL = "2026-06-30"
BIRTH = "1985-05-05"
LOST, LOST_PERMIT, LOST_REV = "000000000101", "WP000101", 4
LETTERS, LETTERS_PERMIT, LETTERS_REV = "CD0000000102", "WP000102", 1
UNKNOWN = "000000009999"

CSV = "\n".join([
    CSV_HEADER,
    csv_line(CARD, status="active", permit=PERMIT, **{"class": "A"},
             permit_from="2024-01-01", permit_until="2027-12-31",
             birth=BIRTH, region="440300",
             medical="2024-01-01..%s" % MED_UNTIL, rev=str(REV)),
    csv_line(LOST, status="lost", permit=LOST_PERMIT, **{"class": "A"},
             permit_from="2024-01-01", permit_until="2027-12-31",
             birth="1986-06-06", region="440300",
             medical="2024-01-01..2026-06-30", rev=str(LOST_REV)),
    csv_line(LETTERS, status="active", permit=LETTERS_PERMIT,
             **{"class": "B"}, permit_from="2024-01-01",
             permit_until="2027-12-31", birth="1990-01-01",
             region="310000", medical="2025-01-01..2025-12-31",
             rev=str(LETTERS_REV)),
]) + "\n"

CODE_REASONS = h.CODE_REASONS
ALL_REASONS = h.CODE_REASONS + h.REASONS
TYP = "card-code+jwt"

# Who asks (auth required): name -> disclose= list ("" for none).
CLIENTS = {"desk0": "", "desk1": "card,permit,until", "desk2": "",
           "desk3": "card,until"}

# Every code text (and junk) sent to a daemon, for the log check.
ASKED = []


def sha256_b64(text):
    if isinstance(text, str):
        text = text.encode()
    return b64url(hashlib.sha256(text).digest())


def jdump(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def new_token():
    """(token, config line options) for one client."""
    tok = b64url(secrets.token_bytes(32))
    return tok, "token=sha256:%s" % hashlib.sha256(tok.encode()).hexdigest()


def client_lines(tokens):
    """The value of the harness's "client" key: several client lines."""
    lines = []
    for name, disclose in CLIENTS.items():
        line = "%s %s allow=validity,coverage rate=100000 burst=100000" % (
            name, tokens[name][1])
        if disclose:
            line += " disclose=" + disclose
        lines.append(line)
    return "\nclient ".join(lines)


# ---------------------------------------------------------------- minting

def compact(header, payload, key, sig=None):
    """base64url(header) . base64url(payload) . base64url(signature), the
    signature Ed25519 over the first two parts and their dot (or sig)."""
    si = b64url(header) + "." + b64url(payload)
    if sig is None:
        sig = key.sign(si.encode("ascii"))
    return si + "." + b64url(sig)


def parts(code):
    return code.split(".")


def flip_sig(code):
    """The same code with one byte of its signature changed."""
    h_, p_, s_ = parts(code)
    sig = bytearray(b64url_decode(s_))
    sig[17] ^= 0x20
    return h_ + "." + p_ + "." + b64url(bytes(sig))


class Issuer:
    """A card platform: a name and Ed25519 keys by kid."""

    def __init__(self, name, kids):
        self.name = name
        self.keys = {k: Ed25519PrivateKey.generate() for k in kids}
        self.kids = list(kids)

    def jwks(self, kids=None):
        keys = []
        for kid in kids or self.kids:
            x = self.keys[kid].public_key().public_bytes(Encoding.Raw,
                                                         PublicFormat.Raw)
            keys.append({"kty": "OKP", "crv": "Ed25519", "x": b64url(x),
                         "kid": kid})
        return {"keys": keys}

    def write(self, path, kids=None):
        path.write_text(json.dumps(self.jwks(kids)))
        return path

    def header(self, kid=None, typ=TYP, alg="EdDSA", extra=None, drop=()):
        hd = {"alg": alg, "kid": kid or self.kids[0], "typ": typ}
        hd.update(extra or {})
        for k in drop:
            hd.pop(k, None)
        return jdump(hd)

    def claims(self, sub=CARD, iat=None, exp=None, lifetime=60, iss=None,
               jti=None, extra=None, drop=()):
        iat = int(time.time()) if iat is None else iat
        cl = {"iss": self.name if iss is None else iss, "sub": sub,
              "iat": iat, "exp": iat + lifetime if exp is None else exp,
              "jti": b64url(secrets.token_bytes(16)) if jti is None else jti}
        cl.update(extra or {})
        for k in drop:
            cl.pop(k, None)
        return cl

    def mint(self, kid=None, typ=TYP, alg="EdDSA", hextra=None, hdrop=(),
             key=None, header=None, payload=None, **claims):
        """A code; header/payload: exact bytes instead of the built ones;
        key: sign with another key than the kid's."""
        hb = header if header is not None else self.header(
            kid, typ, alg, hextra, hdrop)
        pb = payload if payload is not None else jdump(self.claims(**claims))
        return compact(hb, pb, key or self.keys[kid or self.kids[0]])


def code_of_length(issuer, n, **claims):
    """A well-formed, well-signed code of exactly n bytes (a "pad" claim,
    ignored, and one of the issuer's kids of different lengths make it)."""
    for kid in issuer.kids:
        hlen = len(b64url(issuer.header(kid)))
        for k in range(0, n):
            cl = issuer.claims(extra={"pad": "x" * k}, **claims)
            total = hlen + 1 + len(b64url(jdump(cl))) + 1 + 86
            if total == n:
                code = compact(issuer.header(kid), jdump(cl),
                               issuer.keys[kid])
                assert len(code) == n
                return code
            if total > n:
                break
    raise AssertionError("no code of %d bytes" % n)


def fresh_second():
    """Wait until a second of the clock has just begun and return it: the
    few requests that follow are answered within that second."""
    frac = time.time() % 1
    if frac > 0.2:
        time.sleep(1.0 - frac + 0.005)
    return int(time.time())


def same_second(test, fn, tries=3):
    """Run fn(now) within one second of the clock (retried when the second
    ran out); returns its result."""
    for _ in range(tries):
        now = fresh_second()
        out = fn(now)
        if int(time.time()) == now:
            return out
    test.fail("could not keep %d tries within one second" % tries)


# -------------------------------------------------------------- the base

class CodeBase(h.DaemonTestCase):
    """One cardd with code issuers and clients per class."""

    CSV = CSV
    maxDiff = 6000
    AUTH = True
    EXTRA = {}
    BATCH = False           # sign_mode batch: batch proofs accepted

    @classmethod
    def issuers(cls):
        """{name: (Issuer, kids to publish)} configured at start."""
        return {}

    @classmethod
    def prepare(cls):
        """The issuers' JWKS files, the clients and their tokens."""
        cls.tokens = {n: new_token() for n in CLIENTS}
        cls.iss = {}
        lines = []
        for name, (iss, kids) in cls.issuers().items():
            cls.iss[name] = iss
            path = iss.write(cls.d.dir / ("issuer-%s.json" % name), kids)
            lines.append("%s %s" % (name, path))
        conf = {"log_level": "debug"}
        if lines:
            conf["code_issuer"] = "\ncode_issuer ".join(lines)
        if cls.AUTH:
            conf["auth"] = "required"
            conf["client"] = client_lines(cls.tokens)
        conf.update(cls.EXTRA)
        cls.d.extra.update(conf)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        leaked = log_leaks(cls.d.stderr())
        if leaked:
            raise AssertionError("cardd's log holds code text: %r" % leaked)

    # -- asking

    def auth_headers(self, client):
        if client is None:
            return []
        return [("Authorization", "Bearer " + self.tokens[client][0])]

    def http_get(self, client, target, conn=None):
        hdrs = self.auth_headers(client)
        if conn is not None:
            return conn.request("GET", target, hdrs)
        return self.d.get(target, hdrs)

    def http_post(self, client, checks, conn=None, raw=None):
        body = raw if raw is not None else json.dumps({"checks": checks})
        hdrs = self.auth_headers(client) + [("Content-Type",
                                             "application/json")]
        if conn is not None:
            return conn.request("POST", "/v1/check", hdrs, body)
        with self.d.http() as c:
            return c.request("POST", "/v1/check", hdrs, body)

    def resp_conn(self, client):
        c = self.d.resp()
        if client is not None:
            self.assertEqual(c.command("AUTH", self.tokens[client][0]), "OK")
        return c

    def resp_cmd(self, client, *args, conn=None):
        if conn is not None:
            return conn.command(*args)
        with self.resp_conn(client) as c:
            return c.command(*args)

    @staticmethod
    def query(check, code=None, **params):
        q = []
        if code is not None:
            q.append(("code", code))
        for k in ("card", "permit", "scheme", "region", "at", "birth",
                  "nonce"):
            if params.get(k) is not None:
                q.append((k, params[k]))
        return "/v1/%s?%s" % (check, urllib.parse.urlencode(q))

    @staticmethod
    def resp_args(check, code, scheme=None, region=None, at=AT, birth=None,
                  nonce=None, word="BYCODE"):
        args = ["VALIDITY", code] if check == "validity" else \
            ["COVERAGE", code, scheme]
        args.append(word)
        for k, v in (("REGION", region), ("AT", at), ("BIRTH", birth),
                     ("NONCE", nonce)):
            if v is not None:
                args += [k, v]
        return args

    def ask(self, via, client, code, check="validity", scheme=None,
            region=None, at=AT, birth=None, nonce=None, conn=None):
        """Ask by code; the signature is verified. Returns the statement
        bytes."""
        ASKED.append(code)
        if check == "coverage" and scheme is None:
            scheme = "medical"
        if via == "http":
            r = self.http_get(client, self.query(
                check, code, scheme=scheme, region=region, at=at,
                birth=birth, nonce=nonce), conn)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("content-type"), "application/json")
            self.assertSigned(r.body, r.header("card-signature"))
            return r.body
        rep = self.resp_cmd(client, *self.resp_args(
            check, code, scheme, region, at, birth, nonce), conn=conn)
        self.assertIsInstance(rep, list, "%r (asked %s)" % (rep, check))
        self.assertEqual(len(rep), 2, rep)
        self.assertSigned(rep[0], rep[1].decode())
        return rep[0]

    # -- signatures

    def assertSigned(self, body, sig):
        self.assertIsNotNone(sig, "no signature")
        if isinstance(sig, bytes):
            sig = sig.decode()
        if "~" in sig:
            self.assertTrue(self.BATCH, "a batch proof in per-answer mode")
            self.assertEqual(sig.count("~"), 3, sig)
            _, hdr, _ = h.split_jws(sig.split("~")[0])
            self.assertEqual(hdr, {"alg": "EdDSA", "kid": self.kid})
            self.assertTrue(verify_batch(self.pub, body, sig),
                            "batch proof does not verify: %r" % body)
            return "batch"
        _, hdr, raw = h.split_jws(sig)
        self.assertEqual(hdr, {"alg": "EdDSA", "kid": self.kid})
        self.assertEqual(len(raw), 64)
        self.assertTrue(h.verify_cryptography(self.pub, body, sig),
                        "signature does not verify: %r" % body)
        return "jws"

    # -- statements

    def pairs_of(self, stmt):
        if isinstance(stmt, bytes):
            self.assertNotRegex(stmt, rb"\s", "statement is not compact")
            stmt = json.loads(stmt, object_pairs_hook=list)
        self.assertIsInstance(stmt, list, stmt)
        return stmt

    def assertCode(self, stmt, check, code, reason, iss=None, card=None,
                   permit=None, scheme=None, region=None, at=AT, rev=None,
                   nonce=None, until=None, replay=None):
        """Every member of a code answer, in the order of §10. replay
        defaults to "local" past code_expired (False: absent, as for a
        binding the fleet knows); rev to 0 for a code_ reason. Returns
        the statement as a dict."""
        pairs = self.pairs_of(stmt)
        st = dict(pairs)
        names = [k for k, _ in pairs]
        self.assertEqual(len(st), len(pairs), "repeated member: %r" % pairs)
        if check == "coverage" and scheme is None:
            scheme = "medical"
        if replay is None and reason not in ("code_invalid", "code_expired"):
            replay = "local"
        if replay is False:         # bound by the fleet: no replay member
            replay = None
        if reason in CODE_REASONS:
            self.assertIsNone(card, "test error: card with a code reason")
            self.assertIsNone(permit)
            self.assertIsNone(until)
            if rev is None:
                rev = 0
        self.assertIsNotNone(rev, "test error: rev not said")
        want = ["v", "check", "code"]
        for k, v in (("iss", iss), ("card", card), ("permit", permit),
                     ("scheme", scheme), ("region", region)):
            if v is not None:
                want.append(k)
        want += ["at", "result", "reason", "rev", "synced_at", "issued_at",
                 "kid"]
        for k, v in (("nonce", nonce), ("until", until),
                     ("replay", replay)):
            if v is not None:
                want.append(k)
        self.assertEqual(names, want, st)
        self.assertIs(type(st["v"]), int)
        self.assertEqual(st["v"], 1)
        self.assertEqual(st["check"], check)
        self.assertEqual(st["code"], sha256_b64(code), "code member")
        self.assertEqual(st["reason"], reason, st)
        pos, neg = (("valid", "invalid") if check == "validity"
                    else ("covered", "not_covered"))
        self.assertEqual(st["result"], pos if reason == "ok" else neg, st)
        self.assertIs(type(st["rev"]), int)
        self.assertEqual(st["rev"], rev, st)
        self.assertEqual(st["at"], at)
        for k, v in (("iss", iss), ("card", card), ("permit", permit),
                     ("scheme", scheme), ("region", region),
                     ("nonce", nonce), ("until", until),
                     ("replay", replay)):
            if v is not None:
                self.assertEqual(st[k], v, k)
        for k in ("synced_at", "issued_at"):
            self.assertRegex(st[k], RFC3339_MS)
        self.assertEqual(st["kid"], self.kid)
        return st

    def assertCard(self, stmt, check, reason, rev, id_=CARD, by_permit=False,
                   scheme=None, region=None, at=AT, nonce=None, until=None):
        """A card (or permit) answer, §3, with "until" of §10 or not."""
        pairs = self.pairs_of(stmt)
        st = dict(pairs)
        names = [k for k, _ in pairs]
        want = ["v", "check", "permit" if by_permit else "card"]
        if check == "coverage":
            want.append("scheme")
        if region is not None:
            want.append("region")
        want += ["at", "result", "reason", "rev", "synced_at", "issued_at",
                 "kid"]
        if nonce is not None:
            want.append("nonce")
        if until is not None:
            want.append("until")
        self.assertEqual(names, want, st)
        self.assertEqual(st["permit" if by_permit else "card"], id_)
        self.assertEqual(st["reason"], reason, st)
        self.assertEqual(st["rev"], rev)
        self.assertEqual(st["at"], at)
        if until is not None:
            self.assertEqual(st["until"], until)
        if nonce is not None:
            self.assertEqual(st["nonce"], nonce)
        return st

    def shown(self, client, reason, card=CARD, permit=PERMIT):
        """(card, permit) a client with its disclose= sees, as §10 says."""
        if reason in CODE_REASONS:
            return None, None
        dis = CLIENTS.get(client, "").split(",") if client else []
        return (card if "card" in dis else None,
                permit if "permit" in dis and permit else None)

    def good(self, via, client, code, check="validity", iss=None, card=CARD,
             permit=PERMIT, rev=REV, reason="ok", until=None, **kw):
        """Ask and expect a §2 answer (past the code_ reasons)."""
        body = self.ask(via, client, code, check, **kw)
        c, p = self.shown(client, reason, card, permit)
        if until is None and reason == "ok" and check == "coverage" and \
                "until" in CLIENTS.get(client, ""):
            until = MED_UNTIL
        return self.assertCode(
            body, check, code, reason, iss=iss or self.default_iss, card=c,
            permit=p, scheme=kw.get("scheme"), region=kw.get("region"),
            at=kw.get("at", AT), rev=rev, nonce=kw.get("nonce"),
            until=until)

    def bad(self, via, client, code, reason, check="validity", iss=None,
            no_iss=False, **kw):
        """Ask and expect a code_ reason (rev 0, signed, no card)."""
        body = self.ask(via, client, code, check, **kw)
        return self.assertCode(
            body, check, code, reason,
            iss=None if no_iss else (iss or self.default_iss),
            scheme=kw.get("scheme"), region=kw.get("region"),
            at=kw.get("at", AT), nonce=kw.get("nonce"))

    default_iss = "platform-a"

    def wait_reload(self, before_ok, before_refused, timeout=5.0):
        """Until a reload after the counts given is done; True: reloaded,
        False: refused."""
        def seen():
            log = self.d.stderr()
            if log.count('msg="reload refused') > before_refused:
                return "refused"
            if log.count('msg="reloaded"') > before_ok:
                return "reloaded"
            return None
        r = h.wait_for(seen, timeout, 0.02)
        self.assertIsNotNone(r, "no reload seen:\n" +
                             self.d.stderr()[-2000:])
        return r == "reloaded"

    def reload(self):
        log = self.d.stderr()
        ok = log.count('msg="reloaded"')
        refused = log.count('msg="reload refused')
        self.d.write_config()
        self.d.proc.send_signal(signal.SIGHUP)
        return self.wait_reload(ok, refused)


def log_leaks(log):
    """Code texts (or their payload or signature parts) found in a log."""
    found = []
    for text in ASKED:
        if not text:
            continue
        probes = [text] if len(text) >= 16 else []
        for p in text.split(".")[1:]:
            if len(p) >= 16:
                probes.append(p)
        if len(text) > 200 and "." not in text:
            probes.append(text[:64])
        for p in probes:
            if p in log:
                found.append(p[:100])
                break
    return found


# ----------------------------------------------------- the main daemon

class CardctlByCode:
    """cardctl with codes, against the class's cardd (issuer A)."""

    def test_cardctl_check_and_verify_by_code(self):
        """cardctl check --code asks by code over HTTP and RESP; cardctl
        verify --code accepts the answer for that code only."""
        code, other = self.A.mint(), self.A.mint()
        keys = self.d.dir / "server-keys.json"
        keys.write_bytes(self.d.jwks_bytes())
        env = dict(os.environ)
        env.pop("CARDD_TOKEN", None)
        if self.AUTH:
            env["CARDD_TOKEN"] = self.tokens["desk0"][0]
        for via in ("--http", "--resp"):
            with self.subTest(via=via):
                addr = "127.0.0.1:%d" % (self.d.http_port if via == "--http"
                                         else self.d.resp_port)
                p = subprocess.run([h.CARDCTL, "check", via, addr, "--code",
                                    "coverage", code, "medical"],
                                   capture_output=True, env=env, timeout=10)
                self.assertEqual(p.returncode, 0, p.stderr)
                st = json.loads(p.stdout.splitlines()[0])
                self.assertEqual(st["code"], b64url(hashlib.sha256(
                    code.encode()).digest()))
                for c, rc in ((code, 0), (other, 1)):
                    v = subprocess.run([h.CARDCTL, "verify", "--jwks", keys,
                                        "--code", c], input=p.stdout,
                                       capture_output=True, timeout=10)
                    self.assertEqual(v.returncode, rc, v.stderr)


class CodeTest(CardctlByCode, CodeBase):
    """sign_mode per-answer, auth required, issuers platform-a (two keys)
    and platform-b; limits raised so that 10 KB of junk reaches the code
    parser."""

    EXTRA = {"http_max_header": "32k", "resp_max_arg_len": "32k"}
    A = Issuer("platform-a", ["a1", "a1b"])
    B = Issuer("platform-b", ["b1"])

    @classmethod
    def issuers(cls):
        return {"platform-a": (cls.A, None), "platform-b": (cls.B, None)}

    # -- good codes

    def test_good_code_validity(self):
        code = self.A.mint()
        for via in ("http", "resp", "http"):
            with self.subTest(via=via):
                st = self.good(via, "desk0", code, nonce="n-" + via)
                self.assertNotIn("card", st)
                self.assertNotIn("permit", st)
                self.assertNotIn("until", st)
                self.assertEqual(st["iss"], "platform-a")
                self.assertEqual(st["code"], b64url(hashlib.sha256(
                    code.encode("ascii")).digest()))
                self.assertEqual(len(st["code"]), 43)

    def test_good_code_coverage(self):
        code = self.A.mint()
        self.good("http", "desk0", code, "coverage", scheme="medical",
                  region="440300", nonce="q7Zx0nYp")
        self.good("resp", "desk0", code, "coverage", scheme="medical",
                  region="440300", nonce="q7Zx0nYp")
        self.good("resp", "desk0", code, "coverage", scheme="medical")

    def test_second_key_and_second_issuer(self):
        self.good("http", "desk0", self.A.mint(kid="a1b"))
        st = self.good("resp", "desk0", self.B.mint(), iss="platform-b")
        self.assertEqual(st["iss"], "platform-b")

    def test_typ_variants_accepted(self):
        for typ in ("card-code+jwt", "CARD-CODE+JWT", "Card-Code+Jwt",
                    "application/card-code+jwt",
                    "Application/Card-Code+JWT"):
            with self.subTest(typ=typ):
                self.good("http", "desk0", self.A.mint(typ=typ))

    def test_then_the_reasons_of_section_2(self):
        """After the code_ reasons, sub is the card number of §2."""
        self.good("http", "desk1", self.A.mint(sub=LOST), card=LOST,
                  permit=LOST_PERMIT, rev=LOST_REV, reason="card_lost")
        self.good("resp", "desk1", self.A.mint(sub=UNKNOWN), card=UNKNOWN,
                  permit=None, rev=0, reason="unknown_card")
        self.good("http", "desk0", self.A.mint(sub=UNKNOWN), rev=0,
                  reason="unknown_card")
        code = self.A.mint()
        self.good("http", "desk1", code, "coverage", scheme="pension",
                  reason="not_enrolled")
        self.good("http", "desk1", code, "coverage", scheme="medical",
                  region="110000", reason="region_not_covered")
        self.good("resp", "desk1", code, "coverage", scheme="medical",
                  at="2026-07-01", reason="coverage_lapsed")
        self.good("http", "desk1", code, at="2028-01-01",
                  reason="permit_expired")
        self.good("http", "desk1", code, birth="1985-05-06",
                  reason="holder_mismatch")
        self.good("resp", "desk1", code, birth=BIRTH)
        # sub in lowercase is folded, as a card number is.
        self.good("http", "desk1", self.A.mint(sub=LETTERS.lower()),
                  card=LETTERS, permit=LETTERS_PERMIT, rev=LETTERS_REV)

    def test_code_hash_is_of_the_text_as_asked(self):
        """HTTP percent-decodes first: the hash is of the code itself."""
        code = self.A.mint()
        ASKED.append(code)
        target = "/v1/validity?code=%s&at=%s" % (
            code.replace(".", "%2E").replace("a", "%61", 3), AT)
        r = self.http_get("desk0", target)
        self.assertEqual(r.status, 200, r)
        self.assertSigned(r.body, r.header("card-signature"))
        self.assertCode(r.body, "validity", code, "ok", iss="platform-a",
                        rev=REV)

    # -- code_invalid and code_expired

    def test_wrong_signature(self):
        code = self.A.mint()
        other = Ed25519PrivateKey.generate()
        h_, p_, _ = parts(code)
        swapped = self.A.mint(sub=LOST)
        cases = [
            ("flipped byte", flip_sig(code)),
            ("another key under kid a1", self.A.mint(key=other)),
            ("a1b's key under kid a1", self.A.mint(key=self.A.keys["a1b"])),
            ("payload changed after signing",
             h_ + "." + parts(swapped)[1] + "." + parts(code)[2]),
            ("signature of another code",
             h_ + "." + p_ + "." + parts(swapped)[2]),
        ]
        for label, c in cases:
            for via in ("http", "resp"):
                with self.subTest(label, via=via):
                    self.bad(via, "desk1", c, "code_invalid")
        # The untouched code still works, for anyone first.
        self.good("http", "desk0", code)

    def test_unknown_issuer(self):
        self.bad("http", "desk1", self.A.mint(iss="platform-z"),
                 "code_invalid", iss="platform-z")
        self.bad("resp", "desk1", self.A.mint(iss="platform-z"),
                 "code_invalid", iss="platform-z")
        # An issuer name not of the form of §10 is not shown.
        for iss in ("platform a", "", "p" * 65, "platform/a"):
            with self.subTest(iss=iss):
                self.bad("http", "desk1", self.A.mint(iss=iss),
                         "code_invalid", no_iss=True)
        self.bad("http", "desk1", self.A.mint(drop=("iss",)),
                 "code_invalid", no_iss=True)
        # The issuer's key, another issuer's name.
        self.bad("http", "desk1", self.A.mint(iss="platform-b"),
                 "code_invalid", iss="platform-b")

    def test_unknown_kid(self):
        stranger = Ed25519PrivateKey.generate()
        self.bad("http", "desk0", self.A.mint(kid="a9", key=stranger),
                 "code_invalid")
        self.bad("resp", "desk0", self.A.mint(kid="a9", key=stranger),
                 "code_invalid")
        # platform-b's kid and key, in a code of platform-a.
        self.bad("http", "desk0", self.A.mint(kid="b1", key=self.B.keys["b1"]),
                 "code_invalid")
        self.bad("http", "desk0", self.A.mint(hdrop=("kid",),
                                              key=self.A.keys["a1"]),
                 "code_invalid")

    def test_wrong_or_missing_typ(self):
        for label, kw in (("JWT", {"typ": "JWT"}),
                          ("card-code", {"typ": "card-code"}),
                          ("card-code+jwt ", {"typ": "card-code+jwt "}),
                          ("application/jwt", {"typ": "application/jwt"}),
                          ("missing", {"hdrop": ("typ",)})):
            for via in ("http", "resp"):
                with self.subTest(label, via=via):
                    self.bad(via, "desk0", self.A.mint(**kw), "code_invalid")

    def test_crit(self):
        for crit in (["exp"], ["b64"], []):
            with self.subTest(crit=crit):
                self.bad("http", "desk0",
                         self.A.mint(hextra={"crit": crit}), "code_invalid")
        self.bad("resp", "desk0", self.A.mint(hextra={"crit": ["exp"]}),
                 "code_invalid")

    def test_lifetime(self):
        now = int(time.time())
        self.bad("http", "desk0", self.A.mint(iat=now, exp=now + 121),
                 "code_invalid")
        self.bad("resp", "desk0", self.A.mint(iat=now, exp=now + 121),
                 "code_invalid")
        self.good("http", "desk0", self.A.mint(iat=now, exp=now + 120))
        self.good("resp", "desk0", self.A.mint(iat=now, exp=now + 120))
        for exp in (now, now - 1):
            with self.subTest(exp_minus_iat=exp - now):
                self.bad("http", "desk0", self.A.mint(iat=now, exp=exp),
                         "code_invalid")

    def test_iat_and_nbf_in_the_future(self):
        def run(now):
            return [(c, self.ask("http", "desk0", c)) for c in (
                self.A.mint(iat=now + 31, lifetime=60),
                self.A.mint(iat=now + 30, lifetime=60),
                self.A.mint(iat=now, lifetime=60,
                            extra={"nbf": now + 31}),
                self.A.mint(iat=now, lifetime=60,
                            extra={"nbf": now + 30}))]
        out = same_second(self, run)
        for (code, body), reason in zip(out, ("code_invalid", "ok",
                                               "code_invalid", "ok")):
            self.assertCode(body, "validity", code, reason,
                            iss="platform-a",
                            rev=REV if reason == "ok" else None)

    def test_expiry(self):
        def run(now):
            gone = self.A.mint(iat=now - 91, exp=now - 31)
            edge = self.A.mint(iat=now - 90, exp=now - 30)
            gone_bad = flip_sig(self.A.mint(iat=now - 91, exp=now - 31))
            return [(c, self.ask(via, "desk0", c)) for c, via in (
                (gone, "http"), (gone, "resp"), (edge, "http"),
                (edge, "resp"), (gone_bad, "http"))]
        out = same_second(self, run)
        self.assertCode(out[0][1], "validity", out[0][0], "code_expired",
                        iss="platform-a")
        self.assertCode(out[1][1], "validity", out[1][0], "code_expired",
                        iss="platform-a")
        self.assertCode(out[2][1], "validity", out[2][0], "ok",
                        iss="platform-a", rev=REV)
        self.assertCode(out[3][1], "validity", out[3][0], "ok",
                        iss="platform-a", rev=REV)
        # code_invalid comes before code_expired.
        self.assertCode(out[4][1], "validity", out[4][0], "code_invalid",
                        iss="platform-a")

    def test_expired_code_is_not_bound(self):
        """A code_expired answer binds nobody: both clients get it."""
        now = int(time.time())
        code = self.A.mint(iat=now - 200, exp=now - 100)
        self.bad("http", "desk0", code, "code_expired")
        self.bad("http", "desk2", code, "code_expired")

    def test_sub_not_a_card_number(self):
        for sub in ("12345", "0000-00000100", "0000 00000100", "", "1" * 33,
                    "00000000010\u00e9"):
            for via in ("http", "resp"):
                with self.subTest(sub=sub, via=via):
                    self.bad(via, "desk1", self.A.mint(sub=sub),
                             "code_invalid")
        self.bad("http", "desk1", self.A.mint(drop=("sub",)), "code_invalid")
        self.bad("http", "desk1", self.A.mint(sub=100000000100),
                 "code_invalid")

    def test_jti(self):
        for label, kw in (("7 characters", {"jti": "abcdefg"}),
                          ("missing", {"drop": ("jti",)}),
                          ("65 characters", {"jti": "j" * 65}),
                          ("not base64url", {"jti": "abcd efgh"}),
                          ("a slash", {"jti": "abcd/efgh"}),
                          ("a number", {"jti": 1234567890})):
            for via in ("http", "resp"):
                with self.subTest(label, via=via):
                    self.bad(via, "desk0", self.A.mint(**kw), "code_invalid")
        self.good("http", "desk0", self.A.mint(jti=secrets.token_hex(4)))
        self.good("http", "desk0", self.A.mint(
            jti=b64url(secrets.token_bytes(48))))     # 64 characters

    def test_iat_exp_missing_or_malformed(self):
        now = int(time.time())
        for label, kw in (("no iat", {"drop": ("iat",)}),
                          ("no exp", {"drop": ("exp",)}),
                          ("iat a string", {"iat": str(now),
                                            "exp": now + 60}),
                          ("exp a string", {"iat": now,
                                            "exp": str(now + 60)}),
                          ("iat a fraction", {"iat": now + 0.5,
                                              "exp": now + 60}),
                          ("exp null", {"iat": now, "extra": {"exp": None}}),
                          ("iat null", {"extra": {"iat": None}})):
            with self.subTest(label):
                self.bad("http", "desk0", self.A.mint(**kw), "code_invalid")

    # -- binding

    def test_replayed_by_a_second_client(self):
        code = self.A.mint()
        self.good("http", "desk0", code)
        st = self.bad("http", "desk2", code, "code_replayed")
        self.assertEqual(st["replay"], "local")
        # A client that may see everything sees nothing of a replay.
        st = self.bad("resp", "desk1", code, "code_replayed",
                      check="coverage", scheme="medical")
        self.assertNotIn("card", st)
        self.assertNotIn("permit", st)
        self.assertNotIn("until", st)
        self.good("http", "desk0", code, "coverage", scheme="medical")
        self.bad("http", "desk2", code, "code_replayed")
        # An unknown card binds as well: it is past code_expired.
        code = self.A.mint(sub=UNKNOWN)
        self.good("resp", "desk2", code, rev=0, reason="unknown_card")
        self.bad("resp", "desk0", code, "code_replayed")

    def test_same_client_asks_three_times(self):
        code = self.A.mint()
        self.good("http", "desk3", code, nonce="one")
        self.good("http", "desk3", code, "coverage", scheme="medical",
                  region="440300", nonce="two")
        self.good("http", "desk3", code, nonce="three")
        with self.d.http() as c:        # and on one connection
            code = self.A.mint()
            self.good("http", "desk0", code, conn=c)
            self.good("http", "desk0", code, "coverage", scheme="medical",
                      conn=c)
            self.good("http", "desk0", code, conn=c)

    def test_two_clients_over_resp_and_http(self):
        code = self.A.mint()
        with self.resp_conn("desk1") as c1, self.resp_conn("desk2") as c2:
            self.good("resp", "desk1", code, conn=c1)
            self.good("http", "desk1", code, "coverage", scheme="medical")
            self.bad("resp", "desk2", code, "code_replayed", conn=c2)
            self.bad("http", "desk2", code, "code_replayed",
                     check="coverage", scheme="medical")
            self.good("resp", "desk1", code, "coverage", scheme="medical",
                      conn=c1)
        code = self.A.mint()            # the other way round
        self.good("http", "desk2", code)
        self.bad("resp", "desk0", code, "code_replayed")
        self.good("resp", "desk2", code, "coverage", scheme="medical")
        r = self.http_post("desk0", [{"check": "validity", "code": code,
                                      "at": AT}])
        self.assertEqual(r.status, 200, r)
        self.assertSigned(r.body, r.header("card-signature"))
        res = dict(self.pairs_of(r.body))["results"]
        self.assertCode(res[0], "validity", code, "code_replayed",
                        iss="platform-a")

    def test_binding_race(self):
        """Four clients ask each fresh code at the same moment, over both
        protocols (the daemon runs two worker threads): exactly one gets
        the answer, the three others code_replayed."""
        import threading
        codes = [self.A.mint() for _ in range(25)]
        ASKED.extend(codes)
        names = list(CLIENTS)
        conns = {n: (self.resp_conn(n) if i % 2 == 0 else self.d.http())
                 for i, n in enumerate(names)}
        got = {n: [] for n in names}
        errors = []
        gate = threading.Barrier(len(names))

        def run(n):
            try:
                for code in codes:
                    gate.wait(timeout=10)
                    c = conns[n]
                    if isinstance(c, h.RESPClient):
                        rep = c.command(*self.resp_args("validity", code))
                        got[n].append(("resp", rep))
                    else:
                        got[n].append(("http", self.http_get(
                            n, self.query("validity", code, at=AT), c)))
            except Exception as e:      # reported below
                errors.append(repr(e))
                gate.abort()
        threads = [threading.Thread(target=run, args=(n,)) for n in names]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            for c in conns.values():
                c.close()
        self.assertEqual(errors, [])
        for i, code in enumerate(codes):
            winners = []
            for n in names:
                via, rep = got[n][i]
                if via == "resp":
                    self.assertIsInstance(rep, list, rep)
                    body, sig = rep
                else:
                    self.assertEqual(rep.status, 200, rep)
                    body, sig = rep.body, rep.header("card-signature")
                self.assertSigned(body, sig)
                reason = json.loads(body)["reason"]
                self.assertIn(reason, ("ok", "code_replayed"), body)
                if reason == "ok":
                    winners.append(n)
                    self.good(via, n, code)     # and again, still its own
                else:
                    self.assertCode(body, "validity", code, "code_replayed",
                                    iss="platform-a")
            self.assertEqual(len(winners), 1, "code %d: %r" % (i, winners))

    # -- disclosure

    def test_disclosure_everything(self):
        code = self.A.mint()
        for via in ("http", "resp"):
            with self.subTest(via=via):
                body = self.ask(via, "desk1", code, "coverage",
                                scheme="medical", region="440300",
                                nonce="n1")
                names = [k for k, _ in json.loads(
                    body, object_pairs_hook=list)]
                self.assertEqual(names, [
                    "v", "check", "code", "iss", "card", "permit", "scheme",
                    "region", "at", "result", "reason", "rev", "synced_at",
                    "issued_at", "kid", "nonce", "until", "replay"], body)
                self.assertCode(body, "coverage", code, "ok",
                                iss="platform-a", card=CARD, permit=PERMIT,
                                region="440300", rev=REV, nonce="n1",
                                until=MED_UNTIL)
        body = self.ask("http", "desk1", code)
        self.assertCode(body, "validity", code, "ok", iss="platform-a",
                        card=CARD, permit=PERMIT, rev=REV)
        body = self.ask("http", "desk1", code, "coverage",
                        scheme="pension")
        self.assertCode(body, "coverage", code, "not_enrolled",
                        iss="platform-a", card=CARD, permit=PERMIT,
                        scheme="pension", rev=REV)
        body = self.ask("resp", "desk1", code, "coverage", scheme="medical",
                        at="2026-07-01")
        self.assertCode(body, "coverage", code, "coverage_lapsed",
                        iss="platform-a", card=CARD, permit=PERMIT,
                        at="2026-07-01", rev=REV)

    def test_disclosure_card_and_until(self):
        code = self.A.mint()
        body = self.ask("http", "desk3", code, "coverage", scheme="medical")
        st = self.assertCode(body, "coverage", code, "ok", iss="platform-a",
                             card=CARD, rev=REV, until=MED_UNTIL)
        self.assertNotIn("permit", st)
        body = self.ask("resp", "desk3", code)
        self.assertCode(body, "validity", code, "ok", iss="platform-a",
                        card=CARD, rev=REV)

    def test_disclosure_none(self):
        code = self.A.mint()
        for via in ("http", "resp"):
            body = self.ask(via, "desk2", code, "coverage", scheme="medical",
                            region="440300", nonce="n2")
            st = self.assertCode(body, "coverage", code, "ok",
                                 iss="platform-a", region="440300", rev=REV,
                                 nonce="n2")
            for k in ("card", "permit", "until"):
                self.assertNotIn(k, st)
            self.assertNotIn(CARD.encode(), body)
            self.assertNotIn(PERMIT.encode(), body)

    def test_until_for_card_and_permit_requests(self):
        q = "/v1/coverage?card=%s&scheme=medical&region=440300&at=%s" \
            "&nonce=u1" % (CARD, AT)
        r = self.http_get("desk1", q)
        self.assertEqual(r.status, 200, r)
        self.assertSigned(r.body, r.header("card-signature"))
        self.assertCard(r.body, "coverage", "ok", REV, scheme="medical",
                        region="440300", nonce="u1", until=MED_UNTIL)
        r = self.http_get("desk3", "/v1/coverage?permit=%s&scheme=medical"
                          "&at=%s" % (PERMIT.lower(), AT))
        self.assertEqual(r.status, 200, r)
        self.assertSigned(r.body, r.header("card-signature"))
        self.assertCard(r.body, "coverage", "ok", REV, id_=PERMIT,
                        by_permit=True, until=MED_UNTIL)
        rep = self.resp_cmd("desk1", "COVERAGE", CARD, "medical", "AT", AT)
        self.assertIsInstance(rep, list, rep)
        self.assertSigned(rep[0], rep[1])
        self.assertCard(rep[0], "coverage", "ok", REV, until=MED_UNTIL)
        rep = self.resp_cmd("desk1", "COVERAGE", PERMIT, "medical", "AT", AT,
                            "BYPERMIT")
        self.assertIsInstance(rep, list, rep)
        self.assertSigned(rep[0], rep[1])
        self.assertCard(rep[0], "coverage", "ok", REV, id_=PERMIT,
                        by_permit=True, until=MED_UNTIL)
        # Not covered, validity, or a client without disclose=until: none.
        for client, q, reason in (
                ("desk1", "/v1/coverage?card=%s&scheme=pension&at=%s" %
                 (CARD, AT), "not_enrolled"),
                ("desk1", "/v1/validity?card=%s&at=%s" % (CARD, AT), "ok"),
                ("desk0", "/v1/coverage?card=%s&scheme=medical&at=%s" %
                 (CARD, AT), "ok"),
                ("desk2", "/v1/coverage?card=%s&scheme=medical&at=%s" %
                 (CARD, AT), "ok")):
            with self.subTest(client=client, q=q):
                r = self.http_get(client, q)
                self.assertEqual(r.status, 200, r)
                self.assertSigned(r.body, r.header("card-signature"))
                check = "validity" if "validity" in q else "coverage"
                self.assertCard(r.body, check, reason, REV)
        # A card answer never carries code members.
        for k in (b'"code"', b'"iss"', b'"replay"'):
            self.assertNotIn(k, r.body)

    # -- POST /v1/check

    def test_post_with_codes(self):
        c1, c2 = self.A.mint(), self.B.mint(sub=LOST)
        ASKED.extend([c1, c2])
        checks = [
            {"check": "validity", "code": c1, "at": AT},
            {"check": "coverage", "code": c1, "scheme": "medical",
             "region": "440300", "at": AT, "nonce": "b1"},
            {"check": "validity", "card": CARD, "at": AT},
            {"check": "coverage", "code": c2, "scheme": "medical", "at": AT},
            {"check": "coverage", "card": CARD, "scheme": "medical",
             "at": AT},
            {"check": "validity", "code": flip_sig(c1), "at": AT},
        ]
        ASKED.append(checks[-1]["code"])
        r = self.http_post("desk1", checks)
        self.assertEqual(r.status, 200, r)
        self.assertSigned(r.body, r.header("card-signature"))
        top = self.pairs_of(r.body)
        self.assertEqual([k for k, _ in top], ["results"])
        res = top[0][1]
        self.assertEqual(len(res), len(checks))
        self.assertCode(res[0], "validity", c1, "ok", iss="platform-a",
                        card=CARD, permit=PERMIT, rev=REV)
        self.assertCode(res[1], "coverage", c1, "ok", iss="platform-a",
                        card=CARD, permit=PERMIT, region="440300", rev=REV,
                        nonce="b1", until=MED_UNTIL)
        self.assertCard(res[2], "validity", "ok", REV)
        self.assertCode(res[3], "coverage", c2, "card_lost",
                        iss="platform-b", card=LOST, permit=LOST_PERMIT,
                        rev=LOST_REV)
        self.assertCard(res[4], "coverage", "ok", REV, until=MED_UNTIL)
        self.assertCode(res[5], "validity", checks[5]["code"],
                        "code_invalid", iss="platform-a")
        # The batch bound c1 to desk1.
        r = self.http_post("desk0", checks[:2])
        self.assertEqual(r.status, 200, r)
        self.assertSigned(r.body, r.header("card-signature"))
        res = dict(self.pairs_of(r.body))["results"]
        self.assertCode(res[0], "validity", c1, "code_replayed",
                        iss="platform-a")
        self.assertCode(res[1], "coverage", c1, "code_replayed",
                        iss="platform-a", region="440300", nonce="b1")
        self.good("resp", "desk1", c1)

    def test_post_bad_code_items(self):
        code = self.A.mint()
        ASKED.append(code)
        ok = {"check": "validity", "card": CARD, "at": AT}
        with self.d.http() as conn:
            for label, item in (
                    ("code and card", {"check": "validity", "code": code,
                                       "card": CARD}),
                    ("code and permit", {"check": "validity", "code": code,
                                         "permit": PERMIT}),
                    ("truncated", {"check": "validity", "code": code[:-5]}),
                    ("junk", {"check": "validity", "code": "x" * 10240}),
                    ("2049 bytes", {"check": "validity",
                                    "code": code_of_length(self.A, 2049)}),
                    ("code not a string", {"check": "validity",
                                           "code": 12345678}),
                    ("empty", {"check": "coverage", "code": "",
                               "scheme": "medical"})):
                with self.subTest(label):
                    if isinstance(item.get("code"), str):
                        ASKED.append(item["code"])
                    r = self.http_post("desk0", [ok, item], conn=conn)
                    self.assertEqual(r.status, 400, r)
                    err = r.json()
                    self.assertEqual(err["error"], "bad_request")
                    self.assertIn("checks[1]", err["detail"])
                    self.assertNotEchoed(r.body, item.get("code"))
            r = self.http_post("desk0", [ok], conn=conn)
            self.assertEqual(r.status, 200, r)
        self.good("http", "desk0", code)

    # -- bad input

    def bad_texts(self):
        """(label, text) of things that are not codes at all (§10)."""
        A = self.A
        good = A.mint()
        hd, pl, sg = parts(good)
        kid = "a1"
        key = A.keys[kid]
        pay = jdump(A.claims())

        def signed_header(raw):
            return compact(raw, pay, key)

        return [
            ("truncated signature", good[:-10]),
            ("truncated in the signature by one", good[:-1]),
            ("cut in half", good[:len(good) // 2]),
            ("no signature part", hd + "." + pl + "."),
            ("two parts", hd + "." + pl),
            ("four parts", good + "." + sg),
            ("empty header", "." + pl + "." + sg),
            ("empty payload", hd + ".." + sg),
            ("10 KB of junk", b64url(secrets.token_bytes(7680))),
            ("10 KB of junk with dots",
             ".".join([b64url(secrets.token_bytes(2560))] * 4)[:10240]),
            ("bad base64 character *", hd + "." + pl[:5] + "*" + pl[6:] +
             "." + sg),
            ("standard base64 /", hd + "." + pl[:5] + "/" + pl[6:] + "." +
             sg),
            ("padding =", hd + "=." + pl + "." + sg),
            ("space", hd + "." + pl + " ." + sg),
            ("header JSON array", signed_header(b'["alg","EdDSA"]')),
            ("header JSON string", signed_header(b'"EdDSA"')),
            ("header JSON null", signed_header(b"null")),
            ("header not JSON", signed_header(b'{"alg":"EdDSA",')),
            ("header trailing bytes", signed_header(
                A.header() + b"x")),
            ("payload JSON array", compact(A.header(), b"[1,2,3]", key)),
            ("payload not JSON", compact(A.header(), b"hello", key)),
            ("duplicate alg in header", signed_header(
                b'{"alg":"EdDSA","kid":"a1","typ":"card-code+jwt",'
                b'"alg":"EdDSA"}')),
            ("duplicate kid in header", signed_header(
                b'{"alg":"EdDSA","kid":"a1","kid":"a1",'
                b'"typ":"card-code+jwt"}')),
            ("duplicate sub in payload", compact(A.header(), pay[:-1] +
                                                 b',"sub":"%s"}' %
                                                 CARD.encode(), key)),
            ("alg none, no signature", b64url(A.header(alg="none")) + "." +
             b64url(pay) + "."),
            ("alg none, 64 bytes", compact(A.header(alg="none"), pay, key)),
            ("alg HS256, 32 bytes", compact(A.header(alg="HS256"), pay, key,
                                            sig=secrets.token_bytes(32))),
            ("alg HS256, 64 bytes", compact(A.header(alg="HS256"), pay,
                                            key)),
            ("alg HS512", compact(A.header(alg="HS512"), pay, key,
                                  sig=secrets.token_bytes(64))),
            ("alg RS256", compact(A.header(alg="RS256"), pay, key)),
            ("alg ES256", compact(A.header(alg="ES256"), pay, key)),
            ("alg eddsa lowercase", compact(A.header(alg="eddsa"), pay,
                                            key)),
            ("signature of 63 bytes", hd + "." + pl + "." +
             b64url(b64url_decode(sg)[:63])),
            ("signature of 65 bytes", hd + "." + pl + "." +
             b64url(b64url_decode(sg) + b"\0")),
            ("2049 bytes", code_of_length(A, 2049)),
            ("4096 bytes", code_of_length(A, 4096)),
            ("a card number", CARD),
        ]

    def assertNotEchoed(self, body, text):
        if not isinstance(text, str) or not text:
            return
        if isinstance(body, str):
            body = body.encode()
        probes = [text] + [p for p in text.split(".") if len(p) >= 12]
        if len(text) > 64:
            probes.append(text[:32])
        for p in probes:
            self.assertNotIn(p.encode(), body, "the error echoes the code")

    def test_bad_input_http(self):
        with self.d.http() as conn:
            for label, text in self.bad_texts():
                for check in ("validity", "coverage"):
                    with self.subTest(label, check=check):
                        ASKED.append(text)
                        q = self.query(check, text, at=AT,
                                       scheme="medical" if check ==
                                       "coverage" else None)
                        r = self.http_get("desk0", q, conn=conn)
                        self.assertEqual(r.status, 400, r)
                        self.assertEqual(r.header("content-type"),
                                         "application/json")
                        err = json.loads(r.body, object_pairs_hook=list)
                        self.assertEqual([k for k, _ in err],
                                         ["error", "detail"])
                        err = dict(err)
                        self.assertEqual(err["error"], "bad_request")
                        self.assertIsInstance(err["detail"], str)
                        self.assertTrue(err["detail"])
                        self.assertNotEchoed(r.body, text)
                        self.assertIsNone(r.header("card-signature"))
            # The connection goes on, and codes are answered.
            self.assertAlive()
            self.good("http", "desk0", self.A.mint(), conn=conn)

    def test_bad_input_resp(self):
        with self.resp_conn("desk0") as conn:
            for label, text in self.bad_texts():
                for check in ("validity", "coverage"):
                    with self.subTest(label, check=check):
                        ASKED.append(text)
                        rep = conn.command(*self.resp_args(
                            check, text, scheme="medical"))
                        self.assertIsInstance(rep, RespError, rep)
                        self.assertTrue(rep.message.startswith("ERR code"),
                                        rep.message)
                        self.assertNotEchoed(rep.message, text)
            self.assertAlive()
            self.assertEqual(conn.command("PING"), "PONG")
            self.good("resp", "desk0", self.A.mint(), conn=conn)

    def test_empty_code_parameter(self):
        r = self.http_get("desk0", "/v1/validity?code=&at=%s" % AT)
        self.assertEqual(r.status, 400, r)
        r = self.http_get("desk0", "/v1/validity?code&at=%s" % AT)
        self.assertEqual(r.status, 400, r)
        rep = self.resp_cmd("desk0", "VALIDITY", "", "BYCODE")
        self.assertIsInstance(rep, RespError, rep)

    def test_code_with_card_or_permit(self):
        code = self.A.mint()
        ASKED.append(code)
        with self.d.http() as conn:
            for q in ("/v1/validity?code=%s&card=%s" % (code, CARD),
                      "/v1/validity?card=%s&code=%s" % (CARD, code),
                      "/v1/validity?code=%s&permit=%s" % (code, PERMIT),
                      "/v1/coverage?code=%s&card=%s&scheme=medical" %
                      (code, CARD),
                      "/v1/validity?code=%s&code=%s" % (code, code)):
                with self.subTest(q=q[:60]):
                    r = self.http_get("desk0", q, conn=conn)
                    self.assertEqual(r.status, 400, r)
                    self.assertEqual(r.json()["error"], "bad_request")
                    self.assertNotEchoed(r.body, code)
        # Nothing was bound by the refused requests.
        self.good("http", "desk2", code)

    def test_bycode_with_bypermit_and_twice(self):
        code = self.A.mint()
        ASKED.append(code)
        with self.resp_conn("desk0") as conn:
            for args in (("VALIDITY", code, "BYCODE", "BYPERMIT"),
                         ("VALIDITY", code, "BYPERMIT", "BYCODE"),
                         ("COVERAGE", code, "medical", "BYCODE", "BYPERMIT"),
                         ("VALIDITY", code, "BYCODE", "BYCODE"),
                         ("VALIDITY", code, "BYCODE", "AT", AT, "BYCODE")):
                with self.subTest(args=args[2:]):
                    rep = conn.command(*args)
                    self.assertIsInstance(rep, RespError, rep)
                    self.assertTrue(rep.message.startswith("ERR"))
                    self.assertNotEchoed(rep.message, code)
            # BYCODE anywhere among the options, any case.
            for args in (("VALIDITY", code, "AT", AT, "bycode"),
                         ("VALIDITY", code, "NONCE", "z1", "ByCode", "AT",
                          AT),
                         ("COVERAGE", code, "medical", "REGION", "440300",
                          "BYCODE", "AT", AT)):
                with self.subTest(args=args[2:]):
                    rep = conn.command(*args)
                    self.assertIsInstance(rep, list, rep)
                    self.assertSigned(rep[0], rep[1])
                    st = json.loads(rep[0])
                    self.assertEqual(st["reason"], "ok", st)
                    self.assertEqual(st["code"], sha256_b64(code))
                    self.assertEqual(st["at"], AT)
            # Without BYCODE a code is a card number, and a bad one.
            rep = conn.command("VALIDITY", code, "AT", AT)
            self.assertIsInstance(rep, RespError, rep)
            self.assertNotEchoed(rep.message, code)

    def test_size_limit_2048(self):
        code = code_of_length(self.A, 2048)
        self.good("http", "desk0", code)
        self.good("resp", "desk0", code, "coverage", scheme="medical")
        longer = code_of_length(self.A, 2049)
        ASKED.append(longer)
        r = self.http_get("desk0", self.query("validity", longer, at=AT))
        self.assertEqual(r.status, 400, r)
        rep = self.resp_cmd("desk0", "VALIDITY", longer, "BYCODE")
        self.assertIsInstance(rep, RespError, rep)
        self.assertTrue(rep.message.startswith("ERR code"), rep.message)

    def test_zz_log_holds_no_code_text(self):
        """Runs last in this class: none of the codes asked so far (nor
        their payload or signature parts, nor the junk) is in the log."""
        self.assertAlive()
        self.assertTrue(ASKED, "no code was asked")
        log = self.d.stderr()
        self.assertTrue(log, "no log at all")
        self.assertEqual(log_leaks(log), [])


# ------------------------------------------------------- sign_mode batch

class CodeBatchSignTest(CardctlByCode, CodeBase):
    """sign_mode batch with auth none: code answers carry batch proofs
    (§4.3), and every asker is one client."""

    AUTH = False
    BATCH = True
    EXTRA = {"sign_mode": "batch"}
    A = Issuer("platform-a", ["a1"])

    @classmethod
    def issuers(cls):
        return {"platform-a": (cls.A, None)}

    def test_pipelined_code_answers_verify_as_batch_proofs(self):
        now = int(time.time())
        good = self.A.mint()
        lost = self.A.mint(sub=LOST)
        invalid = flip_sig(self.A.mint())
        expired = self.A.mint(iat=now - 200, exp=now - 100)
        plan = []
        for i in range(40):
            kind = ("good", "good", "cov", "lost", "invalid", "expired",
                    "card", "good")[i % 8]
            plan.append(kind)
        cmds = []
        for i, kind in enumerate(plan):
            nonce = "n%d" % i
            if kind == "good":
                cmds.append(self.resp_args("validity", good, nonce=nonce))
            elif kind == "cov":
                cmds.append(self.resp_args("coverage", good, "medical",
                                           nonce=nonce))
            elif kind == "lost":
                cmds.append(self.resp_args("validity", lost, nonce=nonce))
            elif kind == "invalid":
                cmds.append(self.resp_args("validity", invalid, nonce=nonce))
            elif kind == "expired":
                cmds.append(self.resp_args("validity", expired, nonce=nonce))
            else:
                cmds.append(["VALIDITY", CARD, "AT", AT, "NONCE", nonce])
        ASKED.extend([good, lost, invalid, expired])
        with self.d.resp() as c:
            c.send(b"".join(h.resp_encode(*a) for a in cmds))
            replies = [c.read_reply() for _ in cmds]
        kinds = []
        for i, (kind, rep) in enumerate(zip(plan, replies)):
            with self.subTest(i=i, kind=kind):
                self.assertIsInstance(rep, list, rep)
                stmt, sig = rep[0], rep[1].decode()
                kinds.append(self.assertSigned(stmt, sig))
                nonce = "n%d" % i
                if kind == "good":
                    self.assertCode(stmt, "validity", good, "ok",
                                    iss="platform-a", rev=REV, nonce=nonce)
                elif kind == "cov":
                    self.assertCode(stmt, "coverage", good, "ok",
                                    iss="platform-a", rev=REV, nonce=nonce)
                elif kind == "lost":
                    self.assertCode(stmt, "validity", lost, "card_lost",
                                    iss="platform-a", rev=LOST_REV,
                                    nonce=nonce)
                elif kind == "invalid":
                    self.assertCode(stmt, "validity", invalid,
                                    "code_invalid", iss="platform-a",
                                    nonce=nonce)
                elif kind == "expired":
                    self.assertCode(stmt, "validity", expired,
                                    "code_expired", iss="platform-a",
                                    nonce=nonce)
                else:
                    self.assertCard(stmt, "validity", "ok", REV,
                                    nonce=nonce)
                if "~" in sig:
                    other = replies[(i + 1) % len(replies)][0]
                    self.assertFalse(verify_batch(self.pub, other, sig))
        self.assertIn("batch", kinds, "no answer came with a batch proof")

    def test_http_code_answers_in_batch_mode(self):
        code = self.A.mint()
        ASKED.append(code)
        with self.d.http() as c:
            c.send(b"".join(h.HTTPClient.build("GET", self.query(
                "coverage", code, scheme="medical", at=AT, nonce="h%d" % i))
                for i in range(20)))
            rs = [c.read_response() for _ in range(20)]
        for i, r in enumerate(rs):
            self.assertEqual(r.status, 200, r)
            self.assertSigned(r.body, r.header("card-signature"))
            self.assertCode(r.body, "coverage", code, "ok", iss="platform-a",
                            rev=REV, nonce="h%d" % i)

    def test_auth_none_is_one_client(self):
        code = self.A.mint()
        self.good("http", None, code)
        self.good("resp", None, code)
        self.good("http", None, code, "coverage", scheme="medical")

    def test_zz_log_holds_no_code_text(self):
        self.assertAlive()
        self.assertEqual(log_leaks(self.d.stderr()), [])


# ------------------------------------------------------------- reloads

class CodeReloadTest(CodeBase):
    """SIGHUP adds and removes issuers: the codes of an added one become
    valid, those of a removed one code_invalid at their next use (cached
    or not), a bad issuer file refuses the reload, bindings stay."""

    A = Issuer("platform-a", ["a1", "a2"])
    B = Issuer("platform-b", ["b1"])

    @classmethod
    def issuers(cls):
        return {"platform-a": (cls.A, ["a1"])}

    def conf_issuers(self, *pairs):
        self.d.extra["code_issuer"] = "\ncode_issuer ".join(
            "%s %s" % p for p in pairs)

    def test_reloads(self):
        d = self.d
        a_path = d.dir / "issuer-platform-a.json"
        b_path = d.dir / "issuer-platform-b.json"
        long = {"lifetime": 110}
        code_a = self.A.mint(**long)
        self.good("http", "desk0", code_a)
        self.bad("resp", "desk2", code_a, "code_replayed")
        code_b = self.B.mint(**long)
        self.bad("http", "desk0", code_b, "code_invalid", iss="platform-b")

        # A bad file for B: the reload is refused, naming the file.
        bad = d.dir / "issuer-b-bad.json"
        jw = self.B.jwks()
        del jw["keys"][0]["kid"]
        bad.write_text(json.dumps(jw))
        self.conf_issuers(("platform-a", a_path), ("platform-b", bad))
        self.assertFalse(self.reload(), "a key without kid was accepted")
        refusal = [l for l in d.stderr().splitlines()
                   if "reload refused" in l][-1]
        self.assertIn("issuer-b-bad.json", refusal)
        self.good("http", "desk0", code_a)
        self.bad("http", "desk0", self.B.mint(), "code_invalid",
                 iss="platform-b")

        # B added: its codes are valid, the one asked before too.
        self.B.write(b_path)
        self.conf_issuers(("platform-a", a_path), ("platform-b", b_path))
        self.assertTrue(self.reload(), d.stderr()[-2000:])
        self.good("http", "desk0", code_b, iss="platform-b")
        self.bad("http", "desk2", code_b, "code_replayed", iss="platform-b")
        fresh_b = self.B.mint()
        self.good("resp", "desk2", fresh_b, iss="platform-b")
        # A's code, verified again, keeps its binding.
        self.good("http", "desk0", code_a)
        self.bad("http", "desk2", code_a, "code_replayed")

        # A's file read again with a new key only: a1's codes are gone.
        self.A.write(a_path, ["a2"])
        self.assertTrue(self.reload(), d.stderr()[-2000:])
        self.bad("http", "desk0", code_a, "code_invalid")
        self.good("http", "desk0", self.A.mint(kid="a2"))
        self.bad("resp", "desk0", self.A.mint(kid="a1"), "code_invalid")

        # A removed: its cached code is code_invalid at its next use.
        code_a2 = self.A.mint(kid="a2", **long)
        self.good("resp", "desk0", code_a2)
        self.conf_issuers(("platform-b", b_path))
        self.assertTrue(self.reload(), d.stderr()[-2000:])
        self.bad("resp", "desk0", code_a2, "code_invalid")
        self.bad("http", "desk0", code_a2, "code_invalid",
                 check="coverage", scheme="medical")
        self.bad("http", "desk2", self.A.mint(kid="a2"), "code_invalid")
        self.good("http", "desk0", code_b, iss="platform-b")
        self.good("http", "desk2", fresh_b, iss="platform-b")
        self.assertAlive()
        self.assertEqual(log_leaks(d.stderr()), [])


class CodeStartTest(unittest.TestCase):
    """A code_issuer file that cannot be read, or holds a key that is not
    an Ed25519 public key with a kid, refuses the start, naming the file;
    so does a bad disclose= list."""

    def refused(self, name, write, extra=None):
        d = h.Daemon(csv=CSV, name="codestart")
        try:
            path = d.dir / name
            if write is not None:
                path.write_text(write)
            d.extra["code_issuer"] = "platform-a %s" % path
            d.extra.update(extra or {})
            with self.assertRaises(RuntimeError) as cm:
                d.start()
            return str(cm.exception)
        finally:
            d.cleanup()

    def test_bad_issuer_files(self):
        iss = Issuer("platform-a", ["a1"])
        good = iss.jwks()
        x = good["keys"][0]["x"]
        cases = {
            "missing.json": None,
            "not-json.json": "{keys",
            "no-kid.json": json.dumps({"keys": [
                {"kty": "OKP", "crv": "Ed25519", "x": x}]}),
            "x25519.json": json.dumps({"keys": [
                {"kty": "OKP", "crv": "X25519", "x": x, "kid": "k"}]}),
            "ec.json": json.dumps({"keys": [
                {"kty": "EC", "crv": "P-256", "x": x, "y": x,
                 "kid": "k"}]}),
            "short-x.json": json.dumps({"keys": [
                {"kty": "OKP", "crv": "Ed25519", "x": x[:-2], "kid": "k"}]}),
        }
        for name, text in cases.items():
            with self.subTest(name):
                err = self.refused(name, text)
                self.assertIn(name, err)

    def test_bad_disclose(self):
        iss = Issuer("platform-a", ["a1"])
        d = h.Daemon(csv=CSV, name="codestart")
        try:
            path = iss.write(d.dir / "a.json")
            tok, opt = new_token()
            d.extra.update({"code_issuer": "platform-a %s" % path,
                            "auth": "required",
                            "client": "desk9 %s disclose=card,birth" % opt})
            with self.assertRaises(RuntimeError) as cm:
                d.start()
            self.assertIn("disclose", str(cm.exception))
        finally:
            d.cleanup()

    def test_good_file_starts(self):
        iss = Issuer("platform-a", ["a1"])
        d = h.Daemon(csv=CSV, name="codestart")
        try:
            path = iss.write(d.dir / "a.json")
            d.extra["code_issuer"] = "platform-a %s" % path
            d.start()
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
