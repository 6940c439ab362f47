#!/bin/sh
# Check the reference deployment (conf/fleet, systemd/cardd@.service):
# every file passes its own tool's check, and a small live copy of the
# layout (Redis master + replica with the fleet's settings and ACL users, a
# Sentinel, one cardd from cardd-fleet.conf, HAProxy from haproxy.cfg) on
# free loopback ports comes up and answers. A missing tool is a failure,
# never a skip. Run from the repository root:
#
#   sh tests/deploy/check.sh            # CARDD_BUILD=build by default
#   CARDD_DEPLOY_KEEP=1 sh tests/deploy/check.sh   # keep the temp dir
set -eu

FLEET=conf/fleet
UNIT=systemd/cardd@.service

fail() {
	printf 'check.sh: FAILED: %s\n' "$*" >&2
	exit 1
}

# run NAME COMMAND...: the command's output is shown only when it fails.
run() {
	name=$1
	shift
	if out=$("$@" 2>&1); then
		printf 'ok    %s\n' "$name"
	else
		rc=$?
		printf '%s\n' "$out" >&2
		fail "$name (exit $rc)"
	fi
}

## Tools ####################################################################

missing=
for t in haproxy promtool systemd-analyze redis-server redis-cli man curl \
    ss sed grep awk mktemp sha256sum; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -z "$missing" ] || fail "missing tools:$missing (Debian 12: apt-get install" \
    "haproxy prometheus systemd redis-server man-db curl iproute2)"
if [ ! -f "$FLEET/haproxy.cfg" ] || [ ! -f "$UNIT" ]; then
	fail "run from the repository root (no $FLEET/haproxy.cfg or $UNIT here)"
fi
BUILD=$(cd "${CARDD_BUILD:-build}" 2>/dev/null && pwd) ||
	fail "no build directory ${CARDD_BUILD:-build} (run make)"
for b in cardd cardctl; do
	[ -x "$BUILD/$b" ] || fail "no $BUILD/$b (run make)"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/cardd-deploy.XXXXXX")
