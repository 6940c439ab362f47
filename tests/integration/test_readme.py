"""The README's examples run as written (issue: "tests prove the examples
in the README run as written").

Every ```sh block of README.md is either run here or listed in NOT_RUN
with the reason. The run ones go, byte for byte, to /bin/sh against the
daemon `make run` starts (tools/run.sh, the same demo data, key, issuer
and ports 8080/7070). So that those fixed ports are always free, all of
it happens in a network namespace of its own (unshare --net, loopback
only), in a scratch folder where build/, verifiers/ and the rest point
at this tree. Each block must exit 0, and a line that ends in a comment
naming a result or reason (`# valid`, `# permit_expired`) must have that
answer in the block's output.
"""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Headings whose sh blocks are not run, and why.
NOT_RUN = {
    "Quick start#0": "make run and make test themselves (this test runs "
                     "what make run starts; CI runs make test)",
    "Running it for real": "needs /etc/cardd, a Redis on 6379 and a "
                           "client token in the config: test_cardctl, "
                           "test_redis_sync and test_security cover these "
                           "commands",
    "Development": "the make targets; CI runs them",
}

# What a block's output must hold, beyond a zero exit.
MUST_SHOW = {
    "Asking#0": [b"Card-Signature: ", b'"results":['],
    "Asking#2": [b'"card":"000000000000"', b'"card":"000000000001"'],
    "Verifying an answer#0": [],
    # Both verifier libraries' CLIs, each saying genuine.
    "Verifying an answer#1": [b"genuine: detached JWS, alg EdDSA"],
    "Electronic card codes#0": [b'"code":"', b'"iss":"demo-card-platform"'],
    "FHIR#0": [b'"resourceType":"CoverageEligibilityResponse"',
               b'"resourceType":"CapabilityStatement"'],
}

RESULTS = {"valid", "invalid", "covered", "not_covered"}
REASONS = {"ok", "unknown_card", "holder_mismatch", "record_invalid",
           "card_suspended", "card_lost", "card_revoked",
           "permit_not_yet_valid", "permit_expired", "not_enrolled",
           "coverage_not_started", "coverage_lapsed", "region_not_covered"}


def sh_blocks(text):
    """[(key, code)]: key is 'Heading#n', n counting sh blocks under it."""
    out, heading, count = [], "", {}
    for m in re.finditer(r"^(#+ [^\n]*)$|^```sh\n(.*?)^```$", text,
                         re.M | re.S):
        if m.group(1):
            heading = m.group(1).lstrip("#").strip()
            continue
        n = count.get(heading, 0)
        count[heading] = n + 1
        out.append(("%s#%d" % (heading, n), m.group(2)))
    return out


def skipped(key):
    return key in NOT_RUN or key.split("#")[0] in NOT_RUN


DRIVER = r"""
set -u
ip link set lo up
sh tools/run.sh build > cardd.out 2>&1 &
pid=$!        # run.sh execs cardd
i=0
until curl -sf http://127.0.0.1:8080/readyz > /dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then echo "cardd not ready"; cat cardd.out; exit 3; fi
    sleep 0.1
done
for f in block-*.sh; do
    echo "=== $f"
    timeout 60 sh -e "$f" 2>&1
    rc=$?
    echo                # curl's output may not end its line
    echo "=== rc $rc"
done
kill $pid
wait $pid
exit 0
"""


class ReadmeExamplesTest(unittest.TestCase):

    def test_every_sh_block_is_run_or_explained(self):
        keys = [k for k, _ in sh_blocks(README.read_text())]
        self.assertGreater(len(keys), 8)
        for name in NOT_RUN:
            self.assertTrue(any(k == name or k.split("#")[0] == name
                                for k in keys),
                            "NOT_RUN names %r, which README lacks" % name)
        for name in MUST_SHOW:
            self.assertIn(name, keys)

    def test_examples_run_as_written(self):
        if shutil.which("unshare") is None:
            self.fail("this test needs unshare (util-linux) for its own "
                      "network namespace")
        # Not root: a user namespace maps us to root inside it.
        ns = ["unshare", "--net"] if os.geteuid() == 0 else \
            ["unshare", "--map-root-user", "--net"]
        build = pathlib.Path(os.environ.get("CARDD_BUILD", "build"))
        if not build.is_absolute():
            build = ROOT / build
        run = [(k, code) for k, code in sh_blocks(README.read_text())
               if not skipped(k)]
        self.assertGreaterEqual(len(run), 6)
        with tempfile.TemporaryDirectory(prefix="cardd-readme-") as tmp:
            t = pathlib.Path(tmp)
            for name in ("tools", "protocol", "verifiers", "conf", "tests"):
                if (ROOT / name).exists():
                    (t / name).symlink_to(ROOT / name)
            (t / "build").symlink_to(build)
            # python3 is Debian's, as on the machine the README is for.
            (t / "bin").mkdir()
            (t / "bin" / "python3").symlink_to("/usr/bin/python3")
            for i, (key, code) in enumerate(run):
                (t / ("block-%02d.sh" % i)).write_text(code)
            env = dict(os.environ, PATH="%s:%s" % (t / "bin",
                                                    os.environ["PATH"]))
            p = subprocess.run(ns + ["--", "sh", "-c", DRIVER], cwd=t,
                               env=env,
                               capture_output=True, timeout=300)
        out = p.stdout
        self.assertEqual(p.returncode, 0, out[-3000:] + p.stderr[-2000:])
        parts = re.split(rb"^=== (block-\d+\.sh)\n", out, flags=re.M)[1:]
        self.assertEqual(len(parts), 2 * len(run), out[-3000:])
        for i, (key, code) in enumerate(run):
            body = parts[2 * i + 1]
            with self.subTest(block=key):
                m = re.search(rb"^=== rc (\d+)$", body, re.M)
                self.assertIsNotNone(m, body[-2000:])
                self.assertEqual(m.group(1), b"0",
                                 "README block %s failed:\n%s\n---\n%s" %
                                 (key, code, body[-3000:].decode(
                                     errors="replace")))
                for want in MUST_SHOW.get(key, []):
                    self.assertIn(want, body, key)
                for word in re.findall(r"#\s*([a-z_]+)\s*$", code, re.M):
                    if word in RESULTS:
                        self.assertIn(b'"result":"%s"' % word.encode(),
                                      body, key)
                    elif word in REASONS:
                        self.assertIn(b'"reason":"%s"' % word.encode(),
                                      body, key)


if __name__ == "__main__":
    unittest.main()
