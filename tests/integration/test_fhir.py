"""FHIR R4 (PROTOCOL.md §12): POST /fhir/CoverageEligibilityRequest/$check
and GET /fhir/metadata. Every response (each reason of §2 through FHIR,
every error) is validated against the R4 definitions by validators that
are not ours (tests/js/fhir_validate.js through fhir_check), and the
statements it carries are checked as any statement is, after the body's
signature is verified (per-answer and batch mode)."""

import hashlib
import json
import time

from tests.integration import fhir_check, harness
from tests.integration import test_codes as tc
from tests.integration import test_batch_sign as tbs
from tests.integration.harness import AT
from tests.integration.test_semantics import CASES, CSV, C

PATH = "/fhir/CoverageEligibilityRequest/$check"
FHIR_JSON = [("Content-Type", "application/fhir+json")]
ROOT = "CoverageEligibilityRequest"


def request(card=None, system="urn:cardd:id:card", purpose=("validation",),
            schemes=(), birth=None, at=AT, region=None, ident="REQ-1",
            by_reference=True):
    """A CoverageEligibilityRequest as a HIS would send it."""
    pat = {"resourceType": "Patient", "id": "pat",
           "identifier": [{"system": "urn:passport", "value": "E1234567"},
                          {"system": system, "value": card}]}
    if birth:
        pat["birthDate"] = birth
    req = {"resourceType": ROOT, "status": "active",
           "purpose": list(purpose), "created": "2025-06-15",
           "insurer": {"display": "social security"}}
    if ident:
        req["identifier"] = [{"system": "urn:his:req", "value": ident}]
    if by_reference:
        req["contained"] = [pat]
        req["patient"] = {"reference": "#pat"}
    else:
        req["patient"] = {"identifier": {"system": system, "value": card}}
    if at:
        req["servicedDate"] = at
    if region:
        req["contained"] = req.get("contained", []) + [{
            "resourceType": "Location", "id": "loc",
            "identifier": [{"system": "urn:cardd:region", "value": region}]}]
        req["facility"] = {"reference": "#loc"}
    if schemes:
        req["item"] = [{"category": {"coding": [
            {"system": "urn:cardd:scheme", "code": s}]}} for s in schemes]
    return req


class FHIRTestCase(harness.DaemonTestCase):
    CSV = CSV

    def setUp(self):
        self.c = self.d.http()
        self.addCleanup(self.c.close)

    def post(self, body, headers=FHIR_JSON, path=PATH):
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return self.c.request("POST", path, headers, body)

    def verify(self, r):
        """The body's signature (a JWS, or a batch proof), then the
        statements it carries; returns (response, [statement])."""
        sig = r.header("card-signature")
        self.assertIsNotNone(sig, r)
        if "~" in sig:
            self.assertTrue(tbs.verify_batch(self.pub, r.body, sig), sig)
        else:
            self.assertTrue(harness.verify_cryptography(self.pub, r.body,
                                                        sig))
        res = json.loads(r.body)
        sts = [e["valueString"] for e in res["extension"]
               if e["url"] == "urn:cardd:fhir:statement"]
        return res, [json.loads(s) for s in sts]


