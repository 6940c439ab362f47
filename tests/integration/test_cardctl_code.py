"""cardctl code: electronic card codes (PROTOCOL.md §10) checked with an
implementation that is not cardd's (python3-cryptography): the signature
holds for the issuer's public key, header and payload are the exact bytes
§10's worked example relies on, the default kid is the RFC 7638
thumbprint, a code is the same for the same inputs, bad arguments and
keys that are not Ed25519 are refused, and --qr draws a QR symbol before
the code line."""

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)

from tests.integration import harness
from tests.integration.harness import CARDCTL, ROOT, b64url, b64url_decode

RFC8037_KEY = ROOT / "tests/data/rfc8037-a1.pem"
# RFC 8037 A.1's public key, and its RFC 7638 thumbprint (RFC 8037 A.3).
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

EXAMPLE_ARGS = ("000000000001", "--key", RFC8037_KEY, "--iss",
                "demo-card-platform", "--iat", "1796198400", "--ttl", "60",
                "--jti", "Zm9yLXRoZS1leGFtcGxl")
EXAMPLE_HEADER = (b'{"alg":"EdDSA","kid":"' + RFC8037_KID.encode() +
                  b'","typ":"card-code+jwt"}')
EXAMPLE_PAYLOAD = (b'{"iss":"demo-card-platform","sub":"000000000001",'
                   b'"iat":1796198400,"exp":1796198460,'
                   b'"jti":"Zm9yLXRoZS1leGFtcGxl"}')

# Half blocks: (top light, bottom light) for each glyph --qr draws.
QR_GLYPHS = {" ": (0, 0), "\u2584": (0, 1), "\u2580": (1, 0),
             "\u2588": (1, 1)}
QR_MARGIN = 4


def thumbprint(pub_raw):
    """RFC 7638: SHA-256 of the canonical JWK, members sorted."""
    canon = json.dumps({"crv": "Ed25519", "kty": "OKP",
                        "x": b64url(pub_raw)}, separators=(",", ":"),
                       sort_keys=True)
    return b64url(hashlib.sha256(canon.encode("ascii")).digest())


def load_private(path):
    return serialization.load_pem_private_key(Path(path).read_bytes(),
                                              password=None)


