#!/usr/bin/python3
"""bench/sm2_bench.py: SM2 answers next to Ed25519 ones and next to
redis-server, in one run, on this machine (PROTOCOL.md §11).

Generates N cards, loads them into a redis-server (HGETALL card:X is the
peer) and starts four cardd from the same cards file, one per sign_alg
(ed25519, sm2) and sign_mode (per-answer, batch), shipped defaults
otherwise. Each round runs redis-benchmark -c 50 -P 16 against each in
turn (VALIDITY __rand_int__ / HGETALL card:__rand_int__, random cards),
alternating, and records requests/s and the server's CPU per answer (user
+ system from /proc). The table gives medians over the rounds. Before
that: `openssl speed` for sm2 and ed25519 (signatures/s on one core), and
one answer of each cardd verified with cardctl check --verify.

Usage: bench/sm2_bench.py [--cards 100000] [--rounds 3] [-n 200000]
[--build build]. Everything listens on free 127.0.0.1 ports in a temporary
folder and is stopped at the end. Prints Markdown for bench/RESULTS.md."""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = [("ed25519", "per-answer"), ("ed25519", "batch"),
           ("sm2", "per-answer"), ("sm2", "batch")]


def free_port():
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds of a process, all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port, proc, what):
    """Until something answers on port (or proc died)."""
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit("%s exited" % what)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("%s did not listen on %d" % (what, port))


def openssl_speed(alg):
    """Signatures/s of `openssl speed` for alg on one core."""
    out = subprocess.run(["openssl", "speed", "-seconds", "3", alg],
                         capture_output=True, text=True).stdout
    line = out.strip().splitlines()[-1].split()
    return float(line[-2])


def bench(port, pid, n, cmd, cards):
    """redis-benchmark -c 50 -P 16: (requests/s, server CPU us/answer)."""
    c0 = cpu_seconds(pid)
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50",
                          "-P", "16", "-n", str(n), "-r", str(cards),
                          "--csv"] + cmd, capture_output=True, text=True,
                         timeout=600).stdout
    c1 = cpu_seconds(pid)
    rps = float(out.strip().splitlines()[-1].replace('"', "").split(",")[1])
    return rps, (c1 - c0) * 1e6 / n