class FHIRAnswersTest(FHIRTestCase):
    """Each reason of §2, asked the FHIR way, as the GET endpoints answer."""

    def ask_case(self, check, card, params):
        coverage = check == "coverage"
        return request(card, purpose=("benefits",) if coverage else
                       ("validation",), schemes=(params["scheme"],)
                       if coverage else (), birth=params.get("birth"),
                       at=params.get("at", AT), region=params.get("region"))

    def test_every_reason(self):
        bodies = []
        for name, check, card, params, reason, rev in CASES:
            with self.subTest(case=name):
                r = self.post(self.ask_case(check, card, params))
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.header("content-type"),
                                 "application/fhir+json")
                res, sts = self.verify(r)
                self.assertEqual(len(sts), 1)
                st = sts[0]
                self.assertEqual((st["check"], st["card"], st["reason"],
                                  st["rev"], st["at"]),
                                 (check, card, reason, rev,
                                  params.get("at", AT)))
                self.assertEqual(res["servicedDate"], st["at"])
                self.assertEqual(res["created"], st["issued_at"])
                self.check_outcome(res, st)
                bodies.append(r.body)
        for (name, *_), (ok, msg) in zip(CASES, fhir_check.validate(bodies)):
            with self.subTest(case=name):
                self.assertTrue(ok, msg)

    def check_outcome(self, res, st):
        ok = st["reason"] == "ok"
        ins = res["insurance"][0]
        card_level = st["reason"] not in ("ok", "not_enrolled",
                                          "coverage_not_started",
                                          "coverage_lapsed",
                                          "region_not_covered")
        self.assertEqual(ins["inforce"], not card_level, st)
        self.assertEqual(res["outcome"], "error" if st["reason"] in (
            "unknown_card", "holder_mismatch", "record_invalid") else
            "complete")
        self.assertEqual(res["patient"]["identifier"],
                         {"system": "urn:cardd:id:card", "value": st["card"]})
        self.assertEqual(res["request"]["identifier"]["value"], "REQ-1")
        if st["check"] == "coverage":
            self.assertEqual(ins["item"][0]["excluded"], not ok)
            self.assertEqual(ins["item"][0]["category"]["coding"][0]["code"],
                             st["scheme"])
        else:
            self.assertNotIn("item", ins)
        if ok:
            self.assertNotIn("error", res)
        else:
            self.assertEqual(res["error"][0]["code"]["coding"][0],
                             {"system": "urn:cardd:reason",
                              "code": st["reason"]})
            self.assertIn(st["reason"], res["disposition"])

    def test_validation_and_benefits_together(self):
        r = self.post(request(C["lapsed"], purpose=("validation", "benefits"),
                              schemes=("medical", "pension", "maternity"),
                              region="310000"))
        self.assertEqual(r.status, 200, r.body)
        res, sts = self.verify(r)
        self.assertEqual([(s["check"], s.get("scheme"), s["reason"])
                          for s in sts],
                         [("validity", None, "ok"),
                          ("coverage", "medical", "coverage_lapsed"),
                          ("coverage", "pension", "ok"),
                          ("coverage", "maternity", "not_enrolled")])
        self.assertEqual([s.get("region") for s in sts],
                         [None, "310000", "310000", "310000"])
        ins = res["insurance"][0]
        self.assertIs(ins["inforce"], True)
        self.assertEqual([i["excluded"] for i in ins["item"]],
                         [True, False, True])
        self.assertEqual(res["outcome"], "complete")
        self.assertEqual(res["purpose"], ["validation", "benefits"])
        self.assertEqual([e["code"]["coding"][0]["code"]
                          for e in res["error"]],
                         ["coverage_lapsed", "not_enrolled"])
        self.assertEqual(res["disposition"],
                         "validity: valid; item[0] (medical): not_covered, "
                         "coverage_lapsed; item[1] (pension): covered; "
                         "item[2] (maternity): not_covered, not_enrolled")
        fhir_check.assert_valid(self, r.body)

    def test_by_permit_identifier_and_default_date(self):
        r = self.post(request("WP" + C["ok"], system="urn:cardd:id:permit",
                              at=None, ident=None, by_reference=False))
        self.assertEqual(r.status, 200, r.body)
        res, sts = self.verify(r)
        self.assertEqual(sts[0]["permit"], "WP" + C["ok"])
        self.assertEqual(res["patient"]["identifier"]["system"],
                         "urn:cardd:id:permit")
        self.assertEqual(res["servicedDate"], sts[0]["at"])
        self.assertEqual(res["request"], {"display": "the request posted"})
        fhir_check.assert_valid(self, r.body)

    def test_statement_bytes_verify_with_cardctl(self):
        """The body is what cardctl verify checks, like a /v1/check body."""
        r = self.post(request(C["ok"], schemes=("medical",),
                              purpose=("benefits",)))
        body = self.d.dir / "fhir.json"
        body.write_bytes(r.body)
        jwks = self.d.dir / "jwks.json"
        jwks.write_bytes(self.d.jwks_bytes())
        p = harness.run([harness.CARDCTL, "verify", "--jwks", jwks,
                         "--statement", body, "--jws",
                         r.header("card-signature")])
        self.assertEqual(p.returncode, 0, p.stderr)
        body.write_bytes(r.body.replace(b'"excluded":false',
                                        b'"excluded":true'))
        p = harness.run([harness.CARDCTL, "verify", "--jwks", jwks,
                         "--statement", body, "--jws",
                         r.header("card-signature")])
        self.assertNotEqual(p.returncode, 0)

    def test_metadata(self):
        r = self.d.get("/fhir/metadata")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/fhir+json")
        cs = json.loads(r.body)
        self.assertEqual(cs["resourceType"], "CapabilityStatement")
        self.assertEqual(cs["fhirVersion"], "4.0.1")
        ops = cs["rest"][0]["resource"][0]
        self.assertEqual((ops["type"], ops["operation"][0]["name"]),
                         ("CoverageEligibilityRequest", "check"))
        fhir_check.assert_valid(self, r.body)

    def test_percent_encoded_operation(self):
        r = self.post(request(C["ok"]), path=PATH.replace("$", "%24"))
        self.assertEqual(r.status, 200, r.body)


