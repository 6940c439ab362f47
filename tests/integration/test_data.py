"""Card data (PROTOCOL.md §7; README.md, Sources): broken CSV lines answer
record_invalid and are logged by line number without the card number,
duplicates, quoted xregion lists, a header without a card column, file
reload by rename, and staleness once the file is gone."""

import json
import os
import re
import subprocess
import time
import unittest

from tests.integration import harness
from tests.integration.harness import AT, CSV_HEADER, RespError, csv_line

BASE = dict(status="active", permit="", permit_from="2024-01-01",
            permit_until="2026-12-31", birth="1990-01-01", region="310000",
            xregion="", medical="2025-01-01..2025-12-31", rev="5")
BASE["class"] = "B"


def row(card, **over):
    f = dict(BASE)
    f["permit"] = "WP" + card[-8:]
    f.update(over)
    return csv_line(card, **f)


# (line text, card or None, expected answer at AT)
LINES = [
    (CSV_HEADER, None, None),
    (row("200000000001", xregion="110000, 440300"), "200000000001", "ok"),
    (row("200000000002", permit_from="2025-02-30"), "200000000002",
     "record_invalid"),
    (row("200000000003", status="expired"), "200000000003",
     "record_invalid"),
    ("200000000004,active,WP00000004,B,2024-01-01", "200000000004",
     "record_invalid"),
    (row("200000000005").replace(",active,", ',act"ive,'),
     "200000000005", "record_invalid"),                        # bad quote
    (row("200000000006", rev="x"), "200000000006", "record_invalid"),
    (row("200000000011"), "200000000011", "repeated-first"),
    ("12,active,WP12,B,2024-01-01,2026-12-31,1990-01-01,310000,,,,,,,1",
     None, None),                                              # skipped
    ("", None, None),                                          # blank
    (row("200000000007", xregion="*"), "200000000007", "ok"),
    # a quoted field over two lines: the next line is line 13, not 12
    (row("200000000008", xregion="110000,\n440300"), "200000000008",
     "record_invalid"),
    (row("200000000009", **{"class": "D"}), "200000000009",
     "record_invalid"),
    (row("200000000010", birth=""), "200000000010", "record_invalid"),
    (row("200000000011"), "200000000011", "record_invalid"),   # repeated
    (row("200000000012", permit_from="2026-01-01",
         permit_until="2025-01-01"), "200000000012", "record_invalid"),
    (row("200000000013", medical="2025-12-31..2025-01-01"), "200000000013",
     "record_invalid"),
    (row("abcdef123456", permit="wpdup0001"), "ABCDEF123456", "ok"),
    (row("200000000014", permit="WPDUP0001"), "200000000014", "ok"),
    (row("200000000015", region="31000"), "200000000015", "record_invalid"),
    (row("200000000016", xregion="110000;440300"), "200000000016",
     "record_invalid"),
    (row("200000000017", rev="18446744073709551616000"), "200000000017",
     "record_invalid"),
]
CSV = "\n".join(text for text, _, _ in LINES[:-1]) + "\r\n" + \
    LINES[-1][0] + "\n"


def line_numbers():
    """{card: [line numbers]} of the lines expected to be logged."""
    out, n = {}, 1
    for text, card, want in LINES:
        if card is not None and want == "record_invalid":
            out.setdefault(card, []).append(n)
        n += text.count("\n") + 1
    return out


