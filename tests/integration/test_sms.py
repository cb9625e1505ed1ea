"""The sms plugin against a fake Twilio: one message per valid recipient, an
invalid number dead at once with its reason, Twilio's refusals (21610, 401)
dead, 429 / 500 / reset / hang retried and delivered once, long titles cut
at a word with the link kept, non-GSM text under UCS-2 limits, the auth
token nowhere in crierd's log; the example configuration checks, a bad
"from" does not; and the fake refuses what Twilio refuses."""

import base64
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_twilio import FakeTwilio, segments  # noqa: E402
from harness import REPO, Crierd, DaemonCase, crierd_bin, http_request, wait_until  # noqa: E402

SID = "AC5e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b"
TOKEN = "9f86d081884c7d659a2feaa0c55ad015"
FROM = "+15017122661"
ALICE = "+15558675310"
BOB = "+447700900123"
STATUS_PAGE = "https://status.example.com/"


def sms_files(api_base, instances, team):
    """crierd configuration: sms instances ({name: settings}) on a fake Twilio,
    paged for one team's incidents (crier's own DeliveryDead alert is not)."""
    insts = {}
    for name, extra in instances.items():
        inst = {
            "account_sid": SID,
            "auth_token": "${CRIER_TEST_TWILIO_TOKEN}",
            "from": FROM,
            "api_base": api_base,
            "timeout_ms": 3000,
        }
        inst.update(extra)
        insts[name] = inst
    return {
        "sms.json": {"plugins": {"sms": {"instances": insts}}},
        "public.json": {"public": {"status_page_url": STATUS_PAGE}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                {
                    "name": "pager",
                    "events": ["opened", "resolved"],
                    "labels": {"team": team},
                    "to": ["sms/" + n for n in instances],
                },
            ]
        },
    }


def alert(key, title, service, status="firing"):
    return {
        "key": key,
        "status": status,
        "labels": {"alertname": key, "service": service, "team": "sre", "severity": "critical"},
        "annotations": {"summary": title},
    }