class FHIRErrorsTest(FHIRTestCase):
    """Bad requests: an OperationOutcome naming the element at fault."""

    def cases(self):
        good = request(C["ok"], purpose=("benefits",), schemes=("medical",))

        def but(**change):
            r = json.loads(json.dumps(good))
            for k, v in change.items():
                if v is None:
                    r.pop(k, None)
                else:
                    r[k] = v
            return r

        no_ids = but()
        no_ids["contained"][0]["identifier"] = []
        foreign = but()
        foreign["contained"][0]["identifier"] = [
            {"system": "urn:passport", "value": "E1"}]
        bad_birth = but()
        bad_birth["contained"][0]["birthDate"] = "1990"
        bad_card = but()
        bad_card["contained"][0]["identifier"][1]["value"] = "12"
        many = but(item=[good["item"][0]] * 101)
        cat = lambda code: [{"category": {"coding": [
            {"system": "urn:cardd:scheme", "code": code}]}}]
        return [
            ("not JSON", "{nope", 400, "structure", None),
            ("duplicate member", '{"resourceType":"x","resourceType":"y"}',
             400, "structure", None),
            ("not a resource", {"purpose": ["validation"]}, 400, "structure",
             "resourceType"),
            ("an array", [1, 2], 400, "structure", "resourceType"),
            ("wrong resourceType", but(resourceType="Patient"), 400,
             "invalid", "resourceType"),
            ("no purpose", but(purpose=None), 400, "required",
             ROOT + ".purpose"),
            ("unknown purpose", but(purpose=["benefits", "bribe"]), 400,
             "code-invalid", ROOT + ".purpose[1]"),
            ("discovery", but(purpose=["discovery"]), 422, "not-supported",
             ROOT + ".purpose[0]"),
            ("no patient", but(patient=None), 400, "required",
             ROOT + ".patient"),
            ("external patient", but(patient={"reference": "Patient/1"}),
             422, "not-supported", ROOT + ".patient.reference"),
            ("no identifier", no_ids, 400, "required",
             ROOT + ".contained[0].identifier"),
            ("unknown identifier system", foreign, 422, "not-supported",
             ROOT + ".contained[0].identifier[0].system"),
            ("bad card number", bad_card, 400, "value", ROOT + ".patient"),
            ("bad birthDate", bad_birth, 400, "value", ROOT + ".patient"),
            ("bad servicedDate", but(servicedDate="2025-02-30"), 400,
             "value", ROOT + ".servicedDate"),
            ("servicedDate not a string", but(servicedDate=20250615), 400,
             "structure", ROOT + ".servicedDate"),
            ("servicedPeriod", but(servicedPeriod={"start": "2025-06-15"}),
             422, "not-supported", ROOT + ".servicedPeriod"),
            ("unknown scheme", but(item=cat("dental")), 422, "code-invalid",
             ROOT + ".item[0].category.coding[0].code"),
            ("item without category", but(item=[{}]), 400, "required",
             ROOT + ".item[0].category"),
            ("category of another system", but(item=[{"category": {
                "coding": [{"system": "urn:x", "code": "medical"}]}}]),
             422, "not-supported", ROOT + ".item[0].category"),
            ("benefits without items", but(item=None), 400, "required",
             ROOT + ".item"),
            ("items without benefits", but(purpose=["validation"]), 400,
             "invalid", ROOT + ".item"),
            ("too many items", many, 413, "too-costly", ROOT + ".item"),
            ("facility without region", but(facility={
                "reference": "Location/9"}), 422, "not-supported",
             ROOT + ".facility"),
            ("bad region", but(facility={"identifier": {
                "system": "urn:cardd:region", "value": "31"}}), 400, "value",
             ROOT + ".facility"),
        ]

    def test_each_error(self):
        bodies = []
        for name, body, status, code, expr in self.cases():
            with self.subTest(case=name):
                r = self.post(body)
                self.assertEqual(r.status, status, r.body)
                self.assertEqual(r.header("content-type"),
                                 "application/fhir+json")
                self.assertIsNone(r.header("card-signature"))
                oo = json.loads(r.body)
                self.assertEqual(oo["resourceType"], "OperationOutcome")
                issue = oo["issue"][0]
                self.assertEqual((issue["severity"], issue["code"]),
                                 ("error", code), issue)
                self.assertEqual(issue.get("expression"),
                                 [expr] if expr else None, issue)
                self.assertTrue(issue["diagnostics"])
                bodies.append(r.body)
        self.assertTrue(self.d.alive())
        for (name, *_), (ok, msg) in zip(self.cases(),
                                         fhir_check.validate(bodies)):
            with self.subTest(case=name):
                self.assertTrue(ok, msg)

    def test_wrong_content_type_and_method(self):
        r = self.post(request(C["ok"]), headers=[("Content-Type",
                                                   "text/plain")])
        self.assertEqual(r.status, 415)
        fhir_check.assert_valid(self, r.body)
        r = self.d.get(PATH)
        self.assertEqual(r.status, 405)
        self.assertEqual(json.loads(r.body)["issue"][0]["code"],
                         "not-supported")
        r = self.d.get("/fhir/Patient/1")
        self.assertEqual(r.status, 404)
        fhir_check.assert_valid(self, r.body)

    def test_unknown_card_is_an_answer_not_an_error(self):
        r = self.post(request(C["unknown"]))
        self.assertEqual(r.status, 200)
        res, sts = self.verify(r)
        self.assertEqual((res["outcome"], sts[0]["reason"]),
                         ("error", "unknown_card"))