class DataLoadingTest(harness.DaemonTestCase):
    CSV = CSV

    def answer(self, card, check="validity", extra=""):
        r = self.d.get("/v1/%s?card=%s&at=%s%s" % (check, card, AT, extra))
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)

    def test_answers(self):
        for text, card, want in LINES:
            if card is None:
                continue
            with self.subTest(card=card, line=text[:60]):
                st = self.answer(card)
                if want == "repeated-first":
                    want = "record_invalid"
                self.assertEqual(st["reason"], want, text)

    def test_invalid_keeps_rev(self):
        # A broken record answers with its rev when the rev parsed.
        self.assertEqual(self.answer("200000000003")["rev"], 5)
        self.assertEqual(self.answer("200000000006")["rev"], 0)
        # and with its birth date for the holder check
        st = self.answer("200000000003", extra="&birth=1990-01-02")
        self.assertEqual(st["reason"], "holder_mismatch")

    def test_every_readable_card_is_indexed(self):
        # Broken lines with a readable card number are kept; the line
        # without one is skipped.
        cards = {card for _, card, _ in LINES if card}
        r = self.d.get("/readyz")
        self.assertEqual(r.json()["cards"], len(cards))

    def test_quoted_xregion(self):
        cov = "&scheme=medical&region="
        self.assertEqual(self.answer("200000000001", "coverage",
                                     cov + "110000")["reason"], "ok")
        self.assertEqual(self.answer("200000000001", "coverage",
                                     cov + "440300")["reason"], "ok")
        self.assertEqual(self.answer("200000000001", "coverage",
                                     cov + "440100")["reason"],
                         "region_not_covered")
        self.assertEqual(self.answer("200000000007", "coverage",
                                     cov + "440100")["reason"], "ok")

    def test_lowercase_card_in_file(self):
        self.assertEqual(self.answer("ABCDEF123456")["reason"], "ok")
        self.assertEqual(self.answer("abcdef123456")["card"], "ABCDEF123456")

    def test_permit_on_two_cards(self):
        # Two cards claim one permit: by permit it is a data error.
        r = self.d.get("/v1/validity?permit=WPDUP0001&at=%s" % AT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["reason"], "record_invalid")
        self.assertEqual(self.answer("200000000014")["reason"], "ok")

    def test_bad_lines_logged_without_card_numbers(self):
        log = self.d.stderr()
        bad = [ln for ln in log.splitlines() if 'msg="bad card line"' in ln]
        logged = set()
        for ln in bad:
            m = re.search(r"\bline=(\d+)\b", ln)
            self.assertIsNotNone(m, ln)
            logged.add(int(m.group(1)))
        for card, numbers in line_numbers().items():
            for n in numbers:
                self.assertIn(n, logged, "line %d (%s) not logged:\n%s" %
                              (n, card, "\n".join(bad)))
        self.assertIn(9, logged, "the skipped line 9 is not logged")
        for text, card, _ in LINES[1:]:
            if card:
                self.assertNotIn(card, log, "raw card number in the log")
                self.assertNotIn(card.lower(), log)
        self.assertNotIn("WPDUP0001", log)

    def test_invalid_count(self):
        n = sum(len(v) for v in line_numbers().values())
        samples, _ = self.d.metrics()
        self.assertEqual(harness.metric(samples, "cardd_records_invalid"), n)
        with self.d.resp() as c:
            info = c.command("INFO").decode()
        self.assertIn("records_invalid:%d\r\n" % n, info)


class BadFileTest(unittest.TestCase):
    """A file cardd cannot use stops it at start with a clear message."""

    def start_fails(self, csv, words):
        d = harness.Daemon(csv=csv, name="badfile")
        self.addCleanup(d.cleanup)
        d.start(wait_ready=False)
        try:
            rc = d.proc.wait(timeout=harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            d.kill()
            self.fail("cardd started on a bad file:\n" + d.stderr())
        self.assertNotEqual(rc, 0)
        err = d.stderr()
        for w in words:
            self.assertIn(w, err)
        return err

    def test_header_without_card_column(self):
        self.start_fails("id,status,permit\n200000000001,active,WP1\n",
                         ["card column", "cards.csv"])

    def test_empty_file(self):
        self.start_fails("", ["empty", "cards.csv"])

    def test_missing_file(self):
        d = harness.Daemon(csv=None, name="nofile")
        self.addCleanup(d.cleanup)
        d.start(wait_ready=False)
        rc = d.proc.wait(timeout=harness.START_TIMEOUT)
        self.assertNotEqual(rc, 0)
        self.assertIn("cards.csv", d.stderr())


V1 = CSV_HEADER + "\n" + "\n".join([
    row("300000000001", rev="1"),
    row("300000000002", rev="1"),
]) + "\n"
V2 = CSV_HEADER + "\n" + "\n".join([
    row("300000000001", rev="2", status="revoked"),
    row("300000000003", rev="1"),
]) + "\n"
V3 = CSV_HEADER + "\n" + "\n".join([
    row("300000000001", rev="3"),
]) + "\n"


class ReloadTest(harness.DaemonTestCase):
    CSV = V1

    def answer(self, card):
        r = self.d.get("/v1/validity?card=%s&at=%s" % (card, AT))
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)

    def wait_rev(self, card, rev, timeout=10):
        return harness.wait_for(lambda: self.answer(card)["rev"] == rev,
                                timeout)

    def test_reload(self):
        self.assertEqual(self.answer("300000000001")["reason"], "ok")
        self.assertEqual(self.answer("300000000003")["reason"],
                         "unknown_card")
        with self.d.http() as keep:
            self.assertEqual(keep.get("/healthz").status, 200)
            t0 = time.monotonic()
            self.d.replace_csv(V2)
            self.assertTrue(self.wait_rev("300000000001", 2),
                            "new file not loaded:\n" + self.d.stderr())
            self.assertLess(time.monotonic() - t0, 10)
            st = self.answer("300000000001")
            self.assertEqual((st["reason"], st["rev"]), ("card_revoked", 2))
            self.assertEqual(self.answer("300000000002")["reason"],
                             "unknown_card")
            self.assertEqual(self.answer("300000000003")["reason"], "ok")
            r = self.d.get("/readyz")
            self.assertEqual(r.json()["cards"], 2)
            # A connection opened before the reload goes on.
            self.assertEqual(keep.get("/healthz").status, 200)

        # A broken file keeps the old index, logs once, and a good file
        # after it loads again.
        self.d.replace_csv("nocard,status\nx,y\n")
        self.assertTrue(harness.wait_for(
            lambda: "reload failed" in self.d.stderr(), 10),
            "no reload failure logged:\n" + self.d.stderr())
        st = self.answer("300000000001")
        self.assertEqual((st["reason"], st["rev"]), ("card_revoked", 2))
        time.sleep(3.5)
        fails = [ln for ln in self.d.stderr().splitlines()
                 if "reload failed" in ln]
        self.assertEqual(len(fails), 1, "a file that did not change is "
                         "retried and logged again and again:\n" +
                         "\n".join(fails))
        self.d.replace_csv(V3)
        self.assertTrue(self.wait_rev("300000000001", 3),
                        "good file after a bad one not loaded:\n" +
                        self.d.stderr())
        self.assertEqual(self.answer("300000000001")["reason"], "ok")


