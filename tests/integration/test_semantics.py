"""PROTOCOL.md §2 over both interfaces: one card per reason, inclusive date
edges, precedence, lookup by permit, case folding, nonce echo, and the
default `at` (today in the configured zone)."""

import datetime
import json
import zoneinfo

from tests.integration import harness
from tests.integration.harness import AT, CSV_HEADER, csv_line

GOOD = dict(status="active", permit="", cls="B", permit_from="2024-01-01",
            permit_until="2026-12-31", birth="1990-01-01", region="310000",
            xregion="110000,440300", medical="2025-01-01..2025-12-31",
            pension="2025-01-01..2025-12-31", unemployment="",
            injury="2025-01-01..2025-12-31", maternity="", rev="7")


def card(num, **over):
    f = dict(GOOD)
    f["permit"] = "WP" + num
    f.update(over)
    f["class"] = f.pop("cls")
    return csv_line(num, **f)


CARDS = {
    "ok": "100000000001",
    "invalid": "100000000002",
    "suspended": "100000000003",
    "lost": "100000000004",
    "revoked": "100000000005",
    "not_yet": "100000000006",
    "expired": "100000000007",
    "not_enrolled": "100000000008",
    "not_started": "100000000009",
    "lapsed": "100000000010",
    "star": "100000000012",
    "noxregion": "100000000013",
    "letters": "ABC123DEF456",
    "wide": "100000000014",
    "unknown": "999999999999",
}
C = CARDS

CSV = "\n".join([
    CSV_HEADER,
    card(C["ok"]),
    card(C["invalid"], status="retired", birth="1985-05-05", rev="3"),
    # suspended and expired: the status wins (reason 4 before 5)
    card(C["suspended"], status="suspended", permit_from="2020-01-01",
         permit_until="2025-01-01", rev="4"),
    card(C["lost"], status="lost"),
    card(C["revoked"], status="revoked"),
    card(C["not_yet"], permit_from="2025-06-16", permit_until="2027-12-31"),
    card(C["expired"], permit_from="2020-01-01", permit_until="2025-06-14",
         medical=""),
    card(C["not_enrolled"], medical=""),
    card(C["not_started"], medical="2025-06-16..2025-12-31"),
    card(C["lapsed"], medical="2024-01-01..2025-06-14"),
    card(C["star"], xregion="*"),
    card(C["noxregion"], xregion=""),
    card(C["letters"], permit="PX12AB34", rev="11"),
    # dates outside 1900..2079 (stored wide)
    card(C["wide"], birth="1899-12-31", permit_from="1890-01-01",
         permit_until="2199-12-31", medical="1890-01-01..2199-12-31",
         rev="12"),
]) + "\n"