class FHIRAuthTest(FHIRTestCase):
    """The same clients, grants and rate limits as the rest of the API."""

    CONFIG = {"auth": "required"}

    @classmethod
    def prepare(cls):
        p = harness.run([harness.CARDCTL, "token", "desk"])
        lines = dict(ln.split(": ", 1) for ln in
                     p.stdout.decode().splitlines())
        cls.token = lines["token"]
        p = harness.run([harness.CARDCTL, "token", "small"])
        small = dict(ln.split(": ", 1) for ln in
                     p.stdout.decode().splitlines())
        cls.small = small["token"]
        cls.d.extra["client"] = lines["config"].replace(
            "client ", "", 1).replace("allow=validity,coverage",
                                      "allow=validity") + "\nclient " + \
            small["config"].replace("client ", "", 1).replace(
                "rate=100", "rate=2 burst=2")

    def test_token_and_grants(self):
        body = request(C["ok"])
        r = self.post(body)
        self.assertEqual(r.status, 401)
        self.assertEqual(json.loads(r.body)["issue"][0]["code"], "login")
        fhir_check.assert_valid(self, r.body)
        auth = FHIR_JSON + [("Authorization", "Bearer " + self.token)]
        r = self.post(body, headers=auth)
        self.assertEqual(r.status, 200, r.body)
        r = self.post(request(C["ok"], purpose=("benefits",),
                              schemes=("medical",)), headers=auth)
        self.assertEqual(r.status, 403)
        self.assertEqual(json.loads(r.body)["issue"][0]["code"], "forbidden")
        r = self.d.get("/fhir/metadata")
        self.assertEqual(r.status, 200)

    def test_more_checks_than_the_burst_refused_once(self):
        """rate=2 burst=2: a request of 3 checks can never be paid, so it
        is a 413 that says so, not a 429 for ever; 2 checks pass."""
        auth = [("Authorization", "Bearer " + self.small)]
        three = {"checks": [{"check": "validity", "card": C["ok"]}] * 3}
        for _ in range(2):
            r = self.c.request("POST", "/v1/check", auth + [
                ("Content-Type", "application/json")], json.dumps(three))
            self.assertEqual(r.status, 413, r.body)
            self.assertEqual(json.loads(r.body)["detail"],
                             "a batch of 3 checks exceeds this client's "
                             "burst of 2: send at most 2 per request")
            time.sleep(1.1)
        r = self.post(request(C["ok"], purpose=("validation", "benefits"),
                              schemes=("medical", "pension")),
                      headers=FHIR_JSON + auth)
        self.assertEqual(r.status, 413, r.body)
        self.assertEqual(json.loads(r.body)["issue"][0]["code"],
                         "too-costly")
        fhir_check.assert_valid(self, r.body)
        r = self.post(request(C["ok"], purpose=("validation", "benefits"),
                              schemes=("medical",)),
                      headers=FHIR_JSON + auth)
        self.assertEqual(r.status, 200, r.body)

    def test_burst_below_one_refused(self):
        conf = self.d.dir / "small-burst.conf"
        conf.write_text(self.d.config_path.read_text() +
                        "client tiny cert=tiny rate=1 burst=0.5\n")
        p = harness.run([harness.CARDD, "-t", "-c", conf])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"small-burst.conf:", p.stderr)
        self.assertIn(b"burst= is at least 1", p.stderr)


