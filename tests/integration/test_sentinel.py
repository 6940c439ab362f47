"""A sentinel:// source (PROTOCOL.md §7): cardd asks Redis Sentinel which
node to follow, a replica by default and the master with role=master,
and carries on from its stream cursor across a failover without a full
re-read. cardctl import, publish and export find the master through the
Sentinels too. Each test runs its own Redis master, replica and three
Sentinels (redis-server --sentinel, down-after 1 s) on free loopback
ports; every wait has a deadline.
"""

import types

from tests.integration import harness
from tests.integration import test_redis_sync as rs

FAILOVER_S = 30.0       # down-after 1 s, election, promotion
MOVE_S = 45.0           # old master back as a replica, in step, seen


class SentinelCase(rs.RedisSyncCase):

    def fleet(self, replicas=1):
        f = harness.RedisFleet(replicas)
        self.addCleanup(f.cleanup)
        f.wait_settled(replicas)
        return f

    def source(self, fleet, query=""):
        """What make_daemon and barrier need of a source: its URL."""
        return types.SimpleNamespace(url=fleet.url(query))

    def full_syncs(self, d):
        return self.m(d, "cardd_full_syncs_total")


class SentinelFailoverTest(SentinelCase):

    def test_failover_carries_on_from_the_cursor(self):
        fl = self.fleet()
        old_master, replica = fl.nodes[0].port, fl.nodes[1].port
        src, src_master = self.source(fl), self.source(fl, "?role=master")
        path, cards = self.gen("cards.csv", 3000, 41)
        harness.cardctl_import(path, src.url)   # through the Sentinels
        b = self.make_daemon(src_master)
        mb = self.start_daemon(b)
        a = self.make_daemon(src)
        ma = self.start_daemon(a)               # self.pub is a's key
        self.wait_log(a, ma, 5, "redis connected", "port=%d" % replica)
        self.wait_log(b, mb, 5, "redis connected", "port=%d" % old_master)
        for d, port, role in ((a, replica, "replica"),
                              (b, old_master, "master")):
            self.assertEqual(self.m(d, "cardd_source_node_info", address=(
                "%s:%d" % (harness.HOST, port)), role=role), 1)
        fa, fb = self.full_syncs(a), self.full_syncs(b)
        self.assertEqual((fa, fb), (1, 1), "one full sync each at start")
        load = rs.Loader(a, sorted(cards), self.pub)
        load.start()
        self.addCleanup(load.join, 10)
        self.addCleanup(load.halt.set)
        changed = {}
        self.publish_and_see(src, [a, b], rs.card_no(5), cards, changed, 7)

        fl.node(old_master).kill()
        self.wait("the Sentinels to promote the replica",
                  lambda: (fl.master_port() == replica, fl.master_port()),
                  FAILOVER_S, a)
        self.wait_log(b, mb, 15, "its stream holds our cursor")
        self.wait_log(b, mb, 5, "redis connected", "port=%d" % replica)
        self.publish_and_see(src, [a, b], rs.card_no(6), cards, changed, 8)

        fl.node(old_master).start()     # empty; Sentinel makes it a replica
        self.wait_log(a, ma, MOVE_S, "redis connected",
                      "port=%d" % old_master)
        self.wait_log(a, ma, 5, "its stream holds our cursor")
        self.publish_and_see(src, [a, b], rs.card_no(7), cards, changed, 9)
        self.assertEqual((self.full_syncs(a), self.full_syncs(b)), (fa, fb),
                         "a failover cost a full re-read")
        # Changes are timed, source to index, except the backlog a daemon
        # reads right after it (re)connects: each daemon moved once, and
        # the change published just after its move may be that backlog
        # (it was, once, under TSan). The other two were read in steady
        # following by both.
        for d in (a, b):
            n = self.m(d, "cardd_change_delay_seconds_count")
            inf = self.m(d, "cardd_change_delay_seconds_bucket", le="+Inf")
            self.assertGreaterEqual(n, 2)
            self.assertEqual(n, inf)

        load.halt.set()
        load.join(10)
        self.assertEqual(load.failures, [], "queries failed during the "
                         "failover (%d of %d): first %r" %
                         (len(load.failures), load.count(),
                          load.failures[:10]))
        self.assertGreater(load.count(), 100)
        self.check_sample(a, cards, 30, changed=changed)
        self.assertIndexEqualsRedis(a, src, "a failover (replica)", 3000)
        self.assertIndexEqualsRedis(b, src, "a failover (master)", 3000)

    def publish_and_see(self, src, daemons, card, cards, changed, rev):
        """Publish a new rev of card through the Sentinels; every daemon
        must show it within 5 s."""
        harness.cardctl_publish(src.url, card, ("rev", rev))
        changed[card] = dict(cards[card], rev=str(rev))
        for d in daemons:
            with d.resp() as c:
                self.poll_change(c, card, lambda st: st["rev"] == rev,
                                 "rev %d of %s" % (rev, card), 5.0)