PIDS=
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || :
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || :
	done
	if [ "${CARDD_DEPLOY_KEEP:-0}" = 1 ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# pick_port VAR: a loopback TCP port nobody listens on, below the
# kernel's ephemeral range (32768 up on Linux), where the outgoing
# connections of the test itself could take it before its server binds it.
PORT_NEXT=$((20000 + ($$ % 1200) * 10))
pick_port() {
	while :; do
		PORT_NEXT=$((PORT_NEXT + 1))
		[ -n "$(ss -Hltn "sport = :$PORT_NEXT")" ] || break
	done
	eval "$1=$PORT_NEXT"
}

# wait_for SECONDS COMMAND...: until the command succeeds.
wait_for() {
	n=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.2
	done
}

## Static checks ############################################################

run "haproxy -c haproxy.cfg" haproxy -c -f "$FLEET/haproxy.cfg"

# prometheus.yml names its token file relative to itself; promtool wants
# it to exist, so check a copy beside an empty one (and the rule file).
mkdir "$T/prom"
cp "$FLEET/prometheus.yml" "$FLEET/cardd-alerts.yml" "$T/prom/"
: > "$T/prom/cardd-metrics.token"
run "promtool check config prometheus.yml" \
    promtool check config "$T/prom/prometheus.yml"
run "promtool check rules cardd-alerts.yml" \
    promtool check rules "$FLEET/cardd-alerts.yml"
run "promtool test rules cardd-alerts.test.yml" \
    promtool test rules "$FLEET/cardd-alerts.test.yml"

# systemd-analyze verify of instance cardd@1, on a copy whose binary is the
# built one (verify wants it executable) and with the tree's man pages on
# MANPATH (verify looks up every Documentation= page). Any output is a
# finding, since verify warns about bad lines without failing.
mkdir -p "$T/unit" "$T/man/man1" "$T/man/man5" "$T/man/man8"
cp man/cardd.8 "$T/man/man8/"
cp man/cardctl.1 "$T/man/man1/"
sh tools/conf2man.sh conf/cardd.conf daemon/config.c > "$T/man/man5/cardd.conf.5"
sed "s|/usr/local/sbin/cardd|$BUILD/cardd|g" "$UNIT" > "$T/unit/cardd@.service"
verify_unit() {
	out=$(MANPATH="$T/man" systemd-analyze verify "$T/unit/cardd@1.service" 2>&1) ||
		{ printf '%s\n' "$out"; return 1; }
	[ -z "$out" ] || { printf '%s\n' "$out"; return 1; }
}
run "systemd-analyze verify cardd@1.service" verify_unit

# The template must keep the single-instance unit's settings, hardening
# included: the [Service] lines of both, with the instance's paths
# written back to cardd's, must be the same.
service_lines() {
	sed -n '/^\[Service\]/,/^\[/p' "$1" | grep -E '^[A-Za-z]+=' |
	    sed 's|/etc/cardd/%i\.conf|/etc/cardd/cardd.conf|g; s|=cardd/%i$|=cardd|'
}
same_service() {
	service_lines systemd/cardd.service > "$T/unit/a"
	service_lines "$UNIT" > "$T/unit/b"
	diff "$T/unit/a" "$T/unit/b"
}
run "cardd@.service has cardd.service's [Service] settings" same_service

# The reference ports agree across the files: cardd-fleet.conf is
# instance 1; instance 2 is the next port up.
ports_agree() {
	h=$(sed -n 's/^http_listen //p' "$FLEET/cardd-fleet.conf")
	r=$(sed -n 's/^resp_listen //p' "$FLEET/cardd-fleet.conf")
	h2=${h%:*}:$((${h##*:} + 1))
	r2=${r%:*}:$((${r##*:} + 1))
	for want in "server cardd1 $h check" "server cardd2 $h2 check" \
	    "server cardd1 $r check port ${h##*:}" \
	    "server cardd2 $r2 check port ${h2##*:}"; do
		grep -q "^[[:space:]]*$want\$" "$FLEET/haproxy.cfg" ||
			{ echo "haproxy.cfg lacks: $want"; return 1; }
	done
	grep -q "targets: \['$h', '$h2'\]" "$FLEET/prometheus.yml" ||
		{ echo "prometheus.yml does not scrape $h and $h2"; return 1; }
	s=$(sed -n 's/^[[:space:]]*bind \(.*:8404\)$/\1/p' "$FLEET/haproxy.cfg")
	grep -q "targets: \['$s'\]" "$FLEET/prometheus.yml" ||
		{ echo "prometheus.yml does not scrape HAProxy's $s"; return 1; }
}
run "reference ports agree (haproxy.cfg, cardd-fleet.conf, prometheus.yml)" ports_agree

# cardd -t on the fleet config as committed, but for the signing key,
# which -t loads: a throwaway one.
"$BUILD/cardctl" keygen "$T/signing.pem" > "$T/jwks.json"
sed "s|^signing_key /etc/cardd/signing.pem\$|signing_key $T/signing.pem|" \
    "$FLEET/cardd-fleet.conf" > "$T/1.conf"
grep -q "^signing_key $T/signing.pem\$" "$T/1.conf" ||
	fail "cardd-fleet.conf: no 'signing_key /etc/cardd/signing.pem' line"
run "cardd -t cardd-fleet.conf" "$BUILD/cardd" -t -c "$T/1.conf"

## Live: Redis master + replica ############################################

pick_port PM
pick_port PREP
pick_port PS
pick_port PDEAD
pick_port PH
pick_port PR
pick_port PH2
pick_port PR2
pick_port FH
pick_port FR
pick_port FS

# redis-replica.conf with its commented ACL lines in force (so they are
# checked too), the replica's replicaof pointed at the test master, and
# the master's removed.
sed 's/^#user /user /; s/^#masteruser /masteruser /; s/^#masterauth /masterauth /' \
    "$FLEET/redis-replica.conf" > "$T/cardd-redis.conf"
grep -q '^replicaof 127.0.0.1 6379$' "$T/cardd-redis.conf" ||
	fail "redis-replica.conf: no 'replicaof 127.0.0.1 6379' line"
sed '/^replicaof /d' "$T/cardd-redis.conf" > "$T/cardd-redis-m.conf"
sed "s/^replicaof 127.0.0.1 6379\$/replicaof 127.0.0.1 $PM/" \
    "$T/cardd-redis.conf" > "$T/cardd-redis-r.conf"
for np in "m $PM" "r $PREP"; do
	node=${np% *}
	port=${np#* }
	mkdir "$T/redis-$node"
	# include first (as redis-replica.conf asks), then this node's own
	# lines; no delay before the first replica sync, to be quick.
	printf 'include %s\nport %s\nbind 127.0.0.1\ndir %s\nlogfile %s\nrepl-diskless-sync-delay 0\n' \
	    "$T/cardd-redis-$node.conf" "$port" "$T/redis-$node" \
	    "$T/redis-$node/log" > "$T/redis-$node/redis.conf"
	redis-server "$T/redis-$node/redis.conf" --daemonize no \
	    > /dev/null 2>&1 &
	PIDS="$PIDS $!"
done
rcli() {
	p=$1
	shift
	redis-cli -h 127.0.0.1 -p "$p" "$@"
}
wait_for 5 sh -c "[ \"\$(redis-cli -p $PM ping)\" = PONG ]" ||
	fail "redis master on $PM did not start: $(tail -5 "$T/redis-m/log")"
wait_for 10 sh -c "redis-cli -p $PREP info replication | grep -q '^master_link_status:up'" ||
	fail "replica on $PREP did not sync (masteruser replica): $(tail -5 "$T/redis-r/log")"
echo "ok    redis master :$PM and replica :$PREP in sync, with redis-replica.conf"

redis_acl() {
	# cardd's user may read cards and the stream, and bind codes.
	# INFO replication: cardd reads master_link_status every follow round.
	REDISCLI_AUTH=change-me-cardd rcli "$PREP" --user cardd INFO replication |
	    grep -q '^master_link_status:up' ||
		{ echo "cardd user cannot read the replica's INFO replication"; return 1; }
	REDISCLI_AUTH=change-me-cardd rcli "$PREP" --user cardd SET card:X 1 |
	    grep -q NOPERM || { echo "cardd user may write"; return 1; }
	# ... but for the card codes' bindings, SET code:* on the master. The
	# master takes writes once its replica has acknowledged
	# (min-replicas-to-write), up to a second after the sync: until then
	# the answer is NOREPLICAS.
	wait_for 10 sh -c "REDISCLI_AUTH=change-me-cardd redis-cli -h 127.0.0.1 -p $PM --user cardd SET code:X desk NX GET EX 30 | grep -qv NOREPLICAS" &&
	    [ "$(REDISCLI_AUTH=change-me-cardd rcli "$PM" --user cardd SET code:X other NX GET EX 30)" = desk ] ||
		{ echo "cardd user cannot bind codes (SET code:* NX GET EX)"; return 1; }
	rcli "$PM" DEL code:X >/dev/null	# the data set is counted below
	REDISCLI_AUTH=change-me-cardd rcli "$PM" --user cardd HSET code:Y a 1 |
	    grep -q NOPERM || { echo "cardd user may do more than SET code:*"; return 1; }
	REDISCLI_AUTH=change-me-cardd rcli "$PREP" --user cardd HGETALL other:X |
	    grep -q NOPERM || { echo "cardd user reads outside card:*"; return 1; }
	# replica-read-only
	rcli "$PREP" SET card:X 1 | grep -q READONLY ||
		{ echo "replica accepts writes"; return 1; }
	[ "$(rcli "$PM" CONFIG GET maxmemory-policy | tail -1)" = noeviction ] ||
		{ echo "maxmemory-policy is not noeviction"; return 1; }
}
run "redis ACL users and replica settings" redis_acl

# Cards, written as a writer must, through the writer ACL user (the master
# takes writes only while its replica is in step: min-replicas-to-write).
"$BUILD/cardctl" gen 200 --seed 7 -o "$T/cards.csv" > /dev/null
run "cardctl import as the writer ACL user" env REDISCLI_AUTH=change-me-writer \
    "$BUILD/cardctl" import "$T/cards.csv" --redis "redis://127.0.0.1:$PM" \
    --user writer
# Replication is asynchronous (a new replica's stream starts at its first
# REPLCONF ACK, up to a second later): the cards reach the replica that
# cardd will follow before cardd starts, or it would begin with none.
wait_for 10 sh -c "[ \"\$(redis-cli -p $PREP dbsize)\" = 201 ]" ||
	fail "the 200 cards and the stream did not reach the replica"

## Live: Sentinel ###########################################################

# sentinel.conf on a copy (Sentinel rewrites it): its port and master
# moved to the test's, its commented password lines in force.
mkdir "$T/sentinel"
sed -e "s/^port 26379\$/port $PS/" \
    -e "s/^sentinel monitor cardd 127.0.0.1 6379 2\$/sentinel monitor cardd 127.0.0.1 $PM 2/" \
    -e 's/^#   requirepass /requirepass /' \
    -e 's/^#   sentinel auth-user /sentinel auth-user /' \
    -e 's/^#   sentinel auth-pass /sentinel auth-pass /' \
    "$FLEET/sentinel.conf" > "$T/sentinel/sentinel.conf"
for l in "port $PS" "sentinel monitor cardd 127.0.0.1 $PM 2" \
    'requirepass "change-me-sentinel"' 'sentinel auth-user cardd sentinel'; do
	grep -qx "$l" "$T/sentinel/sentinel.conf" ||
		fail "sentinel.conf: the test could not set '$l'"
done
printf 'dir %s\nlogfile %s\n' "$T/sentinel" "$T/sentinel/log" >> "$T/sentinel/sentinel.conf"
redis-server "$T/sentinel/sentinel.conf" --sentinel > /dev/null 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
scli() {
	REDISCLI_AUTH=change-me-sentinel rcli "$PS" "$@"
}
wait_for 5 sh -c "[ \"\$(REDISCLI_AUTH=change-me-sentinel redis-cli -p $PS ping)\" = PONG ]" ||
	fail "sentinel on $PS did not start: $(tail -5 "$T/sentinel/log" 2>/dev/null)"
[ "$(scli info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')" = "$SPID" ] ||
	fail "port $PS answers, but not the Sentinel this script started"

sentinel_masters() {
	scli SENTINEL masters > "$T/sentinel/masters" || return 1
	# name, quorum and timings as sentinel.conf sets them
	awk 'NR % 2 { k = $0; next } { print k "=" $0 }' "$T/sentinel/masters" \
	    > "$T/sentinel/master.kv"
	for kv in name=cardd ip=127.0.0.1 port="$PM" quorum=2 \
	    down-after-milliseconds=5000 failover-timeout=60000 parallel-syncs=1; do
		grep -qx "$kv" "$T/sentinel/master.kv" ||
			{ echo "SENTINEL masters: no $kv"; cat "$T/sentinel/masters"; return 1; }
	done
}
run "sentinel answers SENTINEL masters (cardd, quorum 2)" sentinel_masters
# The replica shows once the Sentinel has read the master's INFO as the
# sentinel ACL user (auth-user / auth-pass).
wait_for 12 sh -c "REDISCLI_AUTH=change-me-sentinel redis-cli -p $PS SENTINEL replicas cardd | grep -qx 127.0.0.1:$PREP" ||
	fail "the Sentinel did not find the replica :$PREP (its ACL user?)"
echo "ok    sentinel found replica :$PREP as the sentinel ACL user"

## Live: cardd from cardd-fleet.conf ########################################

# The committed file, with its ports, snapshot, key and source moved to the
# test's (one dead Sentinel first, as if one of the three were down), the
# commented password lines in force, and a real token for Prometheus.
TOKEN=$("$BUILD/cardctl" token prometheus | sed -n 's/^token: //p')
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
mkdir "$T/cardd"
sed -e "s|^signing_key .*|signing_key $T/signing.pem|" \
    -e "s|^snapshot .*|snapshot $T/cardd/cards.snap|" \
    -e "s|^http_listen .*|http_listen 127.0.0.1:$PH|" \
    -e "s|^resp_listen .*|resp_listen 127.0.0.1:$PR|" \
    -e "s|^source sentinel://.*/cardd?role=replica\$|source sentinel://127.0.0.1:$PDEAD,127.0.0.1:$PS/cardd?role=replica|" \
    -e 's|^# redis_user |redis_user |' \
    -e 's|^# redis_password |redis_password |' \
    -e 's|^# sentinel_password |sentinel_password |' \
    -e "s|^client prometheus token=sha256:[0-9a-f]* |client prometheus token=sha256:$HASH |" \
    "$FLEET/cardd-fleet.conf" > "$T/cardd/1.conf"
for l in "source sentinel://127.0.0.1:$PDEAD,127.0.0.1:$PS/cardd?role=replica" \
    'redis_user cardd' 'sentinel_password "change-me-sentinel"' \
    "client prometheus token=sha256:$HASH allow=metrics rate=1 burst=5"; do
	grep -qxF "$l" "$T/cardd/1.conf" ||
		fail "cardd-fleet.conf: the test could not set '$l'"
done
run "cardd -t (live copy)" "$BUILD/cardd" -t -c "$T/cardd/1.conf"
"$BUILD/cardd" -c "$T/cardd/1.conf" 2> "$T/cardd/log" &
PIDS="$PIDS $!"
wait_for 15 sh -c "curl -sf http://127.0.0.1:$PH/readyz | grep -q '\"cards\":200,'" ||
	fail "cardd did not turn ready with the 200 cards:" \
	    "$(curl -s "http://127.0.0.1:$PH/readyz"; tail -5 "$T/cardd/log")"
echo "ok    cardd ready through the Sentinel: $(curl -s "http://127.0.0.1:$PH/readyz")"

# Every cardd metric the alert rules and their tests use is one cardd
# exports.
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PH/metrics" \
    > "$T/cardd/metrics" || fail "cardd /metrics with the prometheus token"
# used_metrics PREFIX: the metric names of that prefix in the rules'
# expressions and the tests' input series (a name inside quotes, such as
# proxy=~"cardd_http|cardd_resp", is a label value, not a metric).
used_metrics() {
	grep -hE '^[[:space:]]*(expr|- series):' "$FLEET/cardd-alerts.yml" \
	    "$FLEET/cardd-alerts.test.yml" |
	    grep -oE "(^|[^\"|a-z_])$1[a-z_]+" | sed "s/^.*\($1\)/\1/" | sort -u
}
# exported_all PREFIX FILE: every such name is in the scraped FILE.
exported_all() {
	names=$(used_metrics "$1")
	[ -n "$names" ] || { echo "no $1 metric found in the rules"; return 1; }
	for n in $names; do
		grep -q "^${n}[{ ]" "$2" || { echo "$2 lacks $n"; return 1; }
	done
	echo "$names"
}
run "alert rules use only metrics cardd exports" exported_all cardd_ "$T/cardd/metrics"

## Live: HAProxy ###########################################################

# haproxy.cfg on a copy: its binds on the test's ports, cardd1 on the live
# cardd, cardd2 on ports nobody listens on (so that it must be marked
# down), and what needs root or a system log dropped. maxconn lowered to
# what an unprivileged file limit allows.
sed -e '/^[[:space:]]*chroot /d; /^[[:space:]]*user /d; /^[[:space:]]*group /d' \
    -e '/^[[:space:]]*daemon$/d; /^[[:space:]]*stats socket /d; /^[[:space:]]*stats timeout /d' \
    -e 's|^\([[:space:]]*\)log /dev/log local0$|\1log stderr format short local0|' \
    -e 's|^\([[:space:]]*\)maxconn 20000$|\1maxconn 200|' \
    -e "s|bind 127.0.0.1:8080\$|bind 127.0.0.1:$FH|" \
    -e "s|bind 127.0.0.1:6380\$|bind 127.0.0.1:$FR|" \
    -e "s|bind 127.0.0.1:8404\$|bind 127.0.0.1:$FS|" \
    -e "s|server cardd1 127.0.0.1:8101 check\$|server cardd1 127.0.0.1:$PH check|" \
    -e "s|server cardd2 127.0.0.1:8102 check\$|server cardd2 127.0.0.1:$PH2 check|" \
    -e "s|server cardd1 127.0.0.1:6391 check port 8101\$|server cardd1 127.0.0.1:$PR check port $PH|" \
    -e "s|server cardd2 127.0.0.1:6392 check port 8102\$|server cardd2 127.0.0.1:$PR2 check port $PH2|" \
    "$FLEET/haproxy.cfg" > "$T/haproxy.cfg"
for l in "bind 127.0.0.1:$FH" "bind 127.0.0.1:$FR" "bind 127.0.0.1:$FS" \
    "server cardd1 127.0.0.1:$PH check" "server cardd2 127.0.0.1:$PR2 check port $PH2"; do
	grep -q "^[[:space:]]*$l\$" "$T/haproxy.cfg" ||
		fail "haproxy.cfg: the test could not set '$l'"
done
run "haproxy -c (live copy)" haproxy -c -f "$T/haproxy.cfg"
haproxy -f "$T/haproxy.cfg" -db > "$T/haproxy.log" 2>&1 &
PIDS="$PIDS $!"
# cardd1 passes GET /readyz, cardd2 fails it: one active server in each.
active_one() {
	curl -sf "http://127.0.0.1:$FS/metrics" > "$T/haproxy.metrics" || return 1
	grep -qx 'haproxy_backend_active_servers{proxy="cardd_http"} 1' "$T/haproxy.metrics" &&
	    grep -qx 'haproxy_backend_active_servers{proxy="cardd_resp"} 1' "$T/haproxy.metrics"
}
wait_for 10 active_one ||
	fail "HAProxy did not settle on cardd1 up, cardd2 down: $(tail -5 "$T/haproxy.log")"
echo "ok    haproxy: cardd1 up and cardd2 down by GET /readyz, in both backends"
through_haproxy() {
	curl -sf "http://127.0.0.1:$FH/readyz" | grep -q '"ready":true' ||
		{ echo "HTTP through HAProxy"; return 1; }
	curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FH/metrics" |
	    grep -q '^cardd_ready 1$' || { echo "/metrics through HAProxy"; return 1; }
	[ "$(rcli "$FR" PING)" = PONG ] || { echo "RESP through HAProxy"; return 1; }
	rcli "$FR" JWKS | grep -q '"kty":"OKP"' || { echo "RESP JWKS through HAProxy"; return 1; }
	curl -sf "http://127.0.0.1:$FS/" | grep -q cardd_http ||
		{ echo "stats page"; return 1; }
}
run "HTTP, RESP and the stats page through HAProxy" through_haproxy
run "alert rules use only metrics HAProxy exports" exported_all haproxy_ "$T/haproxy.metrics"

echo "tests/deploy/check.sh: all checks passed"
