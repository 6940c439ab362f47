"""The FHIR R4 validator of tests/integration/fhir_check.py (FHIR.js and
HL7's R4 JSON schema, through tests/js/fhir_validate.js) can fail: valid
resources written here by hand pass, and each broken copy of them fails for
its own reason, so a test that relies on it means something. Needs no
cardd."""

import copy
import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests.integration import fhir_check

# CoverageEligibilityResponse as the $check endpoint might answer one.
RESPONSE = {
    "resourceType": "CoverageEligibilityResponse",
    "id": "chk-6222000000000001",
    "status": "active",
    "purpose": ["validation", "benefits"],
    "patient": {"reference": "Patient/6222000000000001",
                "display": "card 6222000000000001"},
    "created": "2025-06-15T09:30:00+08:00",
    "request": {"reference": "CoverageEligibilityRequest/req-1"},
    "outcome": "complete",
    "disposition": "card valid",
    "insurer": {"reference": "Organization/cardd",
                "display": "cardd eligibility service"},
    "insurance": [{
        "coverage": {"reference": "Coverage/6222000000000001-medical"},
        "inforce": True,
        "benefitPeriod": {"start": "2025-01-01", "end": "2025-12-31"},
        "item": [{
            "category": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/"
                          "ex-benefitcategory",
                "code": "1", "display": "Medical Care"}]},
            "excluded": False,
            "name": "medical",
        }, {
            "category": {"coding": [{"system": "urn:cardd:class",
                                     "code": "injury"}],
                         "text": "work injury"},
            "excluded": True,
        }],
    }],
    "error": [{"code": {"coding": [{"system": "urn:cardd:reason",
                                    "code": "region-mismatch",
                                    "display": "card of another region"}],
                        "text": "card of another region"}}],
}

OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "invalid",
               "details": {"coding": [{"system": "urn:cardd:reason",
                                       "code": "bad-request"}]},
               "diagnostics": "patient.identifier is missing",
               "expression": ["CoverageEligibilityRequest.patient"]}],
}

CAPABILITY = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "date": "2025-06-15",
    "publisher": "cardd",
    "kind": "instance",
    "software": {"name": "cardd"},
    "implementation": {"description": "cardd card-eligibility checks"},
    "fhirVersion": "4.0.1",
    "format": ["application/fhir+json", "json"],
    "rest": [{
        "mode": "server",
        "resource": [{
            "type": "CoverageEligibilityRequest",
            "operation": [{
                "name": "check",
                "definition": "urn:cardd:OperationDefinition/check"}],
        }],
    }],
}

REQUEST = {
    "resourceType": "CoverageEligibilityRequest",
    "status": "active",
    "purpose": ["validation"],
    "patient": {"identifier": {"system": "urn:cardd:card",
                               "value": "6222000000000001"}},
    "servicedDate": "2025-06-15",
    "created": "2025-06-15T09:29:59Z",
    "insurer": {"reference": "Organization/cardd"},
    "insurance": [{"coverage": {"reference": "Coverage/1"}}],
    "item": [{"category": {"coding": [{"system": "urn:cardd:class",
                                       "code": "medical"}]}}],
}


def broken(resource, change):
    """A deep copy of resource with change(copy) applied."""
    r = copy.deepcopy(resource)
    change(r)
    return r


# name -> (resource, a substring the validator's messages must hold)
INVALID = {
    "no outcome": (broken(RESPONSE, lambda r: r.pop("outcome")), "outcome"),
    "outcome done": (broken(RESPONSE, lambda r: r.update(outcome="done")),
                     'Code "done"'),
    "unknown member foo": (broken(RESPONSE, lambda r: r.update(foo=1)),
                           "foo"),
    "inforce a string": (
        broken(RESPONSE,
               lambda r: r["insurance"][0].update(inforce="yes")),
        "insurance[0].inforce"),
    "severity bad": (
        broken(OUTCOME, lambda r: r["issue"][0].update(severity="bad")),
        "issue[0].severity"),
    # Beyond the five: one of each kind the two checkers cover.
    "no insurer": (broken(RESPONSE, lambda r: r.pop("insurer")), "insurer"),
    "no status": (broken(RESPONSE, lambda r: r.pop("status")), "status"),
    "purpose code": (broken(RESPONSE, lambda r: r.update(purpose=["x"])),
                     "purpose[0]"),
    "excluded a string": (
        broken(RESPONSE,
               lambda r: r["insurance"][0]["item"][0].update(excluded="no")),
        "item[0].excluded"),
    "unknown nested member": (
        broken(RESPONSE,
               lambda r: r["error"][0]["code"]["coding"][0].update(bar=1)),
        "bar"),
    "created without time zone": (
        broken(RESPONSE,
               lambda r: r.update(created="2025-06-15T09:30:00")),
        "created is not a valid dateTime"),
    "bad id": (broken(RESPONSE, lambda r: r.update(id="chk 1")),
               "id is not a valid id"),
    "no issue": (broken(OUTCOME, lambda r: r.update(issue=[])), "issue"),
    "fhirVersion 9.9": (
        broken(CAPABILITY, lambda r: r.update(fhirVersion="9.9")),
        "fhirVersion"),
    "CapabilityStatement without kind": (
        broken(CAPABILITY, lambda r: r.pop("kind")), "kind"),
    "request without patient": (
        broken(REQUEST, lambda r: r.pop("patient")), "patient"),
    "unknown resourceType": ({"resourceType": "Eligibility"},
                             "unknown resourceType"),
    "not JSON": (b'{"resourceType":"OperationOutcome",', "not JSON"),
}

