"""RESP as client libraries use it (PROTOCOL.md §6): redis-py's
client_name= (CLIENT SETNAME on connect), ECHO, SELECT 0, CLIENT GETNAME
and ID, from redis-py and from redis-cli."""

import subprocess
import time

import redis

from tests.integration import harness
from tests.integration.harness import AT


class RedisPyCase(harness.DaemonTestCase):
    """A cardd of 50 cards, and redis-py clients of it closed after each
    test."""

    GEN = ("50", "3", AT)

    def client(self, **kw):
        r = redis.Redis(host=harness.HOST, port=self.d.resp_port,
                        socket_timeout=5, **kw)
        self.addCleanup(r.close)
        return r


class RESPClientsTest(RedisPyCase):

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
        info = cli("CLIENT", "INFO")
        self.assertRegex(info, r"^id=\d+ addr=127\.0\.0\.1:\d+ laddr=127"
                         r"\.0\.0\.1:%d fd=\d+ name= age=\d+ " %
                         self.d.resp_port)
        self.assertIn(" resp=2 ", info)
        with self.d.resp() as c:
            self.assertEqual(c.command("CLIENT", "SETINFO", "LIB-NAME",
                                       "till"), "OK")
            self.assertIn(b" lib-name=till ", c.command("CLIENT", "INFO"))
            self.assertIn("at most 64", str(c.command(
                "CLIENT", "SETINFO", "LIB-VER", "1 2")))
        # redis-cli -3 sends HELLO 3 and reads RESP3 replies.
        self.assertIn(" resp=3 ", cli("-3", "CLIENT", "INFO"))
        self.assertEqual(cli("-3", "--no-raw", "CLIENT", "GETNAME"), "(nil)")
        self.assertEqual(cli("COMMAND", "GETKEYS", "VALIDITY",
                             "000000000007", "AT", AT), "000000000007")
        self.assertEqual(cli("COMMAND", "INFO", "validity").split("\n")[:3],
                         ["validity", "-2", "readonly"])
        self.assertEqual(cli("CONFIG", "GET", "appendonly"),
                         "appendonly\nno")
        # A transaction typed into redis-cli.
        p = subprocess.run(["redis-cli", "-p", str(self.d.resp_port)],
                           input=b"MULTI\nVALIDITY 000000000001 AT " +
                           AT.encode() + b"\nECHO x\nEXEC\n",
                           capture_output=True, timeout=10)
        lines = p.stdout.decode().split("\n")
        self.assertEqual(lines[:3], ["OK", "QUEUED", "QUEUED"], lines)
        self.assertIn('"card":"000000000001"', lines[3])
        self.assertEqual(lines[5], "x")


