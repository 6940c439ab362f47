#!/usr/bin/python3
"""Self-test of tools/layers.py on small made-up trees in a temporary
folder: a cycle and a layer breach are found, a clean tree passes.
Run: python3 tests/layers_test.py (or make layers)."""

import contextlib
import importlib.util
import io
import os
import shutil
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "layers", os.path.join(os.path.dirname(HERE), "tools", "layers.py"))
layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layers)

# A clean tree: protocol/ on its own, daemon/ over it, a tool over
# protocol/, tests including what they like.
CLEAN = {
    "Makefile": "CFLAGS += -std=c11 -Iprotocol \\\n    -Idaemon -MMD\n",
    "protocol/date.h": "#include <time.h>\n",
    "protocol/date.c": '#include "date.h"\n',
    "protocol/stmt.h": '#include "date.h"\n',
    "protocol/stmt.c": '#include "stmt.h"\n#include "date.h"\n',
    "daemon/log.h": "",
    "daemon/log.c": '#include "log.h"\n',
    "daemon/record.h": '#include "stmt.h"\n',
    "daemon/record.c": '#include "record.h"\n#include "log.h"\n',
    "daemon/main.c": '#include "record.h"\n  #  include "log.h"\n'
                     '// #include "tool.h"\n',
    "tools/tool.h": "",
    "tools/tool.c": '#include "tool.h"\n#include "stmt.h"\n',
    "tests/unit/test_record.c": '#include "record.h"\n#include "tool.h"\n',
}


class LayersTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="layers-test-")

    def tearDown(self):
        shutil.rmtree(self.root)

    def tree(self, files):
        for path, text in files.items():
            path = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        return layers.Tree(self.root)

    def run_main(self, *args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(io.StringIO()):
            rc = layers.main(["--root", self.root] + list(args))
        return rc, out.getvalue()

    def test_clean_tree_passes(self):
        t = self.tree(CLEAN)
        self.assertEqual(t.cycles(), [])
        self.assertEqual(t.breaches(), [])
        self.assertIn(("daemon/record", "protocol/stmt"), t.lines)
        self.assertIn(("daemon/main", "daemon/log"), t.lines)
        # the commented-out include is not a dependency
        self.assertNotIn(("daemon/main", "tools/tool"), t.lines)
        rc, out = self.run_main()
        self.assertEqual(rc, 0, out)
        self.assertIn("no cycle, no layer breach", out)

    def test_missing_folders_are_fine(self):
        files = {k: v for k, v in CLEAN.items()
                 if not k.startswith(("tools/", "tests/"))}
        self.assertEqual(self.run_main()[0], 0)  # an empty tree
        self.tree(files)
        self.assertEqual(self.run_main()[0], 0)

    def test_cycle_is_found_with_its_lines(self):
        files = dict(CLEAN)
        files["daemon/log.c"] = '#include "log.h"\n#include "index.h"\n'
        files["daemon/index.h"] = '#include "record.h"\n'
        t = self.tree(files)
        self.assertEqual(t.cycles(), [
            ["daemon/index", "daemon/record", "daemon/log", "daemon/index"]])
        rc, out = self.run_main()
        self.assertEqual(rc, 1)
        self.assertIn("daemon/index -> daemon/record -> daemon/log -> "
                      "daemon/index", out)
        self.assertIn('daemon/log.c:2: #include "index.h"', out)
        self.assertIn('daemon/index.h:1: #include "record.h"', out)
        self.assertIn('daemon/record.c:2: #include "log.h"', out)
        self.assertIn("1 cycle(s), 0 layer breach(es)", out)

    def test_two_module_cycle_outside_daemon(self):
        files = dict(CLEAN)
        files["tools/tool.h"] = '#include "other.h"\n'
        files["tools/other.h"] = '#include "tool.h"\n'
        t = self.tree(files)
        self.assertEqual(t.cycles(),
                         [["tools/other", "tools/tool", "tools/other"]])

    def test_layer_breaches_are_found(self):
        files = dict(CLEAN)
        # protocol/ reaching into daemon/, a tool into daemon/, and
        # store/ into daemon/ (the own folder first: store/ has no log.h)
        files["protocol/stmt.c"] += '#include "log.h"\n'
        files["tools/tool.c"] += '#include "record.h"\n'
        files["store/index.h"] = '#include "stmt.h"\n'
        files["store/index.c"] = '#include "index.h"\n#include "log.h"\n'
        t = self.tree(files)
        self.assertEqual(t.cycles(), [])
        got = {(a, b) for a, b, _ in t.breaches()}
        self.assertEqual(got, {("protocol/stmt", "daemon/log"),
                               ("tools/tool", "daemon/record"),
                               ("store/index", "daemon/log")})
        rc, out = self.run_main()
        self.assertEqual(rc, 1)
        self.assertIn("tools/tool -> daemon/record: tools/ may not include "
                      "daemon/ headers", out)
        self.assertIn('tools/tool.c:3: #include "record.h"', out)
        self.assertIn("protocol/ may include only protocol/", out)
        self.assertIn("store/ may include only protocol/, store/", out)
        # tests are exempt: test_record.c includes daemon/ and tools/
        self.assertNotIn("tests/", out)

    def test_own_folder_first_then_makefile_order(self):
        files = dict(CLEAN)
        # a log.h in protocol/ and in daemon/: tools/ gets protocol/'s
        # (-Iprotocol comes first), daemon/ its own
        files["protocol/log.h"] = ""
        files["tools/tool.c"] += '#include "log.h"\n'
        t = self.tree(files)
        self.assertIn(("tools/tool", "protocol/log"), t.lines)
        self.assertIn(("daemon/record", "daemon/log"), t.lines)
        self.assertEqual(t.breaches(), [])
        # with -Idaemon before -Iprotocol, daemon/'s (and a breach)
        t = self.tree({"Makefile": "CFLAGS = -Idaemon -Iprotocol\n"})
        self.assertIn(("tools/tool", "daemon/log"), t.lines)
        self.assertEqual([(a, b) for a, b, _ in t.breaches()],
                         [("tools/tool", "daemon/log")])

    def test_dot(self):
        files = dict(CLEAN)
        files["tools/tool.c"] += '#include "record.h"\n'
        self.tree(files)
        rc, out = self.run_main("--dot")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("digraph modules {"))
        self.assertIn('"daemon/record" -> "protocol/stmt";', out)
        self.assertIn('"tools/tool" -> "daemon/record" '
                      '[style=dashed, color=orange];', out)
        self.assertEqual(out.count("{"), out.count("}"))


if __name__ == "__main__":
    unittest.main()