class FHIRBatchSignTest(FHIRTestCase):
    """sign_mode batch: the body is a leaf of a signed tree."""

    CONFIG = {"sign_mode": "batch"}

    def test_pipelined_answers_carry_proofs(self):
        c = self.c
        reqs = [request(C["ok"], purpose=("validation", "benefits"),
                        schemes=("medical",), ident="R%d" % i)
                for i in range(20)]
        raw = b"".join(c.build("POST", PATH, FHIR_JSON,
                               json.dumps(q).encode()) for q in reqs)
        c.send(raw)
        proofs = 0
        for i in range(20):
            r = c.read_response()
            self.assertEqual(r.status, 200, r.body)
            res, sts = self.verify(r)
            self.assertEqual(res["request"]["identifier"]["value"],
                             "R%d" % i)
            proofs += "~" in r.header("card-signature")
        self.assertGreater(proofs, 0, "no answer was signed as a batch")


class FHIRCodeTest(tc.CodeBase):
    """A patient identified by an electronic card code (§10): the response
    names the code's hash, never the card behind it, and a code shown at
    a second desk is a replay."""

    A = tc.Issuer("platform-a", ["a1"])

    @classmethod
    def issuers(cls):
        return {"platform-a": (cls.A, None)}

    def ask(self, client, code, **kw):
        body = json.dumps(request(code, system="urn:cardd:id:code", **kw))
        with self.d.http() as c:
            return c.request("POST", PATH, self.auth_headers(client) +
                             FHIR_JSON, body)

    def test_code_answer_and_replay(self):
        code = self.A.mint()
        tc.ASKED.append(code)
        r = self.ask("desk0", code, purpose=("validation", "benefits"),
                     schemes=("medical",))
        self.assertEqual(r.status, 200, r.body)
        sig = r.header("card-signature")
        self.assertTrue(harness.verify_cryptography(self.pub, r.body, sig))
        res = json.loads(r.body)
        sts = [json.loads(e["valueString"]) for e in res["extension"]]
        digest = tc.b64url(hashlib.sha256(code.encode()).digest())
        self.assertEqual([(s["code"], s["iss"], s["reason"]) for s in sts],
                         [(digest, "platform-a", "ok")] * 2)
        for s in sts:
            self.assertNotIn("card", s)
        self.assertEqual(res["patient"]["identifier"],
                         {"system": "urn:cardd:id:code-hash",
                          "value": digest})
        self.assertNotIn(tc.CARD.encode(), r.body)
        self.assertEqual(res["outcome"], "complete")
        again = self.ask("desk2", code)
        res2 = json.loads(again.body)
        self.assertEqual(res2["outcome"], "error")
        self.assertEqual(res2["error"][0]["code"]["coding"][0]["code"],
                         "code_replayed")
        for ok, msg in fhir_check.validate([r.body, again.body]):
            self.assertTrue(ok, msg)
