"""More ways to fall out of step with Redis (README.md, Sources), beyond
test_redis_sync.py: cardd restarted while Redis lives on (it catches up
from the stream, or re-reads when the stream was trimmed meanwhile), a
burst of thousands of changes, FLUSHALL under a following daemon, a link
that goes silent without a FIN or RST, and a small max_staleness with a
healthy, idle Redis. Each ends, where the daemon can be stopped cleanly,
with the index equal to Redis card for card (an export diff). Also a
snapshot child that never finishes."""

import json
import os
import random
import re
import time
import unittest

from tests.integration import harness
from tests.integration.harness import AT, RespError
from tests.integration.test_redis_sync import RedisSyncCase, card_no


class RestartWhileRedisLivesTest(RedisSyncCase):

    def test_restart_catches_up_then_trimmed(self):
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 4000, 91)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis)
        self.start_daemon(d)
        self.assertIndexEqualsRedis(d, redis, "a first run", 4000)

        # 1. Changes while cardd is down, the stream intact: it serves the
        # snapshot at once and catches up from its cursor, no re-read.
        changed = {}
        for i in range(60, 65):
            card, rev = card_no(i), 600 + i
            harness.cardctl_publish(redis.url, card, ("status", "suspended"),
                                    ("rev", rev))
            changed[card] = dict(cards[card], status="suspended",
                                 rev=str(rev))
        harness.cardctl_publish(redis.url, card_no(65), remove=True)
        changed[card_no(65)] = None
        mark = self.start_daemon(d)
        self.assertTrue(self.log_lines(d, mark, "serving from the snapshot"),
                        d.stderr()[mark:][-2000:])
        with d.resp() as c:
            self.poll_change(c, card_no(64), lambda st: st["rev"] == 664,
                             "a change made while cardd was down", 5)
            self.poll_change(c, card_no(65),
                             lambda st: st["reason"] == "unknown_card",
                             "a removal made while cardd was down", 5)
        self.check_sample(d, cards, 30, extra=sorted(changed),
                          changed=changed)
        self.assertEqual(self.m(d, "cardd_full_syncs_total"), 0,
                         "a restart with the stream intact should catch up "
                         "from the cursor, not re-read every card:\n" +
                         "\n".join(self.log_lines(d, mark, "full sync")))
        self.assertIndexEqualsRedis(d, redis, "a restart with changes made "
                                    "while cardd was down", 3999)

        # 2. Changes while cardd is down, then the stream trimmed: the
        # cursor points past what Redis still holds, so a full sync.
        for i in range(70, 73):
            card, rev = card_no(i), 700 + i
            harness.cardctl_publish(redis.url, card, ("status", "lost"),
                                    ("rev", rev))
            changed[card] = dict(cards[card], status="lost", rev=str(rev))
        self.assertGreaterEqual(redis.command("XTRIM", "cards:changes",
                                              "MAXLEN", "0"), 3)
        mark = self.start_daemon(d)
        lines = self.wait_log(d, mark, 10, "full sync needed")
        self.assertTrue(any("trimmed" in ln for ln in lines), lines)
        self.wait_metric(d, "a full sync", "cardd_full_syncs_total",
                         lambda v: v >= 1, 10)
        self.check_sample(d, cards, 30, extra=sorted(changed),
                          changed=changed)
        self.assertIndexEqualsRedis(d, redis, "a restart after the stream "
                                    "was trimmed", 3999)


