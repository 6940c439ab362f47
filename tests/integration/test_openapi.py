"""protocol/openapi.json, the OpenAPI 3.1 document of the HTTP API, held
to three things:

- Redocly CLI (tests/js, pinned) lints it with tests/js/redocly.yaml
  (recommended): exit 0 and not one warning; a broken copy shows that the
  lint can fail.
- It agrees with the code: every route of daemon/http.c's table is a
  documented path and the other way round, the error codes of http.c and
  the reasons and schemes of protocol/stmt.c are its enums, its version
  is the Makefile's, its statement member order is PROTOCOL.md's, and
  every example in it validates against its own schema.
- It agrees with the daemon: a real cardd (on a real redis-server, one
  with auth required, one that is not ready yet and then stale) is asked
  every documented operation, HEAD and OPTIONS included, with good and
  bad requests; every answer's status must be documented for its path
  and method, its body must validate against the documented schema of
  its status and Content-Type (python3-jsonschema, Draft 2020-12, refs
  resolved in the whole document), its documented headers must be there
  and match, and it may carry no header the document does not name. The
  requests sent are held to the documented parameter and body schemas
  too, both ways: what the daemon answers 200 the schema accepts, what
  the schema rejects the daemon refuses. At the end every documented
  (path, method) must have been exercised and every reason seen in a
  validated statement.

GET /v1/openapi.json must serve the file byte for byte.
"""

import copy
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
import urllib.parse
from pathlib import Path

import jsonschema
from jsonschema import Draft202012Validator

from tests.integration import harness as h
from tests.integration import test_codes as tc
from tests.integration import test_fhir as tf
from tests.integration.harness import AT
from tests.integration.test_semantics import CASES, CSV, C

ROOT = h.ROOT
DOC_FILE = ROOT / "protocol" / "openapi.json"
REDOCLY = ROOT / "tests" / "js" / "node_modules" / ".bin" / "redocly"
REDOCLY_CONFIG = ROOT / "tests" / "js" / "redocly.yaml"
HTTP_C = ROOT / "daemon" / "http.c"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")
# Headers every answer has that OpenAPI does not describe per response:
# framing (Content-Type and Content-Length are the content's), Date,
# Server, and the hop-by-hop Connection.
PLAIN_HEADERS = {"server", "date", "content-type", "content-length",
                 "connection"}
ORIGIN = "https://desk.hospital.example"
FHIR_PATH = "/fhir/CoverageEligibilityRequest/$check"
ISSUER = "demo-card-platform"
CODE_CARD = C["ok"]         # active, medical 2025-01-01..2025-12-31


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("a member twice: %r" % keys)
    return dict(pairs)


DOC_BYTES = DOC_FILE.read_bytes()
DOC = json.loads(DOC_BYTES, object_pairs_hook=no_duplicates)
RESOLVER = jsonschema.RefResolver.from_schema(DOC)
FORMATS = jsonschema.FormatChecker()


def deref(node):
    """node with its $ref (chain) followed, within the document."""
    for _ in range(16):
        if not (isinstance(node, dict) and "$ref" in node):
            return node
        _, node = RESOLVER.resolve(node["$ref"])
    raise AssertionError("a $ref loop at %r" % node)


def schema_errors(instance, schema):
    v = Draft202012Validator(schema, resolver=RESOLVER,
                             format_checker=FORMATS)
    return ["%s at %s" % (e.message, "/".join(map(str, e.absolute_path)))
            for e in v.iter_errors(instance)]


def component(kind, name):
    return DOC["components"][kind][name]


STATEMENT = {"$ref": "#/components/schemas/Statement"}
STMT_ORDER = list(component("schemas", "Statement")["properties"])


def operations(doc=DOC):
    return {(p, m) for p, item in doc["paths"].items() for m in item
            if m in METHODS}


def header_value(text, schema):
    """A header's text as the instance its schema describes."""
    if deref(schema).get("type") == "integer":
        if not re.fullmatch(r"[0-9]+", text):
            raise AssertionError("not an integer header: %r" % text)
        return int(text)
    return text


def walk(node, path=()):
    """Every (path, dict) in the document."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def statement_pairs_errors(pairs):
    """What is wrong with one statement's (name, value) pairs beyond its
    schema: members the document does not know, or out of its order."""
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        return ["a member twice: %r" % names]
    unknown = [n for n in names if n not in STMT_ORDER]
    if unknown:
        return ["members not in the document's Statement: %r" % unknown]
    idx = [STMT_ORDER.index(n) for n in names]
    if idx != sorted(idx):
        return ["members out of the documented order: %r" % names]
    return []


# ------------------------------------------------------------------ lint

class LintTest(unittest.TestCase):
    """Redocly CLI's recommended rules, no warning left."""

    def lint(self, path):
        if not os.access(REDOCLY, os.X_OK):
            self.fail("%s is missing: run sh tools/deps.sh test (npm ci in "
                      "tests/js)" % REDOCLY)
        env = dict(os.environ, REDOCLY_TELEMETRY="off",
                   REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_COLOR="1")
        p = subprocess.run([str(REDOCLY), "lint", "--config",
                            str(REDOCLY_CONFIG), "--format", "json",
                            str(path)], capture_output=True, cwd=ROOT,
                           env=env, timeout=120)
        try:
            report = json.loads(p.stdout)
        except ValueError:
            self.fail("redocly printed no JSON report (exit %d):\n%s\n%s" % (
                p.returncode, p.stdout.decode()[-2000:],
                p.stderr.decode()[-2000:]))
        return p.returncode, report

    @staticmethod
    def summary(report):
        return "\n".join("%s %s: %s at %s" % (
            x.get("severity"), x.get("ruleId"), x.get("message"),
            x.get("location", [{}])[0].get("pointer"))
            for x in report.get("problems", []))

    def test_lint_clean(self):
        rc, report = self.lint(DOC_FILE)
        self.assertEqual(report.get("problems"), [], self.summary(report))
        self.assertEqual(report["totals"]["errors"], 0)
        self.assertEqual(report["totals"]["warnings"], 0)
        self.assertEqual(rc, 0, self.summary(report))

    def test_lint_rejects_broken_copies(self):
        """A $ref to a missing component is an error (exit 1); an example
        that breaks its schema is a warning, which test_lint_clean would
        not let through either."""
        bad_ref = copy.deepcopy(DOC)
        bad_ref["paths"]["/v1/validity"]["get"]["responses"]["200"][
            "content"]["application/json"]["schema"] = {
            "$ref": "#/components/schemas/NoSuchStatement"}
        bad_example = copy.deepcopy(DOC)
        exs = bad_example["paths"]["/v1/validity"]["get"]["responses"][
            "200"]["content"]["application/json"]["examples"]
        next(iter(exs.values()))["value"]["result"] = "covered"
        with tempfile.TemporaryDirectory(prefix="cardd-openapi-") as d:
            for name, doc, rule, fails in (
                    ("bad-ref.json", bad_ref, "no-unresolved-refs", True),
                    ("bad-example.json", bad_example,
                     "no-invalid-media-type-examples", False)):
                with self.subTest(copy=name):
                    path = Path(d) / name
                    path.write_text(json.dumps(doc, indent=2))
                    rc, report = self.lint(path)
                    rules = {x.get("ruleId") for x in report["problems"]}
                    self.assertIn(rule, rules, self.summary(report))
                    if fails:
                        self.assertNotEqual(rc, 0, self.summary(report))


