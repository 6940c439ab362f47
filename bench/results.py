#!/usr/bin/python3
"""Render bench/RESULTS.md from the measurements in bench/results/*.json
(written by bench/compare, bench/sync_bench.py, bench/tls_bench.py and
tests/fuzz/run.sh), and the hand-written notes bench/results/issue*.md
for runs of other commands. Every figure in RESULTS.md comes from one of those
files; this script only formats them and computes ratios and medians."""

import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "results")


def _nested(v):
    """Whether a value holds runs, and so is written one key or element
    per line: a list of dicts (runs), a dict of dicts only (one run per
    target), or a dict holding either of those further down."""
    if isinstance(v, list):
        return any(isinstance(x, dict) for x in v)
    if not isinstance(v, dict) or not v:
        return False
    return all(isinstance(x, dict) for x in v.values()) or any(
        isinstance(x, (dict, list)) and _nested(x) for x in v.values())


def dumps(v, depth=0):
    """JSON as bench/results/*.json are written, to keep them small and
    their diffs short: the top level and whatever holds runs one key or
    element per line, indented by one space a level; each run, histogram
    or other value on one line, without spaces. json.load reads it."""
    flat = json.dumps(v, separators=(",", ":"))
    if not (depth == 0 or _nested(v)) or not isinstance(v, (dict, list)) \
            or not v:
        return flat
    pad = " " * (depth + 1)
    if isinstance(v, dict):
        items = ["%s%s: %s" % (pad, json.dumps(k), dumps(x, depth + 1))
                 for k, x in v.items()]
        ends = "{}"
    else:
        items = [pad + dumps(x, depth + 1) for x in v]
        ends = "[]"
    return "%s\n%s\n%s%s" % (ends[0], ",\n".join(items), " " * depth,
                             ends[1])


def write(path, res):
    """Write one results file in the form dumps() gives."""
    with open(path, "w") as f:
        f.write(dumps(res) + "\n")


