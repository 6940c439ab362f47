"""A cardd fleet on loopback, as conf/fleet/README.md lays it out: a Redis
master and replica with three Sentinels, two cardd following the replica
through the Sentinels, and HAProxy in front running the shipped
conf/fleet/haproxy.cfg (only its ports, and what needs root, rewritten).

FleetRun drives load through HAProxy (HTTP keep-alive GETs and RESP),
writes changes to the master and times their arrival on every cardd,
and puts the fleet through its faults one after another; after each it
checks that every cardd equals Redis card for card. Every answer is
checked against what Redis held at the answer's rev. Used by the fleet
test (tests/integration/test_fleet.py), bench/fleet (longer, figures for
bench/RESULTS.md) and make fleet (tools/fleet.py, the demo).
"""

import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from tests.integration import harness
from tests.integration import test_redis_sync as rs
from tests.integration.harness import AT, HOST, PeerClosed

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CFG = harness.ROOT / "conf" / "fleet" / "haproxy.cfg"
# The reference ports of conf/fleet/haproxy.cfg.
REF = {"http": 8080, "resp": 6380, "stats": 8404,
       "cardd_http": [8101, 8102], "cardd_resp": [6391, 6392]}
BARRIER = "ZZFLEET00001"        # a card used as a barrier, never kept


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def spread_ms(seconds):
    """n, p50, p99 and max of a list of seconds, in ms."""
    if not seconds:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {"n": len(seconds),
            "p50": round(percentile(seconds, 50) * 1000, 2),
            "p99": round(percentile(seconds, 99) * 1000, 2),
            "max": round(max(seconds) * 1000, 2)}


