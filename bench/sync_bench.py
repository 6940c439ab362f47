#!/usr/bin/python3
"""Redis-sync benchmark (issues 3 and 11): making and importing N cards,
full sync of them (seconds, cardd's resident memory next to Redis's
used_memory for the same data), lookup throughput over all N
(redis-benchmark -c 50 -P 16, random cards), update propagation latency
(XADD to the first answer that shows it, p50/p99 over many changes), and
start-up from a snapshot of N cards. cardd runs its shipped defaults.

Usage: bench/sync_bench.py [--cards 1000000] [--changes 2000] [--build build]
                           [--out bench/results/sync.json]

Everything runs on 127.0.0.1 ports chosen free, in a temporary folder,
and stops by itself (every wait has a deadline)."""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import results  # bench/results.py: the form of bench/results/*.json


def free_port():
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    """A minimal blocking RESP client (commands out, one reply in)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return (kind == b"+", rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.reply()


def wait_until(pred, seconds, what):
    """Poll pred until true or fail after seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise TimeoutError(what)


def cpu_seconds(pid):
    """User + system CPU time of a process so far, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """VmRSS of a process, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def log_has(path, pattern):
    """The first match of pattern in a log file, or None."""
    with open(path, errors="replace") as f:
        return re.search(pattern, f.read())


def start_cardd(build, tmp, redis_port, http, resp, log):
    """cardd following Redis, with a snapshot file."""
    conf = os.path.join(tmp, "cardd.conf")
    with open(conf, "w") as f:
        f.write("http_listen 127.0.0.1:%d\nresp_listen 127.0.0.1:%d\n"
                "source redis://127.0.0.1:%d\nsigning_key key.pem\n"
                "snapshot cards.snap\nmax_staleness 600\n"
                "auth none\n"
                % (http, resp, redis_port))
    t0 = time.monotonic()
    proc = subprocess.Popen([os.path.join(build, "cardd"), "-c", conf],
                            stderr=open(log, "w"), stdout=subprocess.DEVNULL)
    return proc, t0


