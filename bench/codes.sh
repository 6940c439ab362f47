#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/codes.sh CARDS.csv KEY.pem ISSUER N TTL > codes.txt
#
# Mint a pool of N electronic card codes (PROTOCOL.md §10) for
# `cardbench --codes`: one code a line, for the cards of a `cardctl gen`
# CSV in file order (again from the top when N is more than the cards),
# issued now by ISSUER with the Ed25519 key KEY.pem for TTL seconds.
# cardd refuses a code that lives longer than its code_max_lifetime
# (default 120 s, code_invalid) and answers code_expired once it is past
# exp + code_clock_skew, so mint just before the run, with a TTL that
# covers it (raise code_max_lifetime on the bench's daemon for long runs).
#
# `cardctl code` is one process per code, about 13 ms each here (loading
# the key and OpenSSL every time): 10,000 codes would take two minutes
# even with xargs -P over two cores. So the codes are minted in one
# /usr/bin/python3 with python3-cryptography (PyCA), with the header and
# payload members in cardctl's order; Ed25519 is deterministic, so the
# first code is minted again with cardctl (same --iat and --jti) and the
# two must be the same bytes, or nothing is printed. Without
# python3-cryptography it falls back to cardctl under xargs -P, slowly.
#
# CARDCTL names the cardctl to use (default: build/cardctl beside bench/).
set -eu

usage() {
	echo "usage: bench/codes.sh CARDS.csv KEY.pem ISSUER N TTL > codes.txt" >&2
	exit 2
}

[ $# -eq 5 ] || usage
cards=$1 key=$2 iss=$3 n=$4 ttl=$5
here=$(cd "$(dirname "$0")" && pwd)
cardctl=${CARDCTL:-$here/../build/cardctl}
python=/usr/bin/python3

case $n in '' | *[!0-9]*) usage ;; esac
case $ttl in '' | *[!0-9]*) usage ;; esac
[ "$n" -ge 1 ] && [ "$n" -le 1000000 ] || {
	echo "codes.sh: N must be 1 to 1000000 (cardbench's pool)" >&2; exit 2; }
[ -r "$cards" ] || { echo "codes.sh: cannot read $cards" >&2; exit 2; }
[ -r "$key" ] || { echo "codes.sh: cannot read $key" >&2; exit 2; }
[ -x "$cardctl" ] || { echo "codes.sh: no cardctl at $cardctl" >&2; exit 2; }

list=$(mktemp) out=$(mktemp)
trap 'rm -f "$list" "$out"' EXIT
trap 'exit 1' INT TERM

# The first N card numbers (column 1 after the header), cycled.
awk -F, -v n="$n" 'NR > 1 && $1 != "" { c[m++] = $1 }
    END { if (m == 0) exit 1; for (i = 0; i < n; i++) print c[i % m] }' \
    "$cards" > "$list" || { echo "codes.sh: no cards in $cards" >&2; exit 1; }

# The slow way: one cardctl per code, as many at once as there are cores.
if ! "$python" -c 'import cryptography' 2>/dev/null; then
	echo "codes.sh: no python3-cryptography; minting with cardctl," \
	    "one process per code (slow)" >&2
	xargs -P "$(nproc)" -I CARD "$cardctl" code CARD --key "$key" \
	    --iss "$iss" --ttl "$ttl" < "$list"
	exit 0
fi

"$python" - "$key" "$iss" "$ttl" "$list" > "$out" <<'PY'
# Mint one code per card number of the list; the first line of output is
# "IAT JTI" of the first code, for the cross-check with cardctl.
import base64, hashlib, json, os, sys, time
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()

key_path, iss, ttl, cards = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    sys.argv[4]
with open(key_path, "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
if not isinstance(key, ed25519.Ed25519PrivateKey):
    sys.exit("codes.sh: %s is not an Ed25519 key" % key_path)
x = b64(key.public_key().public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw))
# The kid cardctl gives by default: the key's RFC 7638 thumbprint.
kid = b64(hashlib.sha256(compact(
    {"crv": "Ed25519", "kty": "OKP", "x": x})).digest())
# Members in PROTOCOL.md §10's order (dicts keep insertion order).
head = b64(compact({"alg": "EdDSA", "kid": kid, "typ": "card-code+jwt"}))
iat = int(time.time())
out = sys.stdout
first = True
for line in open(cards):
    card = line.strip()
    jti = b64(os.urandom(16))
    if first:
        out.write("%d %s\n" % (iat, jti))
        first = False
    body = b64(compact({"iss": iss, "sub": card, "iat": iat,
                        "exp": iat + ttl, "jti": jti}))
    signing_input = (head + "." + body).encode()
    out.write("%s.%s\n" % (signing_input.decode(),
                           b64(key.sign(signing_input))))
PY

# The first code again, from cardctl: the same bytes, or nothing.
set -- $(head -n 1 "$out")
first_card=$(head -n 1 "$list")
want=$("$cardctl" code "$first_card" --key "$key" --iss "$iss" --ttl "$ttl" \
    --iat "$1" --jti "$2")
got=$(sed -n 2p "$out")
if [ "$want" != "$got" ]; then
	echo "codes.sh: the Python code for $first_card differs from" \
	    "cardctl's:" >&2
	echo "  python:  $got" >&2
	echo "  cardctl: $want" >&2
	exit 1
fi
tail -n +2 "$out"