class Sms(DaemonCase):
    def start_fake(self, **kw):
        fake = FakeTwilio(SID, TOKEN, **kw)
        self.addCleanup(fake.stop)
        return fake.start()

    def start_sms(self, fake, instances, **kw):
        env = {"CRIER_TEST_TWILIO_TOKEN": TOKEN, "CRIER_LOG_LEVEL": "debug"}
        return self.start_crierd(sms_files(fake.url, instances, "sre"), env=env, **kw)

    def fire(self, d, key, title, service, status="firing"):
        r = d.post_generic(alert(key, title, service, status))
        self.assertEqual(r.status, 200, r)
        return wait_until(lambda: d.incident("service=" + service), 10, what="incident service=" + service)

    def sms_deliveries(self, d, dead=False):
        return [x for x in d.deliveries(dead=dead) if x["instance"].startswith("sms/")]

    def assert_no_secret(self, d):
        log = d.log_text()
        self.assertNotIn(TOKEN, log)
        self.assertNotIn(base64.b64encode((SID + ":" + TOKEN).encode()).decode(), log)
        self.assertNotIn(TOKEN, d.ctl("deliveries", "--dead").stdout)
        self.assertNotIn(TOKEN, d.ctl("deliveries", json_out=True).stdout)

    def test_one_message_per_valid_recipient(self):
        fake = self.start_fake()
        d = self.start_sms(fake, {"oncall": {"recipients": [ALICE, "+0123"]}})
        inc = self.fire(d, "api-5xx", "API 5xx above 5%", "api")
        link = STATUS_PAGE + "incidents/%d.html" % inc["id"]

        msgs = fake.wait_messages(1)
        dead = wait_until(lambda: self.sms_deliveries(d, dead=True), 15, what="the invalid number dead")
        time.sleep(1.0)  # nothing more may come
        msgs = fake.messages()
        self.assertEqual(len(msgs), 1, msgs)
        m = msgs[0]
        self.assertEqual(m["to"], ALICE)
        self.assertEqual(m["from"], FROM)
        self.assertEqual(m["body"], "[crier] API 5xx above 5% (critical): investigating. " + link)
        self.assertEqual((m["encoding"], m["num_segments"]), ("GSM-7", "1"))
        self.assertEqual([r.answered for r in fake.requests()], [201], "the invalid number never reached Twilio")

        self.assertEqual(len(dead), 1, dead)
        x = dead[0]
        self.assertEqual((x["instance"], x["recipient"], x["state"], x["attempts"]), ("sms/oncall", "+0123", "dead", 1))
        self.assertIn('"+0123" is not an E.164 number', x["last_error"])
        human = d.ctl("deliveries", "--dead").stdout
        self.assertIn("sms/oncall", human)
        self.assertIn("E.164", human)
        ok = [y["recipient"] for y in self.sms_deliveries(d) if y["state"] == "delivered"]
        self.assertEqual(ok, [ALICE], self.sms_deliveries(d))

        # Resolved reads differently. (The hold is 2 s.)
        r = d.post_generic(alert("api-5xx", "API 5xx above 5%", "api", status="resolved"))
        self.assertEqual(r.status, 200, r)
        msgs = fake.wait_messages(2, timeout=20)
        self.assertEqual(msgs[1]["to"], ALICE)
        self.assertEqual(msgs[1]["body"], "[crier] Resolved: API 5xx above 5%. " + link)

        log = d.log_text()
        self.assertIn("text: 1 segment, GSM-7, %d septets" % segments(m["body"])[1], log)
        self.assertNotIn(ALICE, log, "phone numbers stay out of the log")
        self.assert_no_secret(d)

    def test_twilio_refusals_are_dead_at_once(self):
        fake = self.start_fake(stop_list=[BOB])
        d = self.start_sms(
            fake,
            {
                "oncall": {"recipients": [ALICE, BOB]},
                "stale": {"recipients": [ALICE], "auth_token": "0" * 32},
            },
        )
        self.fire(d, "db-down", "Database primary unreachable", "db")
        dead = wait_until(
            lambda: len(self.sms_deliveries(d, dead=True)) >= 2 and self.sms_deliveries(d, dead=True),
            15,
            what="two dead deliveries",
        )
        time.sleep(1.0)
        msgs = fake.messages()
        self.assertEqual([(m["to"], m["body"][:36]) for m in msgs], [(ALICE, "[crier] Database primary unreachable")])
        got = sorted((x["instance"], x["recipient"], x["attempts"], x["last_error"]) for x in dead)
        self.assertEqual(
            got,
            [
                ("sms/oncall", BOB, 1, "HTTP 400, Twilio error 21610: Attempt to send to unsubscribed recipient"),
                (
                    "sms/stale",
                    ALICE,
                    1,
                    "HTTP 401, Twilio error 20003: Authenticate (check account_sid and auth_token)",
                ),
            ],
        )
        self.assertEqual(sorted(r.answered for r in fake.requests()), [201, 400, 401])
        self.assert_no_secret(d)
        self.assertNotIn("0" * 32, d.log_text())

    def test_429_then_201_is_retried_and_sent_once(self):
        fake = self.start_fake()
        fake.script(429, (429, {"Retry-After": "2"}))
        d = self.start_sms(fake, {"oncall": {"recipients": [ALICE]}})
        self.fire(d, "web-down", "Website down", "web")
        fake.wait_messages(1, timeout=20)
        time.sleep(1.0)
        reqs = fake.requests()
        self.assertEqual([r.answered for r in reqs], [429, 429, 201], reqs)
        self.assertEqual(reqs[0].answer["code"], 20429)
        self.assertGreaterEqual(reqs[2].time - reqs[1].time, 1.99, "Retry-After: 2 was honoured")
        self.assertEqual(len(fake.messages()), 1)
        self.assertEqual(len({r.body for r in reqs}), 1, "the same request every time")
        x = wait_until(lambda: [y for y in self.sms_deliveries(d) if y["state"] == "delivered"], 10, what="delivered")
        self.assertEqual(x[0]["attempts"], 3)
        self.assert_no_secret(d)

    def test_500_reset_and_hang_are_retried(self):
        fake = self.start_fake()
        # The reset comes on a fresh connection (the hang's timeout closed
        # the last one): on a kept-alive one, libcurl itself would send the
        # request again at once, and the core would never see the failure.
        fake.script(500, ("hang", 5), "reset")
        d = self.start_sms(fake, {"oncall": {"recipients": [ALICE], "timeout_ms": 1000}})
        self.fire(d, "web-down", "Website down", "web")
        fake.wait_messages(1, timeout=30)
        time.sleep(1.0)
        self.assertEqual([r.answered for r in fake.requests()], [500, "hang", "reset", 201])
        self.assertEqual(len(fake.messages()), 1)
        x = wait_until(lambda: [y for y in self.sms_deliveries(d) if y["state"] == "delivered"], 10, what="delivered")
        self.assertEqual(x[0]["attempts"], 4)

    def test_fitting_long_and_non_gsm_titles(self):
        fake = self.start_fake()
        d = self.start_sms(fake, {"short": {"recipients": [ALICE], "max_segments": 1}})
        long_title = (
            "Checkout latency above two seconds for customers in every region while the payment provider "
            "retries timed out requests and the queue of pending orders keeps growing"
        )
        greek = "καθυστέρηση στις πληρωμές για όλους τους πελάτες σε κάθε περιοχή"
        emoji = "Checkout \U0001f525 slow"
        titles = (long_title, greek, emoji)
        incs = {t: self.fire(d, "shop-%d" % n, t, "shop-%d" % n) for n, t in enumerate(titles)}
        fake.wait_messages(3)

        def link_of(title):
            return STATUS_PAGE + "incidents/%d.html" % incs[title]["id"]

        opened = []
        for t in titles:
            found = [m for m in fake.messages() if m["body"].endswith(" " + link_of(t))]
            self.assertEqual(len(found), 1, "one message for %r in %r" % (t, fake.messages()))
            opened.append(found[0])

        # GSM-7, one part: cut at a word, "..." then the link.
        m = opened[0]
        full = "[crier] %s (critical): investigating." % long_title
        enc, units, parts = segments(m["body"])
        self.assertEqual((enc, parts, m["num_segments"]), ("GSM-7", 1, "1"), m)
        self.assertLessEqual(units, 160)
        self.assertTrue(m["body"].endswith("... " + link_of(long_title)), m["body"])
        kept = m["body"][: -len("... " + link_of(long_title))]
        self.assertTrue(full.startswith(kept), kept)
        self.assertEqual(full[len(kept)], " ", "cut between words: %r" % kept)
        self.assertGreater(len(kept), 60)

        # Greek lower case: UCS-2, 70 units in one part, with the real ellipsis.
        m = opened[1]
        enc, units, parts = segments(m["body"])
        self.assertEqual((enc, parts, m["num_segments"]), ("UCS-2", 1, "1"), m)
        self.assertLessEqual(units, 70)
        self.assertTrue(m["body"].startswith("[crier] καθυστέρηση"), m["body"])
        self.assertTrue(m["body"].endswith("\u2026 " + link_of(greek)), m["body"])

        # An emoji (two UTF-16 units) makes it UCS-2 too: cut to 70 units.
        m = opened[2]
        self.assertEqual(segments(m["body"])[0], "UCS-2")
        self.assertLessEqual(segments(m["body"])[1], 70)
        self.assertTrue(m["body"].startswith("[crier] Checkout \U0001f525 slow"), m["body"])
        self.assertTrue(m["body"].endswith(link_of(emoji)), m["body"])

        log = d.log_text()
        self.assertIn("1 segment, GSM-7,", log)
        self.assertIn("1 segment, UCS-2,", log)
        self.assert_no_secret(d)

    def check_config(self, sms_doc, env):
        d = Crierd(self.tmpdir(), {"sms.json": sms_doc}, env=env)
        cmd = [crierd_bin(), "--config", d.conf_dir, "--check-config"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=d.env, cwd=d.tmp)
        return p.returncode, p.stdout + p.stderr

    def test_example_checks_and_a_bad_from_is_refused(self):
        with open(os.path.join(REPO, "conf.d", "examples", "sms.json")) as f:
            example = json.load(f)
        env = {"CRIER_TWILIO_ACCOUNT_SID": SID, "CRIER_TWILIO_AUTH_TOKEN": TOKEN}
        rc, out = self.check_config(example, env)
        self.assertEqual(rc, 0, out)
        self.assertNotIn(TOKEN, out)

        example["plugins"]["sms"]["instances"]["oncall"]["from"] = "+0044 20 7946 0000"
        rc, out = self.check_config(example, env)
        self.assertNotEqual(rc, 0, out)
        self.assertIn('sms.json: plugins.sms.instances.oncall: "from" must be an E.164 number', out)
        self.assertNotIn(TOKEN, out)