def load(name):
    """A results file, or None."""
    try:
        with open(os.path.join(RES, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, digits=0):
    return "{:,.{d}f}".format(v, d=digits)


def openssl_multi(r):
    """The processes openssl speed signed on (before issue 11: threads)."""
    return r.get("openssl_multi", r["threads"])


def ratio_rows(r):
    """The throughput table of bench/compare."""
    rows = [
        ("p16", "RESP, 50 conns, pipeline 16, batch signing",
         "redis-server HGETALL", "redis-benchmark", 1.0),
        ("p1", "RESP, 50 conns, pipeline 1, batch signing",
         "redis-server HGETALL", "redis-benchmark", 1.2),
        ("http", "HTTP keep-alive, 64 conns, batch signing",
         "nginx (2 workers), static file of a statement's size", "wrk -t2",
         1.0),
        ("pa", "RESP pipeline 16, sign_mode per-answer",
         "openssl speed -multi %d ed25519 (signs/s)" % openssl_multi(r),
         "redis-benchmark / openssl", 0.9),
    ]
    out = ["| load | cardd /s (median) | peer | peer /s (median) | "
           "ratios per round | median ratio | target | met |",
           "|---|---|---|---|---|---|---|---|"]
    for key, what, peer, tool, target in rows:
        c = [x["rps"] for x in r[key]["cardd"]]
        p = [x["rps"] for x in r[key]["peer"]]
        ratios = [a / b for a, b in zip(c, p)]
        med = statistics.median(ratios)
        out.append("| %s (%s) | %s | %s | %s | %s | **%.2f** | >= %.1f | %s |"
                   % (what, tool, fmt(statistics.median(c)), peer,
                      fmt(statistics.median(p)),
                      " ".join("%.2f" % x for x in ratios), med, target,
                      "yes" if med >= target else "**no**"))
    return out


def cpu_rows(r):
    """Where the CPU went in the throughput runs: the load tool's and the
    server's, in % of one core (medians over the rounds)."""
    names = {"p16": "RESP pipeline 16", "p1": "RESP pipeline 1",
             "http": "HTTP keep-alive", "pa": "RESP pipeline 16, per-answer"}
    out = ["| load | tool, against cardd | cardd | tool, against the peer | "
           "peer |", "|---|---|---|---|---|"]
    for key, name in names.items():
        c, p = r[key]["cardd"], r[key]["peer"]
        if "client_cpu" not in c[0]:
            continue

        def med(runs, k):
            if not runs or k not in runs[0]:
                return "-"
            return "%.0f%%" % statistics.median(x[k] for x in runs)
        out.append("| %s | %s | %s | %s | %s |"
                   % (name, med(c, "client_cpu"), med(c, "server_cpu"),
                      med(p, "client_cpu"), med(p, "server_cpu")))
    return out


def cost_runs(r, key, side):
    """Server CPU microseconds per answer of each run, None where the run
    did not record it (results from before issue 11). For the per-answer
    peer, OpenSSL's CPU per signature: 1e6 / (signs/s per process)."""
    if key == "pa" and side == "peer":
        return [x.get("cpu_us_per_sign",
                      1e6 * x.get("processes", openssl_multi(r)) / x["rps"])
                for x in r[key][side]]
    return [x.get("server_cpu_us_per_answer") for x in r[key][side]]


def cost_rows(r):
    """CPU per answer: cardd's next to the peer's per request, medians
    over the rounds, with the ratio of each round as in ratio_rows; "-"
    where the results do not have it."""
    rows = [("p16", "RESP pipeline 16, batch signing",
             "redis-server, per HGETALL", 1.0),
            ("p1", "RESP pipeline 1, batch signing",
             "redis-server, per HGETALL", None),
            ("http", "HTTP keep-alive, batch signing",
             "nginx (master + 2 workers), per request", 1.0),
            ("pa", "RESP pipeline 16, sign_mode per-answer",
             "openssl speed, per signature on one core", None)]
    out = ["| load | cardd us CPU per answer (median) | peer | peer us CPU "
           "per request (median) | ratios per round | median ratio cardd / "
           "peer | target | met |", "|---|---|---|---|---|---|---|---|"]

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    def show(v, form="%.2f"):
        return "-" if v is None else form % v
    for key, what, peer, target in rows:
        c, p = cost_runs(r, key, "cardd"), cost_runs(r, key, "peer")
        ratios = [a / b for a, b in zip(c, p) if a is not None and b]
        ratio = med(ratios)
        met = "-" if target is None or ratio is None else (
            "yes" if ratio <= target else "**no**")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |"
                   % (what, show(med(c)), peer, show(med(p)),
                      " ".join("%.2f" % x for x in ratios) or "-",
                      show(ratio, "**%.2f**"),
                      "-" if target is None else "<= %.1f" % target, met))
    return out


def one_rows(r):
    """One client, pipeline 1: CPU per answer of cardd in both sign modes
    and of redis-server per HGETALL, next to one Ed25519 signature (openssl
    speed on one process). Target: cardd <= 1.2 x the signature."""
    o = r.get("one")
    if o is None:
        return ["_Not recorded in this run._"]
    med = statistics.median
    sign = med([x["cpu_us_per_sign"] for x in o["sign"]])
    out = ["| server | answers /s (median) | us CPU per answer (median) | "
           "/ one Ed25519 signature (%.1f us) | target | met |" % sign,
           "|---|---|---|---|---|---|"]
    for key, what, target in (("pa", "cardd, sign_mode per-answer "
                               "(shipped)", 1.2),
                              ("batch", "cardd, sign_mode batch", 1.2),
                              ("redis", "redis-server, HGETALL", None)):
        cost = med([x["server_cpu_us_per_answer"] for x in o[key]])
        ratio = cost / sign
        met = "-" if target is None else ("yes" if ratio <= target
                                          else "**no**")
        out.append("| %s | %s | %.1f | %.2f | %s | %s |" % (
            what, fmt(med([x["rps"] for x in o[key]])), cost, ratio,
            "-" if target is None else "<= %.1f" % target, met))
    return out


def idle_line(r):
    """CPU ticks an idle cardd used (target 0)."""
    i = r.get("idle")
    if i is None:
        return []
    t, us = i["ticks"], i.get("cpu_us")
    exact = "" if us is None else (
        " The scheduler counted %s and %s us of CPU (schedstat): the "
        "follow round on the Redis link, once a second, that keeps "
        "`synced_at` fresh." % (fmt(us["batch"]), fmt(us["per-answer"])))
    return ["", "Idle, no client for %d s: cardd (batch) used %d CPU ticks, "
            "cardd (per-answer) %d (target 0: %s).%s" % (
                i["seconds"], t["batch"], t["per-answer"],
                "met" if not any(t.values()) else "**not met**", exact)]


