#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/fhir_bench.sh [SECONDS] [ROUNDS]
#
# FHIR checks (PROTOCOL.md §12) next to the plain HTTP checks, in one run
# on this box: one cardd per sign mode (per-answer, batch; the shipped
# defaults otherwise, auth none on loopback) over 100,000 demo cards, asked by wrk (1 thread, 32
# keep-alive connections, a Lua script that walks the cards) three ways,
# each asking the same two checks (validity and medical coverage):
#   - fhir:  POST /fhir/CoverageEligibilityRequest/$check, purpose
#            validation + benefits with one item;
#   - batch: POST /v1/check with the two checks;
#   - get:   GET /v1/validity then GET /v1/coverage (two requests).
# Rounds alternate the three; each line is one run: requests/s, checks/s
# and cardd's CPU per check (user + system from /proc/PID/stat). The
# medians are printed last. Everything lives in a scratch folder, removed
# at the end; both daemons are stopped whatever happens. Needs `make`.
set -eu
secs=${1:-5}
rounds=${2:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
B=$top/build
dir=$(mktemp -d /tmp/cardd-fhir-bench.XXXXXX)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cd "$dir"
"$B/cardctl" gen 100000 --seed 1 -o cards.csv
"$B/cardctl" keygen signing.pem > /dev/null

# The CPU seconds (user + system) a process has used so far.
cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# Start one cardd: mode, HTTP port; sets pid.
start() {
	printf 'http_listen 127.0.0.1:%s\nresp_listen 127.0.0.1:%s\nsource file:cards.csv\nsigning_key signing.pem\nsign_mode %s\nauth none\n' \
	    "$2" "$(($2 + 1))" "$1" > "$1.conf"
	"$B/cardd" -c "$1.conf" 2> "$1.log" &
	pid=$!
	pids="$pids $pid"
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$2/readyz" > /dev/null && return 0
		sleep 0.1
	done
	echo "cardd ($1) did not become ready" >&2
	exit 1
}

# The wrk script of one way of asking (card numbers 000000000000..99999).
script() {
	cat > "$1.lua" <<LUA
local n = 0
local kind = "$1"
request = function()
  n = (n + 7919) % 100000
  local card = string.format("%012d", n)
  if kind == "fhir" then
    return wrk.format("POST", "/fhir/CoverageEligibilityRequest/\$check",
      {["Content-Type"] = "application/fhir+json"},
      '{"resourceType":"CoverageEligibilityRequest","status":"active",' ..
      '"purpose":["validation","benefits"],"created":"2026-11-28",' ..
      '"insurer":{"display":"bench"},"servicedDate":"2026-11-28",' ..
      '"patient":{"identifier":{"system":"urn:cardd:id:card","value":"' ..
      card .. '"}},"item":[{"category":{"coding":[{"system":' ..
      '"urn:cardd:scheme","code":"medical"}]}}]}')
  elseif kind == "batch" then
    return wrk.format("POST", "/v1/check",
      {["Content-Type"] = "application/json"},
      '{"checks":[{"check":"validity","card":"' .. card ..
      '","at":"2026-11-28"},{"check":"coverage","card":"' .. card ..
      '","scheme":"medical","at":"2026-11-28"}]}')
  elseif n % 2 == 0 then
    return wrk.format("GET", "/v1/validity?card=" .. card .. "&at=2026-11-28")
  else
    return wrk.format("GET", "/v1/coverage?card=" .. card ..
      "&scheme=medical&at=2026-11-28")
  end
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %d %.3f %d\n", summary.requests,
    summary.duration / 1e6, summary.errors.status + summary.errors.read +
    summary.errors.write + summary.errors.connect + summary.errors.timeout))
end
LUA
}

for k in fhir batch get; do script "$k"; done
start per-answer 18180
pid_per=$pid
start batch 18190
pid_batch=$pid

# One run: mode, pid, port, kind. Prints one line, keeps the checks/s.
run() {
	c0=$(cpu "$2")
	out=$(wrk -t1 -c32 -d"${secs}s" -s "$4.lua" "http://127.0.0.1:$3" | sed -n 's/^WRK //p')
	c1=$(cpu "$2")
	set -- "$1" "$2" "$3" "$4" $out "$c0" "$c1"
	# per request: fhir and batch ask 2 checks, get 1
	awk -v m="$1" -v k="$4" -v n="$5" -v s="$6" -v e="$7" -v c0="$8" -v c1="$9" 'BEGIN {
		per = (k == "get") ? 1 : 2
		printf "%-10s %-5s %9.0f req/s %9.0f checks/s %6.1f us cardd CPU/check errors=%d\n",
		    m, k, n / s, n * per / s, (c1 - c0) * 1e6 / (n * per), e }' | tee -a runs.txt
}

echo "fhir_bench: ${secs}s runs, $rounds rounds, wrk -t1 -c32; $(nproc) CPUs, $(uname -r)"
for r in $(seq "$rounds"); do
	for k in fhir batch get; do
		run per-answer "$pid_per" 18180 "$k"
		run batch "$pid_batch" 18190 "$k"
	done
done
echo "medians (checks/s, us CPU/check):"
for m in per-answer batch; do
	for k in fhir batch get; do
		awk -v m="$m" -v k="$k" '$1 == m && $2 == k { print $5, $7 }' runs.txt |
		    sort -n | awk -v m="$m" -v k="$k" '{ a[NR] = $1; c[NR] = $2 }
		    END { i = int((NR + 1) / 2); printf "%-10s %-5s %9.0f checks/s %6.1f us\n", m, k, a[i], c[i] }'
	done
done
