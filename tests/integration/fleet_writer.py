"""The fleet's writer, in a process of its own (tests/integration/fleet.py
runs it): changes to the master the Sentinels name, one at a time, each
timed from the master's EXEC reply until every live cardd shows it, polled
on each cardd's own RESP port. A process of its own so that the timing is
cardd's and Redis's, not a wait for the GIL behind the load threads.

Lines on stdin and stdout, one JSON document or word each:
  in, first:  {"sentinels": [port...], "master": NAME, "cardd": [port...],
               "rows": {card: row}, "seed": N, "max_s": S}
  out:        row CARD JSON   before each write; waits for "ok", so the
                              parent knows the version before any answer
                              can carry it
  in:         ok | pause | resume | phase NAME | halt
  out:        idle            once a pause has taken hold
  out, last:  result JSON     {"changes", "seen": [[phase, s]...],
                               "unseen", "lost"}

A change no cardd shows within GIVE_UP_S is "lost" when the master the
Sentinels name then does not hold it either: the old master took it and
died before any replica had it (asynchronous replication, as
conf/fleet/README.md says). Otherwise it is "unseen", a cardd's fault.
"""

import json
import queue
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.integration import harness                        # noqa: E402
from tests.integration.harness import AT, PeerClosed         # noqa: E402

STATUSES = ("active",) * 6 + ("suspended", "lost")
GIVE_UP_S = 3.0                 # a change not seen by then is "unseen"


class Control(threading.Thread):
    """Reads the parent's lines: acks into a queue, the rest into state."""

    def __init__(self):
        super().__init__(daemon=True)
        self.acks = queue.Queue()
        self.pause = threading.Event()
        self.halt = threading.Event()
        self.phase = "steady"

    def run(self):
        for line in sys.stdin:
            word, _, rest = line.strip().partition(" ")
            if word == "ok":
                self.acks.put(True)
            elif word == "pause":
                self.pause.set()
            elif word == "resume":
                self.pause.clear()
            elif word == "phase":
                self.phase = rest
            elif word == "halt":
                break
        self.halt.set()
        self.acks.put(False)


def say(*parts):
    """One line to the parent."""
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


class Writer:
    """The write-and-time loop of the module doc."""

    def __init__(self, cfg, ctl):
        self.cfg, self.ctl = cfg, ctl
        self.rows = cfg["rows"]
        self.cards = sorted(self.rows)
        self.rng = random.Random(cfg["seed"])
        self.conn = None            # to the master
        self.watch = {}             # cardd port: RESPClient
        self.seen, self.unseen, self.lost, self.changes = [], [], [], 0

    def master_port(self):
        """The master's port as the first Sentinel that answers names it."""
        for port in self.cfg["sentinels"]:
            try:
                with harness.RESPClient(port, timeout=0.5) as s:
                    r = s.command("SENTINEL", "get-master-addr-by-name",
                                  self.cfg["master"])
            except (OSError, PeerClosed, AssertionError):
                continue
            if isinstance(r, list):
                return int(r[1])
        return None

    def run(self):
        deadline = time.monotonic() + self.cfg["max_s"]
        idle_said = False
        while not self.ctl.halt.is_set() and time.monotonic() < deadline:
            if self.ctl.pause.is_set():
                if not idle_said:
                    say("idle")
                    idle_said = True
                time.sleep(0.01)
                continue
            idle_said = False
            card = self.rng.choice(self.cards)
            row = dict(self.rows[card])
            row["rev"] = str(int(row["rev"]) + 1)
            row["status"] = self.rng.choice(STATUSES)
            self.rows[card] = row
            say("row", card, json.dumps(row))
            if not self.ctl.acks.get():
                break
            if self.write(card, row, deadline):
                self.changes += 1
                self.see(card, int(row["rev"]), time.monotonic())
        say("result", json.dumps({"changes": self.changes,
                                  "seen": self.seen,
                                  "unseen": self.unseen[:20],
                                  "lost": self.lost[:20]}))

    def write(self, card, row, deadline):
        """MULTI; HSET; XADD; EXEC on the master the Sentinels name,
        again and again through a failover."""
        while time.monotonic() < deadline and not self.ctl.halt.is_set():
            try:
                if self.conn is None:
                    port = self.master_port()
                    if port is None:
                        raise OSError("no master named")
                    self.conn = harness.RESPClient(port, timeout=2.0)
                c = self.conn
                c.send(b"".join(harness.resp_encode(*cmd) for cmd in (
                    ["MULTI"],
                    ["HSET", "card:" + card, "status", row["status"],
                     "rev", row["rev"]],
                    ["XADD", "cards:changes", "*", "card", card],
                    ["EXEC"])))
                replies = [c.read_reply() for _ in range(4)]
                if isinstance(replies[-1], list):
                    return True
                raise OSError("EXEC: %r" % (replies,))
            except (OSError, PeerClosed, AssertionError):
                if self.conn:
                    self.conn.close()
                self.conn = None
                time.sleep(0.05)
        return False

    def client(self, port):
        """The watching connection to one cardd (None: it is down)."""
        c = self.watch.get(port)
        if c is None:
            try:
                c = self.watch[port] = harness.RESPClient(port, timeout=2.0)
            except OSError:
                return None
        return c

    def drop(self, port):
        c = self.watch.pop(port, None)
        if c:
            c.close()

    def see(self, card, rev, t0):
        """Poll every live cardd at once until each shows rev (or
        GIVE_UP_S passes): one VALIDITY to each, then their replies."""
        phase = self.ctl.phase
        late = []
        waiting = [p for p in self.cfg["cardd"] if self.client(p)]
        ask = harness.resp_encode("VALIDITY", card, "AT", AT)
        while waiting:
            sent = []
            for p in waiting:
                try:
                    self.watch[p].send(ask)
                    sent.append(p)
                except OSError:
                    self.drop(p)        # that cardd is down now
            waiting = []
            for p in sent:
                try:
                    r = self.watch[p].read_reply()
                except (OSError, PeerClosed, AssertionError):
                    self.drop(p)
                    continue
                el = time.monotonic() - t0
                if isinstance(r, list) and json.loads(r[0])["rev"] >= rev:
                    self.seen.append([phase, el])
                elif el > GIVE_UP_S:
                    late.append(p)
                else:
                    waiting.append(p)
            if waiting:
                # A pause between polls: a poll loop that never sleeps
                # takes a core of two from the cardd it times.
                el = time.monotonic() - t0
                time.sleep(0.0002 if el < 0.005 else 0.001)
        held = self.master_rev(card) if late else None
        if held is not None and held < rev:
            self.lost.append([phase, card, rev])
        elif late:
            self.unseen.extend([phase, card, rev, p] for p in late)

    def master_rev(self, card):
        """The card's rev on the master the Sentinels name now (0: it has
        no such card; None: no master to ask)."""
        port = self.master_port()
        if port is None:
            return None
        try:
            with harness.RESPClient(port, timeout=2.0) as c:
                rev = c.command("HGET", "card:" + card, "rev")
        except (OSError, PeerClosed, AssertionError):
            return None
        return int(rev) if isinstance(rev, bytes) else 0


def main():
    cfg = json.loads(sys.stdin.readline())
    ctl = Control()
    ctl.start()
    Writer(cfg, ctl).run()


if __name__ == "__main__":
    main()
