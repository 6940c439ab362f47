"""PROTOCOL.md §10, binding across a fleet: two cardd replicas follow one
real redis-server and keep card codes' bindings in it (SET code:<hash>
<client> NX GET EX …), so a code used at one replica is code_replayed for
any other client at the other. Then Redis goes away during binding —
stopped (SIGSTOP: no reply within code_bind_timeout) and killed (refused
at once) — and the answers carry "replay":"local", in order, without
holding up other connections, until Redis is back and bindings are the
fleet's again. Codes are minted with python3-cryptography (test_codes's
Issuer); every answer's signature is verified with it."""

import json
import os
import signal
import time
import unittest

from tests.integration import harness as h
from tests.integration.harness import AT, RespError
from tests.integration.test_codes import (CSV, CARD, PERMIT, CodeBase,
                                          Issuer, new_token, sha256_b64)

ISS = "fleet-platform"


class FleetBase(CodeBase):
    """Replicas (cls.d, then cls.others) with one signing key, one
    issuer and the clients of test_codes, following one Redis."""

    REPLICAS = 2
    EXTRA = {}

    @classmethod
    def issuers(cls):
        return {ISS: (Issuer(ISS, ["k1"]), None)}

    @classmethod
    def setUpClass(cls):
        h.check_binaries()
        cls.CONFIG = {"source": cls.start_store(), "max_staleness": "60"}
        cls.load_cards()
        super().setUpClass()
        cls.others = []
        for i in range(1, cls.REPLICAS):
            d = h.Daemon(config=dict(cls.d.extra), key_file=cls.d.key_path,
                         name="%s-%d" % (cls.__name__, i))
            cls.addClassCleanup(d.cleanup)
            d.start()
            cls.others.append(d)

    @classmethod
    def prepare(cls):
        super().prepare()
        cls.ops = new_token()
        cls.d.extra["client"] += "\nclient ops %s allow=metrics" % \
            cls.ops[1]

    @classmethod
    def start_store(cls):
        """Start Redis; cls.redis is the master. Returns the source."""
        cls.redis = h.RedisServer(name="redis-codes")
        cls.addClassCleanup(cls.redis.cleanup)
        cls.redis.start()
        return cls.redis.url

    @classmethod
    def load_cards(cls):
        path = cls.redis.dir / "cards.csv"
        path.write_text(CSV)
        h.cardctl_import(path, cls.redis.url)

    @classmethod
    def tearDownClass(cls):
        for d in cls.others:
            rc = d.stop()
            if rc != 0:
                raise AssertionError("replica exited with %r:\n%s" %
                                     (rc, d.stderr()[-3000:]))
            d.assert_clean_log()
        super().tearDownClass()

    def replica(self, i):
        return self.d if i == 0 else self.others[i - 1]

    def conn(self, via, i, client):
        """A connection to replica i, as client (RESP: AUTH done)."""
        d = self.replica(i)
        if via == "http":
            return d.http()
        c = d.resp()
        self.assertEqual(c.command("AUTH", self.tokens[client][0]), "OK")
        return c

    def ask_at(self, via, i, client, code, **kw):
        """Ask replica i by code (signature verified); the statement."""
        with self.conn(via, i, client) as c:
            return self.ask(via, client, code, conn=c, **kw)

    def code(self, **claims):
        return self.iss[ISS].mint(**claims)

    def binding(self, code):
        """What Redis holds for a code: (value, ttl)."""
        key = "code:" + sha256_b64(code)
        return self.redis.command("GET", key), self.redis.command("TTL", key)

    def binds(self, i, store):
        r = self.replica(i).get("/metrics", [("Authorization",
                                              "Bearer " + self.ops[0])])
        self.assertEqual(r.status, 200, r)
        return h.metric(h.parse_metrics(r.body.decode())[0],
                        "cardd_code_binds_total", store=store)