def start_cardd(build, work, alg, mode):
    """One cardd; returns (process, RESP port, HTTP port)."""
    name = "%s-%s" % (alg, mode)
    key = os.path.join(work, name + ".pem")
    args = [os.path.join(build, "cardctl"), "keygen"] + \
        (["--sm2"] if alg == "sm2" else []) + [key]
    subprocess.run(args, check=True, capture_output=True)
    http, resp = free_port(), free_port()
    conf = os.path.join(work, name + ".conf")
    with open(conf, "w") as f:
        f.write("http_listen 127.0.0.1:%d\nresp_listen 127.0.0.1:%d\n"
                "source file:cards.csv\nsigning_key %s\nsign_alg %s\n"
                "sign_mode %s\nauth none\n" % (http, resp, key, alg, mode))
    log = open(os.path.join(work, name + ".log"), "w")
    p = subprocess.Popen([os.path.join(build, "cardd"), "-c", conf],
                         cwd=work, stdout=log, stderr=log)
    wait_port(resp, p, "cardd " + name)
    for _ in range(100):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                            "%{http_code}", "http://127.0.0.1:%d/readyz" %
                            http], capture_output=True, text=True)
        if r.stdout == "200":
            return p, resp, http
        time.sleep(0.1)
    sys.exit("cardd %s not ready" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("--build", default="build")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    work = tempfile.mkdtemp(prefix="cardd-sm2-bench-")
    procs = []
    try:
        run(a, build, work, procs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def run(a, build, work, procs):
    """Start everything, measure, print."""
    ctl = os.path.join(build, "cardctl")
    subprocess.run([ctl, "gen", str(a.cards), "--seed", "1", "-o",
                    os.path.join(work, "cards.csv")], check=True,
                   capture_output=True)
    speed = {alg: openssl_speed(alg) for alg in ("sm2", "ed25519")}
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind",
                              "127.0.0.1", "--save", "", "--appendonly",
                              "no", "--dir", work],
                             stdout=subprocess.DEVNULL)
    procs.append(redis)
    wait_port(rport, redis, "redis-server")
    time.sleep(0.3)
    subprocess.run([ctl, "import", os.path.join(work, "cards.csv"),
                    "--redis", "redis://127.0.0.1:%d" % rport], check=True,
                   capture_output=True)
    cardd = {}
    for alg, mode in TARGETS:
        p, resp, http = start_cardd(build, work, alg, mode)
        procs.append(p)
        cardd[(alg, mode)] = (p, resp, http)
        v = subprocess.run([ctl, "check", "--resp", "127.0.0.1:%d" % resp,
                            "validity", "000000000001", "--verify"],
                           capture_output=True, text=True)
        if v.returncode != 0:
            sys.exit("cardd %s %s: answer does not verify: %s" %
                     (alg, mode, v.stderr))
    verified = {t: sampled(build, work, cardd[t][1], a.cards)
                for t in TARGETS if t[0] == "sm2"}
    res = {t: [] for t in TARGETS + ["redis"]}
    for _ in range(a.rounds):
        for t in TARGETS:
            p, resp, _ = cardd[t]
            n = a.n // 10 if t == ("sm2", "per-answer") else a.n
            res[t].append(bench(resp, p.pid, n,
                                ["VALIDITY", "__rand_int__"], a.cards))
        res["redis"].append(bench(rport, redis.pid, a.n,
                                  ["HGETALL", "card:__rand_int__"],
                                  a.cards))
    report(a, speed, res, verified)


def sampled(build, work, port, cards):
    """cardbench for 3 s with every 10th answer verified (cardbench takes
    the JWKS from the daemon): (verified ok, failed)."""
    out = os.path.join(work, "cardbench.json")
    subprocess.run([os.path.join(build, "cardbench"), "--resp",
                    "127.0.0.1:%d" % port, "--cards", str(cards), "-c", "50",
                    "-t", "2", "-d", "3", "--verify-every", "10", "--json",
                    out], check=True, capture_output=True, timeout=120)
    with open(out) as f:
        v = json.load(f)["verify"]
    return v["ok"], v["failed"]


def report(a, speed, res, verified):
    """The Markdown table: medians, and ratios to redis-server."""
    med = {t: (statistics.median(r for r, _ in v),
               statistics.median(c for _, c in v)) for t, v in res.items()}
    rr, rc = med["redis"]
    cpu = re.sub(r"\s+", " ", open("/proc/cpuinfo").read().split(
        "model name")[1].split("\n")[0].strip(": \t"))
    print("- %s, %d cores (%s), `bench/sm2_bench.py --cards %d --rounds %d "
          "-n %d`" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      os.cpu_count(), cpu, a.cards, a.rounds, a.n))
    print("- `openssl speed -seconds 3`: SM2 %.0f signatures/s, Ed25519 "
          "%.0f/s (one core)\n" % (speed["sm2"], speed["ed25519"]))
    print("| target (RESP, -c 50 -P 16) | answers/s | × redis-server | "
          "server CPU µs/answer | × redis-server |")
    print("|---|---|---|---|---|")
    for t in TARGETS + ["redis"]:
        r, c = med[t]
        name = "redis-server HGETALL" if t == "redis" else \
            "cardd %s, %s" % t
        print("| %s | %.0f | %.2f | %.2f | %.2f |" % (name, r, r / rr, c,
                                                     c / rc))
    for t, (ok, failed) in verified.items():
        print("\ncardbench --verify-every 10 on cardd %s, %s: %d answers "
              "verified, %d failed" % (t[0], t[1], ok, failed))


if __name__ == "__main__":
    main()
