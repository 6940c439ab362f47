"""GET /metrics (PROTOCOL.md §5.3): Prometheus text that parses line by line,
counters that move by exactly what was asked, cumulative histograms and
the index gauges."""

import json

from tests.integration import harness
from tests.integration.harness import AT, metric

N_CARDS = 50


class MetricsTest(harness.DaemonTestCase):
    GEN = (N_CARDS, 7, AT)

    def test_format(self):
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("text/plain"),
                        r.header("content-type"))
        self.assertIn("version=0.0.4", r.header("content-type"))
        text = r.body.decode("utf-8")
        self.assertTrue(text.endswith("\n"))
        samples, types = harness.parse_metrics(text)
        self.assertTrue(samples)
        for name, _ in samples:
            family = name
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and \
                        types.get(name[:-len(suffix)]) == "histogram":
                    family = name[:-len(suffix)]
            self.assertIn(family, types, "no # TYPE for %s" % name)
            if name.endswith("_total"):
                self.assertEqual(types[family], "counter", name)
        for name in ("cardd_answers_total", "cardd_errors_total"):
            self.assertEqual(types.get(name), "counter")
        self.assertEqual(types.get("cardd_answer_seconds"), "histogram")
        self.assertEqual(types.get("cardd_index_cards"), "gauge")
        # Answer series: known labels, result agrees with reason.
        for (name, labels), _ in samples.items():
            if name != "cardd_answers_total":
                continue
            lab = dict(labels)
            self.assertEqual(sorted(lab), ["check", "interface", "reason",
                                           "result"])
            self.assertIn(lab["interface"], ("http", "resp"))
            self.assertIn(lab["check"], ("validity", "coverage"))
            self.assertIn(lab["reason"],
                          harness.CODE_REASONS + harness.REASONS)
            pos = "valid" if lab["check"] == "validity" else "covered"
            neg = "invalid" if lab["check"] == "validity" else "not_covered"
            self.assertEqual(lab["result"],
                             pos if lab["reason"] == "ok" else neg, labels)

    def test_gauges(self):
        samples, _ = self.d.metrics()
        self.assertEqual(metric(samples, "cardd_index_cards"), N_CARDS)
        self.assertEqual(metric(samples, "cardd_ready"), 1)
        self.assertEqual(metric(samples, "cardd_records_invalid"), 0)
        age = metric(samples, "cardd_sync_age_seconds")
        self.assertIsNotNone(age)
        self.assertGreaterEqual(age, 0)
        self.assertLess(age, 5)
        self.assertGreaterEqual(metric(samples, "cardd_connections"), 1)

    def histogram(self, samples, iface):
        buckets = []
        for (name, labels), v in samples.items():
            lab = dict(labels)
            if name == "cardd_answer_seconds_bucket" and \
                    lab.get("interface") == iface:
                buckets.append((float(lab["le"]), v))
        buckets.sort()
        count = metric(samples, "cardd_answer_seconds_count", interface=iface)
        total = metric(samples, "cardd_answer_seconds_sum", interface=iface)
        return buckets, count, total

    def assertHistogram(self, samples, iface):
        buckets, count, total = self.histogram(samples, iface)
        self.assertGreater(len(buckets), 3)
        self.assertEqual(buckets[-1][0], float("inf"))
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values), "buckets not cumulative")
        self.assertEqual(buckets[-1][1], count)
        self.assertGreaterEqual(total, 0)
        return count, total

    def test_counters_move(self):
        before, _ = self.d.metrics()
        with self.d.http() as c:
            for _ in range(3):
                r = c.get("/v1/validity?card=000000000000&at=%s" % AT)
                self.assertEqual(r.status, 200)
            r = c.get("/v1/validity?card=999999999999&at=%s" % AT)
            self.assertIn(b'"unknown_card"', r.body)
            body = json.dumps({"checks": [
                {"check": "validity", "card": "000000000000", "at": AT},
                {"check": "coverage", "card": "000000000000",
                 "scheme": "medical", "region": "500000", "at": AT}]})
            r = c.request("POST", "/v1/check", None, body)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(c.get("/v1/validity?card=x").status, 400)
            self.assertEqual(c.get("/nope").status, 404)
        with self.d.resp() as c:
            for _ in range(2):
                rep = c.command("COVERAGE", "000000000002", "medical", "AT",
                                AT)
                self.assertIn(b'"coverage_lapsed"', rep[0])
            self.assertIsInstance(c.command("VALIDITY", "x"),
                                  harness.RespError)
        after, _ = self.d.metrics()

        def delta(name, **labels):
            a = metric(after, name, **labels)
            b = metric(before, name, **labels)
            self.assertIsNotNone(a, (name, labels))
            self.assertIsNotNone(b, (name, labels))
            return a - b

        A = "cardd_answers_total"
        self.assertEqual(delta(A, interface="http", check="validity",
                               result="valid", reason="ok"), 4)
        self.assertEqual(delta(A, interface="http", check="validity",
                               result="invalid", reason="unknown_card"), 1)
        self.assertEqual(delta(A, interface="http", check="coverage",
                               result="not_covered",
                               reason="region_not_covered"), 1)
        self.assertEqual(delta(A, interface="resp", check="coverage",
                               result="not_covered",
                               reason="coverage_lapsed"), 2)
        moved = sum(v - before.get(k, 0) for k, v in after.items()
                    if k[0] == A)
        self.assertEqual(moved, 8, "other answer series moved")
        E = "cardd_errors_total"
        self.assertEqual(delta(E, interface="http", kind="bad_request"), 1)
        self.assertEqual(delta(E, interface="http", kind="not_found"), 1)
        self.assertEqual(delta(E, interface="resp", kind="bad_request"), 1)
        moved = sum(v - before.get(k, 0) for k, v in after.items()
                    if k[0] == E)
        self.assertEqual(moved, 3)
        # One latency observation per signed HTTP answer (the batch is
        # one), per RESP answer.
        c0, s0 = self.assertHistogram(before, "http")
        c1, s1 = self.assertHistogram(after, "http")
        self.assertEqual(c1 - c0, 5)
        self.assertGreaterEqual(s1, s0)
        c0, _ = self.assertHistogram(before, "resp")
        c1, _ = self.assertHistogram(after, "resp")
        self.assertEqual(c1 - c0, 2)
        self.assertEqual(delta("cardd_signatures_total"), 7)
        self.assertGreaterEqual(delta("cardd_connections_accepted_total"), 2)