class FleetBindingTest(FleetBase):
    """Both replicas reach Redis: bindings are the fleet's."""

    def test_replayed_at_the_other_replica(self):
        for via in ("http", "resp"):
            with self.subTest(via=via):
                code = self.code(lifetime=90)
                st = self.ask_at(via, 0, "desk0", code)
                self.assertCode(st, "validity", code, "ok", iss=ISS,
                                rev=3, replay=False)
                value, ttl = self.binding(code)
                self.assertEqual(value, b"desk0")
                # exp + skew (30) from now, give or take the seconds passed.
                self.assertTrue(100 <= ttl <= 121, ttl)
                st = self.ask_at(via, 1, "desk2", code)
                self.assertCode(st, "validity", code, "code_replayed",
                                iss=ISS, replay=False)
                st = self.ask_at(via, 1, "desk0", code)
                self.assertCode(st, "validity", code, "ok", iss=ISS,
                                rev=3, replay=False)
                self.assertEqual(self.binding(code)[0], b"desk0")

    def test_same_client_three_times_one_round_trip(self):
        code = self.code()
        before = self.binds(0, "fleet")
        with self.conn("resp", 0, "desk1") as c:
            for _ in range(3):
                st = self.ask("resp", "desk1", code, conn=c)
                self.assertCode(st, "validity", code, "ok", iss=ISS,
                                card=CARD, permit=PERMIT, rev=3,
                                replay=False)
        self.assertEqual(self.binds(0, "fleet") - before, 1)
        self.assertEqual(self.binds(0, "local"), 0)

    def test_first_replica_wins_whoever_asks_next(self):
        code = self.code()
        st = self.ask_at("http", 1, "desk2", code)
        self.assertCode(st, "validity", code, "ok", iss=ISS, rev=3,
                        replay=False)
        for client in ("desk0", "desk1", "desk3"):
            st = self.ask_at("resp", 0, client, code)
            self.assertCode(st, "validity", code, "code_replayed", iss=ISS,
                            replay=False)

    def test_batch_binds_every_code(self):
        a, b = self.code(), self.code()
        checks = [{"check": "validity", "code": a, "at": AT},
                  {"check": "coverage", "code": b, "scheme": "medical",
                   "at": AT},
                  {"check": "validity", "card": CARD, "at": AT}]
        r = self.http_post("desk0", checks)
        self.assertEqual(r.status, 200, r)
        res = json.loads(r.body)["results"]
        self.assertCode(json.dumps(res[0], separators=(",", ":")).encode(),
                        "validity", a, "ok", iss=ISS, rev=3, replay=False)
        self.assertEqual(res[1]["reason"], "ok", res[1])
        self.assertNotIn("replay", res[1])
        self.assertEqual(res[2]["reason"], "ok", res[2])
        self.assertEqual(self.binding(a)[0], b"desk0")
        self.assertEqual(self.binding(b)[0], b"desk0")
        with self.others[0].http() as c:
            r = self.http_post("desk2", checks[:2], conn=c)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["reason"] for x in
                          json.loads(r.body)["results"]],
                         ["code_replayed", "code_replayed"])

    def test_pipelined_requests_keep_their_order(self):
        codes = [self.code() for _ in range(4)]
        with self.conn("resp", 1, "desk3") as c:
            wire = b""
            for code in codes:
                wire += h.resp_encode("VALIDITY", code, "BYCODE", "AT", AT)
                wire += h.resp_encode("VALIDITY", CARD, "AT", AT)
            c.send(wire)
            for code in codes:
                rep = c.read_reply()
                self.assertIsInstance(rep, list, rep)
                self.assertEqual(json.loads(rep[0])["code"],
                                 sha256_b64(code))
                rep = c.read_reply()
                self.assertEqual(json.loads(rep[0])["card"], CARD, rep)
        for code in codes:
            self.assertEqual(self.binding(code)[0], b"desk3")

    def test_closing_while_binding_is_harmless(self):
        for _ in range(5):
            c = self.conn("resp", 0, "desk0")
            c.send(h.resp_encode("VALIDITY", self.code(), "BYCODE"))
            c.close()
        st = self.ask_at("http", 0, "desk0", self.code())
        self.assertEqual(json.loads(st)["reason"], "ok")
        self.assertAlive()


