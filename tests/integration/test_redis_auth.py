"""A Redis that asks for credentials: a password, then an ACL user that may
only read the cards and the stream (what the follower needs). The
password lives in the config only and never reaches the log."""

import json
import time

from tests.integration import harness
from tests.integration.test_redis_sync import RedisSyncCase, card_no


class RedisAuthTest(RedisSyncCase):

    @staticmethod
    def statement(raw):
        return json.loads(raw)

    def loaded_redis(self):
        redis = self.start_redis()
        path, cards = self.gen("cards.csv", 2000, 41)
        harness.cardctl_import(path, redis.url)
        return redis

    def test_password(self):
        redis = self.loaded_redis()
        self.assertEqual(redis.command("CONFIG", "SET", "requirepass",
                                       "s3cret-pw"), "OK")
        d = self.make_daemon(redis, redis_password="s3cret-pw")
        self.start_daemon(d)
        with d.resp() as c:
            st = self.statement(c.command("VALIDITY", card_no(0))[0])
        self.assertEqual(st["reason"], "ok")
        d.stop()
        self.assertNotIn("s3cret-pw", d.stderr())

    def test_wrong_password_refused_and_not_logged(self):
        redis = self.loaded_redis()
        redis.command("CONFIG", "SET", "requirepass", "right-pw")
        d = self.make_daemon(redis, redis_password="wrong-pw-xyz")
        self.start_daemon(d, wait_ready=False)
        deadline = time.monotonic() + 10
        while "refused the connection setup" not in d.stderr():
            self.assertLess(time.monotonic(), deadline, d.stderr())
            time.sleep(0.1)
        self.assertEqual(harness.http_get(d.http_port, "/readyz").status,
                         503)
        d.stop()
        self.assertNotIn("wrong-pw-xyz", d.stderr())
        self.assertNotIn("right-pw", d.stderr())

    def test_acl_user_that_may_only_read(self):
        redis = self.loaded_redis()
        self.assertEqual(redis.command(
            "ACL", "SETUSER", "cardd", "on", ">reader-pw", "~card:*",
            "~cards:changes", "-@all", "+hgetall", "+scan", "+xread",
            "+xinfo|stream", "+info", "+select", "+ping", "+multi", "+exec",
            "+auth"), "OK")
        d = self.make_daemon(redis, redis_user="cardd",
                             redis_password="reader-pw")
        self.start_daemon(d)
        with d.resp() as c:
            self.assertEqual(self.statement(c.command(
                "VALIDITY", card_no(1))[0])["reason"], "permit_expired")
        # A change still shows: the stream is readable too.
        harness.cardctl_publish(redis.url, card_no(5), ("status", "lost"),
                                ("rev", "777"))
        deadline = time.monotonic() + 5
        while True:
            with d.resp() as c:
                st = self.statement(c.command("VALIDITY", card_no(5))[0])
            if st["rev"] == 777:
                break
            self.assertLess(time.monotonic(), deadline, d.stderr())
            time.sleep(0.05)
        self.assertEqual(st["reason"], "card_lost")
        d.stop()
        self.assertNotIn("reader-pw", d.stderr())


if __name__ == "__main__":
    import unittest
    unittest.main()