# (name, check, id, params, expected reason, expected rev)
V, CV = "validity", "coverage"
CASES = [
    ("ok", V, C["ok"], {}, "ok", 7),
    ("unknown", V, C["unknown"], {}, "unknown_card", 0),
    ("unknown coverage", CV, C["unknown"], {"scheme": "medical"},
     "unknown_card", 0),
    ("birth matches", V, C["ok"], {"birth": "1990-01-01"}, "ok", 7),
    ("holder_mismatch", V, C["ok"], {"birth": "1990-01-02"},
     "holder_mismatch", 7),
    ("holder_mismatch before record_invalid", V, C["invalid"],
     {"birth": "1985-05-06"}, "holder_mismatch", 3),
    ("record_invalid", V, C["invalid"], {}, "record_invalid", 3),
    ("record_invalid with its birth", CV, C["invalid"],
     {"birth": "1985-05-05", "scheme": "medical"}, "record_invalid", 3),
    ("holder_mismatch before status", V, C["suspended"],
     {"birth": "2000-01-01"}, "holder_mismatch", 4),
    ("card_suspended before permit_expired", V, C["suspended"], {},
     "card_suspended", 4),
    ("card_lost", V, C["lost"], {}, "card_lost", 7),
    ("card_revoked", V, C["revoked"], {}, "card_revoked", 7),
    ("card_revoked on coverage", CV, C["revoked"], {"scheme": "medical"},
     "card_revoked", 7),
    ("permit_not_yet_valid", V, C["not_yet"], {}, "permit_not_yet_valid",
     7),
    ("permit_not_yet_valid edge", V, C["not_yet"], {"at": "2025-06-16"},
     "ok", 7),
    ("permit_not_yet_valid before coverage", CV, C["not_yet"],
     {"scheme": "medical"}, "permit_not_yet_valid", 7),
    ("permit_expired", V, C["expired"], {}, "permit_expired", 7),
    ("permit_expired edge", V, C["expired"], {"at": "2025-06-14"}, "ok",
     7),
    ("permit_expired before not_enrolled", CV, C["expired"],
     {"scheme": "medical"}, "permit_expired", 7),
    ("permit_from edge -1", V, C["ok"], {"at": "2023-12-31"},
     "permit_not_yet_valid", 7),
    ("permit_from edge", V, C["ok"], {"at": "2024-01-01"}, "ok", 7),
    ("permit_until edge", V, C["ok"], {"at": "2026-12-31"}, "ok", 7),
    ("permit_until edge +1", V, C["ok"], {"at": "2027-01-01"},
     "permit_expired", 7),
    ("covered", CV, C["ok"], {"scheme": "medical"}, "ok", 7),
    ("covered pension", CV, C["ok"], {"scheme": "pension"}, "ok", 7),
    ("not_enrolled unemployment", CV, C["ok"], {"scheme": "unemployment"},
     "not_enrolled", 7),
    ("not_enrolled maternity", CV, C["ok"], {"scheme": "maternity"},
     "not_enrolled", 7),
    ("not_enrolled medical", CV, C["not_enrolled"], {"scheme": "medical"},
     "not_enrolled", 7),
    ("not_enrolled card is valid", V, C["not_enrolled"], {}, "ok", 7),
    ("coverage_not_started", CV, C["not_started"], {"scheme": "medical"},
     "coverage_not_started", 7),
    ("coverage_not_started edge", CV, C["not_started"],
     {"scheme": "medical", "at": "2025-06-16"}, "ok", 7),
    ("coverage start edge", CV, C["ok"],
     {"scheme": "medical", "at": "2025-01-01"}, "ok", 7),
    ("coverage start edge -1", CV, C["ok"],
     {"scheme": "medical", "at": "2024-12-31"}, "coverage_not_started", 7),
    ("coverage_lapsed", CV, C["lapsed"], {"scheme": "medical"},
     "coverage_lapsed", 7),
    ("coverage_lapsed edge", CV, C["lapsed"],
     {"scheme": "medical", "at": "2025-06-14"}, "ok", 7),
    ("coverage_lapsed before region", CV, C["lapsed"],
     {"scheme": "medical", "region": "440100"}, "coverage_lapsed", 7),
    ("coverage end edge", CV, C["ok"],
     {"scheme": "medical", "at": "2025-12-31"}, "ok", 7),
    ("coverage end edge +1", CV, C["ok"],
     {"scheme": "medical", "at": "2026-01-01"}, "coverage_lapsed", 7),
    ("home region", CV, C["ok"], {"scheme": "medical", "region": "310000"},
     "ok", 7),
    ("xregion first", CV, C["ok"], {"scheme": "medical", "region": "110000"},
     "ok", 7),
    ("xregion second", CV, C["ok"],
     {"scheme": "medical", "region": "440300"}, "ok", 7),
    ("region_not_covered", CV, C["ok"],
     {"scheme": "medical", "region": "440100"}, "region_not_covered", 7),
    ("xregion star", CV, C["star"], {"scheme": "medical", "region": "440100"},
     "ok", 7),
    ("no xregion", CV, C["noxregion"],
     {"scheme": "medical", "region": "110000"}, "region_not_covered", 7),
    ("no xregion home", CV, C["noxregion"],
     {"scheme": "injury", "region": "310000"}, "ok", 7),
    ("letters", V, C["letters"], {}, "ok", 11),
    ("leap day", V, C["ok"], {"at": "2024-02-29"}, "ok", 7),
    ("year 9999", V, C["ok"], {"at": "9999-12-31"}, "permit_expired", 7),
    ("year 1", V, C["ok"], {"at": "0001-01-01"}, "permit_not_yet_valid", 7),
    ("wide dates", V, C["wide"], {"at": "1895-06-01"}, "ok", 12),
    ("wide dates before", V, C["wide"], {"at": "1889-12-31"},
     "permit_not_yet_valid", 12),
    ("wide coverage end", CV, C["wide"],
     {"scheme": "medical", "at": "2199-12-31"}, "ok", 12),
    ("wide permit end +1", V, C["wide"], {"at": "2200-01-01"},
     "permit_expired", 12),
    ("wide birth matches", V, C["wide"], {"birth": "1899-12-31"}, "ok", 12),
    ("wide birth mismatch", V, C["wide"], {"birth": "1899-12-30"},
     "holder_mismatch", 12),
]


