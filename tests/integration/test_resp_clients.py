"""RESP as client libraries use it (PROTOCOL.md §6): redis-py's
client_name= (CLIENT SETNAME on connect), ECHO, SELECT 0, CLIENT GETNAME
and ID, from redis-py and from redis-cli."""

import subprocess

import redis

from tests.integration import harness
from tests.integration.harness import AT


class RESPClientsTest(harness.DaemonTestCase):
    GEN = ("50", "3", AT)

    def client(self, **kw):
        r = redis.Redis(host=harness.HOST, port=self.d.resp_port,
                        socket_timeout=5, **kw)
        self.addCleanup(r.close)
        return r

    def test_redis_py_with_a_client_name(self):
        r = self.client(client_name="desk-7")
        st, sig = r.execute_command("VALIDITY", "000000000001", "AT", AT)
        self.assertTrue(harness.verify_cryptography(self.pub, st, sig))
        self.assertEqual(r.client_getname(), "desk-7")
        self.assertTrue(r.client_setname("desk-8"))
        self.assertEqual(r.client_getname(), "desk-8")
        self.assertEqual(r.echo("hello"), b"hello")
        self.assertTrue(r.execute_command("SELECT", 0))
        with self.assertRaisesRegex(redis.ResponseError, "out of range"):
            r.execute_command("SELECT", 1)
        with self.assertRaisesRegex(redis.ResponseError, "Client names"):
            r.client_setname("two words")
        a, b = r.client_id(), self.client().client_id()
        self.assertIsInstance(a, int)
        self.assertNotEqual(a, b)
        self.assertEqual(r.client_id(), a)
        self.assertIsNone(self.client().client_getname())

    def test_redis_cli(self):
        def cli(*args):
            p = subprocess.run(["redis-cli", "-p", str(self.d.resp_port)] +
                               list(args), capture_output=True, timeout=10)
            return p.stdout.decode().strip()
        self.assertEqual(cli("ECHO", "hi there"), "hi there")
        self.assertEqual(cli("SELECT", "0"), "OK")
        self.assertEqual(cli("CLIENT", "SETNAME", "till-3"), "OK")
        self.assertIn("CLIENT takes", cli("CLIENT", "KILL", "x"))