class SentinelStartTest(SentinelCase):

    def test_unknown_master_then_found(self):
        """A master name no Sentinel knows: not ready, and the log says
        why; once the Sentinels monitor it, cardd follows."""
        fl = self.fleet()
        path, _ = self.gen("cards.csv", 200, 43)
        harness.cardctl_import(path, fl.url())
        d = self.make_daemon(types.SimpleNamespace(
            url=fl.url().replace("/cardd", "/other")))
        mark = self.start_daemon(d, wait_ready=False)
        self.wait_log(d, mark, 10, "no Sentinel could name a node",
                      "master=other")
        self.assertEqual(self.readyz(d)[0], 503)
        for s in fl.sentinels:
            s.command("SENTINEL", "MONITOR", "other", harness.HOST,
                      str(fl.nodes[0].port), "2")
        self.wait("ready once the Sentinels know it",
                  lambda: (self.readyz(d)[0] == 200, self.readyz(d)), 20, d)
        self.assertEqual(self.m(d, "cardd_index_cards"), 200)

    def test_refusals_logged_and_retried(self):
        """A Sentinel that refuses our AUTH, then a node the Sentinels
        name that refuses us: each is logged with its reason and retried
        with backoff, and cardd is alive and not ready meanwhile."""
        fl = self.fleet()
        path, _ = self.gen("cards.csv", 100, 47)
        harness.cardctl_import(path, fl.url())
        d = self.make_daemon(self.source(fl), sentinel_password="wrong-pw")
        mark = self.start_daemon(d, wait_ready=False)
        lines = self.wait_log(d, mark, 10, "sentinel could not name a node",
                              "AUTH")
        self.assertIn("sentinel=%s:%d" % (harness.HOST,
                                          fl.sentinels[0].port), lines[0])
        self.assertEqual(self.readyz(d)[0], 503)
        self.assertNotIn("wrong-pw", d.stderr())
        d.stop()

        d = self.make_daemon(self.source(fl), redis_password="wrong-pw")
        mark = self.start_daemon(d, wait_ready=False)
        self.wait("the refusal twice (a retry)", lambda: (len(self.log_lines(
            d, mark, "redis refused the connection setup")) >= 2, None),
            15, d)
        self.assertEqual(self.readyz(d)[0], 503)
        self.assertTrue(d.alive())
        self.assertNotIn("wrong-pw", d.stderr())

    def test_cardctl_without_sentinels(self):
        """cardctl says which Sentinel failed and why, and exits 2."""
        port = harness.free_port()
        p = harness.cardctl("publish", "--redis", "sentinel://%s:%d/cardd" %
                            (harness.HOST, port), rs.card_no(1), "rev=2",
                            check=False, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"no master for cardd through the Sentinels", p.stderr)
        self.assertIn(b"%s:%d" % (harness.HOST.encode(), port), p.stderr)