class BurstTest(RedisSyncCase):

    def test_burst_of_changes(self):
        """6000 writer transactions pipelined (changes, removals, new
        cards, broken records, the same card many times): more than one
        XREAD round of 1000, no gap, the index ends equal to Redis."""
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 3000, 93)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis)
        self.start_daemon(d)
        f0 = self.m(d, "cardd_full_syncs_total")
        rng = random.Random(5)
        cmds, rev = [], 1000
        for n in range(6000):
            rev += 1
            roll = rng.random()
            if roll < 0.1:
                card = "9%011d" % rng.randrange(500)     # new cards
                row = dict(cards[card_no(rng.randrange(3000))], rev=rev)
                row["permit"] = "WN" + card[-9:]
                fields = [x for k, v in row.items() if k != "card"
                          for x in (k, v) if v != ""]
                op = [["DEL", "card:" + card], ["HSET", "card:" + card] +
                      fields]
            else:
                card = card_no(rng.choice([7, 8, 9]) if roll < 0.2 else
                               rng.randrange(3000))
                if roll < 0.35:
                    op = [["DEL", "card:" + card]]
                elif roll < 0.4:
                    op = [["HSET", "card:" + card, "status", "bogus",
                           "rev", rev]]
                else:
                    op = [["HSET", "card:" + card, "status",
                           rng.choice(["active", "suspended", "lost",
                                       "revoked"]), "rev", rev]]
            cmds += [["MULTI"]] + op + [["XADD", "cards:changes", "*",
                                         "card", card], ["EXEC"]]
        t0 = time.monotonic()
        replies = harness.redis_pipeline(redis.port, cmds)
        errors = [(c, r) for c, r in zip(cmds, replies)
                  if isinstance(r, RespError)]
        self.assertEqual(errors[:5], [], "Redis refused the writes")
        self.barrier(d, redis, timeout=20)
        el = time.monotonic() - t0
        self.assertLess(el, 10, "6000 changes took %.1fs to apply" % el)
        self.assertEqual(self.m(d, "cardd_full_syncs_total"), f0,
                         "a burst without a trim must not need a full sync")
        n = len(harness.redis_pipeline(redis.port, [["KEYS", "card:*"]])[0])
        self.assertIndexEqualsRedis(d, redis, "a burst of 6000 changes", n)


class FlushallTest(RedisSyncCase):

    def test_flushall_while_following(self):
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 3000, 95)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis)
        mark = self.start_daemon(d)
        self.assertEqual(redis.command("FLUSHALL"), "OK")
        self.wait_metric(d, "the index emptied after FLUSHALL",
                         "cardd_index_cards", lambda v: v == 0, 10)
        lines = self.log_lines(d, mark, "full sync needed")
        self.assertTrue(any("gone" in ln for ln in lines), lines)
        with d.resp() as c:
            st, _ = self.resp_validity(c, card_no(0))
        self.assertEqual(st["reason"], "unknown_card")
        harness.cardctl_import(path, redis.url)
        self.wait_metric(d, "the data back", "cardd_index_cards",
                         lambda v: v == 3000, 10)
        self.check_sample(d, cards, 30)
        self.assertIndexEqualsRedis(d, redis, "FLUSHALL and a new import",
                                    3000)


class SilentLinkTest(RedisSyncCase):

    MAX_STALENESS = 10

    def test_silent_link_is_replaced(self):
        """The network drops the link without a FIN or RST, and Redis
        forgets the client meanwhile (restart, failover, client timeout).
        Redis is reachable again on a new connection; cardd, waiting on an
        XREAD BLOCK of 1 s whose reply never comes, must notice and
        reconnect before its answers go stale."""
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 3000, 97)
        harness.cardctl_import(path, redis.url)
        proxy = harness.TCPProxy(redis.port)
        self.addCleanup(proxy.close)
        d = self.make_daemon(proxy, max_staleness=str(self.MAX_STALENESS))
        mark = self.start_daemon(d)
        self.barrier(d, redis)
        proxy.go_silent()
        time.sleep(0.5)
        proxy.cut_far_side()
        t0 = time.monotonic()
        card, rev = card_no(80), 880
        harness.cardctl_publish(redis.url, card, ("status", "revoked"),
                                ("rev", rev))

        def seen():
            with d.resp() as c:
                r = c.command("VALIDITY", card, "AT", AT)
            if isinstance(r, RespError):
                return False, r
            st = json.loads(r[0])
            return st["rev"] == rev, st["reason"]
        deadline = t0 + self.MAX_STALENESS + 2
        while time.monotonic() < deadline and not seen()[0]:
            time.sleep(0.2)
        if not seen()[0]:
            s = self.metrics(d)
            state = [dict(k[1]).get("state") for k, v in s.items()
                     if k[0] == "cardd_sync_state" and v == 1]
            self.fail("%.0fs after the link went silent and Redis dropped "
                      "it, cardd has not reconnected: the change to %s is "
                      "not visible (answer: %r), /readyz %r, sync state "
                      "%r, cardd_source_up %r; log since start:\n%s" % (
                          time.monotonic() - t0, card, seen()[1],
                          self.readyz(d), state,
                          harness.metric(s, "cardd_source_up"),
                          "\n".join(d.stderr()[mark:].splitlines()[-8:])))
        self.assertIndexEqualsRedis(d, redis, "a silent link", 3000)