class EmptyFileReloadTest(harness.DaemonTestCase):
    """A file that becomes empty is refused on reload (the old index
    stays) and costs no file descriptors."""

    CSV = V1

    def open_fds(self):
        time.sleep(0.3)     # let the server close our finished connections
        return sorted(os.listdir("/proc/%d/fd" % self.d.proc.pid))

    def test_empty_file_on_reload(self):
        before = self.open_fds()
        self.d.replace_csv("")
        self.assertTrue(harness.wait_for(
            lambda: "reload failed" in self.d.stderr(), 10))
        time.sleep(3)
        r = self.d.get("/v1/validity?card=300000000001&at=%s" % AT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["reason"], "ok")
        after = self.open_fds()
        self.assertEqual(len(after), len(before),
                         "file descriptors leak: %d before, %d after" %
                         (len(before), len(after)))


class StalenessTest(harness.DaemonTestCase):
    CSV = V1
    CONFIG = {"max_staleness": "2"}

    def test_stale_after_file_vanishes(self):
        q = "/v1/validity?card=300000000001&at=%s" % AT
        self.assertEqual(self.d.get(q).status, 200)
        t0 = time.monotonic()
        os.unlink(self.d.csv_path)
        # It keeps answering from what it has...
        r = self.d.get(q)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["reason"], "ok")
        # ...until max_staleness passes.
        stale = harness.wait_for(
            lambda: self.d.get("/readyz").status == 503, 10, 0.05)
        elapsed = time.monotonic() - t0
        self.assertTrue(stale, "never went stale:\n" + self.d.stderr())
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 5)

        r = self.d.get("/readyz")
        self.assertEqual(r.status, 503)
        j = r.json()
        self.assertIs(j["ready"], False)
        self.assertEqual(j["state"], "stale")
        for target in (q, "/v1/coverage?card=300000000001&scheme=medical"):
            r = self.d.get(target)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["error"], "stale")
            self.assertTrue(r.json()["detail"])
            self.assertIsNone(r.header("card-signature"))
        with self.d.http() as c:
            r = c.request("POST", "/v1/check", None, json.dumps(
                {"checks": [{"check": "validity", "card": "300000000001"}]}))
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["error"], "stale")
            # Still a 400 for a bad request, and the connection goes on.
            self.assertEqual(c.get("/v1/validity?card=x").status, 400)
            self.assertEqual(c.get("/healthz").status, 200)
        with self.d.resp() as c:
            rep = c.command("VALIDITY", "300000000001", "AT", AT)
            self.assertEqual(rep, RespError("ERR stale"))
            rep = c.command("COVERAGE", "300000000001", "medical")
            self.assertEqual(rep, RespError("ERR stale"))
            self.assertEqual(c.command("PING"), "PONG")
            self.assertIn(b"ready:0", c.command("INFO"))
        samples, _ = self.d.metrics()
        self.assertEqual(harness.metric(samples, "cardd_ready"), 0)
        self.assertGreater(harness.metric(samples, "cardd_sync_age_seconds"),
                           2)

        # The file comes back: fresh again.
        self.d.replace_csv(V3)
        self.assertTrue(harness.wait_for(
            lambda: self.d.get("/readyz").status == 200, 10),
            "not ready after the file came back")
        r = self.d.get(q)
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["rev"], 3)