class HAProxy:
    """haproxy -db with the shipped config, its ports mapped to ours."""

    def __init__(self, cardds, ports=None):
        self.dir = Path(tempfile.mkdtemp(prefix="cardd-it-haproxy-"))
        self.cfg = self.dir / "haproxy.cfg"
        self.log_path = self.dir / "haproxy.log"
        ports = ports or {}
        self.http_port = ports.get("http") or harness.free_port()
        self.resp_port = ports.get("resp") or harness.free_port()
        self.stats_port = ports.get("stats") or harness.free_port()
        self.cardds = cardds
        self.proc = None

    def render(self):
        """The shipped file with our ports; no chroot, user, daemon or
        syslog, and a private runtime socket."""
        text = HAPROXY_CFG.read_text()
        text = re.sub(r"(?m)^\s*(chroot|user|group|daemon|log /dev/log)"
                      r"\b.*$", "", text)
        text = text.replace("/run/haproxy/admin.sock",
                            str(self.dir / "admin.sock"))
        # The global maxconn asks for twice as many descriptors as the
        # shell's limit may allow; the test needs few.
        text = re.sub(r"(?m)^(\s*)maxconn 20000$", r"\1maxconn 2000", text)
        ports = {REF["http"]: self.http_port, REF["resp"]: self.resp_port,
                 REF["stats"]: self.stats_port}
        for i, d in enumerate(self.cardds):
            ports[REF["cardd_http"][i]] = d.http_port
            ports[REF["cardd_resp"][i]] = d.resp_port

        def port(m):
            ref = int(m.group(2))
            if ref not in ports:
                raise AssertionError("conf/fleet/haproxy.cfg uses port %d, "
                                     "which the fleet does not map" % ref)
            return "%s%d" % (m.group(1), ports[ref])
        text = re.sub(r"(127\.0\.0\.1:|check port )(\d+)", port, text)
        self.cfg.write_text(text)

    def start(self):
        self.render()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.cfg)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if not harness.wait_for(lambda: self.servers() is not None, 10):
            self.stop()
            raise RuntimeError("haproxy did not start:\n%s" %
                               self.log_path.read_text()[-2000:])
        return self

    def servers(self):
        """{(backend, server): status} from the stats page (None: down)."""
        try:
            with urllib.request.urlopen("http://%s:%d/;csv" % (
                    HOST, self.stats_port), timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        rows = list(csv.reader(text.lstrip("# ").splitlines()))
        head = rows[0]
        px, sv, st = (head.index(k) for k in ("pxname", "svname", "status"))
        return {(row[px], row[sv]): row[st] for row in rows[1:]
                if len(row) > st and row[sv] not in ("FRONTEND", "BACKEND")}

    def all_up(self):
        s = self.servers()
        return bool(s) and all(v.startswith("UP") for v in s.values())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def cleanup(self):
        self.stop()
        if not os.environ.get("CARDD_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Fleet:
    """Redis master + replicas + 3 Sentinels, n cardd, HAProxy."""

    def __init__(self, cards=2000, seed=61, replicas=1, n_cardd=2,
                 ports=None, down_after_ms=1000, conf=None):
        ports = ports or {}
        self.conf = dict(conf or {})
        self.query = self.conf.pop("query", "")   # e.g. ?role=master
        self.work = Path(tempfile.mkdtemp(prefix="cardd-it-fleet-"))
        self.redis = self.haproxy = None
        self.cardd = []
        self.replicas = replicas
        try:
            self._start(cards, seed, replicas, n_cardd, ports, down_after_ms)
        except BaseException:
            self.cleanup()
            raise

    def _start(self, cards, seed, replicas, n_cardd, ports, down_after_ms):
        self.redis = harness.RedisFleet(replicas, down_after_ms,
                                        ports.get("redis_fleet"))
        self.redis.wait_settled(replicas)
        self.url = self.redis.url()
        path = self.work / "cards.csv"
        harness.cardctl_gen(path, cards, seed)
        self.rows = rs.read_cards(path)
        harness.cardctl_import(path, self.url)
        for i in range(n_cardd):
            cfg = {"source": self.url + self.query,
                   "snapshot": "cards.snap",
                   "snapshot_interval": "1", "max_staleness": "30"}
            cfg.update(self.conf)
            d = harness.Daemon(config=cfg, name="fleet%d" % i)
            self.cardd.append(d)
            if ports.get("cardd_http"):
                d.http_port = ports["cardd_http"][i]
                d.resp_port = ports["cardd_resp"][i]
            d.start(keep_ports=bool(ports.get("cardd_http")))
            d.snap = d.dir / "cards.snap"
        self.keys = {}
        for d in self.cardd:
            self.learn_key(d)
        self.haproxy = HAProxy(self.cardd, ports)   # cleanup() stops it
        self.haproxy.start()
        if not harness.wait_for(self.haproxy.all_up, 15, 0.2):
            raise RuntimeError("haproxy does not see every cardd up: %r" %
                               self.haproxy.servers())

    def learn_key(self, d):
        for k in json.loads(d.jwks_bytes())["keys"]:
            self.keys[k["kid"]] = harness.b64url_decode(k["x"])

    def healthy(self):
        """Every cardd ready, every server up in HAProxy, the Sentinels
        naming a master with all its replicas in step."""
        for d in self.cardd:
            try:
                if not d.alive() or d.get("/readyz").status != 200:
                    return False
            except (OSError, PeerClosed):
                return False
        return self.haproxy.all_up() and self.redis.master_port() and \
            len(self.redis.healthy_replicas()) >= self.replicas

    def cleanup(self):
        if self.haproxy:
            self.haproxy.cleanup()
        for d in self.cardd:
            d.cleanup()
        if self.redis:
            self.redis.cleanup()
        if not os.environ.get("CARDD_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)


class Truth:
    """Every version of every card written, by rev: an answer is right
    when it is what PROTOCOL.md §2 gives for the version at its rev."""

    def __init__(self, rows):
        self.lock = threading.Lock()
        self.revs = {c: {int(r["rev"]): r} for c, r in rows.items()}
        self.latest = dict(rows)

    def add(self, card, row):
        with self.lock:
            self.revs[card][int(row["rev"])] = row
            self.latest[card] = row

    def wrong(self, st):
        """None when st is right, else why not."""
        with self.lock:
            row = self.revs.get(st.get("card"), {}).get(st.get("rev"))
        if row is None:
            return "rev %r of %s was never written" % (st.get("rev"),
                                                        st.get("card"))
        want = rs.expected(row)
        if st.get("reason") != want:
            return "%s rev %s says %s, Redis held %s" % (
                st["card"], st["rev"], st.get("reason"), want)
        return None


class Tally:
    """What the load saw, per phase."""

    def __init__(self):
        self.lock = threading.Lock()
        self.phase = "steady"
        self.by_phase = {}
        self.failures = []          # (phase, what)
        self.wrong = []
        self.wrong_by_phase = {}    # phase: {kind: count}
        self.gaps = []              # RESP reconnect gaps, seconds

    def count(self, iface):
        with self.lock:
            d = self.by_phase.setdefault(self.phase, {"http": 0, "resp": 0})
            d[iface] += 1

    def add_wrong(self, kind, what):
        with self.lock:
            self.wrong.append(what)
            d = self.wrong_by_phase.setdefault(self.phase, {})
            d[kind] = d.get(kind, 0) + 1

    def fail(self, what):
        with self.lock:
            self.failures.append((self.phase, what))


class Load(threading.Thread):
    """HTTP GETs (keep-alive) or RESP VALIDITY through HAProxy, each
    answer's signature and reason checked."""

    def __init__(self, fleet, truth, tally, iface, seed, max_s):
        super().__init__(daemon=True)
        self.fleet, self.truth, self.tally = fleet, truth, tally
        self.iface, self.rng, self.max_s = iface, random.Random(seed), max_s
        self.cards = sorted(fleet.rows)
        self.halt = threading.Event()

    def check(self, card, body, jws):
        st = json.loads(body)
        hdr = harness.split_jws(jws)[1]
        pub = self.fleet.keys.get(hdr.get("kid"))
        if st.get("card") != card or pub is None or \
                not harness.verify_cryptography(pub, body, jws):
            self.tally.add_wrong("signature", "bad statement or signature: "
                                 "%r" % body)
            return
        why = self.truth.wrong(st)
        if why:
            self.tally.add_wrong("reason", why)
        self.tally.count(self.iface)

    def ask(self, conn, card):
        if self.iface == "http":
            h = conn.get("/v1/validity?card=%s&at=%s" % (card, AT))
            if h.status != 200:
                raise ValueError("HTTP %d %r" % (h.status, h.body[:200]))
            return h.body, h.header("card-signature")
        r = conn.command("VALIDITY", card, "AT", AT)
        if not isinstance(r, list) or len(r) != 2:
            raise ValueError("RESP reply %r" % (r,))
        return r[0], r[1]

    def connect(self):
        h = self.fleet.haproxy
        return harness.HTTPClient(h.http_port) if self.iface == "http" \
            else harness.RESPClient(h.resp_port)

    def run(self):
        deadline = time.monotonic() + self.max_s
        conn, broke = None, None
        while not self.halt.is_set() and time.monotonic() < deadline:
            card = self.rng.choice(self.cards)
            try:
                conn = conn or self.connect()
                body, jws = self.ask(conn, card)
            except Exception as e:      # noqa: BLE001 - recorded
                if self.iface == "http":
                    self.tally.fail("GET %s: %r" % (card, e))
                elif broke is None:
                    broke = time.monotonic()
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.01)
                continue
            if broke is not None:
                self.tally.gaps.append(time.monotonic() - broke)
                broke = None
            self.check(card, body, jws)
        if broke is not None:
            self.tally.gaps.append(time.monotonic() - broke)
        if conn:
            conn.close()


class Writer:
    """The writer (tests/integration/fleet_writer.py) in a process of its
    own, so that it times cardd and not its wait for this process's GIL
    behind the load threads. Each version it makes is put in the truth
    before it is written, so no answer can carry a rev the truth lacks."""

    SCRIPT = Path(__file__).with_name("fleet_writer.py")

    def __init__(self, fleet, truth, seed, max_s):
        self.fleet, self.truth = fleet, truth
        self.cfg = {"sentinels": [s.port for s in fleet.redis.sentinels],
                    "master": fleet.redis.NAME,
                    "cardd": [d.resp_port for d in fleet.cardd],
                    "rows": truth.latest, "seed": seed, "max_s": max_s}
        self.idle = threading.Event()
        self.result = None
        self.proc = self.reader = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(self.SCRIPT)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1)
        self.tell(json.dumps(self.cfg))
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def tell(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass                    # it has gone; join() says what it did

    def read(self):
        """Its lines: versions into the truth (then ok), idle, result."""
        for line in self.proc.stdout:
            word, _, rest = line.rstrip("\n").partition(" ")
            if word == "row":
                card, _, row = rest.partition(" ")
                self.truth.add(card, json.loads(row))
                self.tell("ok")
            elif word == "idle":
                self.idle.set()
            elif word == "result":
                self.result = json.loads(rest)

    def pause(self, timeout=30):
        """No writes until resume(); True once the writer has stopped."""
        self.idle.clear()
        self.tell("pause")
        return self.idle.wait(timeout)

    def resume(self):
        self.tell("resume")

    def phase(self, name):
        self.tell("phase " + name)

    def join(self, timeout):
        """Halt it and wait for its result."""
        self.tell("halt")
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout)
        if self.result is None:
            raise AssertionError("the writer exited with %r and no result"
                                 % self.proc.returncode)

    def seen(self, phase=None):
        return [s for p, s in self.result["seen"] if phase in (None, p)]


class FleetRun:
    """Load and writes through every fault in turn; results per fault."""

    def __init__(self, fleet, steady_s=3.0, log=print, max_s=900):
        self.fleet, self.steady_s, self.log = fleet, steady_s, log
        self.truth = Truth(fleet.rows)
        self.tally = Tally()
        self.loads = [Load(fleet, self.truth, self.tally, iface, seed, max_s)
                      for iface, seed in (("http", 1), ("http", 2),
                                          ("resp", 3))]
        self.writer = Writer(fleet, self.truth, 4, max_s)
        self.faults = []            # one dict per fault
        self.delays = {}            # cardd_change_delay_seconds, summed

    FAULTS = ("redis master killed", "redis replica killed and restarted",
              "one cardd SIGKILLed and restarted", "SIGHUP to every cardd",
              "every cardd restarted in turn (SIGTERM)",
              "Sentinel quorum lost")

    def run(self):
        self.writer.start()
        for t in self.loads:
            t.start()
        try:
            time.sleep(self.steady_s)
            steps = (self.kill_master, self.kill_replica, self.kill_cardd,
                     self.hup_all, self.restart_all, self.lose_quorum)
            for name, step in zip(self.FAULTS, steps):
                self.fault(name, step)
        finally:
            for t in self.loads:
                t.halt.set()
            for t in self.loads + [self.writer]:
                t.join(15)
            for d in self.fleet.cardd:
                self.harvest(d)

    def fault(self, name, step):
        self.log("fault: %s" % name)
        f = {"fault": name, "full_syncs_before": self.full_syncs()}
        with self.tally.lock:
            self.tally.phase = name
        self.writer.phase(name)
        t0 = time.monotonic()
        f.update(step() or {})
        if not harness.wait_for(self.fleet.healthy, 90, 0.2):
            raise AssertionError("the fleet did not recover from %s: "
                                 "haproxy %r" % (name,
                                                 self.fleet.haproxy.servers()))
        f["recovered_s"] = round(time.monotonic() - t0, 2)
        time.sleep(self.steady_s)
        f["full_syncs_after"] = self.full_syncs()
        f["equal"] = self.equal_to_redis()
        with self.tally.lock:
            self.tally.phase = "steady"
        self.writer.phase("steady")
        self.faults.append(f)
        self.log("  %r" % f)

    # -- the faults

    def kill_master(self):
        red = self.fleet.redis
        old = red.master_port()
        red.node(old).kill()
        t0 = time.monotonic()
        if not harness.wait_for(lambda: red.master_port() not in (None, old),
                                60, 0.1):
            raise AssertionError("no failover within 60 s")
        took = time.monotonic() - t0
        self.restart_as_replica(red.node(old))
        return {"failover_s": round(took, 2)}

    def restart_as_replica(self, node, master=None):
        node.args = ["--replicaof", HOST, str(master or
                                             self.fleet.redis.master_port())]
        node.start()

    def kill_replica(self):
        red = self.fleet.redis
        port = sorted(red.healthy_replicas())[0]
        red.node(port).kill()
        time.sleep(1.0)
        self.restart_as_replica(red.node(port))

    def kill_cardd(self):
        d = self.fleet.cardd[0]
        self.harvest(d)
        d.kill()
        time.sleep(0.5)
        d.start(keep_ports=True)
        return {"restarted_full_syncs": self.metric(d,
                                                    "cardd_full_syncs_total")}

    def hup_all(self):
        for d in self.fleet.cardd:
            os.kill(d.proc.pid, signal.SIGHUP)
        time.sleep(1.0)

    def restart_all(self):
        for d in self.fleet.cardd:
            self.harvest(d)
            rc = d.stop()
            if rc != 0:
                raise AssertionError("cardd exited with %r on SIGTERM" % rc)
            d.start(keep_ports=True)
            if not harness.wait_for(self.fleet.healthy, 30, 0.2):
                raise AssertionError("restarted cardd not back in rotation")

    def lose_quorum(self):
        """Every Sentinel away: cardd goes on following its node (and
        stays fresh); then the replica they follow goes too, and their
        synced_at ages while they answer from the index, until it is back
        (they dial the node the Sentinels named last)."""
        red = self.fleet.redis
        master = red.master_port()      # while a Sentinel can say
        for s in red.sentinels:
            s.kill()
        time.sleep(max(self.steady_s, 3.0))
        ages = [self.metric(d, "cardd_sync_age_seconds")
                for d in self.fleet.cardd]
        followed = [self.followed(d) for d in self.fleet.cardd]
        port = next((p for p in followed if p is not None and
                     p != master), None)
        aged = []
        if port is not None:
            # No writes meanwhile: the cardd that follow it could not see
            # them until it is back, by design, and the writer would time
            # that as propagation.
            self.writer.pause()
            red.node(port).kill()
            time.sleep(3.0)
            aged = [self.metric(d, "cardd_sync_age_seconds")
                    for d in self.fleet.cardd]
            self.restart_as_replica(red.node(port), master)
            self.writer.resume()
        for s in red.sentinels:
            s.start()
        red.wait_settled(self.fleet.replicas)
        return {"sync_age_without_sentinels_s": ages,
                "followed": followed, "replica_killed": port,
                "sync_age_without_their_replica_s": aged}

    def followed(self, d):
        """The port of the node d follows now (cardd_source_node_info)."""
        for (name, labels), v in d.metrics()[0].items():
            if name == "cardd_source_node_info" and v == 1:
                addr = dict(labels)["address"]
                return int(addr.rsplit(":", 1)[1]) if addr else None
        return None

    # -- looking

    def harvest(self, d):
        """Add a cardd's change-delay histogram to the run's before its
        process (and its counters) goes."""
        try:
            samples = d.metrics()[0]
        except (OSError, PeerClosed):
            return
        for (name, labels), v in samples.items():
            if name == "cardd_change_delay_seconds_bucket":
                le = dict(labels)["le"]
                self.delays[le] = self.delays.get(le, 0) + v

    def delay_quantile(self, q):
        """The bucket bound (ms) that q of the changes stayed within, by
        cardd's own histogram."""
        finite = sorted((float(k), v) for k, v in self.delays.items()
                        if k != "+Inf")
        total = self.delays.get("+Inf", 0)
        for le, cum in finite:
            if total and cum >= q * total:
                return le * 1000
        return None

    def metric(self, d, name):
        return harness.metric(d.metrics()[0], name)

    def full_syncs(self):
        return [self.metric(d, "cardd_full_syncs_total")
                for d in self.fleet.cardd]

    def equal_to_redis(self):
        """Writes paused, a barrier seen by every cardd, then each one's
        snapshot (saved after the barrier) exported and compared with
        Redis's export."""
        w = self.writer
        try:
            if not w.pause():
                raise AssertionError("the writer did not pause")
            t = self.barrier()
            theirs = self.fleet.work / "redis.csv"
            harness.cardctl_export(theirs, url=self.fleet.url)
            return all(self.snapshot_equal(d, theirs, t)
                       for d in self.fleet.cardd)
        finally:
            w.resume()

    def barrier(self):
        """harness.barrier on every cardd; the time it returns is just
        before the removal: a snapshot saved after that may hold it (one
        that does not is followed by another, since the removal changed
        the index)."""
        return harness.barrier(self.fleet.url, self.fleet.cardd, BARRIER,
                               "WPZZFLEET1", 1)

    def snapshot_equal(self, d, theirs, after):
        mine = self.fleet.work / ("cardd-%d.csv" % d.http_port)
        deadline = time.monotonic() + 10
        diff = "no snapshot saved after the barrier"
        while time.monotonic() < deadline:
            if d.snap.exists() and d.snap.stat().st_mtime > after:
                harness.cardctl_export(mine, snapshot=d.snap)
                diff = harness.export_diff(mine, theirs, "cardd", "redis")
                if diff is None:
                    return True
            time.sleep(0.2)
        self.log("  cardd on %d differs from Redis: %s\n%s" % (
            d.http_port, diff, d.stderr()[-1500:]))
        return False

    def results(self):
        t, w = self.tally, self.writer
        phases = sorted({p for p, _ in w.result["seen"]})
        return {
            "answers": {k: dict(v) for k, v in t.by_phase.items()},
            "answers_total": sum(sum(v.values()) for v in
                                 t.by_phase.values()),
            "failed_gets": [f for f in t.failures],
            "wrong": t.wrong[:20], "wrong_total": len(t.wrong),
            "wrong_by_phase": t.wrong_by_phase,
            "resp_reconnects": len(t.gaps),
            "resp_reconnect_max_s": round(max(t.gaps), 3) if t.gaps else 0,
            "changes": w.result["changes"],
            "propagation_ms": spread_ms(w.seen()),
            "propagation_by_phase_ms": {p: spread_ms(w.seen(p))
                                        for p in phases},
            "unseen": w.result["unseen"],
            "lost_by_redis": w.result["lost"],
            "cardd_change_delay_ms": {
                "n": self.delays.get("+Inf", 0),
                "p50_within": self.delay_quantile(0.50),
                "p99_within": self.delay_quantile(0.99)},
            "faults": self.faults,
        }

