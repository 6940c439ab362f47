#!/bin/sh
# Turn conf/cardd.conf (every key, its default and its comment) into the
# man page cardd.conf(5), so the two never disagree. Comment paragraphs
# describe the key line that follows them; "# key value" lines are keys
# that are unset by default, shown with an example value.
set -eu
conf=${1:-conf/cardd.conf}
src=${2:-daemon/config.c}
keys=$(grep -o '{ "[a-z_]*", CFG_' "$src" | cut -d'"' -f2 | tr '\n' ' ')
lists=$(grep -o '{ "[a-z_]*", CFG_LIST' "$src" | cut -d'"' -f2 | tr '\n' ' ')
cat <<'HEAD'
.\" SPDX-License-Identifier: MIT
.\" Generated from conf/cardd.conf by tools/conf2man.sh; edit that file.
.TH CARDD.CONF 5 2026-11-28 "cardd 0.1.0" "File Formats Manual"
.SH NAME
cardd.conf \- configuration file of cardd
.SH DESCRIPTION
HEAD
awk -v keys="$keys" -v lists="$lists" '
BEGIN { n = split(keys, k, " "); for (i = 1; i <= n; i++) known[k[i]] = 1
	n = split(lists, k, " "); for (i = 1; i <= n; i++) list[k[i]] = 1 }
function esc(s) { gsub(/\\/, "\\e", s); return s }
function out(s) { if (s ~ /^[.\047]/) s = "\\&" s; print s }
function flush() {
	for (i = 1; i <= nt; i++) {
		if (t[i] ~ /^  / && !nf) { print ".nf"; nf = 1 }
		if (t[i] !~ /^  / && nf) { print ".fi"; nf = 0 }
		out(esc(t[i]))
	}
	if (nf) { print ".fi"; nf = 0 }
	nt = 0
}
function key(name, val, note) {
	print ".TP"; print "\\fB" name "\\fR \\fI" esc(val) "\\fR" note; flush()
}
/^##/ { flush(); s = $0; sub(/^## */, "", s); sub(/ *#+ *$/, "", s)
	print ".SS " s; next }
(/^# [a-z_]+ [^ ]+$/ && ($2 in known)) || (/^# [a-z_]+ / && ($2 in list)) {
	v = $0; sub(/^# [a-z_]+ /, "", v)
	note = ($2 in list) ? " (repeatable; none by default; example)" : " (unset by default; example)"
	key($2, v, note); next }
/^#/ { s = $0; sub(/^# ?/, "", s)
	if (s == "") { flush(); print ".PP"; next }
	t[++nt] = s; next }
/^[a-z_]+ / { v = $0; sub(/^[a-z_]+ /, "", v); key($1, v, " (default)"); next }
END { flush() }
' "$conf"
cat <<'TAIL'
.SH SEE ALSO
.BR cardd (8),
.BR cardctl (1)
TAIL