def cardd_setup(r):
    """How cardd's threads and signers were set: its shipped defaults
    (auto, and what auto gave on this machine) or by hand. Results from
    before issue 11 always set threads by hand."""
    if "threads_override" not in r:
        return "`threads %d` (hand-set)" % r["threads"]
    keys = ("threads", "signers")
    if all(r[k + "_override"] is None for k in keys):
        return ("its shipped defaults (threads auto, signers auto; here "
                "that gave threads %d, signers %d)"
                % (r["threads"], r["signers"]))
    return ", ".join("`%s %d` (hand-set)" % (k, r[k])
                     if r[k + "_override"] is not None else
                     "%s auto (here %d)" % (k, r[k]) for k in keys)


def reproduce_opts(r):
    """The --threads / --signers options that ran these results."""
    if "threads_override" not in r:
        return " --threads %d" % r["threads"]
    return "".join(" --%s %d" % (k, r[k + "_override"])
                   for k in ("threads", "signers")
                   if r[k + "_override"] is not None)


def open_rows(r):
    """Open-loop latency at half the peak, cardd and its peer: medians
    over the rounds, and cardd's p99 of each round."""
    out = ["| protocol | peak /s | rate /s | cardd p50 | cardd p99 | "
           "cardd p99.9 | cardd p99 per round | peer at the same rate: "
           "p50 / p99 / p99.9 | target p99 | met |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for proto, o in sorted(r["open"].items()):
        mine = [j["latency_us"] for j in o["runs"]]
        peer = [j["latency_us"] for j in o["peer_runs"]]
        med = {k: statistics.median(x[k] for x in mine)
               for k in ("p50", "p99", "p99.9")}
        pmed = {k: statistics.median(x[k] for x in peer)
                for k in ("p50", "p99", "p99.9")}
        out.append("| %s | %s | %s | %.0f us | **%.0f us** | %.0f us | %s | "
                   "%s: %.0f / %.0f / %.0f us | <= 1000 us | %s |"
                   % (proto.upper(), fmt(o["peak"]), fmt(o["rate"]),
                      med["p50"], med["p99"], med["p99.9"],
                      " ".join("%.0f" % x["p99"] for x in mine),
                      "redis HGETALL" if proto == "resp" else "nginx",
                      pmed["p50"], pmed["p99"], pmed["p99.9"],
                      "yes" if med["p99"] <= 1000 else "**no**"))
    return out


def latency_rows(r):
    """Closed-loop percentiles of each target (the picture)."""
    out = ["| target | answers /s | p50 | p90 | p99 | p99.9 | max |",
           "|---|---|---|---|---|---|---|"]
    for name, j in r["latency"].items():
        lat = j["latency_us"]
        out.append("| %s | %s | %.0f us | %.0f us | %.0f us | %.0f us | "
                   "%.0f us |" % (name, fmt(j["throughput"]), lat["p50"],
                                  lat["p90"], lat["p99"], lat["p99.9"],
                                  lat["max"]))
    return out


def stall_line(r):
    """bench/stallprobe's reading of the box, servers idle."""
    st = r.get("stalls")
    if not st:
        return []
    cpus = "; ".join(
        "CPU %d lost %.2f%% in %d gaps, %d of them over 1 ms, the longest "
        "%.2f ms" % (c["cpu"], c["lost_pct"], c["gaps"], c["over_1ms"],
                     c["max_ms"]) for c in st["cpus"])
    return ["The box itself, before the runs (`build/stallprobe %.0f`: one "
            "thread per core spinning on the clock; a gap is over %d us "
            "without running): %s." % (st["seconds"], st["gap_us"], cpus),
            ""]


def misses(r):
    """For each target this run missed, what its own figures say holds it
    back (only what the data above shows)."""
    out = []
    med = statistics.median

    def ratio(key):
        return med(a["rps"] / b["rps"] for a, b in
                   zip(r[key]["cardd"], r[key]["peer"]))
    p1 = r["p1"]["cardd"]
    if ratio("p1") < 1.2 and "client_cpu" in p1[0]:
        out.append(
            "- **RESP pipeline 1 (%.2f, target 1.2).** redis-benchmark is "
            "single-threaded and used %.0f%% of its core against cardd and "
            "%.0f%% against redis-server: at depth 1 its own per-request "
            "cost (a read, a write and two epoll_ctl calls each; perf) "
            "caps both runs, so the ratio is how much cheaper cardd's reply "
            "is for the tool to take. cardd used %.0f%% of its core "
            "(redis-server %.0f%%): the two cores were not full, the "
            "answers waited on signature rounds (see the issue 11 "
            "section)."
            % (ratio("p1"), med(x["client_cpu"] for x in p1),
               med(x["client_cpu"] for x in r["p1"]["peer"]),
               med(x["server_cpu"] for x in p1),
               med(x["server_cpu"] for x in r["p1"]["peer"])))
    if ratio("pa") < 0.9:
        out.append(
            "- **per-answer (%.2f, target 0.9).** perf on the worker in "
            "this load puts about 90%% of its time in OpenSSL's Ed25519 "
            "(which PROTOCOL.md §4 prescribes); the rest is the lookup (two "
            "cache misses), the JWS encoding and the socket. openssl speed "
            "signs a short message in a loop and nothing else; our input "
            "is the ~410-byte JWS signing input. Single rounds swing with "
            "the box's phases (see the ratios per round)." % ratio("pa"))
    for proto, o in sorted(r.get("open", {}).items()):
        mine = med(j["latency_us"]["p99"] for j in o["runs"])
        peer = med(j["latency_us"]["p99"] for j in o["peer_runs"])
        if mine > 1000:
            out.append(
                "- **open loop %s (p99 %.0f us, target 1000 us).** %s at "
                "the same rate, from the same client, gave p99 %.0f us. "
                "cardd's own service time (write to answer) had p99 %.0f us; "
                "the rest is send lag (p99 %.0f us): stalls of a "
                "millisecond or more on this shared 2-core box (see the "
                "stall probe above), during which all 50 connections wait "
                "and due requests queue. Pinning client and server to a "
                "core each did not remove them." % (
                    proto.upper(), mine,
                    "redis-server" if proto == "resp" else "nginx", peer,
                    med(j["service_us"]["p99"] for j in o["runs"]),
                    med(j["send_lag_us"]["p99"] for j in o["runs"])))
    return ["### What holds the missed targets", ""] + out + [""] \
        if out else []


def compare_section(r, name):
    if r is None:
        return ["_No run of bench/compare recorded yet._", ""]
    mem = r["cardd_rss_bytes"] / r["cards"]
    return [
        "Run: %s, on %s. %s cards; %d rounds of %d s, alternating cardd "
        "and peer; cardd with %s. Raw data: `bench/results/%s`."
        % (r["date"], r["machine"], fmt(r["cards"]), r["rounds"],
           r["seconds"], cardd_setup(r), name), "",
        "Reproduce: `bench/compare --rounds %d --seconds %d%s` "
        "(or `make bench`)." % (r["rounds"], r["seconds"], reproduce_opts(r)),
        "",
        "### Throughput, side by side", ""] + ratio_rows(r) + [
        "", "CPU in the same runs, in % of one core (the box has two; "
        "a load tool near 100% is what holds that figure, not the server):",
        ""] + cpu_rows(r) + [
        "", "### CPU per answer", "",
        "The server's CPU time over each throughput run (user + system, all "
        "its threads and processes, from /proc), divided by the answers it "
        "completed (redis-benchmark's -n, wrk's request count). For "
        "per-answer the peer is `openssl speed`: its time per signature on "
        "one core, 1e6 / (signs/s per process). Medians over the rounds; "
        "\"-\" where the run did not record it.", ""] + cost_rows(r) + [
        "", "### One client, pipeline 1 (redis-benchmark -c 1)", ""] + \
        one_rows(r) + idle_line(r) + [
        "", "### Open loop at half the peak (cardbench, 50 conns, pipeline "
        "1: the closed-loop peak first, with 2 client threads; then a "
        "fixed rate of half of it from 1 client thread, cardd and the "
        "peer in turn each round; latency from each request's intended "
        "send time; medians over the rounds)", ""] + \
        open_rows(r) + [""] + stall_line(r) + misses(r) + [
        "### Memory at %s cards" % fmt(r["cards"]), "",
        "| | bytes per card | target | met |", "|---|---|---|---|",
        "| cardd resident (RSS / cards) | %.1f | <= 100 | %s |"
        % (mem, "yes" if mem <= 100 else "**no**"),
        "| redis-server used_memory / cards | %.1f | | |"
        % (r["redis_used_memory"] / r["cards"]), "",
        "### Latency percentiles, closed loop (cardbench, 50 conns, "
        "pipeline 1)", "", "![latency percentiles](latency.png)", ""] + \
        latency_rows(r) + [""]


def sync_row(what, runs, form):
    """One row of the sync table: form(run) per run, "-" where a run does
    not have the figure (older results)."""
    cells = []
    for r in runs:
        try:
            cells.append(form(r))
        except (KeyError, TypeError):
            cells.append("-")
    return "| %s | %s |" % (what, " | ".join(cells))


def sync_section(names):
    """bench/sync_bench.py runs side by side (1M cards, 10M cards)."""
    named = [(n, load(n)) for n in names]
    named = [(n, r) for n, r in named if r is not None]
    runs = [r for _, r in named]
    if not runs:
        return ["_No run of bench/sync_bench.py recorded yet._", ""]
    out = []
    for name, r in named:
        out.append("- %s cards: %s, on %s. `bench/sync_bench.py --cards %d "
                   "--changes %d --out bench/results/%s`"
                   % (fmt(r["cards"]), r["date"], r["machine"], r["cards"],
                      r["propagation_ms"]["changes"], name))
    out += ["", "cardd runs its shipped config (so `sign_mode per-answer`: "
            "the lookup figure is bound by Ed25519 signing).", "",
            "| figure | " + " | ".join("%s cards" % fmt(r["cards"])
                                       for r in runs) + " |",
            "|---|" + "---|" * len(runs)]
    rows = [
        ("`cardctl gen`", lambda r: "%.1f s" % r["gen_seconds"]),
        ("`cardctl import` into Redis", lambda r: "%.1f s"
         % r["import_seconds"]),
        ("full sync (SCAN + pipelined HGETALL into a new index)",
         lambda r: "%.1f s (%.2f s per million)" % (
             r["full_sync_seconds"],
             r["full_sync_seconds"] * 1e6 / r["full_sync_cards"])),
        ("CPU over the full sync: redis-server, cardd (start to ready)",
         lambda r: "%.2f s, %.2f s" % (r["full_sync_redis_cpu_seconds"],
                                       r["full_sync_cardd_cpu_seconds"])),
        ("cardd resident memory after the sync", lambda r:
         "%.1f bytes/card (%s MiB)" % (r["cardd_bytes_per_card"],
                                       fmt(r["cardd_rss_bytes"] / 2**20, 1))),
        ("Redis used_memory for the same cards", lambda r:
         "%.1f bytes/card (%s MiB)" % (r["redis_bytes_per_card"], fmt(
             r["redis_used_memory_bytes"] / 2**20, 1))),
        ("VALIDITY over all cards, redis-benchmark -c 50 -P 16, median of 3",
         lambda r: "%s /s" % fmt(r["lookup"]["median"])),
        ("change propagation, EXEC (HSET+XADD) to first answer showing it",
         lambda r: "%d changes: p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (
             r["propagation_ms"]["changes"], r["propagation_ms"]["p50"],
             r["propagation_ms"]["p99"], r["propagation_ms"]["max"])),
        ("start from the snapshot to ready", lambda r:
         "%.2f s (file %s MiB, load %.2f s, %d full syncs)" % (
             r["snapshot_start_to_ready_seconds"],
             fmt(r["snapshot_bytes"] / 2**20, 1), r["snapshot_load_seconds"],
             r["snapshot_start_full_syncs"])),
    ]
    return out + [sync_row(w, runs, f) for w, f in rows] + [""]