class FakeTwilioChecks(unittest.TestCase):
    """The fake refuses what Twilio refuses, so the tests above can fail."""

    def setUp(self):
        self.fake = FakeTwilio(SID, TOKEN, stop_list=[BOB]).start()
        self.addCleanup(self.fake.stop)

    def send(self, form, user=SID, token=TOKEN, ctype="application/x-www-form-urlencoded", sid=SID):
        body = form if isinstance(form, bytes) else urllib.parse.urlencode(form).encode()
        cred = base64.b64encode(("%s:%s" % (user, token)).encode()).decode()
        h = {"Content-Type": ctype, "Authorization": "Basic " + cred}
        return http_request(self.fake.port, "POST", "/2010-04-01/Accounts/%s/Messages.json" % sid, body, h)

    def code(self, *args, **kw):
        r = self.send(*args, **kw)
        self.assertEqual(r.json()["status"], r.status, r)
        return r.status, r.json()["code"]

    def test_checks(self):
        ok = {"To": ALICE, "From": FROM, "Body": "hi"}
        self.assertEqual(self.code(ok, token="wrong"), (401, 20003))
        self.assertEqual(self.code(ok, user="AC" + "0" * 32, sid="AC" + "0" * 32), (401, 20003))
        self.assertEqual(self.code(json.dumps(ok).encode(), ctype="application/json"), (400, 21604))
        self.assertEqual(self.code(dict(ok, To="5558675310")), (400, 21211))
        self.assertEqual(self.code(dict(ok, To="+0123")), (400, 21211))
        self.assertEqual(self.code({"To": ALICE, "Body": "hi"}), (400, 21603))
        self.assertEqual(self.code(dict(ok, MessagingServiceSid="MG" + "a" * 32)), (400, 21603))
        self.assertEqual(self.code(dict(ok, From="15017122661")), (400, 21212))
        self.assertEqual(self.code(dict(ok, Body="")), (400, 21602))
        self.assertEqual(self.code(dict(ok, Body="x" * 1601)), (400, 21617))
        self.assertEqual(self.code(dict(ok, To=BOB)), (400, 21610))
        self.assertEqual(self.fake.messages(), [])

        r = self.send(dict(ok, Body="x" * 161))
        self.assertEqual(r.status, 201, r)
        m = r.json()
        self.assertRegex(m["sid"], r"^SM[0-9a-f]{32}$")
        self.assertEqual((m["status"], m["num_segments"], m["to"]), ("queued", "2", ALICE))
        self.assertEqual(self.send(dict(ok, Body="α" * 70)).json()["num_segments"], "1")
        self.assertEqual(self.send(dict(ok, Body="α" * 71)).json()["num_segments"], "2")
        self.assertEqual(self.send(dict(ok, Body="{" * 80)).json()["num_segments"], "1")
        self.assertEqual(self.send(dict(ok, Body="{" * 81)).json()["num_segments"], "2")

        self.fake.script((429, {"Retry-After": "3"}), 503)
        r = self.send(ok)
        self.assertEqual((r.status, r.json()["code"], r.headers.get("retry-after")), (429, 20429, "3"))
        self.assertEqual(self.send(ok).status, 503)
        self.assertEqual(self.send(ok).status, 201)


if __name__ == "__main__":
    unittest.main()