VALID = {
    "CoverageEligibilityResponse": RESPONSE,
    "OperationOutcome": OUTCOME,
    "CapabilityStatement": CAPABILITY,
    "CoverageEligibilityRequest": REQUEST,
    "CoverageEligibilityResponse as text":
        json.dumps(RESPONSE, indent=1).encode(),
}


class FhirValidator(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # All the examples in one node run.
        names = list(VALID) + list(INVALID)
        resources = list(VALID.values()) + [r for r, _ in INVALID.values()]
        cls.verdicts = dict(zip(names, fhir_check.validate(resources)))

    def test_valid_pass(self):
        for name in VALID:
            with self.subTest(name):
                ok, message = self.verdicts[name]
                self.assertTrue(ok, message)
                self.assertEqual(message, "")

    def test_broken_fail(self):
        for name, (_, expect) in INVALID.items():
            with self.subTest(name):
                ok, message = self.verdicts[name]
                self.assertFalse(ok, "%s passed" % name)
                self.assertIn(expect, message)

    def test_asserts(self):
        fhir_check.assert_valid(self, OUTCOME)
        msg = fhir_check.assert_invalid(self, INVALID["outcome done"][0],
                                        "outcome")
        self.assertIn("complete", msg)
        with self.assertRaises(AssertionError):
            fhir_check.assert_valid(self, INVALID["severity bad"][0])
        with self.assertRaises(AssertionError):
            fhir_check.assert_invalid(self, OUTCOME)
        with self.assertRaises(AssertionError):
            fhir_check.assert_invalid(self, INVALID["severity bad"][0],
                                      "no such message")

    def test_command_line(self):
        node = fhir_check.check_node()
        script = str(fhir_check.JS_SCRIPT)
        with tempfile.TemporaryDirectory() as d:
            good, bad, junk = (os.path.join(d, n)
                               for n in ("good", "bad", "junk"))
            for path, data in ((good, json.dumps(OUTCOME)),
                               (bad, json.dumps(INVALID["no outcome"][0])),
                               (junk, "[1,")):
                with open(path, "w") as f:
                    f.write(data)

            def run(*args, stdin=b""):
                return subprocess.run([node, script] + list(args),
                                      input=stdin, capture_output=True,
                                      timeout=fhir_check.NODE_TIMEOUT)
            r = run(good)
            self.assertEqual((r.returncode, r.stdout),
                             (0, b"ok " + good.encode() + b"\n"))
            r = run(good, bad)
            self.assertEqual(r.returncode, 1)
            lines = r.stdout.decode().splitlines()
            self.assertEqual(lines[0], "ok " + good)
            self.assertTrue(lines[1].startswith("invalid %s: " % bad), lines)
            r = run(bad, junk)
            self.assertEqual(r.returncode, 2)
            self.assertTrue(r.stdout.decode().splitlines()[1]
                            .startswith("error %s: " % junk))
            r = run("-", stdin=json.dumps(CAPABILITY).encode())
            self.assertEqual((r.returncode, r.stdout), (0, b"ok -\n"))
            r = run()
            self.assertEqual((r.returncode, r.stdout), (2, b""))
            self.assertIn(b"usage", r.stderr)

    def test_missing_node_modules_fails_loudly(self):
        with tempfile.TemporaryDirectory() as d, \
                mock.patch.object(fhir_check, "JS_DIR", Path(d)):
            with self.assertRaisesRegex(RuntimeError, "npm ci"):
                fhir_check.validate([OUTCOME])


if __name__ == "__main__":
    unittest.main()