class ReplicaOutOfStepTest(SentinelCase):

    def test_no_sync_from_a_replica_without_its_master(self):
        """A replica whose master is away (here: never there) holds
        nothing to trust: cardd must not full-sync from it, with either
        URL; once it is a master with the cards, cardd syncs."""
        gone = harness.free_port()
        r = harness.RedisServer("orphan", args=["--replicaof", harness.HOST,
                                                str(gone)])
        self.addCleanup(r.cleanup)
        r.start()
        d = self.make_daemon(r)
        mark = self.start_daemon(d, wait_ready=False)
        self.wait("two refusals (a retry)", lambda: (len(self.log_lines(
            d, mark, "replica not in step with its master")) >= 2, None),
            15, d)
        self.assertEqual(self.readyz(d)[0], 503)
        self.assertEqual(self.full_syncs(d), 0)
        self.assertEqual(r.command("REPLICAOF", "NO", "ONE"), "OK")
        path, cards = self.gen("cards.csv", 300, 53)
        harness.cardctl_import(path, r.url)
        self.wait("ready once it is a master", lambda: (
            self.readyz(d)[0] == 200, self.readyz(d)), rs.RECONNECT_S, d)
        self.assertEqual(self.m(d, "cardd_index_cards"), 300)


class ReplicaPassedOverTest(SentinelCase):

    def test_a_replica_that_lets_the_link_down_is_passed_over(self):
        """The followed replica loses its master: cardd drops it, and the
        Sentinels (who look at a replica every 10 s) still call it
        healthy when cardd asks again. cardd must not wait on it with
        backoff but pass over it and follow the master at once, then
        show the next change."""
        fl = self.fleet()
        master, replica = fl.nodes[0].port, fl.nodes[1].port
        src = self.source(fl)
        path, cards = self.gen("cards.csv", 500, 43)
        harness.cardctl_import(path, src.url)
        d = self.make_daemon(src)
        mark = self.start_daemon(d)
        self.wait_log(d, mark, 5, "redis connected", "port=%d" % replica)
        mark = len(d.stderr())
        gone = harness.free_port()
        self.assertEqual(fl.node(replica).command(
            "REPLICAOF", harness.HOST, str(gone)), "OK")
        self.wait_log(d, mark, 15, "redis connected", "port=%d" % master)
        lines = d.stderr()[mark:].splitlines()
        shun = next(i for i, ln in enumerate(lines)
                    if "passing over a replica" in ln)
        self.assertIn("node=%s:%d" % (harness.HOST, replica), lines[shun])
        named = [ln for ln in lines[shun:] if "sentinel named" in ln]
        self.assertIn("node=%s:%d role=master (no healthy replica)" % (
            harness.HOST, master), named[0])
        self.assertEqual(self.m(d, "cardd_source_node_info", address=(
            "%s:%d" % (harness.HOST, master)), role="master"), 1)
        card = rs.card_no(3)
        harness.cardctl_publish(src.url, card, ("rev", 5))
        with d.resp() as c:
            self.poll_change(c, card, lambda st: st["rev"] == 5,
                             "rev 5 of %s" % card, 5.0)
        self.assertEqual(self.full_syncs(d), 1, "the move cost a full "
                         "re-read")


class SentinelConfigTest(SentinelCase):

    BAD = {
        "sentinel://": "HOST:PORT",
        "sentinel://127.0.0.1:26379": "MASTER",
        "sentinel://127.0.0.1:26379/": "master name",
        "sentinel://127.0.0.1:0/m": "port",
        "sentinel://127.0.0.1:26379/m?role=leader": "role",
        "sentinel://127.0.0.1:26379/m?db=x": "db",
        "sentinel://127.0.0.1:26379/m?role=master&role=replica": "twice",
        "sentinel://127.0.0.1:26379/m?colour=red": "colour",
        "redis://127.0.0.1/": "PORT",
    }

    def test_bad_urls_refused_by_cardd_t(self):
        for url, word in self.BAD.items():
            with self.subTest(url=url):
                d = harness.Daemon(config={"source": url}, name="badurl")
                self.addCleanup(d.cleanup)
                d.http_port = d.resp_port = harness.free_port()
                d.write_config()
                p = harness.run([str(harness.CARDD), "-t", "-c",
                                 str(d.config_path)])
                err = p.stderr.decode("utf-8", "replace")
                self.assertNotEqual(p.returncode, 0, err)
                self.assertIn("source", err)
                self.assertIn(word, err)