class RESPTransactionTest(RedisPyCase):
    """MULTI/EXEC/DISCARD: redis-py's default pipeline() is a
    transaction; queued checks are answered together, in order."""

    def test_redis_py_pipeline(self):
        r = self.client()
        p = r.pipeline()        # transaction=True: MULTI ... EXEC
        for i in range(5):
            p.execute_command("VALIDITY", "%012d" % i, "AT", AT, "NONCE",
                              "t%d" % i)
        p.execute_command("COVERAGE", "000000000003", "medical", "AT", AT)
        p.ping()
        out = p.execute()
        self.assertEqual(len(out), 7)
        for i in range(5):
            st, sig = out[i]
            self.assertIn(b'"card":"%012d"' % i, st)
            self.assertIn(b'"nonce":"t%d"' % i, st)
            self.assertTrue(harness.verify_cryptography(self.pub, st, sig))
        self.assertIn(b'"check":"coverage"', out[5][0])
        self.assertTrue(out[6])
        # A bad check inside the transaction is its own element.
        p = r.pipeline()
        p.execute_command("VALIDITY", "bad!", "AT", AT)
        p.execute_command("VALIDITY", "000000000001", "AT", AT)
        bad, good = p.execute(raise_on_error=False)
        self.assertIsInstance(bad, redis.ResponseError)
        self.assertIn(b'"card":"000000000001"', good[0])

    def test_raw_transaction_rules(self):
        with self.d.resp() as c:
            self.assertEqual(c.command("EXEC"), harness.RespError(
                "ERR EXEC without MULTI"))
            self.assertEqual(c.command("DISCARD"), harness.RespError(
                "ERR DISCARD without MULTI"))
            self.assertEqual(c.command("MULTI"), "OK")
            self.assertEqual(c.command("MULTI"), harness.RespError(
                "ERR MULTI calls can not be nested"))
            self.assertEqual(c.command("VALIDITY", "000000000001"),
                             "QUEUED")
            self.assertEqual(c.command("DISCARD"), "OK")
            # After DISCARD a check is answered at once.
            st, _ = c.command("VALIDITY", "000000000001", "AT", AT)
            self.assertIn(b'"result"', st)
            # An unknown command or a wrong arity spoils the transaction.
            self.assertEqual(c.command("MULTI"), "OK")
            self.assertEqual(c.command("VALIDITY", "000000000001"),
                             "QUEUED")
            self.assertIn("unknown command", str(c.command("NOPE")))
            self.assertIn("wrong number", str(c.command("VALIDITY")))
            self.assertEqual(c.command("EXEC"), harness.RespError(
                "EXECABORT Transaction discarded because of previous "
                "errors."))
            # An empty transaction, then commands pipelined after EXEC
            # come after its answers.
            self.assertEqual(c.command("MULTI"), "OK")
            self.assertEqual(c.command("EXEC"), [])
            c.send(harness.resp_encode("MULTI") +
                   harness.resp_encode("VALIDITY", "000000000002", "AT",
                                       AT) +
                   harness.resp_encode("ECHO", "inside") +
                   harness.resp_encode("EXEC") +
                   harness.resp_encode("ECHO", "after"))
            self.assertEqual(c.read_reply(), "OK")
            self.assertEqual(c.read_reply(), "QUEUED")
            self.assertEqual(c.read_reply(), "QUEUED")
            st_sig, echo = c.read_reply()
            self.assertIn(b'"card":"000000000002"', st_sig[0])
            self.assertEqual(echo, b"inside")
            self.assertEqual(c.read_reply(), b"after")

    def test_queue_is_bounded(self):
        with self.d.resp() as c:
            c.send(harness.resp_encode("MULTI") +
                   harness.resp_encode("PING") * 1001 +
                   harness.resp_encode("EXEC"))
            self.assertEqual(c.read_reply(), "OK")
            for _ in range(1000):
                self.assertEqual(c.read_reply(), "QUEUED")
            self.assertIn("too many commands", str(c.read_reply()))
            self.assertIn("EXECABORT", str(c.read_reply()))
            self.assertEqual(c.command("PING"), "PONG")


class RESPBatchTransactionTest(RedisPyCase):
    """In sign_mode batch the checks of one EXEC share a tree."""

    CONFIG = {"sign_mode": "batch"}

    def test_exec_checks_share_one_tree(self):
        r = self.client()
        p = r.pipeline()
        for i in range(20):
            p.execute_command("VALIDITY", "%012d" % i, "AT", AT)
        out = p.execute()
        sigs = [sig.decode() for _, sig in out]
        batched = [s for s in sigs if "~" in s]
        self.assertGreater(len(batched), 1, sigs[:3])
        # One signed root: the JWS part and the tree size are shared.
        self.assertLessEqual(len({s.split("~")[0] for s in batched}), 2)