def fleet_section(r):
    """bench/fleet: the faults under load, and what held."""
    if r is None:
        return ["_No run of bench/fleet recorded yet._", ""]
    prop = r["propagation_ms"]
    out = ["- %s, on %s. `%s` (%s cards, %.0f s of faults after %.0f s of "
           "set-up)" % (r["date"], r["machine"], r["command"],
                        fmt(r["cards"]), r["seconds"], r["setup_seconds"]),
           "", "One host: a Redis master and replica, three Sentinels "
           "(down-after 1 s), two cardd with their shipped defaults "
           "following the replica (`source sentinel://…/cardd`), HAProxy "
           "running `conf/fleet/haproxy.cfg` with only its ports changed. "
           "The load is two HTTP keep-alive GET loops and one RESP loop in "
           "Python through HAProxy, every answer's signature and reason "
           "checked against what Redis held at its `rev`; it is bound by "
           "Python on this 2-core box, so its rate is no capacity figure "
           "(bench/compare has those).", "",
           "| fault | back in rotation | full re-reads (each cardd) | "
           "every cardd equals Redis |", "|---|---|---|---|"]
    for x in r["faults"]:
        extra = " (failover %.1f s)" % x["failover_s"] \
            if "failover_s" in x else ""
        out.append("| %s | %.1f s%s | %s → %s | %s |" % (
            x["fault"], x["recovered_s"], extra,
            ", ".join("%d" % v for v in x["full_syncs_before"]),
            ", ".join("%d" % v for v in x["full_syncs_after"]),
            "yes" if x["equal"] else "**no**"))
    q = next((x for x in r["faults"] if "quorum" in x["fault"]), None)
    if q is not None and "sync_age_without_their_replica_s" in q:
        out += ["", "With every Sentinel away each cardd kept following its "
                "node: `synced_at` %s s old. Then the replica they followed "
                "(port %s) was killed too, for 3 s: `synced_at` %s s old, "
                "answers from the index all along, back in step when it "
                "returned (they dial the node the Sentinels named last)." % (
                    " and ".join("%.3f" % v for v in
                                 q["sync_age_without_sentinels_s"]),
                    q["replica_killed"], " and ".join(
                        "%.1f" % v for v in
                        q["sync_age_without_their_replica_s"]))]
    out += ["", "A cardd restarted from its snapshot begins its count at 0 "
            "(and stays there: it carries on from the snapshot's cursor); "
            "the one full sync each cardd did at its very first start is "
            "the 1.", "", "| what must hold | measured | met |",
            "|---|---|---|",
            "| no wrong answer | %s of %s answers wrong | %s |" % (
                fmt(r["wrong_total"]), fmt(r["answers_total"]),
                "yes" if not r["wrong_total"] else "**no**"),
            "| no failed HTTP GET through HAProxy | %d failed | %s |" % (
                len(r["failed_gets"]),
                "yes" if not r["failed_gets"] else "**no**"),
            "| RESP clients back within 1 s | %d reconnects, longest "
            "%.3f s | %s |" % (r["resp_reconnects"],
                               r["resp_reconnect_max_s"],
                               "yes" if r["resp_reconnect_max_s"] <= 1
                               else "**no**"),
            "| a change on every cardd, p99 ≤ 5 ms | %s changes, %s "
            "arrivals: p50 %.2f ms, p99 %.2f ms, max %.0f ms | %s |" % (
                fmt(r["changes"]), fmt(prop["n"]), prop["p50"], prop["p99"],
                prop["max"], "yes" if prop["p99"] <= 5 else "**no**"),
            "| the same, by cardd's own `cardd_change_delay_seconds` | "
            "%s changes applied: p50 within %s ms, p99 within %s ms "
            "(bucket bounds) | %s |" % (
                fmt(r["cardd_change_delay_ms"]["n"]),
                "%g" % r["cardd_change_delay_ms"]["p50_within"],
                "%g" % r["cardd_change_delay_ms"]["p99_within"],
                "yes" if r["cardd_change_delay_ms"]["p99_within"] <= 5
                else "**no**"),
            "| every change on every live cardd within 3 s | %d not "
            "seen; %d lost by Redis (taken by the old master, never "
            "replicated) | %s |" % (
                len(r.get("unseen", [])), len(r.get("lost_by_redis", [])),
                "yes" if not r.get("unseen") else "**no**"),
            "", "Propagation is timed from the master's EXEC reply to the "
            "first answer showing the change, polled by the writer on every "
            "cardd's own RESP port at once, from a process of its own "
            "(tests/integration/fleet_writer.py: a thread beside the load "
            "would time its wait for Python's GIL instead), faults "
            "included; bench/sync_bench.py times the same on a quiet box "
            "(Following Redis, below). cardd's own histogram times each "
            "change from its stream entry id (the master's clock, in ms, so "
            "up to 1 ms high) to the index, summed over both cardd and "
            "their restarts.", ""]
    by = r.get("propagation_by_phase_ms")
    if by:
        out += ["Propagation in each phase (a fault's phase runs from the "
                "fault until the fleet is back and the cardd are compared "
                "with Redis):", "",
                "| phase | arrivals | p50 | p99 | max |", "|---|---|---|---|---|"]
        for name in ["steady"] + [x["fault"] for x in r["faults"]]:
            p = by.get(name)
            if p and p["n"]:
                out.append("| %s | %s | %.2f ms | %.2f ms | %.0f ms |" % (
                    name, fmt(p["n"]), p["p50"], p["p99"], p["max"]))
        out.append("")
    return out


