#!/usr/bin/python3
"""make fleet: the reference deployment of conf/fleet/README.md on
loopback, with the reference ports: a Redis master and replica, three
Sentinels, two cardd following the replica through the Sentinels, and
HAProxy running conf/fleet/haproxy.cfg in front. Loads 10,000 demo
cards, prints commands to try, and stops everything on Ctrl-C.
"""

import os
import signal
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration import fleet, harness  # noqa: E402

PORTS = {
    "http": 8080, "resp": 6380, "stats": 8404,
    "cardd_http": [8101, 8102], "cardd_resp": [6391, 6392],
    "redis_fleet": {"redis": [6479, 6480], "sentinel": [26379, 26380,
                                                        26381]},
}


def busy(port):
    """Is something listening on 127.0.0.1:port already?"""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((harness.HOST, port)) == 0


def ports_free():
    flat = [PORTS["http"], PORTS["resp"], PORTS["stats"]] + \
        PORTS["cardd_http"] + PORTS["cardd_resp"] + \
        PORTS["redis_fleet"]["redis"] + PORTS["redis_fleet"]["sentinel"]
    taken = [p for p in flat if busy(p)]
    if taken:
        sys.exit("make fleet: ports in use on 127.0.0.1: %s (stop what "
                 "holds them, e.g. make run or a redis-server)" %
                 " ".join(map(str, taken)))


def tips(f):
    m = f.redis.nodes[0]
    url = f.url
    cc = harness.CARDCTL
    return """
The fleet is up on 127.0.0.1:
  HAProxy   HTTP 8080, RESP 6380, stats http://127.0.0.1:8404/
  cardd     HTTP 8101 8102, RESP 6391 6392 (logs in {d0} and {d1})
  Redis     master 6479 (pid {mpid}), replica 6480
  Sentinel  26379 26380 26381, master name "cardd"

Try, from another terminal:

  # an answer through HAProxy, and over RESP
  curl -s 'http://127.0.0.1:8080/v1/validity?card=000000000000'
  redis-cli -p 6380 VALIDITY 000000000000
  # which server answered: its kid differs per cardd
  curl -s -D- -o /dev/null 'http://127.0.0.1:8080/v1/validity?card=000000000000' | grep -i card-signature

  # a change, written to the master the Sentinels name
  {cc} publish --redis {url} 000000000000 status=lost rev=100

  # answers carrying on while the master is killed: run this loop...
  while sleep 0.2; do curl -s -o /dev/null -w '%{{http_code}} ' 'http://127.0.0.1:8080/v1/validity?card=000000000000'; done
  # ...and in another terminal kill the master; within seconds the
  # Sentinels promote the replica and cardd follows it, without a full
  # re-read (cardd_full_syncs_total stays at 1):
  kill -9 {mpid}
  redis-cli -p 26379 SENTINEL get-master-addr-by-name cardd
  curl -s http://127.0.0.1:8101/metrics | grep -E 'full_syncs|sync_state'

Stop everything with Ctrl-C.
""".format(d0=f.cardd[0].stderr_path, d1=f.cardd[1].stderr_path,
           mpid=m.proc.pid, url=url, cc=cc)


def main():
    ports_free()
    print("starting Redis, three Sentinels, two cardd and HAProxy ...")
    f = fleet.Fleet(cards=10000, seed=1, ports=PORTS, down_after_ms=2000)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(tips(f))
        while True:
            time.sleep(1)
    except (KeyboardInterrupt, SystemExit):
        print("\nstopping the fleet ...")
    finally:
        f.cleanup()


if __name__ == "__main__":
    main()
