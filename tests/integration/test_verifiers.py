"""The verifier libraries of verifiers/ (issue 16): verifiers/python/
cardd_verify.py, and verifiers/js (jose and sm-crypto, run by node), with
the same verdicts on

(a) every test vector of protocol/PROTOCOL.md, extracted from the markdown:
    §8 and §11.1 (read from their code blocks) and §4.4 (the blocks after
    `<!-- vector: NAME -->`), which must also be exactly what
    tests/integration/vectors_gen.py makes (SM2 signatures aside: they are
    random), and which `cardctl verify` accepts too;
(b) live answers of a real cardd in each of per-answer Ed25519, batch
    Ed25519, per-answer SM2 and batch SM2, over HTTP GET, POST /v1/check,
    FHIR, RESP and by electronic card code; in batch mode under pipelined
    and concurrent load, so that real proofs of trees of N >= 2 occur (and
    are asserted);
(c) tampering: one byte of the statement, of the path, of the signature, a
    wrong kid, an alg swapped, padded base64url, and every `must-fail`
    case of §4.4, refused by both, each for its own reason.

Both command lines are run too (exit 0 genuine, 1 not). node and
verifiers/js/node_modules are needed: without them the JavaScript tests
fail, saying to run `sh tools/deps.sh test`.
"""

import base64
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from cryptography.hazmat.primitives.serialization import \
    load_pem_private_key

from tests.integration import harness as h
from tests.integration import vectors_gen as vg

PY_FILE = h.ROOT / "verifiers" / "python" / "cardd_verify.py"
JS_DIR = h.ROOT / "verifiers" / "js"
NODE_TIMEOUT = 120

_spec = importlib.util.spec_from_file_location("cardd_verify", PY_FILE)
cv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cv)

# Reads JSON lines {statement (base64), signature, jwks, code}; writes one
# JSON line per input: the verdict of verifiers/js/index.js.
JS_RUNNER = r"""
import { verify } from %s
import { readFileSync } from 'node:fs'
const lines = readFileSync(0, 'utf8').split('\n').filter((l) => l !== '')
const out = []
for (const line of lines) {
  const item = JSON.parse(line)
  try {
    const v = await verify(Buffer.from(item.statement, 'base64'),
      item.signature, item.jwks, { code: item.code })
    out.push({ ok: true, kind: v.kind, alg: v.alg, kid: v.kid, n: v.n,
      index: v.index, root: v.root, hash: v.hash, document: v.document,
      statements: v.statements.length })
  } catch (e) {
    out.push({ ok: false, name: e.name, error: e.message })
  }
}
process.stdout.write(out.map((o) => JSON.stringify(o) + '\n').join(''))
"""


def node():
    """The node binary, failing (never skipping) when it or
    verifiers/js/node_modules is missing."""
    exe = shutil.which("node")
    if exe is None:
        raise AssertionError("node is missing: run sh tools/deps.sh test "
                             "(as root it installs nodejs and npm)")
    for pkg in ("jose", "sm-crypto"):
        if not (JS_DIR / "node_modules" / pkg / "package.json").is_file():
            raise AssertionError(
                "%s is missing from verifiers/js/node_modules: run "
                "sh tools/deps.sh test (npm ci in verifiers/js)" % pkg)
    return exe


def js_verify(items):
    """verifiers/js's verdicts for items (statement bytes, signature,
    jwks, code), in one node run."""
    exe = node()
    script = JS_RUNNER % json.dumps((JS_DIR / "index.js").as_uri())
    text = "".join(json.dumps({
        "statement": base64.b64encode(st).decode(), "signature": sig,
        "jwks": jwks if isinstance(jwks, dict) else json.loads(jwks),
        "code": code}) + "\n" for st, sig, jwks, code in items)
    r = subprocess.run([exe, "--input-type=module", "-e", script],
                       input=text.encode(), capture_output=True,
                       timeout=NODE_TIMEOUT, cwd=JS_DIR)
    if r.returncode != 0:
        raise AssertionError("node exited %d: %s" % (
            r.returncode, r.stderr.decode(errors="replace")[-3000:]))
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    if len(out) != len(items):
        raise AssertionError("node answered %d of %d" % (len(out),
                                                          len(items)))
    return out


def py_verify(st, sig, jwks, code=None):
    """The Python verifier's verdict, as the JS runner gives its own."""
    try:
        v = cv.verify(st, sig, jwks, code=code)
    except cv.VerifyError as e:
        return {"ok": False, "name": "VerifyError", "error": str(e)}
    return {"ok": True, "kind": v["kind"], "alg": v["alg"], "kid": v["kid"],
            "n": v.get("n"), "index": v.get("index"), "root": v.get("root"),
            "hash": v.get("hash"), "document": v["document"],
            "statements": len(v["statements"])}