class RESPHelloCommandConfigTest(RedisPyCase):
    """HELLO 2/3, COMMAND with key specs, CONFIG GET, CLIENT INFO."""

    def test_hello(self):
        with self.d.resp() as c:
            hello = c.command("HELLO", "2", "SETNAME", "desk-1")
            info = dict(zip(hello[0::2], hello[1::2]))
            self.assertEqual(info[b"server"], b"cardd")
            self.assertEqual(info[b"proto"], 2)
            self.assertEqual(info[b"mode"], b"standalone")
            self.assertIsInstance(info[b"id"], int)
            self.assertEqual(c.command("CLIENT", "GETNAME"), b"desk-1")
            self.assertIn("NOPROTO", str(c.command("HELLO", "4")))
            self.assertIn("syntax error", str(c.command("HELLO", "3", "X")))
            # Nothing changed by the refused HELLOs.
            self.assertIn(b" resp=2 ", c.command("CLIENT", "INFO"))
            # auth none: HELLO AUTH is refused like AUTH.
            self.assertIn("without any credentials", str(
                c.command("HELLO", "3", "AUTH", "u", "p")))
            c.send(harness.resp_encode("HELLO", "3"))
            deadline = time.monotonic() + 5
            while b"modules" not in c.buf:
                c._recv(deadline)
            self.assertTrue(c.buf.startswith(b"%7\r\n$6\r\nserver\r\n"),
                            c.buf[:40])
            self.assertIn(b"$5\r\nproto\r\n:3\r\n", c.buf)
            c.buf = c.buf[c.buf.index(b"modules\r\n*0\r\n") + 13:]
            # RESP3: a null is _, INFO a verbatim string; checks as before.
            c.send(harness.resp_encode("CLIENT", "GETNAME") +
                   harness.resp_encode("CLIENT", "SETNAME", "x"))
            self.assertEqual(c.read_reply(), b"desk-1")
            self.assertEqual(c.read_reply(), "OK")
            st, sig = c.command("VALIDITY", "000000000001", "AT", AT)
            self.assertTrue(harness.verify_cryptography(self.pub, st, sig))
            c.send(harness.resp_encode("HELLO", "3", "SETNAME", "") +
                   harness.resp_encode("CLIENT", "GETNAME"))
            while not c.buf.endswith(b"_\r\n"):
                c._recv(deadline)

    def test_command_key_specs(self):
        r = self.client()
        cmds = r.command()
        self.assertEqual(r.command_count(), len(cmds))
        v = cmds["validity"]
        self.assertEqual(v["arity"], -2)
        self.assertEqual((v["first_key_pos"], v["last_key_pos"],
                          v["step_count"]), (1, 1, 1))
        self.assertIn("readonly", v["flags"])
        spec = v["key_specifications"][0]
        spec = dict(zip(spec[0::2], spec[1::2]))
        search = dict(zip(spec[b"begin_search"][0::2],
                          spec[b"begin_search"][1::2]))
        self.assertEqual(search[b"type"], b"index")
        self.assertEqual(search[b"spec"], [b"index", 1])
        self.assertEqual(cmds["ping"]["first_key_pos"], 0)
        self.assertEqual(cmds["coverage"]["arity"], -3)
        for name in ("multi", "exec", "discard", "hello", "client",
                     "config", "echo", "select"):
            self.assertIn(name, cmds)
        with self.d.resp() as c:
            info = c.command("COMMAND", "INFO", "coverage", "nope")
            self.assertEqual(info[0][0], b"coverage")
            self.assertIsNone(info[1])
            self.assertIn("no key", str(c.command("COMMAND", "GETKEYS",
                                                  "PING")))

    def test_config_get(self):
        r = self.client()
        self.assertEqual(r.config_get("save"), {"save": ""})
        self.assertEqual(r.config_get("appendonly"), {"appendonly": "no"})
        allp = r.config_get("*")
        self.assertEqual(set(allp), {"save", "appendonly", "databases",
                                     "maxclients"})
        self.assertEqual(r.config_get("nothing*"), {})
        with self.assertRaisesRegex(redis.ResponseError, "only CONFIG GET"):
            r.config_set("maxclients", "5")

    def test_redis_benchmark_has_no_config_warning(self):
        p = subprocess.run(["redis-benchmark", "-p", str(self.d.resp_port),
                            "-n", "200", "-c", "2", "-q", "VALIDITY",
                            "000000000001", "AT", AT],
                           capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertNotIn("WARNING", out)
        self.assertIn("requests per second", out)

    def test_client_info_with_redis_py(self):
        r = self.client(client_name="ward-2")
        info = r.client_info()
        self.assertEqual(info["name"], "ward-2")
        self.assertEqual(info["db"], 0)
        self.assertEqual(info["user"], "default")
        self.assertEqual(int(info["id"]), r.client_id())