class StalenessEdgeTest(RedisSyncCase):

    def test_no_stale_answers_with_healthy_redis(self):
        """max_staleness 1 is a valid setting (1..31536000). With Redis up
        and idle, the follower confirms it is in step every round, so no
        answer may be refused as stale."""
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 1000, 99)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis, max_staleness="1")
        self.start_daemon(d)
        n, refused, first = 0, 0, None
        t_end = time.monotonic() + 3.0
        with d.resp() as c:
            while time.monotonic() < t_end:
                r = c.command("VALIDITY", card_no(5), "AT", AT)
                n += 1
                if isinstance(r, RespError):
                    refused += 1
                    first = first or r
        self.assertEqual(refused, 0, "%d of %d answers refused (%r) in 3s "
                         "with max_staleness 1 and a healthy, idle Redis"
                         % (refused, n, first))
        self.assertIndexEqualsRedis(d, redis, "an idle Redis", 1000)


class CappedStreamTest(RedisSyncCase):

    def pairs(self, d, redis, maxlen, rev):
        """Five pairs of back-to-back changes, the stream capped at maxlen;
        each second change must show. Returns the last rev."""
        for pair in range(5):
            cmds = []
            for k in range(2):
                rev += 1
                card = card_no(100 + 2 * pair + k)
                cmds += [["MULTI"], ["HSET", "card:" + card, "rev", rev],
                         ["XADD", "cards:changes", "MAXLEN", str(maxlen),
                          "*", "card", card], ["EXEC"]]
            replies = harness.redis_pipeline(redis.port, cmds)
            self.assertFalse([r for r in replies
                              if isinstance(r, RespError)], replies)
            with d.resp() as c:
                self.poll_change(c, card, lambda st, r=rev: st["rev"] == r,
                                 "the second change of pair %d" % pair, 5)
            time.sleep(0.2)
        return rev

    def test_capped_stream_without_loss(self):
        """A writer may cap the stream (XADD MAXLEN N). With a cap that
        leaves room for what arrives while cardd reads, trimming the
        entries it has read is no gap: no full sync. With MAXLEN 1 and
        two changes back to back, the first is trimmed before any reader
        can be sure to have read it: a real gap, and cardd must re-read
        everything rather than lose it. Either way nothing is lost."""
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 3000, 98)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis)
        mark = self.start_daemon(d)
        self.barrier(d, redis)
        f0 = self.m(d, "cardd_full_syncs_total")
        rev = self.pairs(d, redis, 100, 3000)
        self.assertEqual(self.m(d, "cardd_full_syncs_total"), f0,
                         "full syncs without a lost entry:\n" + "\n".join(
                             self.log_lines(d, mark, "full sync needed")))
        rev = self.pairs(d, redis, 1, rev)
        gaps = self.log_lines(d, mark, "full sync needed")
        self.assertTrue(all("trimmed" in g for g in gaps), gaps)
        self.assertEqual(self.m(d, "cardd_full_syncs_total") - f0, len(gaps))
        self.assertIndexEqualsRedis(d, redis, "a capped stream", 3000)