def stop(proc, seconds=60):
    """SIGTERM, wait, SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ready(port):
    """/readyz answers 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def propagation(redis, cardd, cards, n):
    """ms from EXEC (XADD included) returning to the first answer with the
    new revision, for n changes."""
    out = []
    for i in range(n):
        card = "%012d" % ((i * 7919) % cards)
        rev = 1000000 + i
        redis.send("MULTI")
        redis.send("HSET", "card:" + card, "rev", rev)
        redis.send("XADD", "cards:changes", "*", "card", card)
        redis.send("EXEC")
        for _ in range(4):
            redis.reply()
        t0 = time.perf_counter()
        deadline = t0 + 5
        want = b'"rev":%d,' % rev
        while True:
            stmt = cardd.call("VALIDITY", card)[0]
            if want in stmt:
                break
            if time.perf_counter() > deadline:
                raise TimeoutError("change %d never showed" % i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def lookup_rate(port, cards, n=300000):
    """Answers per second of VALIDITY on random cards among all of them
    (redis-benchmark -c 50 -P 16: card numbers are 12 digits, as
    __rand_int__ is), median of 3 runs."""
    rates = []
    for _ in range(3):
        out = subprocess.run(
            ["redis-benchmark", "-p", str(port), "-c", "50", "-P", "16",
             "-n", str(n), "-r", str(cards), "--csv", "VALIDITY",
             "__rand_int__"], capture_output=True, text=True, timeout=600,
            check=True).stdout
        rates.append(float(out.strip().splitlines()[-1].replace('"', "")
                           .split(",")[1]))
    return {"runs": rates, "median": statistics.median(rates)}


def pct(values, p):
    """The p-th percentile (nearest rank)."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=1000000)
    ap.add_argument("--changes", type=int, default=2000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="bench/results/sync.json")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="cardd-sync-")
    rport, http, resp = free_port(), free_port(), free_port()
    res = {"cards": a.cards, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "machine": "%s, %d cores, %s" % (platform.node(), os.cpu_count(),
                                            platform.platform())}
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind",
                              "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", tmp], stdout=subprocess.DEVNULL)
    procs = [redis]
    try:
        wait_until(lambda: subprocess.run(
            ["redis-cli", "-p", str(rport), "ping"], capture_output=True
        ).stdout.strip() == b"PONG", 10, "redis start")
        csv = os.path.join(tmp, "cards.csv")
        t = time.monotonic()
        subprocess.run([os.path.join(build, "cardctl"), "gen", str(a.cards),
                        "--seed", "7", "-o", csv], check=True)
        res["gen_seconds"] = round(time.monotonic() - t, 2)
        subprocess.run([os.path.join(build, "cardctl"), "keygen",
                        os.path.join(tmp, "key.pem")], check=True,
                       stdout=subprocess.DEVNULL)
        t = time.monotonic()
        subprocess.run([os.path.join(build, "cardctl"), "import", csv,
                        "--redis", "redis://127.0.0.1:%d" % rport],
                       check=True, stderr=subprocess.DEVNULL)
        res["import_seconds"] = round(time.monotonic() - t, 2)
        rc = Resp(rport)
        info = rc.call("INFO", "memory").decode()
        res["redis_used_memory_bytes"] = int(
            re.search(r"used_memory:(\d+)", info).group(1))
        res["redis_bytes_per_card"] = round(
            res["redis_used_memory_bytes"] / a.cards, 1)

        log = os.path.join(tmp, "cardd1.log")
        redis_cpu = cpu_seconds(redis.pid)
        cardd, t0 = start_cardd(build, tmp, rport, http, resp, log)
        procs.append(cardd)
        wait_until(lambda: ready(http), 300, "first full sync")
        res["start_to_ready_seconds"] = round(time.monotonic() - t0, 2)
        # Who held the full sync up: Redis busy nearly all of it means
        # Redis's one core is the bound.
        res["full_sync_redis_cpu_seconds"] = round(
            cpu_seconds(redis.pid) - redis_cpu, 2)
        res["full_sync_cardd_cpu_seconds"] = round(cpu_seconds(cardd.pid),
                                                   2)
        m = log_has(log, r'full sync done" cards=(\d+) invalid=\d+ ms=(\d+)')
        res["full_sync_seconds"] = int(m.group(2)) / 1000
        res["full_sync_cards"] = int(m.group(1))
        wait_until(lambda: log_has(log, "snapshot saved"), 120, "snapshot")
        time.sleep(1)
        res["cardd_rss_bytes"] = rss_kib(cardd.pid) * 1024
        res["cardd_bytes_per_card"] = round(res["cardd_rss_bytes"] / a.cards,
                                            1)

        res["lookup"] = lookup_rate(resp, a.cards)
        cc = Resp(resp)
        lat = propagation(rc, cc, a.cards, a.changes)
        res["propagation_ms"] = {
            "changes": len(lat), "p50": round(pct(lat, 50), 3),
            "p90": round(pct(lat, 90), 3), "p99": round(pct(lat, 99), 3),
            "max": round(max(lat), 3), "mean": round(statistics.mean(lat), 3)}
        cc.sock.close()

        stop(cardd)
        procs.remove(cardd)
        log2 = os.path.join(tmp, "cardd2.log")
        cardd, t0 = start_cardd(build, tmp, rport, http, resp, log2)
        procs.append(cardd)
        wait_until(lambda: ready(http), 120, "start from snapshot")
        res["snapshot_start_to_ready_seconds"] = round(
            time.monotonic() - t0, 2)
        m = log_has(log2, r'serving from the snapshot".*cards=(\d+).*ms=(\d+)')
        res["snapshot_load_seconds"] = int(m.group(2)) / 1000
        res["snapshot_bytes"] = os.path.getsize(os.path.join(tmp,
                                                              "cards.snap"))
        res["snapshot_start_full_syncs"] = 1 if log_has(
            log2, "full sync done") else 0
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    results.write(a.out, res)
    json.dump(res, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
