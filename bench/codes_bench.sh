#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/codes_bench.sh [SECONDS] [file|redis]
#
# Checks by electronic card code (PROTOCOL.md §10) next to checks by card
# number, in one run on this box: two cardd (sign_mode per-answer and
# batch, the shipped defaults otherwise) from one demo data set, each
# asked over HTTP and RESP by cardbench (50 connections, 2 threads, half
# coverage, every 100th signature verified) with
#   - card numbers,
#   - distinct codes (a fresh half of a pool minted just before),
#   - one code asked 4 times in a row (a visit's several checks).
# For each run it prints answers/s and cardd's CPU per answer (user +
# system from /proc/PID/stat, over the run). Everything lives in a
# scratch folder, removed at the end; both daemons are stopped whatever
# happens. Needs `make` first. code_max_lifetime is raised to 3600 so a
# pool outlives the runs (the only setting off its default).
#
# With `redis` the cards come from a redis-server started here (on a free
# loopback port, cards imported with cardctl import), which both daemons
# follow and where they bind codes fleet-wide (SET code:… NX GET EX, one
# round trip per new code); the CPU redis-server spent per answer is
# printed too.
set -eu
secs=${1:-5}
kind=${2:-file}
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
dir=$(mktemp -d /tmp/cardd-codes-bench.XXXXXX)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
cd "$dir"
"$B/cardctl" gen 100000 --seed 1 -o cards.csv
"$B/cardctl" keygen signing.pem > /dev/null
"$B/cardctl" keygen issuer.pem > issuer.jwks
"$B/cardctl" token bench > token.out
src=file:cards.csv
rpid=
if [ "$kind" = redis ]; then
	rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
	    --dir "$dir" --logfile "$dir/redis.log" --daemonize no &
	rpid=$!
	pids="$pids $rpid"
	for _ in $(seq 50); do
		redis-cli -p "$rport" ping > /dev/null 2>&1 && break
		sleep 0.1
	done
	"$B/cardctl" import cards.csv --redis "redis://127.0.0.1:$rport" > /dev/null
	src=redis://127.0.0.1:$rport
fi
tok=$(sed -n 's/^token: //p' token.out)
line=$(sed -n 's/^config: //p' token.out | sed 's/rate=[0-9]*/rate=100000000 burst=100000000/')

# The CPU seconds (user + system) a process has used so far.
cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# Start one cardd: mode, HTTP port, RESP port.
start() {
	cat > "$1.conf" <<EOF
http_listen 127.0.0.1:$2
resp_listen 127.0.0.1:$3
source $src
signing_key signing.pem
sign_mode $1
code_issuer bench-issuer issuer.jwks
code_max_lifetime 3600
$line
EOF
	"$B/cardd" -c "$1.conf" 2> "$1.log" &
	pids="$pids $!"
	eval "pid_$(echo "$1" | tr - _)=$!"
	for _ in $(seq 50); do
		curl -sf "http://127.0.0.1:$2/readyz" > /dev/null && return 0
		sleep 0.1
	done
	echo "cardd ($1) did not become ready" >&2
	exit 1
}

# One cardbench run against pid $1: label, then cardbench's arguments.
run() {
	pid=$1 label=$2
	shift 2
	c0=$(cpu "$pid")
	r0=$([ -n "$rpid" ] && cpu "$rpid" || echo 0)
	"$B/cardbench" "$@" --token "$tok" -c 50 -t 2 -d "$secs" --coverage 50 \
	    --verify-every 100 --json run.json > run.txt
	c1=$(cpu "$pid")
	r1=$([ -n "$rpid" ] && cpu "$rpid" || echo 0)
	python3 - "$label" "$c0" "$c1" "$r0" "$r1" <<'EOF'
import json, sys
r = json.load(open("run.json"))
label, c0, c1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
r0, r1 = float(sys.argv[4]), float(sys.argv[5])
bad = {k: v for k, v in r["by_reason"].items() if k.startswith("code_")}
fails = r["verify"].get("failed", 0) if isinstance(r["verify"], dict) else 0
redis = "  redis %5.1f us/answer" % ((r1 - r0) * 1e6 / max(r["sent"], 1)) \
    if r1 > 0 else ""
print("%-34s %9.0f answers/s %6.1f us CPU/answer%s  verify failed %s%s" % (
    label, r["throughput"], (c1 - c0) * 1e6 / max(r["sent"], 1), redis,
    fails, "  " + json.dumps(bad) if bad else ""))
EOF
}

start per-answer 28180 27170
start batch 28181 27171
echo "box: $(nproc) cores, $(uname -r); cardd $("$B/cardd" --version); source $kind"
for proto in http resp; do
	for mode in per-answer batch; do
		"$top/bench/codes.sh" cards.csv issuer.pem bench-issuer 400000 3600 \
		    > pool.txt
		head -n 200000 pool.txt > distinct.txt
		tail -n 200000 pool.txt > repeat.txt
		if [ "$proto" = http ]; then
			port=$([ "$mode" = batch ] && echo 28181 || echo 28180)
		else
			port=$([ "$mode" = batch ] && echo 27171 || echo 27170)
		fi
		pid=$(eval echo "\$pid_$(echo "$mode" | tr - _)")
		run "$pid" "$proto $mode numbers" --"$proto" "127.0.0.1:$port" \
		    --cards 100000
		run "$pid" "$proto $mode distinct codes" --"$proto" \
		    "127.0.0.1:$port" --codes distinct.txt
		run "$pid" "$proto $mode one code x4" --"$proto" \
		    "127.0.0.1:$port" --codes repeat.txt --code-repeat 4
	done
done