class FleetRedisAwayTest(FleetBase):
    """One replica; Redis stopped, then killed, during binding."""

    REPLICAS = 1
    # One worker, so one link to Redis: each worker has its own, and which
    # worker a connection lands on is the kernel's choice.
    EXTRA = {"code_bind_timeout": "1500", "threads": "1"}

    def tearDown(self):
        if self.redis.alive():
            os.kill(self.redis.proc.pid, signal.SIGCONT)

    def wait_fleet(self):
        """Until a fresh code is bound by the fleet again."""
        def fleet():
            code = self.code()
            st = json.loads(self.ask_at("http", 0, "desk0", code))
            return "replay" not in st
        self.assertTrue(h.wait_for(fleet, 15), "bindings stayed local")

    def test_redis_stopped_binds_locally_after_the_timeout(self):
        self.wait_fleet()
        code = self.code()
        os.kill(self.redis.proc.pid, signal.SIGSTOP)
        try:
            with self.conn("resp", 0, "desk1") as slow, \
                    self.conn("resp", 0, "desk1") as other:
                t0 = time.monotonic()
                slow.send(h.resp_encode("VALIDITY", code, "BYCODE", "AT", AT)
                          + h.resp_encode("VALIDITY", CARD, "AT", AT))
                time.sleep(0.2)
                # Another connection is answered meanwhile.
                rep = other.command("VALIDITY", CARD, "AT", AT)
                self.assertLess(time.monotonic() - t0, 1.4)
                self.assertEqual(json.loads(rep[0])["reason"], "ok")
                rep = slow.read_reply(timeout=10)
                waited = time.monotonic() - t0
                self.assertGreaterEqual(waited, 1.4)
                self.assertSigned(rep[0], rep[1])
                self.assertCode(rep[0], "validity", code, "ok", iss=ISS,
                                card=CARD, permit=PERMIT, rev=3,
                                replay="local")
                rep = slow.read_reply()
                self.assertEqual(json.loads(rep[0])["card"], CARD)
            # Bound here now: another client is refused without waiting.
            t0 = time.monotonic()
            st = self.ask_at("http", 0, "desk2", code)
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertCode(st, "validity", code, "code_replayed", iss=ISS,
                            replay="local")
            self.assertGreaterEqual(self.binds(0, "local"), 1)
        finally:
            os.kill(self.redis.proc.pid, signal.SIGCONT)
        self.wait_fleet()
        # The local binding is pushed to Redis at the holder's next ask.
        st = self.ask_at("http", 0, "desk1", code)
        self.assertCode(st, "validity", code, "ok", iss=ISS, card=CARD,
                        permit=PERMIT, rev=3, replay=False)
        self.assertEqual(self.binding(code)[0], b"desk1")
        self.assertIn("code binding store unreachable", self.d.stderr())
        self.assertIn("code binding store reachable again", self.d.stderr())

    def test_redis_killed_binds_locally_at_once(self):
        self.wait_fleet()
        self.redis.kill()
        try:
            code = self.code()
            for via in ("http", "resp"):
                t0 = time.monotonic()
                st = self.ask_at(via, 0, "desk0", code)
                self.assertLess(time.monotonic() - t0, 1.4)
                self.assertCode(st, "validity", code, "ok", iss=ISS,
                                rev=3, replay="local")
            st = self.ask_at("resp", 0, "desk3", code)
            self.assertCode(st, "validity", code, "code_replayed", iss=ISS,
                            replay="local")
        finally:
            self.redis.start()
            self.load_cards()
        self.wait_fleet()


class FleetSentinelTest(FleetBase):
    """The replica follows a Redis replica that the Sentinels name, and
    binds on the master they name, before and after a failover."""

    REPLICAS = 1

    @classmethod
    def start_store(cls):
        cls.fleet = h.RedisFleet(replicas=1)
        cls.addClassCleanup(cls.fleet.cleanup)
        cls.fleet.wait_settled(1)
        cls.redis = cls.fleet.nodes[0]
        return cls.fleet.url("?role=replica")

    def bound_on(self, node, code):
        return node.command("GET", "code:" + sha256_b64(code))

    def test_binds_on_the_master_not_the_followed_replica(self):
        replica = self.fleet.nodes[1]
        code = self.code()
        st = self.ask_at("resp", 0, "desk0", code)
        self.assertCode(st, "validity", code, "ok", iss=ISS, rev=3,
                        replay=False)
        self.assertEqual(self.bound_on(self.redis, code), b"desk0")
        self.assertTrue(h.wait_for(lambda: self.bound_on(replica, code) ==
                                   b"desk0", 5), "not replicated")
        st = self.ask_at("http", 0, "desk2", code)
        self.assertCode(st, "validity", code, "code_replayed", iss=ISS,
                        replay=False)
        # Failover: the replica is promoted; bindings go to it, and the
        # old one (replicated before) still holds.
        self.redis.kill()
        self.assertTrue(h.wait_for(lambda: self.fleet.master_port() ==
                                   replica.port, 30), "no failover")

        def fleet_again():
            c = self.code()
            got = json.loads(self.ask_at("http", 0, "desk1", c))
            return "replay" not in got and \
                self.bound_on(replica, c) == b"desk1"
        self.assertTrue(h.wait_for(fleet_again, 20, interval=0.3),
                        "no fleet binding on the new master:\n" +
                        self.d.stderr()[-2000:])
        st = self.ask_at("resp", 0, "desk3", code)
        self.assertCode(st, "validity", code, "code_replayed", iss=ISS,
                        replay=False)


class PrefixOverlapTest(unittest.TestCase):
    """key_prefix may not overlap the bindings' code: keys."""

    def test_refused_at_start(self):
        for prefix in ("code", "c", "code:x"):
            d = h.Daemon(config={"source": "redis://127.0.0.1:1",
                                 "key_prefix": prefix}, name="prefix")
            self.addCleanup(d.cleanup)
            d.start(wait_ready=False)
            self.assertTrue(h.wait_for(lambda: not d.alive(), 10))
            self.assertNotEqual(d.proc.returncode, 0)
            self.assertIn("key_prefix must not overlap", d.stderr())


if __name__ == "__main__":
    unittest.main()