def fuzz_section(f):
    if f is None:
        return ["_No fuzzing run recorded yet._", ""]
    out = ["Run: %s, on %s. Reproduce: `make fuzz FUZZ_SECONDS=%d` (each "
           "target from its seeds in tests/fuzz/corpus, ASan + UBSan)."
           % (f["date"], f["machine"], f["seconds"]), "",
           "| target | executions | seconds | crashes |", "|---|---|---|---|"]
    for t in f["targets"]:
        out.append("| %s | %s | %.1f | %d |" % (t["name"], fmt(t["execs"]),
                                               t["seconds"], t["crashes"]))
    return out + [""]


def tls_section(t):
    if t is None:
        return ["_No TLS run recorded yet._", ""]
    out = ["Run: %s, on %s. Reproduce: `bench/tls_bench.py`."
           % (t["date"], t["machine"]), "",
           "| measure | plain TCP | TLS | TLS / plain |", "|---|---|---|---|"]
    for row in t["rows"]:
        out.append("| %s | %s | %s | %.2f |" % (row["what"], fmt(row["plain"]),
                                               fmt(row["tls"]),
                                               row["tls"] / row["plain"]))
    hs = t["handshakes"]
    return out + ["", "TLS handshakes alone (`openssl s_time`, one client): "
                  "%s full /s, %s resumed /s (session tickets)."
                  % (fmt(hs["full_per_s"]), fmt(hs["resumed_per_s"])), ""]