class SnapshotStallTest(RedisSyncCase):

    N = 600000      # a larger set than elsewhere: saving it takes a while

    def test_changes_visible_while_snapshots_are_saved(self):
        """Changes keep coming (one every ~20 ms for 3 s) while cardd saves
        its snapshot every second (snapshot_interval 1): a save must not
        hold them up. A save written in the follow's thread would hold
        some change for nearly its whole ms (the writer's next change
        comes at most 20 ms into it), so each change must be visible
        within half the shortest save. Never less than 100 ms beyond the
        one pause a save does cost the follow: the fork() that starts it
        (page tables copied while the thread waits, as for Redis's
        BGSAVE), which cardd logs as fork_ms."""
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", self.N, 101)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis)
        mark = self.start_daemon(d, wait_ready=False)
        self.wait("ready with %d cards" % self.N, lambda: (
            self.readyz(d)[0] == 200, self.readyz(d)), 60, d, 0.2)
        lat, rev = [], 10 ** 6
        with d.resp() as c, harness.RESPClient(redis.port) as w:
            t_end = time.monotonic() + 3.0
            while time.monotonic() < t_end:
                rev += 1
                card = card_no(100 + rev % 1000)
                for cmd in (["MULTI"], ["HSET", "card:" + card, "rev",
                                        str(rev)],
                            ["XADD", "cards:changes", "*", "card", card],
                            ["EXEC"]):
                    r = w.command(*cmd)
                    self.assertNotIsInstance(r, RespError, r)
                el, _ = self.poll_change(c, card,
                                         lambda st: st["rev"] == rev,
                                         "change rev %d" % rev)
                lat.append(el)
                time.sleep(0.02)
        saves = self.log_lines(d, mark, "snapshot saved")
        forks = [int(re.search(r"fork_ms=(\d+)", s).group(1))
                 for s in saves]
        self.assertTrue(forks, "no snapshot saved in 3 s")
        self.assertGreater(self.m(d, "cardd_snapshot_fork_seconds"), 0)
        took = [int(re.search(r" ms=(\d+)", s).group(1)) for s in saves]
        limit = max(0.1 + max(forks) / 1000, min(took) / 2000)
        slow = sorted(x for x in lat if x >= limit)
        lat.sort()
        self.assertFalse(slow, "%d of %d changes visible only after %d ms "
                         "(median %.1f ms, slowest %r ms); the snapshot "
                         "saves meanwhile:\n%s" % (
                             len(slow), len(lat), round(limit * 1000),
                             lat[len(lat) // 2] * 1000,
                             [round(x * 1000) for x in slow[-5:]],
                             "\n".join(saves[-5:])))


class StuckSnapshotTest(RedisSyncCase):
    """A snapshot child that never finishes (here blocked opening a FIFO
    at the temporary path, as on a stuck mount) must not hold up the
    shutdown: cardd kills it and saves the snapshot itself."""

    def snapshot_children(self, d):
        kids = []
        for tid in os.listdir("/proc/%d/task" % d.proc.pid):
            with open("/proc/%d/task/%s/children" % (d.proc.pid, tid)) as f:
                kids += f.read().split()
        return kids

    def test_shutdown_kills_a_stuck_snapshot_child(self):
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 2000, 71)
        harness.cardctl_import(path, redis.url)
        d = self.make_daemon(redis)
        fifo = d.dir / "cards.snap.tmp"
        os.mkfifo(fifo)
        self.start_daemon(d)
        # The save after the full sync opens the FIFO and waits there.
        self.wait("a snapshot child", lambda: (
            bool(self.snapshot_children(d)), "no child"), 10, d)
        time.sleep(0.3)
        self.assertTrue(self.snapshot_children(d), "the child finished")
        self.assertFalse(d.snap.exists())
        os.unlink(fifo)             # cardd's own last save can write
        harness.cardctl_publish(redis.url, card_no(7), ("status", "lost"),
                                ("rev", "99"))
        self.assertIndexEqualsRedis(d, redis, "a stuck snapshot child", 2000)
        self.assertIn("snapshot child did not finish; killed", d.stderr())


if __name__ == "__main__":
    unittest.main()