class SemanticsTest(harness.DaemonTestCase):
    CSV = CSV

    def ask_http(self, check, id_, params, by_permit=False, nonce=None):
        q = dict(params)
        q.setdefault("at", AT)
        if nonce is not None:
            q["nonce"] = nonce
        key = "permit" if by_permit else "card"
        qs = "%s=%s&" % (key, id_) + "&".join("%s=%s" % kv
                                              for kv in q.items())
        r = self.d.get("/v1/%s?%s" % (check, qs))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/json")
        jws = r.header("card-signature")
        self.assertIsNotNone(jws, "no Card-Signature")
        return r.body, jws

    def ask_resp(self, check, id_, params, by_permit=False, nonce=None,
                 conn=None):
        args = [check.upper(), id_]
        q = dict(params)
        q.setdefault("at", AT)
        if "scheme" in q:
            args.append(q.pop("scheme"))
        for k, v in q.items():
            args += [k.upper(), v]
        if nonce is not None:
            args += ["NONCE", nonce]
        if by_permit:
            args.append("BYPERMIT")
        if conn is None:
            with self.d.resp() as c:
                reply = c.command(*args)
        else:
            reply = conn.command(*args)
        self.assertIsInstance(reply, list, reply)
        self.assertEqual(len(reply), 2, reply)
        self.assertIsInstance(reply[0], bytes)
        self.assertIsInstance(reply[1], bytes)
        return reply[0], reply[1].decode()

    def check_case(self, body, jws, check, id_, params, reason, rev,
                   by_permit=False, nonce=None, want_id=None):
        st = self.assertStatement(
            body, check, want_id or id_, reason=reason, rev=rev,
            by_permit=by_permit, scheme=params.get("scheme"),
            region=params.get("region"), at=params.get("at", AT),
            nonce=nonce)
        self.assertSigned(body, jws)
        return st

    def test_every_reason_http(self):
        for name, check, id_, params, reason, rev in CASES:
            with self.subTest(name):
                body, jws = self.ask_http(check, id_, params)
                self.check_case(body, jws, check, id_, params, reason, rev)

    def test_every_reason_resp(self):
        with self.d.resp() as conn:
            for name, check, id_, params, reason, rev in CASES:
                with self.subTest(name):
                    body, jws = self.ask_resp(check, id_, params, conn=conn)
                    self.check_case(body, jws, check, id_, params, reason,
                                    rev)

    def test_http_and_resp_agree(self):
        # Same statement bytes but for issued_at.
        for name, check, id_, params, reason, rev in CASES[:12]:
            with self.subTest(name):
                h, _ = self.ask_http(check, id_, params, nonce="n1")
                r, _ = self.ask_resp(check, id_, params, nonce="n1")
                hj, rj = json.loads(h), json.loads(r)
                hj.pop("issued_at")
                rj.pop("issued_at")
                self.assertEqual(hj, rj)

    def test_all_reasons_covered(self):
        seen = {c[4] for c in CASES}
        self.assertEqual(seen, set(harness.REASONS))

    def test_by_permit(self):
        for via in ("http", "resp"):
            ask = self.ask_http if via == "http" else self.ask_resp
            with self.subTest(via, case="permit ok"):
                body, jws = ask(V, "WP" + C["ok"], {}, by_permit=True)
                self.check_case(body, jws, V, "WP" + C["ok"], {}, "ok", 7,
                                by_permit=True)
            with self.subTest(via, case="permit lowercase"):
                body, jws = ask(CV, "px12ab34", {"scheme": "medical"},
                                by_permit=True)
                self.check_case(body, jws, CV, "px12ab34",
                                {"scheme": "medical"}, "ok", 11,
                                by_permit=True, want_id="PX12AB34")
            with self.subTest(via, case="permit of a suspended card"):
                body, jws = ask(V, "WP" + C["suspended"], {},
                                by_permit=True)
                self.check_case(body, jws, V, "WP" + C["suspended"], {},
                                "card_suspended", 4, by_permit=True)
            with self.subTest(via, case="unknown permit"):
                body, jws = ask(V, "WP999999", {}, by_permit=True)
                self.check_case(body, jws, V, "WP999999", {},
                                "unknown_card", 0, by_permit=True)
            with self.subTest(via, case="card number is not a permit"):
                body, jws = ask(V, C["ok"], {}, by_permit=True)
                self.check_case(body, jws, V, C["ok"], {}, "unknown_card",
                                0, by_permit=True)

    def test_lowercase_folding(self):
        for via in ("http", "resp"):
            ask = self.ask_http if via == "http" else self.ask_resp
            with self.subTest(via):
                body, jws = ask(V, "abc123def456", {})
                self.check_case(body, jws, V, "abc123def456", {}, "ok", 11,
                                want_id="ABC123DEF456")
                body, jws = ask(V, "aBc123DeF456", {})
                self.check_case(body, jws, V, "aBc123DeF456", {}, "ok", 11,
                                want_id="ABC123DEF456")

    def test_percent_encoded_parameters(self):
        # card=100000000001, at=2025-06-15 spelled with escapes
        r = self.d.get("/v1/validity?card=%31%30%30000000%3001&at=2025%2D06"
                       "%2D15&%6Eonce=ab")
        self.assertEqual(r.status, 200, r)
        self.assertStatement(r.body, V, C["ok"], reason="ok", at=AT,
                             nonce="ab")

    def test_nonce_echo(self):
        nonces = ["a", "Zz09-_", "q7Zx0nYp", "x" * 64,
                  "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefghijklmnopq"]
        for via in ("http", "resp"):
            ask = self.ask_http if via == "http" else self.ask_resp
            for n in nonces:
                with self.subTest(via, nonce=n):
                    body, jws = ask(CV, C["ok"], {"scheme": "medical"},
                                    nonce=n)
                    self.check_case(body, jws, CV, C["ok"],
                                    {"scheme": "medical"}, "ok", 7, nonce=n)
            with self.subTest(via, nonce=None):
                body, jws = ask(V, C["ok"], {})
                self.check_case(body, jws, V, C["ok"], {}, "ok", 7)

    def _today_checks(self, zone):
        """Ask without `at` over both interfaces; at is today in zone."""
        for via in ("http", "resp"):
            with self.subTest(via):
                before = harness.shanghai_today(zone)
                if via == "http":
                    r = self.d.get("/v1/validity?card=" + C["ok"])
                    self.assertEqual(r.status, 200, r)
                    body = r.body
                else:
                    with self.d.resp() as c:
                        body = c.command("VALIDITY", C["ok"])[0]
                after = harness.shanghai_today(zone)
                st = self.assertStatement(body, V, C["ok"], reason="ok")
                self.assertIn(st["at"], {before, after})
                # The statement says at was the server's today, and
                # where: at_zone, its last member.
                self.assertEqual(st["at_zone"], zone)
                self.assertTrue(body.endswith(b',"at_zone":"%s"}' %
                                              zone.encode()), body)
        # An at the client sent is its own: no at_zone.
        body, _ = self.ask_http(V, C["ok"], {"at": AT})
        self.assertNotIn(b"at_zone", body)
        with self.d.resp() as c:
            body = c.command("VALIDITY", C["ok"], "AT", AT)[0]
            self.assertNotIn(b"at_zone", body)
            info = c.command("INFO").decode()
        self.assertIn("\r\ntimezone:%s\r\n" % zone, info)
        metrics = self.d.get("/metrics").body.decode()
        self.assertIn('\ncardd_timezone_info{zone="%s"} 1\n' % zone,
                      metrics)

    def test_at_defaults_to_today_in_shanghai(self):
        self._today_checks("Asia/Shanghai")

    def test_synced_at_is_when_the_file_was_confirmed(self):
        r = self.d.get("/readyz")
        self.assertEqual(r.status, 200, r)
        ready = r.json()
        body, _ = self.ask_http(V, C["ok"], {})
        st = json.loads(body)
        # The file is confirmed once a second: synced_at is recent.
        age = (harness.parse_rfc3339_ms(st["issued_at"]) -
               harness.parse_rfc3339_ms(st["synced_at"])).total_seconds()
        self.assertGreaterEqual(age, 0)
        self.assertLess(age, 5)
        self.assertRegex(ready["synced_at"], harness.RFC3339_MS)