def note(name):
    """A section written by hand from runs of other commands (bench/ab,
    codes_bench.sh, sm2_bench.py, fhir_bench.sh): bench/results/NAME,
    each figure in it with the command that gave it."""
    with open(os.path.join(HERE, "results", name)) as f:
        return f.read().rstrip().splitlines() + [""]


def main():
    lines = [
        "# Benchmark results", "",
        "Every figure here was measured on the machine named with it, by "
        "the command given, and is rendered from the raw data in "
        "`bench/results/` by `bench/results.py`. The box is shared and has "
        "fast and slow phases about 30% apart, so speed targets are ratios "
        "against a peer measured in the same run, alternating, and the "
        "table gives medians. A target not met says **no**.", "",
        "## cardd next to Redis, nginx and OpenSSL (issue 4)", ""]
    cmp_name = "compare.json"
    lines += compare_section(load(cmp_name), cmp_name)
    lines += ["## Signing off the event loop (issue 11)", ""] + note(
        "issue11.md")
    lines += ["## The architecture clean-up, before and after (issue 10)",
              ""] + note("issue10.md")
    lines += ["## Checks by electronic card code (issue 13)", ""] + note(
        "issue13.md")
    lines += ["## SM2 and SM3 (issue 14)", ""] + note("issue14.md")
    lines += ["## FHIR R4 next to plain HTTP (issue 15)", ""] + note(
        "issue15.md")
    lines += ["## The fleet: Sentinel, HAProxy and faults (issue 12)",
              ""] + fleet_section(load("fleet.json"))
    lines += ["## Following Redis (issue 3)", ""] + sync_section(
        ["sync.json", "sync-10m.json"])
    lines += ["## TLS next to plain TCP (issue 5)", ""] + tls_section(
        load("tls.json"))
    lines += ["## Fuzzing (issue 5)", ""] + fuzz_section(load("fuzz.json"))
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