def cardctl_verify(workdir, st, sig, jwks, code=None):
    """cardctl verify's exit status (0 valid, 1 not)."""
    jp, sp = workdir / "cc-jwks.json", workdir / "cc-statement"
    jp.write_bytes(jwks if isinstance(jwks, bytes) else
                   json.dumps(jwks).encode())
    sp.write_bytes(st)
    args = [h.CARDCTL, "verify", "--jwks", jp, "--statement", sp, "--jws",
            sig] + (["--code", code] if code else [])
    return h.run(args).returncode


# ---------------------------------------------------------------- tamper

def flip_byte(data):
    b = bytearray(data)
    b[len(b) // 2] ^= 0x01
    return bytes(b)


def flip_sig(sig):
    """One byte of the signature S changed (its first character)."""
    head, rest = sig.split("..", 1)
    return head + ".." + ("B" if rest[0] != "B" else "C") + rest[1:]


def flip_path(proof):
    head, path = proof.rsplit("~", 1)
    raw = bytearray(h.b64url_decode(path))
    raw[0] ^= 0x80
    return head + "~" + h.b64url(bytes(raw))


def swap_alg(sig):
    """The header's alg swapped (EdDSA <-> SM2), its kid kept."""
    hdr_b64, rest = sig.split("..", 1)
    hdr = json.loads(h.b64url_decode(hdr_b64))
    hdr["alg"] = "SM2" if hdr["alg"] == "EdDSA" else "EdDSA"
    return h.b64url(json.dumps(hdr, separators=(",", ":")).encode()) + \
        ".." + rest


def pad(sig):
    """Padded base64url: '=' on the path of a proof, else on S."""
    return sig + ("=" if "~" in sig else "==")


def renamed_kid(jwks):
    doc = json.loads(jwks) if isinstance(jwks, bytes) else json.loads(
        json.dumps(jwks))
    for k in doc["keys"]:
        k["kid"] = k["kid"][:-1] + ("A" if k["kid"][-1] != "A" else "B")
    return doc


def tampered(st, sig, jwks):
    """(what, statement, signature, jwks) that must all be refused."""
    out = [("statement byte", flip_byte(st), sig, jwks),
           ("signature byte", st, flip_sig(sig), jwks),
           ("wrong kid", st, sig, renamed_kid(jwks)),
           ("alg swapped", st, swap_alg(sig), jwks),
           ("padded base64url", st, pad(sig), jwks)]
    if "~" in sig:
        out.append(("path byte", st, flip_path(sig), jwks))
    return out


# ---------------------------------------------------- the document's vectors

def section(text, start):
    """The text from the heading line starting with `start` to the next
    heading of level 2."""
    at = text.index("\n" + start)
    end = text.find("\n## ", at + 1)
    return text[at:end if end >= 0 else len(text)]


def blocks(text):
    return re.findall(r"^```\n(.*?)\n```$", text, re.M | re.S)


def key_lines(block):
    return dict(re.findall(r"^(\w+)\s+=\s+(\S+)", block, re.M))


DETACHED = re.compile(r"[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+")


def prose_vectors(text):
    """§8's and §11.1's examples as vectors: {name: {...}}."""
    s8 = blocks(section(text, "## 8. "))
    k8 = key_lines(s8[0])
    st8 = [b for b in s8 if b.startswith('{"v":1')]
    jws8 = [b for b in s8 if DETACHED.fullmatch(b)]
    s11 = blocks(section(text, "### 11.1 "))
    k11 = key_lines(s11[0])
    st11 = [b for b in s11 if b.startswith('{"v":1')]
    jws11 = [b for b in s11 if DETACHED.fullmatch(b)]
    proofs = [b.split("\n") for b in s11 if "~" in b]
    tree = [b for b in s11 if b.startswith("leaf 0")]
    assert len(st8) == 1 and len(jws8) == 1, (st8, jws8)
    assert len(st11) == 2 and len(jws11) == 1 and len(proofs) == 1 and \
        len(tree) == 1, (st11, jws11, proofs, tree)
    return {
        "ed25519-answer": {"key": k8, "statement": st8[0],
                           "signature": jws8[0]},
        "sm2-answer": {"key": k11, "statement": st11[0],
                       "signature": jws11[0]},
        "sm2-batch-2": {"statements": st11, "proofs": proofs[0],
                        "leaves": re.findall(r"^leaf \d+ = (\S+)", tree[0],
                                             re.M),
                        "root": key_lines(tree[0])["root"]},
    }


# Each must-fail case, by the start of its why, and the words of the
# Python verifier's refusal that show it was refused for that reason.
MUST_FAIL_REASON = {
    "one byte of the statement": "signature over the statement does not",
    "the statement with a trailing newline": "does not match",
    "padded base64url signature": "padded base64url",
    "standard base64": "standard base64",
    "non-canonical": "not canonical",
    "the JWS with the payload": "middle (payload) part is not empty",
    "one byte of the signature": "does not match",
    "a kid the JWKS": "unknown kid",
    "alg swapped: SM2": "alg SM2 does not fit",
    "alg swapped: EdDSA": "alg EdDSA does not fit",
    "the statement names another kid": "names kid",
    "a root object presented": "root object, not an answer",
    "one byte of a proof's path": "over the root object",
    "a proof's path with one hash too many": "has 2 hashes; leaf 2 of a "
                                             "tree of 3 has 1",
    "a proof of the wrong leaf index": "over the root object",
    "N with a leading zero": "not a decimal number",
    "padded base64url path": "padded base64url",
    "a tree of N = 1": "at least 2 leaves",
    "an SM2-signed tree hashed with SHA-256": "SM2 signature over the root "
                                              "object",
    "an answer about another card code": "not about this card code",
    "the HTTP batch's JWS over one": "signature over the statement does "
                                     "not",
}

# cardctl verify reads a statement up to its first newline (its input is
# the two lines of cardctl check), so a trailing newline is not seen.
CARDCTL_ACCEPTS = ("the statement with a trailing newline",)


def reason_for(why):
    keys = [k for k in MUST_FAIL_REASON if why.startswith(k)]
    assert len(keys) == 1, "no single reason for must-fail case %r" % why
    return MUST_FAIL_REASON[keys[0]]


class VectorsTest(unittest.TestCase):
    """(a): PROTOCOL.md's vectors; no cardd."""

    maxDiff = 8000

    @classmethod
    def setUpClass(cls):
        cls.text = vg.PROTOCOL.read_text()
        cls.vectors = vg.extract(cls.text)
        cls.prose = prose_vectors(cls.text)
        cls.jwks = cls.vectors["jwks"]
        cls.work = Path(tempfile.mkdtemp(prefix="cardd-it-vectors-"))
        cls.addClassCleanup(shutil.rmtree, cls.work, True)

    def good(self):
        """(label, statement bytes, signature, code, expected) of every
        vector that must verify."""
        out = []
        p, v = self.prose, self.vectors
        for name in ("ed25519-answer", "sm2-answer"):
            alg = "EdDSA" if name.startswith("ed") else "SM2"
            out.append((name, p[name]["statement"].encode(),
                        p[name]["signature"], None,
                        {"kind": "jws", "alg": alg,
                         "kid": p[name]["key"]["kid"],
                         "document": "statement"}))
        for i, (st, pr) in enumerate(zip(p["sm2-batch-2"]["statements"],
                                         p["sm2-batch-2"]["proofs"])):
            out.append(("sm2-batch-2[%d]" % i, st.encode(), pr, None,
                        {"kind": "batch", "alg": "SM2", "n": 2, "index": i,
                         "hash": "SM3", "document": "statement"}))
        for name in ("ed25519-code-answer", "ed25519-http-batch"):
            x = v[name]
            out.append((name, x["statement"].encode(), x["signature"],
                        x.get("code"), {
                            "kind": "jws", "alg": x["alg"], "kid": x["kid"],
                            "document": "http-batch" if "http" in name
                            else "statement"}))
        for name in ("ed25519-batch", "sm2-batch"):
            x = v[name]
            for i, (st, pr) in enumerate(zip(x["statements"], x["proofs"])):
                out.append(("%s[%d]" % (name, i), st.encode(), pr, None, {
                    "kind": "batch", "alg": x["alg"], "kid": x["kid"],
                    "n": len(x["statements"]), "index": i,
                    "hash": x["hash"], "root": x["root"],
                    "document": "http-batch" if st.startswith('{"results"')
                    else "statement"}))
        self.assertEqual(len(out), 12)
        return out

    def must_fail(self):
        return self.vectors["must-fail"]["cases"]

    def test_vectors_are_what_the_generator_makes(self):
        made = vg.build(vg.known_sm2(self.text))
        self.assertEqual(sorted(self.vectors), sorted(made))
        for name in made:
            self.assertEqual(vg.strip_sm2(self.vectors[name]),
                             vg.strip_sm2(made[name]), name)
        # Every SM2 signature in them is one the generator could reuse, so
        # none was left over from other bytes.
        for name in ("sm2-batch",):
            self.assertEqual(self.vectors[name]["signature"],
                             made[name]["signature"])
        # The case list covers every case (and no case twice).
        whys = [c["why"] for c in self.must_fail()]
        self.assertEqual(len(whys), len(set(whys)))
        self.assertEqual(len(whys), len(MUST_FAIL_REASON))
        for why in whys:
            reason_for(why)

    def test_prose_examples_use_the_vector_keys(self):
        ed, sm = self.jwks["keys"]
        p = self.prose
        self.assertEqual(p["ed25519-answer"]["key"]["x"], ed["x"])
        self.assertEqual(p["ed25519-answer"]["key"]["kid"], ed["kid"])
        for m in ("x", "y", "kid"):
            self.assertEqual(p["sm2-answer"]["key"][m], sm[m])
        # §11.1's tree of two shares its leaves with sm2-batch, and its
        # root is that tree's left node.
        two = p["sm2-batch-2"]
        self.assertEqual(two["statements"],
                         self.vectors["sm2-batch"]["statements"][:2])
        self.assertEqual(two["leaves"],
                         self.vectors["sm2-batch"]["leaves"][:2])
        leaves = [h.b64url_decode(x) for x in two["leaves"]]
        self.assertEqual(h.b64url(vg.mth(leaves, vg.sm3)), two["root"])
        three = [h.b64url_decode(x)
                 for x in self.vectors["sm2-batch"]["leaves"]]
        self.assertEqual(h.b64url(vg.sm3(
            b"\x01" + vg.mth(leaves, vg.sm3) + three[2])),
            self.vectors["sm2-batch"]["root"])

    def check_verdict(self, label, got, want):
        self.assertTrue(got["ok"], "%s refused: %s" % (label,
                                                        got.get("error")))
        for k, v in want.items():
            self.assertEqual(got[k], v, "%s: %s" % (label, k))

    def test_python_verifies_every_vector(self):
        for label, st, sig, code, want in self.good():
            self.check_verdict(label, py_verify(st, sig, self.jwks, code),
                               want)

    def test_js_verifies_every_vector(self):
        good = self.good()
        for (label, _, _, _, want), got in zip(good, js_verify(
                [(st, sig, self.jwks, code)
                 for _, st, sig, code, _ in good])):
            self.check_verdict(label, got, want)

    def test_cardctl_verifies_every_vector(self):
        for label, st, sig, code, _ in self.good():
            self.assertEqual(cardctl_verify(self.work, st, sig, self.jwks,
                                            code), 0, label)

    def test_python_refuses_every_must_fail_case_for_its_reason(self):
        for c in self.must_fail():
            got = py_verify(c["statement"].encode(), c["signature"],
                            self.jwks, c.get("code"))
            self.assertFalse(got["ok"], c["why"])
            self.assertIn(reason_for(c["why"]), got["error"], c["why"])

    def test_js_refuses_every_must_fail_case_for_its_reason(self):
        cases = self.must_fail()
        for c, got in zip(cases, js_verify(
                [(c["statement"].encode(), c["signature"], self.jwks,
                  c.get("code")) for c in cases])):
            self.assertFalse(got["ok"], c["why"])
            self.assertEqual(got["name"], "VerifyError", got)
            self.assertIn(reason_for(c["why"]), got["error"], c["why"])

    def test_cardctl_refuses_the_must_fail_cases(self):
        checked = 0
        for c in self.must_fail():
            if c["why"].startswith(CARDCTL_ACCEPTS):
                continue
            self.assertEqual(cardctl_verify(
                self.work, c["statement"].encode(), c["signature"],
                self.jwks, c.get("code")), 1, c["why"])
            checked += 1
        self.assertEqual(checked, len(MUST_FAIL_REASON) -
                         len(CARDCTL_ACCEPTS))

    def test_each_must_fail_case_is_one_change_from_a_good_answer(self):
        # Undo the change and the answer verifies: the case fails for its
        # change alone, not for something else broken alongside.
        undo = {
            "one byte of the statement": lambda c: (
                c["statement"].replace("cOvered", "covered"),
                c["signature"]),
            "the statement with a trailing newline": lambda c: (
                c["statement"][:-1], c["signature"]),
            "padded base64url signature": lambda c: (
                c["statement"], c["signature"].rstrip("=")),
            "standard base64": lambda c: (
                c["statement"], c["signature"].replace("+", "-").replace(
                    "/", "_")),
            "padded base64url path": lambda c: (
                c["statement"], c["signature"].rstrip("=")),
            "N with a leading zero": lambda c: (
                c["statement"], c["signature"].replace("~03~", "~3~")),
            "an answer about another card code": lambda c: (
                c["statement"], c["signature"]),
        }
        for c in self.must_fail():
            for k, fix in undo.items():
                if c["why"].startswith(k):
                    st, sig = fix(c)
                    got = py_verify(st.encode(), sig, self.jwks)
                    self.assertTrue(got["ok"], (c["why"], got))

    def test_a_rev_past_2_53_is_read_exactly(self):
        # rev may be up to 10^19 - 1 (§7); JSON.parse would round it.
        signer = vg.Signer()
        kid = signer.ed_jwk["kid"]
        st = vg.s_permit(kid).replace('"rev":4', '"rev":9007199254740993')
        _, sig = signer.sign("EdDSA", kid, st.encode())
        body = '{"results":[%s,%s]}' % (st, vg.s_validity(kid))
        _, bsig = signer.sign("EdDSA", kid, body.encode())
        v = cv.verify(st.encode(), sig, self.jwks)
        self.assertEqual(v["statement"]["rev"], 9007199254740993)
        script = (
            "import { verify } from %s\n"
            "const [st, sig, body, bsig, jwks] = JSON.parse(process.argv[1])\n"
            "const a = await verify(Buffer.from(st), sig, jwks)\n"
            "const b = await verify(Buffer.from(body), bsig, jwks)\n"
            "console.log(typeof a.statement.rev, String(a.statement.rev),\n"
            "  b.statements.map((s) => typeof s.rev + ':' + s.rev).join())\n"
            % json.dumps((JS_DIR / "index.js").as_uri()))
        r = h.run([node(), "--input-type=module", "-e", script,
                   json.dumps([st, sig, body, bsig, self.jwks])], cwd=JS_DIR)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "bigint 9007199254740993 "
                         "bigint:9007199254740993,number:1\n")

    def test_the_clis(self):
        v = self.vectors["ed25519-code-answer"]
        jp = self.work / "jwks.json"
        jp.write_text(json.dumps(self.jwks))
        sp = self.work / "answer.json"
        sp.write_bytes(v["statement"].encode())
        exe = node()
        clis = [["/usr/bin/python3", str(PY_FILE)],
                [exe, str(JS_DIR / "cli.js")]]
        for cli in clis:
            r = h.run(cli + ["--jwks", jp, "--code", v["code"], sp,
                             v["signature"]])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout.decode(), r"^genuine: detached JWS, "
                             r"alg EdDSA, kid %s\n  coverage %s: covered "
                             r"\(ok\), at 2026-12-02\n$" % (
                                 re.escape(v["kid"]),
                                 re.escape(v["code_hash"])))
            r = h.run(cli + ["--jwks", jp, sp, flip_sig(v["signature"])])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(b"NOT GENUINE: the EdDSA signature over the "
                          b"statement does not match", r.stderr)
            sp.write_bytes(v["statement"].encode() + b"\n")
            r = h.run(cli + ["--jwks", jp, sp, v["signature"]])
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"ends with a newline", r.stderr)
            sp.write_bytes(v["statement"].encode())
            # A batch proof on standard input.
            b = self.vectors["sm2-batch"]
            r = h.run(cli + ["--jwks", jp, "-", b["proofs"][2]],
                      input=b["statements"][2].encode())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"batch proof (SM3 tree of 3, leaf 2), alg SM2",
                          r.stdout)
            r = h.run(cli + ["--jwks", jp, "-", b["proofs"][1]],
                      input=b["statements"][2].encode())
            self.assertEqual(r.returncode, 1, r.stdout)
            r = h.run(cli + [sp, v["signature"]])
            self.assertEqual(r.returncode, 2, r.stdout)


