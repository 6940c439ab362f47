#!/bin/sh
# Make sure the Debian packages cardd needs are here: install them as
# root, otherwise print the exact apt-get line and stop.
set -e
# haproxy: the fleet test and make fleet; prometheus: its promtool checks
# the alert rules (tests/deploy); systemd: systemd-analyze verify;
# iproute2: ss, for the free ports tests/deploy/check.sh picks; python3-redis:
# redis-py, a RESP client as integrators use it (tests); python3-jsonschema:
# answers checked against the OpenAPI schemas; python3-ecdsa: the curve
# arithmetic under the Python verifier's SM2 (verifiers/python).
PKGS="build-essential pkg-config libevent-dev libhiredis-dev libxxhash-dev
libssl-dev libjansson-dev libqrencode-dev openssl tzdata curl redis-server
redis-tools python3 python3-cryptography python3-redis python3-jsonschema
python3-ecdsa man-db haproxy prometheus
systemd
iproute2"
# make bench needs the peers and the plot too.
[ "${1:-}" = bench ] && PKGS="$PKGS nginx-light wrk gnuplot-nox openssl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
# nodejs, npm: tests/js (sm-crypto, an SM2 verifier that is not ours).
# Checked by command: a node from elsewhere (NodeSource's bundles npm and
# conflicts with Debian's npm package) will do. Only for make test.
if [ "${1:-}" = test ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "cardd needs these Debian packages:$missing" >&2
		echo "run as root:  apt-get update && apt-get install -y$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
fi
# tests/js/node_modules from its package-lock.json, when missing or older.
[ "${1:-}" = test ] || exit 0
js="$(dirname "$0")/../tests/js"
stamp="$js/node_modules/.package-lock.json"	# written by npm ci
if [ ! -f "$stamp" ] ||
    [ -n "$(find "$js/package-lock.json" -newer "$stamp")" ]; then
	echo "npm ci in tests/js"
	(cd "$js" && npm ci --no-audit --no-fund)
fi
# verifiers/js/node_modules (jose, sm-crypto) the same way.
js="$(dirname "$0")/../verifiers/js"
stamp="$js/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] ||
    [ -n "$(find "$js/package-lock.json" -newer "$stamp")" ]; then
	echo "npm ci in verifiers/js"
	(cd "$js" && npm ci --no-audit --no-fund)
fi
