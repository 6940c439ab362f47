"""The measuring tools of bench/ that need no server: stallprobe."""

import json
import os
import subprocess
import unittest

from tests.integration import harness


class StallProbeTest(unittest.TestCase):
    """bench/stallprobe: one pinned thread per CPU, gaps counted."""

    def test_json_has_every_cpu(self):
        p = subprocess.run([harness.BUILD / "stallprobe", "0.3", "--json"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        rep = json.loads(p.stdout)
        self.assertEqual(rep["seconds"], 0.3)
        self.assertEqual([c["cpu"] for c in rep["cpus"]],
                         list(range(os.cpu_count())))
        for c in rep["cpus"]:
            self.assertGreaterEqual(c["gaps"], c["over_1ms"])
            self.assertTrue(0 <= c["lost_pct"] <= 100, c)
            self.assertGreaterEqual(c["max_ms"], 0)
            if c["gaps"] == 0:
                self.assertEqual(c["max_ms"], 0)
            else:
                # A gap is over gap_us; max_ms has two decimals, so a
                # gap of 50.4 us shows as 0.05.
                self.assertGreaterEqual(c["max_ms"],
                                        round(rep["gap_us"] / 1000, 2))

    def test_bad_duration_is_refused(self):
        for arg in ("0", "-1", "soon", "99999"):
            p = subprocess.run([harness.BUILD / "stallprobe", arg],
                               capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 2, arg)
            self.assertIn(b"usage", p.stderr)


if __name__ == "__main__":
    unittest.main()