class TimezoneTest(harness.DaemonTestCase):
    """`timezone` moves "today": UTC+14 and UTC-11 never share a date."""

    CSV = CSV
    CONFIG = {"timezone": "Pacific/Kiritimati"}

    def test_today_in_configured_zone(self):
        zone = "Pacific/Kiritimati"
        before = harness.shanghai_today(zone)
        r = self.d.get("/v1/validity?card=" + C["ok"])
        after = harness.shanghai_today(zone)
        self.assertEqual(r.status, 200, r)
        st = self.assertStatement(r.body, V, C["ok"])
        self.assertIn(st["at"], {before, after})
        self.assertEqual(st["at_zone"], zone)
        far = datetime.datetime.now(
            zoneinfo.ZoneInfo("Pacific/Pago_Pago")).date().isoformat()
        self.assertNotEqual(st["at"], far)


class RequireBirthTest(harness.DaemonTestCase):
    """require_birth yes: no birth, or a wrong one, answers exactly as an
    unknown card (PROTOCOL.md §2)."""

    CSV = CSV
    CONFIG = {"require_birth": "yes"}

    def test_require_birth(self):
        base = "/v1/validity?at=%s&card=" % AT
        cases = [
            (C["ok"], "", "unknown_card", 0),
            (C["ok"], "&birth=1990-01-02", "unknown_card", 0),
            (C["ok"], "&birth=1990-01-01", "ok", 7),
            (C["unknown"], "&birth=1990-01-01", "unknown_card", 0),
            (C["suspended"], "&birth=1990-01-01", "card_suspended", 4),
            (C["suspended"], "", "unknown_card", 0),
        ]
        for id_, extra, reason, rev in cases:
            with self.subTest(id_=id_, extra=extra):
                r = self.d.get(base + id_ + extra)
                self.assertEqual(r.status, 200, r)
                self.assertStatement(r.body, V, id_, reason=reason, rev=rev)
                self.assertSigned(r.body, r.header("card-signature"))
        with self.d.resp() as c:
            body, _ = c.command("VALIDITY", C["ok"], "AT", AT)
            self.assertStatement(body, V, C["ok"], reason="unknown_card",
                                 rev=0)
            body, _ = c.command("VALIDITY", C["ok"], "AT", AT, "BIRTH",
                                "1990-01-01")
            self.assertStatement(body, V, C["ok"], reason="ok", rev=7)