def public_raw(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def split_code(code):
    """A compact JWS -> (header bytes, payload bytes, signature, input)."""
    parts = code.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError("not a compact JWS: %r" % code)
    return (b64url_decode(parts[0]), b64url_decode(parts[1]),
            b64url_decode(parts[2]),
            (parts[0] + "." + parts[1]).encode("ascii"))


def verifies(pub_raw, code):
    _, _, sig, signing_input = split_code(code)
    try:
        Ed25519PublicKey.from_public_bytes(pub_raw).verify(sig,
                                                           signing_input)
        return True
    except InvalidSignature:
        return False


def qr_modules(art):
    """The half-block drawing -> rows of modules (1 light, 0 dark)."""
    rows = []
    for line in art:
        pairs = [QR_GLYPHS[c] for c in line]
        rows.append([p[0] for p in pairs])
        rows.append([p[1] for p in pairs])
    return rows


class CardctlCodeTest(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        harness.check_binaries()
        cls.dir = Path(tempfile.mkdtemp(prefix="cardd-code-"))
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.key = cls.dir / "issuer.pem"
        cls.jwks = harness.keygen(cls.key)
        cls.pub = public_raw(load_private(cls.key))

    def cardctl(self, *args):
        p = harness.run([CARDCTL, "code"] + list(args))
        err = p.stderr.decode("utf-8", "replace")
        for mark in harness.SANITIZER_MARKS:
            self.assertNotIn(mark, err)
        return p

    def code(self, *args):
        """Run cardctl code; the one line it prints, without the newline."""
        p = self.cardctl(*args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        out = p.stdout.decode("ascii")
        self.assertTrue(out.endswith("\n") and out.count("\n") == 1, out)
        self.assertRegex(out, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\."
                         r"[A-Za-z0-9_-]{86}\n$")
        return out[:-1]

    def assertRefused(self, args, message):
        p = self.cardctl(*args)
        self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
        self.assertEqual(p.stdout, b"", args)
        self.assertIn(message, p.stderr.decode("utf-8", "replace"), args)

    def test_verifies_with_the_public_key(self):
        code = self.code("000000000000", "--key", self.key, "--iss", "demo")
        self.assertTrue(verifies(self.pub, code))
        # and the public key of keygen's JWKS, as cardd would read it
        x = b64url_decode(self.jwks["keys"][0]["x"])
        self.assertEqual(x, self.pub)
        self.assertTrue(verifies(x, code))
        # not for another key, nor with a byte of the payload changed
        other = public_raw(Ed25519PrivateKey.generate())
        self.assertFalse(verifies(other, code))
        h, p, s = code.split(".")
        bad = b64url(b64url_decode(p).replace(b'"demo"', b'"demO"'))
        self.assertFalse(verifies(self.pub, ".".join((h, bad, s))))

    def test_exact_bytes(self):
        code = self.code("WP0000007919", "--key", self.key, "--iss",
                         "pharma.app_2-x", "--iat", "1700000000", "--ttl",
                         "90", "--jti", "abcdEFGH-_12", "--kid", "issuer-1")
        hdr, pay, _, _ = split_code(code)
        self.assertEqual(hdr, b'{"alg":"EdDSA","kid":"issuer-1",'
                         b'"typ":"card-code+jwt"}')
        self.assertEqual(pay, b'{"iss":"pharma.app_2-x","sub":"WP0000007919",'
                         b'"iat":1700000000,"exp":1700000090,'
                         b'"jti":"abcdEFGH-_12"}')
        claims = json.loads(pay)
        self.assertEqual(list(claims), ["iss", "sub", "iat", "exp", "jti"])
        self.assertEqual(claims["exp"] - claims["iat"], 90)
        self.assertTrue(verifies(self.pub, code))

    def test_worked_example(self):
        """The RFC 8037 A.1 key, as PROTOCOL.md's worked example uses it;
        Python signs the same input and gets the same signature."""
        key = load_private(RFC8037_KEY)
        self.assertEqual(b64url(public_raw(key)), RFC8037_X)
        self.assertEqual(thumbprint(public_raw(key)), RFC8037_KID)
        code = self.code(*EXAMPLE_ARGS)
        hdr, pay, sig, signing_input = split_code(code)
        self.assertEqual(hdr, EXAMPLE_HEADER)
        self.assertEqual(pay, EXAMPLE_PAYLOAD)
        self.assertEqual(signing_input, (b64url(EXAMPLE_HEADER) + "." +
                                         b64url(EXAMPLE_PAYLOAD)).encode())
        self.assertEqual(sig, key.sign(signing_input))
        self.assertTrue(verifies(public_raw(key), code))

    def test_default_kid_is_the_thumbprint(self):
        code = self.code("000000000000", "--key", self.key, "--iss", "demo")
        hdr = json.loads(split_code(code)[0])
        self.assertEqual(hdr["kid"], thumbprint(self.pub))
        self.assertEqual(hdr["kid"], self.jwks["keys"][0]["kid"])
        self.assertEqual(hdr["alg"], "EdDSA")
        self.assertEqual(hdr["typ"], "card-code+jwt")
        # a key made by openssl, not by cardctl, the same way
        pem = self.dir / "openssl-ed25519.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                        "-out", pem], check=True, capture_output=True,
                       timeout=30)
        pub = public_raw(load_private(pem))
        code = self.code("000000000000", "--key", pem, "--iss", "demo")
        self.assertEqual(json.loads(split_code(code)[0])["kid"],
                         thumbprint(pub))
        self.assertTrue(verifies(pub, code))

    def test_exp_is_iat_plus_ttl(self):
        for ttl, want in ((None, 60), ("1", 1), ("60", 60), ("86400", 86400)):
            with self.subTest(ttl=ttl):
                args = ["000000000000", "--key", self.key, "--iss", "demo",
                        "--iat", "1796198400"]
                if ttl is not None:
                    args += ["--ttl", ttl]
                claims = json.loads(split_code(self.code(*args))[1])
                self.assertEqual(claims["iat"], 1796198400)
                self.assertEqual(claims["exp"], 1796198400 + want)

    def test_default_iat_and_jti(self):
        before = int(time.time())
        a = json.loads(split_code(self.code("000000000000", "--key",
                                            self.key, "--iss", "demo"))[1])
        b = json.loads(split_code(self.code("000000000000", "--key",
                                            self.key, "--iss", "demo"))[1])
        after = int(time.time())
        for claims in (a, b):
            self.assertTrue(before <= claims["iat"] <= after, claims)
            self.assertEqual(claims["exp"], claims["iat"] + 60)
            self.assertRegex(claims["jti"], r"^[A-Za-z0-9_-]{22}$")
            self.assertEqual(len(b64url_decode(claims["jti"])), 16)
        self.assertNotEqual(a["jti"], b["jti"])

    def test_deterministic(self):
        args = ("000000000000", "--key", self.key, "--iss", "demo", "--iat",
                "1796198400", "--jti", "Zm9yLXRoZS1leGFtcGxl")
        first = self.cardctl(*args)
        self.assertEqual(first.returncode, 0, first.stderr)
        for _ in range(3):
            self.assertEqual(self.cardctl(*args).stdout, first.stdout)
        self.assertEqual(self.code(*EXAMPLE_ARGS), self.code(*EXAMPLE_ARGS))

    def test_lowercase_card_folded(self):
        code = self.code("wp00abc123", "--key", self.key, "--iss", "demo",
                         "--iat", "1796198400", "--jti", "abcdefgh")
        self.assertEqual(json.loads(split_code(code)[1])["sub"],
                         "WP00ABC123")
        upper = self.code("WP00ABC123", "--key", self.key, "--iss", "demo",
                          "--iat", "1796198400", "--jti", "abcdefgh")
        self.assertEqual(code, upper)

    def test_bad_arguments(self):
        k = ("--key", self.key)
        i = ("--iss", "demo")
        cases = [
            (("12345",) + k + i, "CARD must be"),
            (("0" * 33,) + k + i, "CARD must be"),
            (("0000-0000000",) + k + i, "CARD must be"),
            (("00000000000\u00e9",) + k + i, "CARD must be"),
            (("000000000000",) + k + ("--iss", ""), "--iss must be"),
            (("000000000000",) + k + ("--iss", "has space"), "--iss must be"),
            (("000000000000",) + k + ("--iss", "a" * 65), "--iss must be"),
            (("000000000000",) + k + ("--iss", 'x"y'), "--iss must be"),
            (("000000000000",) + k + ("--iss", "caf\u00e9"), "--iss must be"),
            (("000000000000",) + k + i + ("--ttl", "0"), "--ttl must be"),
            (("000000000000",) + k + i + ("--ttl", "86401"), "--ttl must be"),
            (("000000000000",) + k + i + ("--ttl", "-1"), "--ttl must be"),
            (("000000000000",) + k + i + ("--ttl", "60s"), "--ttl must be"),
            (("000000000000",) + k + i + ("--ttl", ""), "--ttl must be"),
            (("000000000000",) + k + i + ("--ttl", "9" * 30),
             "--ttl must be"),
            (("000000000000",) + k + i + ("--jti", "short"), "--jti must be"),
            (("000000000000",) + k + i + ("--jti", "a" * 65),
             "--jti must be"),
            (("000000000000",) + k + i + ("--jti", "abcd+efg"),
             "--jti must be"),
            (("000000000000",) + k + i + ("--jti", "abcdefg="),
             "--jti must be"),
            (("000000000000",) + k + i + ("--iat", "-5"), "--iat must be"),
            (("000000000000",) + k + i + ("--iat", "soon"), "--iat must be"),
            (("000000000000",) + k + i + ("--iat", "9" * 20),
             "--iat must be"),
            (("000000000000",) + k + i + ("--kid", 'a"b'), "--kid must be"),
            (("000000000000",) + k + i + ("--kid", ""), "--kid must be"),
            (("000000000000",) + i, "--key ISSUER.pem is needed"),
            (("000000000000",) + k, "--iss NAME is needed"),
            (k + i, "one CARD is needed"),
            (("000000000000", "000000000001") + k + i, "usage: cardctl code"),
            (("000000000000",) + k + i + ("--bogus",), "usage: cardctl code"),
            (("000000000000",) + k + i + ("--ttl",), "usage: cardctl code"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                self.assertRefused(args, message)

    def test_bad_keys(self):
        ec = self.dir / "p256.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", ec], check=True,
                       capture_output=True, timeout=30)
        x25519 = self.dir / "x25519.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "x25519", "-out",
                        x25519], check=True, capture_output=True, timeout=30)
        enc = self.dir / "encrypted.pem"
        enc.write_bytes(load_private(self.key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret")))
        junk = self.dir / "junk.pem"
        junk.write_text("not a key\n")
        cases = [
            (ec, "neither an Ed25519 nor an SM2 key (it is EC)"),
            (x25519, "neither an Ed25519 nor an SM2 key (it is X25519)"),
            (Path(str(self.key) + ".pub"), "not a readable, unencrypted PEM "
             "private key"),
            (enc, "not a readable, unencrypted PEM private key"),
            (junk, "not a readable, unencrypted PEM private key"),
            (self.dir / "missing.pem", "not a readable, unencrypted PEM "
             "private key"),
        ]
        for path, message in cases:
            with self.subTest(key=path.name):
                self.assertTrue(path.name == "missing.pem" or path.exists())
                p = self.cardctl("000000000000", "--key", path, "--iss",
                                 "demo")
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stdout, b"")
                err = p.stderr.decode()
                self.assertIn(message, err)
                self.assertIn(str(path), err)

    def test_qr(self):
        plain = self.code(*EXAMPLE_ARGS)
        p = self.cardctl(*(EXAMPLE_ARGS + ("--qr",)))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        lines = p.stdout.decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "")
        art, code = lines[:-2], lines[-2]
        self.assertEqual(code, plain)
        self.assertGreater(len(art), 10)
        width = len(art[0])
        for line in art:
            self.assertEqual(len(line), width)
            self.assertTrue(set(line) <= set(QR_GLYPHS), line)
        rows = qr_modules(art)
        # n modules square, two rows per line; below the last row is the
        # terminal's background (dark), never light
        self.assertEqual(len(art), (width + 1) // 2)
        if width % 2:
            self.assertEqual(rows.pop(), [0] * width)
        self.assertEqual(len(rows), width)
        size = width - 2 * QR_MARGIN
        self.assertEqual((size - 21) % 4, 0, size)
        self.assertGreaterEqual(size, 21)
        # a light quiet zone of 4 modules on every side
        for r in rows[:QR_MARGIN] + rows[-QR_MARGIN:]:
            self.assertEqual(r, [1] * width)
        for r in rows:
            self.assertEqual(r[:QR_MARGIN] + r[-QR_MARGIN:],
                             [1] * (2 * QR_MARGIN))
        sym = [r[QR_MARGIN:-QR_MARGIN] for r in rows[QR_MARGIN:-QR_MARGIN]]
        # the three finder patterns (dark 7x7 ring, light ring, dark 3x3),
        # each with its light separator towards the symbol
        for y0, x0 in ((0, 0), (0, size - 7), (size - 7, 0)):
            for dy in range(7):
                for dx in range(7):
                    ring = max(abs(dy - 3), abs(dx - 3))
                    want = 1 if ring == 2 else 0
                    self.assertEqual(sym[y0 + dy][x0 + dx], want,
                                     (y0, x0, dy, dx))
        for k in range(8):
            self.assertEqual(sym[7][k], 1)
            self.assertEqual(sym[k][7], 1)
            self.assertEqual(sym[7][size - 1 - k], 1)
            self.assertEqual(sym[size - 8][k], 1)
        # timing patterns between the finders alternate dark and light
        for k in range(8, size - 8):
            self.assertEqual(sym[6][k], k % 2)
            self.assertEqual(sym[k][6], k % 2)
        # the code is long enough that it needs more than a small symbol
        self.assertGreater(size, 57)
        self.assertTrue(re.fullmatch(r"[A-Za-z0-9_.-]+", code))


if __name__ == "__main__":
    unittest.main()
