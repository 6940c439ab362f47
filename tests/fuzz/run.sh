#!/bin/sh
# SPDX-License-Identifier: MIT
# Run cardd's libFuzzer targets, each for FUZZ_SECONDS seconds (default 20).
#
# Usage: tests/fuzz/run.sh [BUILD [TARGET...]]
#   BUILD defaults to build/fuzz; TARGETs default to every BUILD/tests/fuzz_*.
#
# The seeds in tests/fuzz/corpus/<target>/ are copied into a scratch corpus,
# BUILD/corpus/<target>/, which libFuzzer grows (the repository's seeds stay
# as they are; `make clean` drops the scratch). A crashing input is written
# to BUILD/crashes/<target>/, and each target's whole output to
# BUILD/logs/<target>.log. Prints one line per target: executions, seconds,
# and the crash if there was one. Exits 1 when any target failed.

build=${1:-build/fuzz}
[ $# -gt 0 ] && shift
seconds=${FUZZ_SECONDS:-20}
seeds=$(dirname "$0")/corpus

if [ $# -eq 0 ]; then
	for bin in "$build"/tests/fuzz_*; do
		[ -x "$bin" ] && set -- "$@" "${bin##*/fuzz_}"
	done
fi
if [ $# -eq 0 ]; then
	echo "run.sh: no fuzz targets in $build/tests (make fuzz builds them)" >&2
	exit 1
fi

# Milliseconds since the epoch (GNU date).
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# Run one target; print its line; return non-zero when it failed.
run_target() {
	t=$1
	bin=$build/tests/fuzz_$t
	corpus=$build/corpus/$t
	crashes=$build/crashes/$t
	log=$build/logs/$t.log

	if [ ! -x "$bin" ]; then
		printf '%-14s not built (%s)\n' "$t" "$bin"
		return 1
	fi
	mkdir -p "$corpus" "$crashes" "$build/logs" || return 1
	if [ -d "$seeds/$t" ]; then
		cp "$seeds/$t"/* "$corpus"/ 2>/dev/null
	fi
	start=$(now_ms)
	"$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1
	rc=$?
	ms=$(($(now_ms) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	printf '%-14s %10s execs %4d.%01ds' "$t" "${execs:-?}" \
	    $((ms / 1000)) $((ms % 1000 / 100))
	# One JSON line per target for bench/results (see FUZZ_JSON below).
	printf '{"name":"%s","execs":%s,"seconds":%d.%03d,"crashes":%d}\n' \
	    "$t" "${execs:-0}" $((ms / 1000)) $((ms % 1000)) \
	    $([ "$rc" -eq 0 ] && echo 0 || echo 1) >>"$build/fuzz.lines"
	if [ "$rc" -eq 0 ]; then
		printf '  no crash\n'
		return 0
	fi
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	summary=$(grep -m 1 '^SUMMARY:' "$log")
	printf '  FAILED (exit %d)\n' "$rc"
	printf '    %s\n' "${summary:-see $log}"
	printf '    input: %s\n    log: %s\n' "${crash:-none written}" "$log"
	return 1
}

failed=0
total_start=$(now_ms)
rm -f "$build/fuzz.lines"
for t in "$@"; do
	run_target "$t" || failed=1
done
ms=$(($(now_ms) - total_start))
printf 'fuzz: %d target(s), %d.%01ds, %s\n' "$#" $((ms / 1000)) \
    $((ms % 1000 / 100)) "$([ $failed -eq 0 ] && echo 'no crash' || echo FAILED)"
# FUZZ_JSON=FILE: the run as JSON, for bench/RESULTS.md, in the form of
# bench/results/*.json (bench/results.py): one key a line, one target a line.
if [ -n "${FUZZ_JSON:-}" ]; then
	{
		printf '{\n "date": "%s",\n "machine": "%s cores, %s",\n' \
		    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(uname -sr)"
		printf ' "seconds": %s,\n "targets": [\n' "$seconds"
		[ -f "$build/fuzz.lines" ] &&
		    sed 's/^/  /; $!s/$/,/' "$build/fuzz.lines"
		printf ' ]\n}\n'
	} >"$FUZZ_JSON"
fi
exit $failed