# ------------------------------------------------------------ live answers

CARDS = 3000
TODAY = "2026-11-28"
ISSUER = "demo-card-platform"
FHIR_PATH = "/fhir/CoverageEligibilityRequest/$check"


def fhir_request(card):
    return json.dumps({
        "resourceType": "CoverageEligibilityRequest", "status": "active",
        "purpose": ["validation", "benefits"], "created": TODAY,
        "insurer": {"display": "social security"}, "servicedDate": TODAY,
        "patient": {"identifier": {"system": "urn:cardd:id:card",
                                   "value": card}},
        "item": [{"category": {"coding": [{"system": "urn:cardd:scheme",
                                           "code": "medical"}]}}]}).encode()


class LiveBase:
    """(b) and (c) against one cardd: ALG and MODE say how it signs."""

    ALG = "ed25519"
    MODE = "per-answer"
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.d = h.Daemon(gen=(CARDS, 7, TODAY), name="verifiers-%s-%s" % (
            cls.ALG, cls.MODE), config={
                "sign_mode": cls.MODE, "sign_alg": cls.ALG,
                "code_issuer": "%s issuer.jwks" % ISSUER})
        cls.addClassCleanup(cls.d.cleanup)
        if cls.ALG == "sm2":
            cls.d.key_path.unlink()
            p = h.run([h.CARDCTL, "keygen", "--sm2", cls.d.key_path])
            assert p.returncode == 0, p.stderr
        ikey = cls.d.dir / "issuer.pem"
        p = h.run([h.CARDCTL, "keygen", ikey])
        assert p.returncode == 0, p.stderr
        (cls.d.dir / "issuer.jwks").write_bytes(p.stdout)
        cls.issuer_kid = json.loads(p.stdout)["keys"][0]["kid"]
        cls.issuer_key = load_pem_private_key(ikey.read_bytes(), None)
        cls.d.start()
        cls.jwks = cls.d.jwks_bytes()
        cls.kid = json.loads(cls.jwks)["keys"][0]["kid"]
        cls.answers = cls.collect()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        if rc != 0:
            raise AssertionError("cardd exited with %r:\n%s" % (
                rc, cls.d.stderr()[-3000:]))
        cls.d.assert_clean_log()

    # -- asking

    @classmethod
    def mint(cls, card):
        """An electronic card code for card, from the demo issuer."""
        now = int(time.time())
        hdr = json.dumps({"alg": "EdDSA", "kid": cls.issuer_kid,
                          "typ": "card-code+jwt"}, separators=(",", ":"))
        pl = json.dumps({"iss": ISSUER, "sub": card, "iat": now,
                         "exp": now + 60, "jti": h.b64url(
                             secrets.token_bytes(12))}, separators=(",", ":"))
        si = h.b64url(hdr.encode()) + "." + h.b64url(pl.encode())
        return si + "." + h.b64url(cls.issuer_key.sign(si.encode()))

    @classmethod
    def collect(cls):
        """{transport: [(statement, signature, code asked or None)]}: each
        transport pipelined (K requests in one write), then, in batch
        mode, all transports at once from threads of their own."""
        k = 24 if cls.MODE == "batch" else 3
        out = {t: [] for t in ("get", "post", "fhir", "resp", "code-get",
                               "code-post", "code-resp")}
        card = lambda i: "%012d" % (i % CARDS)     # noqa: E731
        json_ct = [("Content-Type", "application/json")]

        def http_burst(kind, reqs):
            """reqs: (method, target, headers, body, code)."""
            with cls.d.http() as c:
                c.send(b"".join(h.HTTPClient.build(*r[:4]) for r in reqs))
                for req in reqs:
                    r = c.read_response()
                    assert r.status == 200, r
                    out[kind].append((r.body, r.header("card-signature"),
                                      req[4]))

        def resp_burst(kind, cmds):
            """cmds: (arguments, code)."""
            with cls.d.resp() as c:
                c.send(b"".join(h.resp_encode(*a) for a, _ in cmds))
                for _, code in cmds:
                    rep = c.read_reply()
                    assert isinstance(rep, list), rep
                    out[kind].append((rep[0], rep[1].decode(), code))

        def checks(*items):
            return json.dumps({"checks": list(items)}).encode()

        def bursts():
            codes = [cls.mint(card(i)) for i in range(3 * k)]
            return [
                lambda: http_burst("get", [(
                    "GET", "/v1/coverage?card=%s&scheme=medical&nonce=n%d"
                    % (card(i), i), None, None, None) for i in range(k)]),
                lambda: http_burst("post", [(
                    "POST", "/v1/check", json_ct, checks(
                        {"check": "validity", "card": card(i)},
                        {"check": "coverage", "card": card(i + 1),
                         "scheme": "pension", "at": TODAY}), None)
                    for i in range(k)]),
                lambda: http_burst("fhir", [(
                    "POST", FHIR_PATH, [("Content-Type",
                                         "application/fhir+json")],
                    fhir_request(card(i)), None)
                    for i in range(max(3, k // 4))]),
                lambda: http_burst("code-get", [(
                    "GET", "/v1/validity?code=%s" % codes[i], None, None,
                    codes[i]) for i in range(k)]),
                lambda: http_burst("code-post", [(
                    "POST", "/v1/check", json_ct, checks(
                        {"check": "coverage", "code": codes[k + i],
                         "scheme": "medical"},
                        {"check": "validity", "card": card(i)}),
                    codes[k + i]) for i in range(k)]),
                lambda: resp_burst("resp", [(
                    ("VALIDITY", card(i), "NONCE", "r%d" % i), None)
                    for i in range(k)]),
                lambda: resp_burst("code-resp", [(
                    ("COVERAGE", codes[2 * k + i], "medical", "BYCODE"),
                    codes[2 * k + i]) for i in range(k)]),
            ]

        for b in bursts():          # each transport on its own
            b()
        if cls.MODE == "batch":     # and all at once
            errors = []

            def run(b):
                try:
                    b()
                except Exception as e:      # re-raised below
                    errors.append(e)
            ts = [threading.Thread(target=run, args=(b,)) for b in bursts()]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            if errors:
                raise errors[0]
        return out

    # -- the answers

    def all_answers(self):
        return [(kind, st, sig, code) for kind, xs in self.answers.items()
                for st, sig, code in xs]

    def test_answers_are_what_was_asked(self):
        for kind, xs in self.answers.items():
            self.assertGreater(len(xs), 0, kind)
            for st, sig, code in xs:
                doc = json.loads(st)
                if kind in ("post", "code-post"):
                    self.assertEqual(list(doc), ["results"])
                elif kind == "fhir":
                    self.assertEqual(doc["resourceType"],
                                     "CoverageEligibilityResponse")
                else:
                    self.assertEqual(doc["v"], 1)
                if code is not None:
                    sts = doc["results"] if "results" in doc else [doc]
                    self.assertIn(cv.code_hash(code),
                                  [s.get("code") for s in sts])

    def expect(self, kind, sig):
        """What a verifier must say of a genuine answer."""
        doc = {"post": "http-batch", "code-post": "http-batch",
               "fhir": "fhir"}.get(kind, "statement")
        alg = "SM2" if self.ALG == "sm2" else "EdDSA"
        want = {"ok": True, "alg": alg, "kid": self.kid, "document": doc,
                "kind": "batch" if "~" in sig else "jws"}
        if "~" in sig:
            want.update(n=int(sig.split("~")[1]),
                        index=int(sig.split("~")[2]),
                        hash="SM3" if alg == "SM2" else "SHA-256")
        return want

    def test_python_verifies_every_answer(self):
        for kind, st, sig, code in self.all_answers():
            got = py_verify(st, sig, self.jwks, code)
            for k, v in self.expect(kind, sig).items():
                self.assertEqual(got.get(k), v, (kind, k, got, st))

    def test_js_verifies_every_answer(self):
        items = self.all_answers()
        for (kind, st, sig, _), got in zip(items, js_verify(
                [(st, sig, self.jwks, code) for _, st, sig, code in items])):
            for k, v in self.expect(kind, sig).items():
                self.assertEqual(got.get(k), v, (kind, k, got, st))

    def test_the_mode_gives_its_kind_of_signature(self):
        for kind, xs in self.answers.items():
            proofs = [sig for _, sig, _ in xs if "~" in sig]
            if self.MODE == "per-answer":
                self.assertEqual(proofs, [], kind)
            else:
                # Real trees under load, over every transport.
                self.assertTrue(any(int(p.split("~")[1]) >= 2
                                    for p in proofs), kind)
        if self.MODE == "batch":
            ns = {int(sig.split("~")[1]) for _, _, sig, _ in
                  self.all_answers() if "~" in sig}
            self.assertTrue(any(n > 2 for n in ns), ns)

    def test_a_code_answer_is_about_its_code_only(self):
        kind, st, sig, code = next(a for a in self.all_answers()
                                   if a[0] == "code-resp")
        other = self.mint("000000000009")
        self.assertTrue(py_verify(st, sig, self.jwks, code)["ok"])
        got = [py_verify(st, sig, self.jwks, other)] + js_verify(
            [(st, sig, self.jwks, other), (st, sig, self.jwks, code)])
        self.assertFalse(got[0]["ok"])
        self.assertFalse(got[1]["ok"])
        self.assertIn("not about this card code", got[0]["error"])
        self.assertIn("not about this card code", got[1]["error"])
        self.assertTrue(got[2]["ok"], got[2])

    def tamper_cases(self):
        out = []
        for kind in ("get", "post", "resp", "code-resp"):
            # A proof when there is one (batch mode), else any answer.
            xs = self.answers[kind]
            st, sig, _ = next((x for x in xs if "~" in x[1]), xs[0])
            out += [(kind,) + t for t in tampered(st, sig, self.jwks)]
        return out

    def test_tampering_fails_in_both(self):
        cases = self.tamper_cases()
        if self.MODE == "batch":
            self.assertIn("path byte", [c[1] for c in cases])
        js = js_verify([(st, sig, jw, None) for _, _, st, sig, jw in cases])
        for (kind, what, st, sig, jw), got in zip(cases, js):
            py = py_verify(st, sig, jw)
            self.assertFalse(py["ok"], (kind, what))
            self.assertFalse(got["ok"], (kind, what))
            self.assertEqual(got["name"], "VerifyError", got)
            word = {"wrong kid": "unknown kid", "alg swapped": "does not fit",
                    "padded base64url": "padded base64url"}.get(what)
            if word:
                self.assertIn(word, py["error"], (kind, what))
                self.assertIn(word, got["error"], (kind, what))

    def test_the_clis_on_a_live_answer(self):
        st, sig, code = self.answers["code-get"][-1]
        jp, sp = self.d.dir / "keys.json", self.d.dir / "answer.json"
        jp.write_bytes(self.jwks)
        sp.write_bytes(st)
        for cli in (["/usr/bin/python3", str(PY_FILE)],
                    [node(), str(JS_DIR / "cli.js")]):
            r = h.run(cli + ["--jwks", jp, "--code", code, sp, sig])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(b"genuine: "), r.stdout)
            r = h.run(cli + ["--jwks", jp, sp, flip_sig(sig)])
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertTrue(r.stderr.startswith(b"NOT GENUINE: "), r.stderr)


class LiveEd25519PerAnswerTest(LiveBase, unittest.TestCase):
    ALG, MODE = "ed25519", "per-answer"


class LiveEd25519BatchTest(LiveBase, unittest.TestCase):
    ALG, MODE = "ed25519", "batch"


class LiveSM2PerAnswerTest(LiveBase, unittest.TestCase):
    ALG, MODE = "sm2", "per-answer"


class LiveSM2BatchTest(LiveBase, unittest.TestCase):
    ALG, MODE = "sm2", "batch"


if __name__ == "__main__":
    unittest.main()


# --------------------------------------------------- verifiers/README.md

README = h.ROOT / "verifiers" / "README.md"


def readme_blocks(lang):
    """[(heading, code)] of the README's fenced blocks in lang."""
    out, heading = [], ""
    for m in re.finditer(r"^(#+ [^\n]*)$|^```%s\n(.*?)^```$" % lang,
                         README.read_text(), re.M | re.S):
        if m.group(1):
            heading = m.group(1).lstrip("#").strip()
        else:
            out.append((heading, m.group(2)))
    return out


class ReadmeExamplesTest(unittest.TestCase):
    """The examples of verifiers/README.md run as written against a cardd
    set up as `make run` sets it up (demo issuer, auth none), its ports
    and paths put in place of make run's."""

    @classmethod
    def setUpClass(cls):
        cls.d = h.Daemon(gen=(1000, 1, h.shanghai_today()), name="readme",
                         config={"code_issuer": "%s issuer.jwks" % ISSUER})
        cls.addClassCleanup(cls.d.cleanup)
        p = h.run([h.CARDCTL, "keygen", cls.d.dir / "issuer.pem"])
        assert p.returncode == 0, p.stderr
        (cls.d.dir / "issuer.jwks").write_bytes(p.stdout)
        cls.d.start()
        cls.work = cls.d.dir / "readme"
        cls.work.mkdir()
        (cls.work / "verifiers").symlink_to(h.ROOT / "verifiers")
        (cls.work / "node_modules").mkdir()
        (cls.work / "node_modules" / "cardd-verify").symlink_to(JS_DIR)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def local(self, code):
        return (code.replace("127.0.0.1:8080", "127.0.0.1:%d" %
                             self.d.http_port)
                .replace("port=7070", "port=%d" % self.d.resp_port)
                .replace("run/issuer.pem", str(self.d.dir / "issuer.pem"))
                .replace("build/cardctl", str(h.CARDCTL)))

    def run_block(self, argv, name, code, **kw):
        path = self.work / name
        path.write_text(self.local(code))
        r = h.run(argv + [path], cwd=self.work, **kw)
        self.assertEqual(r.returncode, 0, (code, r.stdout, r.stderr))
        return r.stdout.decode()

    def test_python_examples(self):
        blocks = readme_blocks("python")
        self.assertEqual([b for b, _ in blocks], ["Python", "Python"])
        env = dict(os.environ, PYTHONPATH=str(PY_FILE.parent))
        out = self.run_block(["/usr/bin/python3"], "ex0.py", blocks[0][1],
                             env=env)
        self.assertRegex(out, r"^jws EdDSA 000000000000 (not_)?covered \w+\n"
                         r"000000000000 (in)?valid \w+\n000000000001 "
                         r"(in)?valid \w+\nrefused: the EdDSA signature "
                         r"over the statement does not match\n$")
        out = self.run_block(["/usr/bin/python3"], "ex1.py", blocks[1][1],
                             env=env)
        self.assertRegex(out, r"^jws (in)?valid\n$")

    def test_js_example(self):
        blocks = readme_blocks("js")
        self.assertEqual([b for b, _ in blocks], ["JavaScript"])
        out = self.run_block([node()], "example.mjs", blocks[0][1])
        self.assertRegex(out, r"^jws EdDSA 000000000000 (not_)?covered \w+\n"
                         r"000000000000 (in)?valid \w+\n000000000001 "
                         r"(in)?valid \w+\nrefused: the EdDSA signature "
                         r"over the statement does not match\n$")

    def test_card_code_example(self):
        blocks = [c for t, c in readme_blocks("sh") if t == "Card codes"]
        self.assertEqual(len(blocks), 1)
        node()
        env = dict(os.environ, PATH="/usr/bin:" + os.environ["PATH"])
        out = self.run_block(["/bin/sh", "-e"], "codes.sh", blocks[0],
                             env=env)
        lines = out.splitlines()
        self.assertEqual(len(lines), 4, out)
        self.assertEqual(lines[0], lines[2])    # both CLIs, one verdict
        self.assertEqual(lines[1], lines[3])
        self.assertRegex(lines[0], r"^genuine: detached JWS, alg EdDSA, ")
        self.assertRegex(lines[1], r"^  coverage [\w-]{43}: (not_)?covered ")
