#!/usr/bin/python3
"""TLS next to plain TCP, in one run (issue 5): a cardd with two HTTP and
two RESP listeners' worth of daemons (one plain, one TLS, same data, same
key, batch signing, auth by token), measured alternately with the same
tools:

  new connections /s  : wrk -H 'Connection: close' (one request each;
                        a full TLS handshake each on the TLS side)
  handshakes /s       : openssl s_time -new (full) and -reuse (resumed),
                        TLS side only
  checks /s, HTTP     : wrk -c 64 keep-alive
  checks /s, RESP     : redis-benchmark -c 50 -P 16 (--tls)

Writes bench/results/tls.json and re-renders bench/RESULTS.md.
Usage: bench/tls_bench.py [--rounds 3] [--seconds 6] [--build build]"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import results  # bench/results.py: the form of bench/results/*.json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, timeout, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (args[0], p.stderr[-1500:]))
    return p.stdout


def pki(d):
    """A CA and a server certificate for localhost."""
    def o(*a):
        run(["openssl"] + list(a), 60, cwd=d)
    o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
      "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
      "/CN=bench CA")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    o("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    o("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
      "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2",
      "-extfile", "san.ext")
    os.chmod(os.path.join(d, "server.key"), 0o600)


def ready(port, tls, cafile):
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=2)
        s = raw
        if tls:
            s = ssl.create_default_context(cafile=cafile).wrap_socket(
                raw, server_hostname="localhost")
        s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        ok = s.recv(64).startswith(b"HTTP/1.1 200")
        s.close()
        return ok
    except OSError:
        return False


def wrk(url, seconds, conns, token, close=False):
    """requests/s of wrk (random cards)."""
    hdr = ["-H", "Authorization: Bearer " + token]
    if close:
        hdr += ["-H", "Connection: close"]
    out = run(["wrk", "-t2", "-c", conns, "-d", "%ds" % seconds, "-s",
               os.path.join(TMP, "cards.lua")] + hdr + [url],
              seconds + 60)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def s_time(port, cafile, mode, seconds):
    """Connections per second of openssl s_time (wall clock)."""
    out = run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port,
               "-CAfile", cafile, mode, "-time", seconds], seconds * 3 + 30)
    m = re.search(r"(\d+) connections in (\d+) real seconds", out)
    return int(m.group(1)) / max(1, int(m.group(2)))


def rbench(port, token, tls, cafile, seconds, cards):
    """requests/s of redis-benchmark -P 16 VALIDITY."""
    args = ["redis-benchmark", "-p", port, "-c", 50, "-P", 16, "-n",
            seconds * 150000, "-r", cards, "-a", token, "--csv"]
    if tls:
        args += ["--tls", "--cacert", cafile, "--sni", "localhost"]
    out = run(args + ["VALIDITY", "__rand_int__"], seconds * 10 + 120)
    return float(out.strip().splitlines()[-1].replace('"', "").split(",")[1])


TMP = None


def main():
    global TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--cards", type=int, default=100000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    TMP = tempfile.mkdtemp(prefix="cardd-tls-")
    procs = []
    try:
        pki(TMP)
        cafile = os.path.join(TMP, "ca.pem")
        run([os.path.join(build, "cardctl"), "gen", a.cards, "-o",
             os.path.join(TMP, "cards.csv")], 300)
        run([os.path.join(build, "cardctl"), "keygen",
             os.path.join(TMP, "key.pem")], 60)
        tok = run([os.path.join(build, "cardctl"), "token", "bench"], 30)
        token = re.search(r"token: (\S+)", tok).group(1)
        line = re.search(r"config: (.*)", tok).group(1).replace(
            "rate=100", "rate=1000000000")
        with open(os.path.join(TMP, "cards.lua"), "w") as f:
            f.write("request = function() return wrk.format(nil, "
                    "string.format('/v1/validity?card=%%012d', "
                    "math.random(0, %d))) end\n" % (a.cards - 1))
        ports = {}
        for name, tls in (("plain", "no"), ("tls", "yes")):
            h, r = free_port(), free_port()
            ports[name] = (h, r)
            conf = os.path.join(TMP, name + ".conf")
            with open(conf, "w") as f:
                f.write("http_listen 127.0.0.1:%d\nresp_listen 127.0.0.1:%d\n"
                        "source file:cards.csv\nsigning_key key.pem\n"
                        "sign_mode batch\nthreads 2\nhttp_tls %s\n"
                        "resp_tls %s\ntls_cert server.pem\n"
                        "tls_key server.key\n%s\n"
                        "max_connections_per_ip 100000\n"
                        % (h, r, tls, tls, line))
            procs.append(subprocess.Popen(
                [os.path.join(build, "cardd"), "-c", conf],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            end = time.monotonic() + 60
            while not ready(h, tls == "yes", cafile):
                if time.monotonic() > end:
                    raise TimeoutError("cardd (%s) not ready" % name)
                time.sleep(0.1)
        rows = {"new": ([], []), "keep": ([], []), "resp": ([], [])}
        full, resumed = [], []
        for i in range(a.rounds):
            print("round %d/%d" % (i + 1, a.rounds), file=sys.stderr)
            for k, (side, tls) in enumerate((("plain", False),
                                              ("tls", True))):
                h, r = ports[side]
                url = "%s://localhost:%d" % ("https" if tls else "http", h)
                rows["new"][k].append(wrk(url, a.seconds, 16, token, True))
                rows["keep"][k].append(wrk(url, a.seconds, 64, token))
                rows["resp"][k].append(rbench(r, token, tls, cafile,
                                              a.seconds, a.cards))
            full.append(s_time(ports["tls"][0], cafile, "-new", a.seconds))
            resumed.append(s_time(ports["tls"][0], cafile, "-reuse",
                                  a.seconds))
        med = statistics.median
        res = {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "machine": "%d cores, %s" % (os.cpu_count(), platform.platform()),
            "rounds": a.rounds, "seconds": a.seconds,
            "rows": [
                {"what": "new connections /s, one request each (wrk -c 16, "
                         "Connection: close; TLS: a full handshake each)",
                 "plain": med(rows["new"][0]), "tls": med(rows["new"][1])},
                {"what": "checks /s, HTTP keep-alive (wrk -c 64)",
                 "plain": med(rows["keep"][0]), "tls": med(rows["keep"][1])},
                {"what": "checks /s, RESP -c 50 -P 16 (redis-benchmark)",
                 "plain": med(rows["resp"][0]), "tls": med(rows["resp"][1])},
            ],
            "handshakes": {"full_per_s": med(full), "resumed_per_s":
                           med(resumed)},
            "raw": rows,
        }
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    results.write(os.path.join(HERE, "results", "tls.json"), res)
    subprocess.run([sys.executable, os.path.join(HERE, "results.py")],
                   check=True, timeout=60)
    print(json.dumps(res["rows"], indent=1))
    print(res["handshakes"])


if __name__ == "__main__":
    main()