# -------------------------------------------------- the document and code

class DocumentTest(unittest.TestCase):
    """The document against the code and PROTOCOL.md, no daemon."""

    def test_form(self):
        self.assertEqual(DOC["openapi"], "3.1.0")
        pretty = json.dumps(DOC, indent=2, ensure_ascii=False) + "\n"
        self.assertEqual(DOC_BYTES.decode("utf-8"), pretty,
                         "protocol/openapi.json is not JSON pretty-printed "
                         "with a 2-space indent and a final newline")
        self.assertEqual(DOC["servers"][0]["url"], "http://127.0.0.1:8080")
        for (path, method) in operations():
            op = DOC["paths"][path][method]
            for k in ("operationId", "summary", "description",
                      "responses"):
                self.assertTrue(op.get(k), "%s %s has no %s" % (
                    method, path, k))

    def test_version_is_the_daemons(self):
        m = re.search(r"^VERSION\s*=\s*(\S+)",
                      (ROOT / "Makefile").read_text(), re.M)
        self.assertIsNotNone(m, "no VERSION in the Makefile")
        self.assertEqual(DOC["info"]["version"], m.group(1))

    def test_paths_are_the_route_table(self):
        src = HTTP_C.read_text()
        m = re.search(r"http_routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
        self.assertIsNotNone(m, "no http_routes[] table in daemon/http.c")
        routes = re.findall(r'\{\s*"(/[^"]*)",\s*"([A-Z]+)",', m.group(1))
        self.assertGreaterEqual(len(routes), 9, routes)
        want = {}
        for path, method in routes:
            # /fhir/CoverageEligibilityRequest/%24check is the same
            # operation, spelled as a client may spell the $.
            methods = {"GET": {"get", "head", "options"},
                       "POST": {"post", "options"}}[method]
            want.setdefault(urllib.parse.unquote(path), set()).update(
                methods)
        got = {p: {m for m in item if m in METHODS}
               for p, item in DOC["paths"].items()}
        self.assertEqual(sorted(set(want) - set(got)), [],
                         "routes of daemon/http.c the document lacks")
        self.assertEqual(sorted(set(got) - set(want)), [],
                         "documented paths daemon/http.c does not route")
        for p in want:
            self.assertEqual(got[p], want[p], p)

    def test_error_codes_are_the_daemons(self):
        src = HTTP_C.read_text()
        m = re.search(r"codes\[ERR_COUNT\]\s*=\s*\{(.*?)\};", src, re.S)
        self.assertIsNotNone(m, "no error code table in daemon/http.c")
        codes = set(re.findall(r'"([a-z_]+)"', m.group(1)))
        refusals = set(re.findall(r'\\"error\\":\\"([a-z_]+)\\"', src))
        self.assertIn("overloaded", refusals)
        self.assertGreaterEqual(len(codes), 10, codes)
        enum = component("schemas", "Error")["properties"]["error"]["enum"]
        self.assertEqual(sorted(codes | refusals), sorted(enum))
        # ... and every code of PROTOCOL.md 5.4's table is one of them.
        proto = (ROOT / "protocol" / "PROTOCOL.md").read_text()
        sec = proto.split("### 5.4 Errors", 1)[1].split("###", 1)[0]
        listed = set(re.findall(r"^\| [0-9/]+ \| `([a-z_]+)` \|", sec, re.M))
        self.assertGreaterEqual(len(listed), 9, listed)
        self.assertEqual(sorted(listed - set(enum)), [])

    def test_enums_are_the_codecs(self):
        src = (ROOT / "protocol" / "stmt.c").read_text()

        def table(name):
            m = re.search(name + r"\[[A-Z_]+\]\s*=\s*\{(.*?)\};", src, re.S)
            self.assertIsNotNone(m, name)
            return re.findall(r'"([a-z_]+)"', m.group(1))
        self.assertEqual(component("schemas", "Reason")["enum"],
                         table("stmt_reasons"))
        self.assertEqual(component("schemas", "Scheme")["enum"],
                         table("stmt_schemes"))
        issues = set()
        for f in ("fhir_req.c", "fhir_resp.c", "http.c"):
            text = (ROOT / "daemon" / f).read_text()
            issues |= set(re.findall(r'fhir_fail\(e, [0-9]+, "([a-z-]+)"',
                                     text))
            issues |= set(re.findall(r'return "([a-z-]+)";', text)
                          if f == "fhir_resp.c" else [])
        oo = component("schemas", "OperationOutcome")
        enum = oo["properties"]["issue"]["items"]["properties"]["code"][
            "enum"]
        self.assertGreaterEqual(len(issues), 10, issues)
        self.assertEqual(sorted(issues), sorted(enum))

    def test_statement_order_is_protocols(self):
        proto = (ROOT / "protocol" / "PROTOCOL.md").read_text()
        # section 10: "So a code answer is, members in this order: ..."
        m = re.search(r"So a code answer is, members in this order:(.*?)"
                      r"each only when present", proto, re.S)
        self.assertIsNotNone(m, "PROTOCOL.md 10's member order not found")
        listed = re.findall(r"`([a-z_]+)`", m.group(1))
        self.assertGreaterEqual(len(listed), 18, listed)
        self.assertEqual(STMT_ORDER[:len(listed)], listed)
        # ... then the members section 3's table adds after replay.
        sec3 = proto.split("## 3. Statements", 1)[1].split("\n## ", 1)[0]
        rows = [n for line in sec3.splitlines() if line.startswith("| `")
                for n in re.findall(r"`([a-z_]+)`", line.split("|")[1])]
        self.assertIn("replay", rows)
        self.assertEqual(STMT_ORDER[len(listed):],
                         rows[rows.index("replay") + 1:])

    def test_every_example_validates(self):
        """A second opinion after Redocly's: each example against its
        schema with python3-jsonschema, statements in their order too."""
        seen = 0
        for where, node in walk(DOC):
            checks = []
            if "schema" in node and ("example" in node or
                                     "examples" in node):
                schema = node["schema"]
                if "example" in node:
                    checks.append(node["example"])
                for ex in (node.get("examples") or {}).values():
                    checks.append(deref(ex)["value"])
                is_header = "header" in "/".join(map(str, where)).lower() \
                    or where[:2] == ("components", "headers")
                if is_header and deref(schema).get("type") == "integer":
                    checks = [int(x) if isinstance(x, str) else x
                              for x in checks]
            elif where[:2] == ("components", "schemas") and \
                    len(where) == 3 and "examples" in node:
                schema = node
                checks = list(node["examples"])
            for value in checks:
                seen += 1
                with self.subTest(at="/".join(map(str, where))):
                    self.assertEqual(schema_errors(value, schema), [])
                    for pairs in self.statements_in(value, schema):
                        self.assertEqual(statement_pairs_errors(pairs), [])
        self.assertGreater(seen, 40)

    @staticmethod
    def statements_in(value, schema):
        """The statements an example holds, as ordered pairs."""
        ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
        name = ref.rsplit("/", 1)[-1]
        if name == "Statement":
            return [list(value.items())]
        if name == "BatchResponse":
            return [list(s.items()) for s in value["results"]]
        if name == "CoverageEligibilityResponse":
            return [json.loads(e["valueString"], object_pairs_hook=list)
                    for e in value["extension"]]
        return []

    def test_card_signature_pattern(self):
        schema = component("headers", "CardSignature")["schema"]
        pex = json.loads((ROOT / "tests/data/protocol_example.json")
                         .read_text())
        sm2 = json.loads((ROOT / "tests/data/sm2_example.json").read_text())
        good = [pex["jws"], sm2["jws"]] + list(sm2["batch"]["proofs"])
        self.assertEqual(sum("~" in g for g in good), 2)
        for g in good:
            self.assertEqual(schema_errors(g, schema), [], g)
        jws = pex["jws"]
        hdr, _, sig = jws.split(".")
        for bad in ("", jws + "~", jws + "~1~0~" + sig,
                    jws + "~2~0~", jws + "~2~01~" + sig,
                    hdr + "." + sig + "." + sig, hdr + "..",
                    jws + "~2~0~" + sig + "~x", jws.replace("..", ".=.")):
            self.assertNotEqual(schema_errors(bad, schema), [], bad)


# ------------------------------------------------------ against the daemon

def token_line(name, options):
    tok, opt = tc.new_token()
    return tok, "%s %s %s" % (name, opt, options)


class AgainstTheDaemonTest(unittest.TestCase):
    """Every documented operation asked of real daemons, every answer
    held to the document."""

    maxDiff = 6000

    @classmethod
    def setUpClass(cls):
        cls.covered = set()             # (path, method, status)
        cls.reasons = set()             # in validated statements
        cls.issuer = tc.Issuer(ISSUER, ["k1"])
        # The main daemon: cards in a real Redis, CORS for one origin, a
        # card-code issuer, auth none.
        cls.redis = h.RedisServer("redis-openapi")
        cls.addClassCleanup(cls.redis.cleanup)
        cls.redis.start()
        csv = Path(cls.redis.dir) / "cards.csv"
        csv.write_text(CSV)
        h.cardctl_import(csv, cls.redis.url)
        cls.main = cls.daemon("openapi", {
            "source": cls.redis.url, "cors_origins": ORIGIN})
        # auth required, a file source: tokens, grants, rates, disclosure
        # and local code bindings.
        cls.tok = {}
        lines = []
        for name, opts in (
                ("desk", "allow=validity,coverage,metrics rate=100000 "
                         "burst=100000 disclose=card,permit,until"),
                ("desk2", "allow=validity,coverage rate=100000 "
                          "burst=100000"),
                ("kiosk", "allow=validity rate=0.01 burst=2")):
            cls.tok[name], line = token_line(name, opts)
            lines.append(line)
        cls.auth = cls.daemon("openapi-auth", {
            "auth": "required", "client": "\nclient ".join(lines)},
            csv=CSV)
        # Not ready: its Redis is not there yet (then there, then gone).
        cls.cold_redis = h.RedisServer("redis-openapi-cold")
        cls.addClassCleanup(cls.cold_redis.cleanup)
        cls.cold_redis.port = h.free_port()
        cls.cold = cls.daemon("openapi-cold", {
            "source": cls.cold_redis.url, "max_staleness": "1"},
            wait_ready=False)

    @classmethod
    def daemon(cls, name, config, csv=None, wait_ready=True):
        d = h.Daemon(csv=csv, config=config, name=name)
        cls.addClassCleanup(cls.end, d)
        cls.issuer.write(d.dir / "issuer.json")
        d.extra["code_issuer"] = "%s issuer.json" % ISSUER
        d.start(wait_ready=wait_ready)
        if not wait_ready:
            def up():
                try:
                    return h.http_get(d.http_port, "/healthz").status == 200
                except (OSError, h.PeerClosed):
                    return False
            if not h.wait_for(up, 10, 0.05):
                raise RuntimeError("cardd %s did not listen:\n%s" % (
                    name, d.stderr()[-3000:]))
        keys = json.loads(h.http_get(d.http_port, "/v1/keys").body)["keys"]
        d.pub = h.b64url_decode(keys[0]["x"])
        return d

    @staticmethod
    def end(d):
        try:
            rc = d.stop()
            if rc != 0:
                raise AssertionError("cardd exited with %r:\n%s" % (
                    rc, d.stderr()[-3000:]))
            d.assert_clean_log()
        finally:
            d.cleanup()

    # ---------------------------------------------------------- checking

    def check(self, path, method, r, request_body=None):
        """r against the document's response for path, method and its
        status; records the operation as exercised. Returns the parsed
        body (None without one)."""
        ops = DOC["paths"].get(path)
        self.assertIsNotNone(ops, "%s is not a documented path" % path)
        op = ops.get(method)
        self.assertIsNotNone(op, "%s %s is not documented" % (method, path))
        responses = op["responses"]
        self.assertIn(str(r.status), responses,
                      "%s %s answered %d, which the document does not "
                      "say: %r" % (method.upper(), path, r.status, r))
        where = "%s %s %d" % (method.upper(), path, r.status)
        body = self.check_response(deref(responses[str(r.status)]), r,
                                   where, method == "head")
        if r.status == 200 and request_body is not None:
            schema = deref(op["requestBody"])["content"][
                r.request_ctype]["schema"]
            self.assertEqual(schema_errors(request_body, schema), [],
                             "the daemon answered 200 to a body its "
                             "schema refuses (%s)" % where)
        self.covered.add((path, method, r.status))
        return body

    def check_response(self, resp, r, where, head=False):
        """Headers and body of r against one response object."""
        documented = set()
        for name, hd in (resp.get("headers") or {}).items():
            hd = deref(hd)
            documented.add(name.lower())
            values = r.header_all(name)
            if hd.get("required"):
                self.assertTrue(values, "%s: no %s header: %r" % (
                    where, name, r))
            self.assertLessEqual(len(values), 1, "%s: %s twice" % (
                where, name))
            for v in values:
                self.assertEqual(schema_errors(header_value(
                    v, hd["schema"]), hd["schema"]), [],
                    "%s: header %s: %r" % (where, name, v))
        extra = sorted({k for k, _ in r.headers} - documented - PLAIN_HEADERS)
        self.assertEqual(extra, [], "%s: headers the document does not "
                                    "name for this answer" % where)
        content = resp.get("content")
        if head or not content:
            self.assertEqual(r.body, b"", "%s: a body where the document "
                                          "says none" % where)
            return None
        ctype = r.header("content-type")
        self.assertIn(ctype, content, "%s: Content-Type %r not documented"
                      % (where, ctype))
        if ctype.startswith("text/"):
            body = r.body.decode("utf-8")
        else:
            body = json.loads(r.body, object_pairs_hook=no_duplicates)
        self.assertEqual(schema_errors(body, content[ctype]["schema"]), [],
                         "%s: body %r" % (where, r.body[:600]))
        return body

    def statement(self, raw):
        """One statement's bytes: compact, members known and in order,
        valid as a Statement; returns it parsed."""
        if isinstance(raw, str):
            raw = raw.encode()
        self.assertNotRegex(raw, rb"\s", "statement is not compact")
        return self.statement_pairs(json.loads(raw, object_pairs_hook=list))

    def statement_pairs(self, pairs):
        self.assertEqual(statement_pairs_errors(pairs), [], pairs)
        st = dict(pairs)
        self.assertEqual(schema_errors(st, STATEMENT), [], st)
        self.reasons.add(st["reason"])
        return st

    def signed(self, r, d):
        sig = r.header("card-signature")
        self.assertTrue(h.verify_cryptography(d.pub, r.body, sig),
                        "Card-Signature does not verify over the body")

    def param_errors(self, path, method, name, value):
        """Why the document's schema of query parameter name refuses
        value (["unknown parameter"] when it has none)."""
        for p in DOC["paths"][path][method].get("parameters", []):
            p = deref(p)
            if p["in"] == "query" and p["name"] == name:
                return schema_errors(value, p["schema"])
        return ["unknown parameter"]

    # ------------------------------------------------------------ asking

    def ask(self, d, method, target, headers=(), body=None, ctype=None,
            conn=None):
        hdrs = list(headers)
        if ctype is not None:
            hdrs.append(("Content-Type", ctype))
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if conn is not None:
            r = conn.request(method, target, hdrs, body)
        else:
            with d.http() as c:
                r = c.request(method, target, hdrs, body)
        r.request_ctype = ctype
        return r

    def raw(self, d, data, head=False):
        """Send bytes as they are; the answer."""
        with d.http() as c:
            c.send(data)
            r = c.read_response(head=head)
        r.request_ctype = None
        return r

    def get_check(self, d, path, params, headers=(), want=200):
        """GET and HEAD of a check; the statement of the GET, parsed."""
        target = "%s?%s" % (path, urllib.parse.urlencode(params))
        r = self.ask(d, "GET", target, headers)
        self.assertEqual(r.status, want, r)
        body = self.check(path, "get", r)
        hr = self.ask(d, "HEAD", target, headers)
        self.assertEqual(hr.status, want, hr)
        self.check(path, "head", hr)
        if want != 200:
            return body
        self.signed(r, d)
        for name, value in params:
            self.assertEqual(self.param_errors(path, "get", name, value), [],
                             "the daemon answered 200 to %s=%r, which the "
                             "document refuses" % (name, value))
        return self.statement(r.body)

    # --------------------------------------------------------- the test

    def test_every_documented_operation(self):
        for part in (self.part_checks, self.part_codes, self.part_batch,
                     self.part_keys, self.part_health, self.part_fhir,
                     self.part_cors_and_methods, self.part_framing,
                     self.part_auth, self.part_not_ready,
                     self.part_openapi):
            with self.subTest(part=part.__name__):
                part()
        missing = sorted(operations() - {(p, m) for p, m, _ in
                                         self.covered})
        self.assertEqual(missing, [], "documented operations never "
                                      "answered as documented")
        self.assertEqual(sorted(set(component("schemas", "Reason")["enum"])
                                - self.reasons), [],
                         "reasons never seen in a validated statement")

    def part_checks(self):
        d = self.main
        for name, check, card, params, reason, rev in CASES:
            q = [("card", card)] + sorted(params.items())
            if "at" not in params:
                q.append(("at", AT))
            st = self.get_check(d, "/v1/" + check, q)
            self.assertEqual((st["reason"], st["rev"]), (reason, rev), name)
        # by permit, folded; a nonce; today (no at); an Origin let in
        st = self.get_check(d, "/v1/validity", [
            ("permit", "wp" + C["ok"]), ("at", AT), ("nonce", "q7Zx0nYp")])
        self.assertEqual((st["permit"], st["nonce"]), ("WP" + C["ok"],
                                                       "q7Zx0nYp"))
        st = self.get_check(d, "/v1/coverage", [
            ("card", C["letters"].lower()), ("scheme", "medical"),
            ("region", "310000")], headers=[("Origin", ORIGIN)])
        self.assertEqual(st["card"], C["letters"])
        # Bad requests, 400, each refused by the document too where a
        # schema can say so.
        v, cv = "/v1/validity", "/v1/coverage"
        ok = C["ok"]
        for path, q, doc_refuses in (
                (v, [("card", "12345")], "card"),
                (v, [("card", "1234-5678")], "card"),
                (v, [("card", "1" * 33)], "card"),
                (v, [("permit", "WP12-3456")], "permit"),
                (v, [("card", ok), ("at", "2026-02-30")], "at"),
                (v, [("card", ok), ("at", "2025-6-15")], "at"),
                (v, [("card", ok), ("birth", "1990-13-01")], "birth"),
                (v, [("card", ok), ("nonce", "a.b")], "nonce"),
                (v, [("card", ok), ("nonce", "n" * 65)], "nonce"),
                (v, [("card", ok), ("colour", "red")], "colour"),
                (v, [("code", "not-a-code")], "code"),
                (v, [("card", ok), ("card", ok)], None),
                (v, [("card", ok), ("permit", "WP" + ok)], None),
                (v, [("at", AT)], None),
                (v, [("card", ok), ("scheme", "medical")], "scheme"),
                (cv, [("card", ok)], None),
                (cv, [("card", ok), ("scheme", "dental")], "scheme"),
                (cv, [("card", ok), ("scheme", "medical"),
                      ("region", "31000")], "region"),
                (cv, [("card", ok), ("scheme", "medical"),
                      ("scheme", "pension")], None)):
            with self.subTest(path=path, query=q):
                err = self.get_check(d, path, q, want=400)
                self.assertEqual(err["error"], "bad_request")
                if doc_refuses:
                    value = dict(q)[doc_refuses]
                    self.assertNotEqual(self.param_errors(
                        path, "get", doc_refuses, value), [],
                        "the document accepts %s=%r, which the daemon "
                        "refuses" % (doc_refuses, value))

    def part_codes(self):
        """Card codes on the main daemon (bound in Redis) and on the
        auth daemon (bound locally: replay; disclosure; replayed)."""
        d, a = self.main, self.auth
        code = self.issuer.mint(sub=CODE_CARD)
        st = self.get_check(d, "/v1/validity", [("code", code), ("at", AT)])
        self.assertEqual((st["reason"], "card" in st), ("ok", False))
        st = self.get_check(d, "/v1/coverage", [
            ("code", code), ("scheme", "medical"), ("at", AT)])
        self.assertEqual(st["code"], tc.sha256_b64(code))
        st = self.get_check(d, "/v1/validity", [
            ("code", tc.flip_sig(self.issuer.mint(sub=CODE_CARD))),
            ("at", AT)])
        self.assertEqual(st["reason"], "code_invalid")
        old = int(time.time()) - 3600
        st = self.get_check(d, "/v1/validity", [
            ("code", self.issuer.mint(sub=CODE_CARD, iat=old)),
            ("at", AT)])
        self.assertEqual(st["reason"], "code_expired")
        # auth daemon: desk sees card, permit and until; the binding is
        # local; desk2 then gets code_replayed.
        code = self.issuer.mint(sub=CODE_CARD)
        desk = [("Authorization", "Bearer " + self.tok["desk"])]
        st = self.get_check(a, "/v1/coverage", [
            ("code", code), ("scheme", "medical"), ("at", AT)], desk)
        self.assertEqual((st["card"], st["permit"], st["until"],
                          st["replay"]), (CODE_CARD, "WP" + CODE_CARD,
                                          "2025-12-31", "local"), st)
        st = self.get_check(a, "/v1/validity", [("code", code), ("at", AT)],
                            [("Authorization",
                              "Bearer " + self.tok["desk2"])])
        self.assertEqual(st["reason"], "code_replayed")

    def batch_statements(self, body):
        pairs = json.loads(body, object_pairs_hook=list)
        self.assertEqual([k for k, _ in pairs], ["results"])
        return [self.statement_pairs(p) for p in pairs[0][1]]

    def post_batch(self, d, checks, want=200, headers=(), raw=None):
        body = raw if raw is not None else {"checks": checks}
        r = self.ask(d, "POST", "/v1/check", headers, body,
                     "application/json")
        self.assertEqual(r.status, want, r)
        parsed = self.check("/v1/check", "post", r,
                            request_body=None if raw is not None else body)
        if want == 200:
            self.signed(r, d)
            return self.batch_statements(r.body)
        return parsed

    def part_batch(self):
        d = self.main
        checks = []
        for name, check, card, params, reason, rev in CASES:
            c = {"check": check, "card": card}
            c.update(params)
            c.setdefault("at", AT)
            checks.append(c)
        checks.append({"check": "validity", "permit": "WP" + C["ok"],
                       "nonce": "abc"})
        sts = self.post_batch(d, checks)
        self.assertEqual([s["reason"] for s in sts],
                         [c[4] for c in CASES] + ["ok"])
        batch = component("schemas", "BatchRequest")
        for raw, doc_refuses in (
                (b"{", False),
                (b'{"checks":[]}', True),
                (b'{"checks":[{"card":"%s"}]}' % C["ok"].encode(), True),
                (b'{"checks":[{"check":"validity","card":"%s","colour":'
                 b'"red"}]}' % C["ok"].encode(), True),
                (b'{"checks":[{"check":"validity","card":1}]}', True),
                (b'{"checks":[{"check":"coverage","card":"%s"}]}'
                 % C["ok"].encode(), True),
                (b'{"checks":[{"check":"validity","code":"x.y"}]}', True)):
            with self.subTest(body=raw):
                err = self.post_batch(d, None, 400, raw=raw)
                self.assertEqual(err["error"], "bad_request")
                if doc_refuses:
                    self.assertNotEqual(schema_errors(json.loads(raw),
                                                      batch), [], raw)
        many = [{"check": "validity", "card": C["ok"]}] * 101
        err = self.post_batch(d, None, 413, raw=json.dumps({"checks": many}))
        self.assertEqual(err["error"], "too_large")
        self.assertNotEqual(schema_errors({"checks": many}, batch), [])

    def part_keys(self):
        d = self.main
        r = self.ask(d, "GET", "/v1/keys")
        self.assertEqual(r.status, 200)
        jwks = self.check("/v1/keys", "get", r)
        self.assertEqual(h.b64url_decode(jwks["keys"][0]["x"]), d.pub)
        etag = r.header("etag")
        hr = self.ask(d, "HEAD", "/v1/keys")
        self.check("/v1/keys", "head", hr)
        self.assertEqual(hr.header("etag"), etag)
        for inm in (etag, "*", 'W/"x", ' + etag):
            for m in ("GET", "HEAD"):
                r = self.ask(d, m, "/v1/keys", [("If-None-Match", inm)])
                self.assertEqual(r.status, 304, r)
                self.check("/v1/keys", m.lower(), r)
        r = self.ask(d, "GET", "/v1/keys", [("If-None-Match", '"stale"')])
        self.assertEqual(r.status, 200)
        self.check("/v1/keys", "get", r)

    def part_health(self):
        d = self.main
        for path in ("/healthz", "/readyz", "/fhir/metadata"):
            for m in ("GET", "HEAD"):
                r = self.ask(d, m, path, [("Origin", ORIGIN)])
                self.assertEqual(r.status, 200, r)
                body = self.check(path, m.lower(), r)
                if path == "/fhir/metadata" and body:
                    self.assertEqual(body["software"]["version"],
                                     DOC["info"]["version"])
        r = self.ask(d, "GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        h.parse_metrics(self.check("/metrics", "get", r))
        self.check("/metrics", "head", self.ask(d, "HEAD", "/metrics"))

    def post_fhir(self, d, body, want, headers=(), ctype="application/fhir+"
                  "json", path=FHIR_PATH):
        r = self.ask(d, "POST", path, headers, body, ctype)
        self.assertEqual(r.status, want, r)
        res = self.check(FHIR_PATH, "post", r, request_body=body
                         if isinstance(body, dict) else None)
        if want == 200:
            self.signed(r, d)
            for e in res["extension"]:
                self.statement(e["valueString"])
        return res

    def part_fhir(self):
        d = self.main
        for name, check, card, params, reason, rev in CASES[:12]:
            cov = check == "coverage"
            req = tf.request(card, purpose=("benefits",) if cov else
                             ("validation",), schemes=(params["scheme"],)
                             if cov else (), birth=params.get("birth"),
                             at=params.get("at", AT),
                             region=params.get("region"))
            self.post_fhir(d, req, 200)
        both = tf.request(C["lapsed"], purpose=("validation", "benefits"),
                          schemes=("medical", "pension"), region="310000",
                          birth="1990-01-01")
        self.post_fhir(d, both, 200, ctype="application/json")
        self.post_fhir(d, tf.request("WP" + C["ok"],
                                     system="urn:cardd:id:permit",
                                     by_reference=False), 200,
                       path="/fhir/CoverageEligibilityRequest/%24check")
        self.post_fhir(d, tf.request(self.issuer.mint(sub=CODE_CARD),
                                     system="urn:cardd:id:code"), 200)
        # errors: OperationOutcomes
        self.post_fhir(d, "{", 400)
        self.post_fhir(d, {"resourceType": "Patient"}, 400)
        self.post_fhir(d, dict(tf.request(C["ok"]), purpose=[]), 400)
        self.post_fhir(d, tf.request(C["ok"]), 415, ctype="text/plain")
        bad_scheme = tf.request(C["ok"], purpose=("benefits",),
                                schemes=("dental",))
        self.post_fhir(d, bad_scheme, 422)
        self.assertNotEqual(schema_errors(bad_scheme, component(
            "schemas", "CoverageEligibilityRequest")), [])
        period = tf.request(C["ok"], at=None)
        period["servicedPeriod"] = {"start": AT}
        self.post_fhir(d, period, 422)
        self.post_fhir(d, tf.request(C["ok"], purpose=("benefits",),
                                     schemes=("medical",) * 101), 413)

    def part_cors_and_methods(self):
        """OPTIONS everywhere: a preflight from the origin let in (200)
        and not (405); other methods get that 405 too; unknown paths
        404."""
        d = self.main
        for path in DOC["paths"]:
            pre = [("Origin", ORIGIN), ("Access-Control-Request-Method",
                                        "POST"),
                   ("Access-Control-Request-Headers", "authorization")]
            r = self.ask(d, "OPTIONS", path, pre)
            self.assertEqual(r.status, 200, r)
            self.check(path, "options", r)
            for hdrs in ([("Origin", "https://evil.example"),
                          ("Access-Control-Request-Method", "GET")],
                         [("Origin", ORIGIN)], []):
                r = self.ask(d, "OPTIONS", path, hdrs)
                self.assertEqual(r.status, 405, r)
                self.check(path, "options", r)
            documented = {m for m in DOC["paths"][path] if m in METHODS}
            for m in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                if m.lower() in documented:
                    continue
                r = self.ask(d, m, path, body=b"" if m != "GET" else None)
                self.assertEqual(r.status, 405, (m, path, r))
                self.check_response(deref(DOC["paths"][path]["options"][
                    "responses"]["405"]), r, "%s %s" % (m, path))
        for target, fhir in (("/nowhere", False), ("/v1/validity/", False),
                             ("/v1", False), ("/fhir/Patient", True)):
            r = self.ask(d, "GET", target)
            self.assertEqual(r.status, 404, r)
            self.assertEqual(schema_errors(
                json.loads(r.body), component("schemas", "OperationOutcome"
                                              if fhir else "Error")), [])
            self.assertEqual(r.header("cache-control"), "no-store")
            if fhir:
                self.assertEqual(r.header("content-type"),
                                 "application/fhir+json")
                self.assertEqual(json.loads(r.body)["issue"][0]["code"],
                                 "not-found")
            else:
                self.assertEqual(r.json()["error"], "not_found")

    def part_framing(self):
        """Errors of the framing layer: no Host, a bad Content-Length,
        411, a body too large, a head too large, transfer codings."""
        d = self.main
        r = self.raw(d, b"GET /healthz HTTP/1.1\r\n\r\n")
        self.assertEqual(r.status, 400, r)
        self.check("/healthz", "get", r)
        r = self.raw(d, b"HEAD /v1/keys HTTP/1.1\r\n\r\n", head=True)
        self.assertEqual(r.status, 400, r)
        self.check("/v1/keys", "head", r)
        # The rest of each POST's head (and body), and the status it gets.
        posts = ((b"Content-Type: application/json\r\n\r\n{}", 411),
                 (b"Content-Length: 1x\r\n\r\n", 400),
                 (b"Content-Length: 70000\r\n\r\n", 413),
                 (b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501))
        for path in ("/v1/check", FHIR_PATH):
            for rest, status in posts:
                r = self.raw(d, b"POST " + path.encode() +
                             b" HTTP/1.1\r\nHost: x\r\n" + rest)
                self.assertEqual(r.status, status, r)
                self.check(path, "post", r)
        r = self.raw(d, b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                     b"a" * 9000 + b"\r\n\r\n")
        self.assertEqual(r.status, 431, r)
        self.check("/readyz", "get", r)
        r = self.raw(d, b"GET /v1/validity?card=" + C["ok"].encode() +
                     b" HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n"
                     b"\r\n")
        self.assertEqual(r.status, 413, r)
        self.check("/v1/validity", "get", r)

    def part_auth(self):
        """auth required: 401 without or with bad credentials, 403 for
        what a client may not ask, 413 past its burst, 429 past its
        rate; as JSON Errors and as OperationOutcomes."""
        a = self.auth
        q = "/v1/validity?card=%s&at=%s" % (C["ok"], AT)
        kiosk = [("Authorization", "Bearer " + self.tok["kiosk"])]
        desk = [("Authorization", "Bearer " + self.tok["desk"])]
        for hdrs in ([], [("Authorization", "Basic ZGVzazpkZXNr")],
                     [("Authorization", "Bearer not-a-token")]):
            for m, path, target in (("GET", "/v1/validity", q),
                                    ("HEAD", "/v1/validity", q),
                                    ("GET", "/v1/coverage",
                                     "/v1/coverage?card=%s&scheme=medical"
                                     % C["ok"]),
                                    ("HEAD", "/v1/coverage",
                                     "/v1/coverage?card=%s&scheme=medical"
                                     % C["ok"]),
                                    ("GET", "/metrics", "/metrics"),
                                    ("HEAD", "/metrics", "/metrics")):
                r = self.ask(a, m, target, hdrs)
                self.assertEqual(r.status, 401, (hdrs, target, r))
                self.check(path, m.lower(), r)
            self.post_batch(a, [{"check": "validity", "card": C["ok"]}],
                            401, hdrs)
            self.post_fhir(a, tf.request(C["ok"]), 401, hdrs)
        # credentials never needed for these
        for path in ("/v1/keys", "/healthz", "/readyz", "/fhir/metadata"):
            r = self.ask(a, "GET", path)
            self.assertEqual(r.status, 200, r)
            self.check(path, "get", r)
        r = self.ask(a, "GET", "/metrics", desk)
        self.assertEqual(r.status, 200, r)
        self.check("/metrics", "get", r)
        # 403 and 413 cost kiosk nothing; then its two tokens, then 429.
        for m, path, target in (
                ("GET", "/v1/coverage", "/v1/coverage?card=%s&scheme="
                                        "medical" % C["ok"]),
                ("HEAD", "/v1/coverage", "/v1/coverage?card=%s&scheme="
                                         "medical" % C["ok"]),
                ("GET", "/metrics", "/metrics"),
                ("HEAD", "/metrics", "/metrics")):
            r = self.ask(a, m, target, kiosk)
            self.assertEqual(r.status, 403, r)
            self.check(path, m.lower(), r)
        self.post_batch(a, [{"check": "coverage", "card": C["ok"],
                             "scheme": "medical"}], 403, kiosk)
        self.post_fhir(a, tf.request(C["ok"], purpose=("benefits",),
                                     schemes=("medical",)), 403, kiosk)
        err = self.post_batch(a, [{"check": "validity", "card": C["ok"]}] *
                              3, 413, kiosk)
        self.assertIn("burst", err["detail"])
        self.post_fhir(a, tf.request(C["ok"], purpose=("validation",
                                                       "benefits"),
                                     schemes=("pension", "medical")),
                       403, kiosk)
        with a.http() as c:
            statuses = []
            for _ in range(6):
                r = self.ask(a, "GET", q, kiosk, conn=c)
                statuses.append(r.status)
                if r.status == 429:
                    break
            self.assertEqual(statuses[-1], 429, statuses)
            self.check("/v1/validity", "get", r)
            for m, path, target, body, ctype in (
                    ("HEAD", "/v1/validity", q, None, None),
                    ("POST", "/v1/check", "/v1/check",
                     {"checks": [{"check": "validity", "card": C["ok"]}]},
                     "application/json"),
                    ("POST", FHIR_PATH, FHIR_PATH, tf.request(C["ok"]),
                     "application/fhir+json")):
                r = self.ask(a, m, target, kiosk, body, ctype, conn=c)
                self.assertEqual(r.status, 429, (target, r))
                self.check(path, m.lower(), r)

    def part_not_ready(self):
        """503 not_ready before an index is loaded, then stale once the
        source is gone for longer than max_staleness."""
        d = self.cold
        q = "/v1/validity?card=%s&at=%s" % (C["ok"], AT)

        def refused(state):
            for m in ("GET", "HEAD"):
                r = self.ask(d, m, "/readyz")
                self.assertEqual(r.status, 503, r)
                body = self.check("/readyz", m.lower(), r)
                if body:
                    self.assertEqual(body["state"], state)
                r = self.ask(d, m, q)
                self.assertEqual(r.status, 503, r)
                body = self.check("/v1/validity", m.lower(), r)
                if body:
                    self.assertEqual(body["error"], state)
            err = self.post_batch(d, [{"check": "validity",
                                       "card": C["ok"]}], 503)
            self.assertEqual(err["error"], state)
            self.post_fhir(d, tf.request(C["ok"]), 503)
            r = self.ask(d, "GET", "/metrics")
            self.assertEqual(r.status, 200, r)
            self.check("/metrics", "get", r)
        refused("not_ready")
        self.assertEqual(self.ask(d, "GET", "/readyz").json()["synced_at"],
                         "")
        self.cold_redis.start()
        self.assertTrue(h.wait_for(lambda: self.ask(
            d, "GET", "/readyz").status == 200, 15, 0.05),
            d.stderr()[-2000:])
        self.cold_redis.kill()
        self.assertTrue(h.wait_for(lambda: self.ask(
            d, "GET", "/readyz").json()["state"] == "stale", 15, 0.05),
            d.stderr()[-2000:])
        refused("stale")

    def part_openapi(self):
        d = self.main
        path = "/v1/openapi.json"
        for m in ("GET", "HEAD"):
            r = self.ask(d, m, path)
            self.assertEqual(r.status, 200, r)
            self.check(path, m.lower(), r)
            etag = r.header("etag")
            r = self.ask(d, m, path, [("If-None-Match", etag)])
            self.assertEqual(r.status, 304, r)
            self.check(path, m.lower(), r)

    # ------------------------------------------------- the document served

    def test_openapi_json_is_this_file(self):
        r = self.ask(self.main, "GET", "/v1/openapi.json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/json")
        self.assertEqual(r.body, DOC_BYTES, "GET /v1/openapi.json is not "
                                            "protocol/openapi.json")
        self.assertEqual(r.header("etag"), '"%s"' % h.b64url(
            hashlib.sha256(DOC_BYTES).digest()))
        hr = self.ask(self.main, "HEAD", "/v1/openapi.json")
        self.assertEqual(hr.status, 200, hr)
        self.assertEqual(hr.header("content-length"), str(len(DOC_BYTES)))

    def test_at_zone_only_for_today(self):
        """at_zone: the zone of the date the server chose, never when the
        request said at (its doc: the statement schema's at_zone)."""
        d = self.main
        before = h.shanghai_today()
        st = self.get_check(d, "/v1/validity", [("card", C["ok"])])
        after = h.shanghai_today()
        self.assertIn(st["at"], (before, after))
        self.assertEqual(st.get("at_zone"), "Asia/Shanghai", st)
        self.assertEqual(list(st)[-1], "at_zone", st)
        sts = self.post_batch(d, [{"check": "validity", "card": C["ok"]},
                                  {"check": "validity", "card": C["ok"],
                                   "at": AT}])
        self.assertEqual(sts[0].get("at_zone"), "Asia/Shanghai", sts[0])
        self.assertNotIn("at_zone", sts[1])
        st = self.get_check(d, "/v1/validity", [("card", C["ok"]),
                                                ("at", AT)])
        self.assertNotIn("at_zone", st)


if __name__ == "__main__":
    unittest.main()
