"""Cadence and the watchdog, end to end on short intervals.

Three webhook instances: "ops" (internal, every event), "oncall" (internal,
escalations only) and "public" ("audience": "public", every event, so it
proves that reminders never reach customers). API incidents are public
(component API); db incidents are not. Intervals: a reminder after EVERY
seconds without a public update, an escalation after ESCALATE.

The watchdog: a real Alertmanager sending its Watchdog every couple of
seconds keeps crier quiet; stopping it raises MonitoringSilent (internal
only), and the Watchdog coming back resolves it. Restarts are played with
generic bodies, where the timing is ours."""

import datetime
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Alertmanager, DaemonCase, wait_until  # noqa: E402

EVERY = 2.0
ESCALATE = 4.0
SLACK = 0.8  # how late a timer may fire on a loaded machine (ASan, two shared cores)
INTERNAL_TYPES = ("reminder", "escalation", "awaiting_first_update")


def webhook_check(method, path, headers, body):
    """What any webhook receiver relies on: a JSON POST with an idempotency key."""
    if method != "POST" or not headers.get("content-type", "").startswith("application/json"):
        return (415, {}, '{"error":"expected a JSON POST"}')
    if not headers.get("idempotency-key", "").startswith("crier-"):
        return (400, {}, '{"error":"missing Idempotency-Key"}')
    try:
        doc = json.loads(body)
    except ValueError:
        return (400, {}, '{"error":"body is not JSON"}')
    if not isinstance(doc, dict) or "type" not in doc or "incident" not in doc:
        return (422, {}, '{"error":"not an event"}')
    return None


def config(ops, oncall, public, first_message="auto", every=EVERY, escalate=ESCALATE, extra_public=None):
    pub = {
        "status_page_url": "https://status.example.com",
        "components": [{"name": "API", "labels": {"service": "api"}}],
        "update_every_minutes": every / 60.0,
        "escalate_after_minutes": escalate / 60.0,
        "first_message": first_message,
    }
    pub.update(extra_public or {})
    return {
        "public.json": {"public": pub},
        "webhook.json": {
            "plugins": {
                "webhook": {
                    "instances": {
                        "ops": {"url": ops.url("/ops")},
                        "oncall": {"url": oncall.url("/oncall")},
                        "public": {"url": public.url("/public"), "audience": "public"},
                    }
                }
            }
        },
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events", "webhook/ops", "webhook/public"]},
                {"name": "on-call", "events": ["escalation"], "to": ["webhook/oncall"]},
            ]
        },
    }


def generic(key, labels, annotations=None, status="firing"):
    return json.dumps({"alerts": [{"key": key, "status": status, "labels": labels,
                                   "annotations": annotations or {}}]}).encode()


API_ALERT = generic(
    "api-5xx",
    {"alertname": "HighErrorRate", "service": "api", "severity": "critical", "instance": "10.0.3.4"},
    {"summary": "API errors above 5%", "impact": "Some API calls fail",
     "workaround": "Retry after a few seconds", "description": "10.0.3.4 returns 502"},
)
DB_ALERT = generic("db-down", {"alertname": "DbDown", "service": "db", "severity": "critical"},
                   {"summary": "db-7 is down"})


def docs(target):
    """Every event a target got, once each (a retry or a redelivery after kill -9 repeats the key)."""
    seen, out = set(), []
    for r in target.recorded():
        if r.answered != 200:
            continue
        key = r.headers.get("idempotency-key")
        if key in seen:
            continue
        seen.add(key)
        out.append(r.json())
    return out


def of(target, type_, incident=None):
    return [d for d in docs(target) if d["type"] == type_ and (incident is None or d["incident"]["id"] == incident)]


def ts(doc):
    """An event's time ("2026-11-21T12:01:00.969Z") as a unix timestamp."""
    t = datetime.datetime.strptime(doc["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


class Cadence(DaemonCase):
    def setUp(self):
        self.ops = self.start_target(check=webhook_check)
        self.oncall = self.start_target(check=webhook_check)
        self.public = self.start_target(check=webhook_check)

    def open_api(self, d):
        r = d.post_generic(API_ALERT)
        self.assertLess(r.status, 300, r)
        opened = wait_until(lambda: [x for x in of(self.ops, "opened") if x["incident"]["key"] == "service=api"], 30,
                            0.05, "the api incident opened")[0]
        return opened["incident"]["id"], ts(opened)

    def assert_never_public(self):
        for doc in docs(self.public):
            self.assertNotIn(doc["type"], INTERNAL_TYPES, "an internal event reached a public channel: %s" % doc)
            self.assertNotEqual(doc["incident"].get("title"), "db-7 is down", "a non-public incident went public")

    def test_first_message_auto(self):
        d = self.start_crierd(config(self.ops, self.oncall, self.public))
        inc, _ = self.open_api(d)
        upd = wait_until(lambda: of(self.public, "update", inc), 15, 0.05, "crier's first update, in public")[0]
        self.assertEqual(upd["message"],
                         "We are investigating a problem: API errors above 5%\n\n"
                         "Impact: Some API calls fail\n\n"
                         "Workaround: Retry after a few seconds\n\n"
                         "We will post another update as soon as we know more.")
        self.assertNotIn("actor", upd, "the public view has no actor")
        self.assertNotIn("10.0.3.4", json.dumps(upd))
        self.assertEqual(upd["incident"]["title"], "API errors above 5%")
        inside = wait_until(lambda: of(self.ops, "update", inc), 15, 0.05, "the update inside")[0]
        self.assertEqual(inside["actor"], "crier")
        self.assertEqual([x["type"] for x in docs(self.public)], ["opened", "update"])
        self.assertEqual(of(self.ops, "awaiting_first_update"), [], "nobody is prompted when crier posts it")

    def test_reminder_escalation_and_updates(self):
        d = self.start_crierd(config(self.ops, self.oncall, self.public))
        r = d.post_generic(DB_ALERT)
        self.assertLess(r.status, 300, r)
        inc, _ = self.open_api(d)
        first = wait_until(lambda: of(self.ops, "update", inc), 15, 0.05, "the first update")[0]
        t_first = ts(first)

        # No public update for EVERY: a reminder to the internal channels.
        rem = wait_until(lambda: of(self.ops, "reminder", inc), EVERY + 15, 0.05, "a reminder")[0]
        self.assertAlmostEqual(ts(rem) - t_first, EVERY, delta=SLACK)
        self.assertEqual(rem["actor"], "crier")
        self.assertIn("no update for 2 seconds", rem["message"])
        self.assertIn("crierctl update %d" % inc, rem["message"])
        self.assertIsNotNone(rem["cadence"]["last_public_update"])
        self.assertEqual(of(self.oncall, "reminder"), [], "the on-call route takes escalations only")

        # Still none at ESCALATE: an escalation, on the on-call's route.
        esc = wait_until(lambda: of(self.oncall, "escalation", inc), ESCALATE + 15, 0.05, "an escalation")[0]
        self.assertAlmostEqual(ts(esc) - t_first, ESCALATE, delta=SLACK)
        self.assertTrue(esc["message"].startswith("Escalated:"), esc["message"])
        self.assertEqual(len(of(self.ops, "reminder", inc)), 1, "one reminder before the escalation")

        # A person's update restarts the clock: nothing until EVERY after it.
        p = d.ctl("update", str(inc), "--message", "We have found the cause and are rolling back.")
        self.assertEqual(p.returncode, 0, p.stderr)
        upd = wait_until(lambda: [u for u in of(self.public, "update", inc) if "rolling back" in u["message"]],
                         15, 0.05, "the person's update in public")[0]
        t_upd = ts(upd)
        rem2 = wait_until(lambda: [x for x in of(self.ops, "reminder", inc) if ts(x) > t_upd], EVERY + 15, 0.05,
                          "a reminder after the update")[0]
        self.assertAlmostEqual(ts(rem2) - t_upd, EVERY, delta=SLACK)
        esc2 = wait_until(lambda: [x for x in of(self.oncall, "escalation", inc) if ts(x) > t_upd], ESCALATE + 15,
                          0.05, "an escalation after the update")[0]
        self.assertAlmostEqual(ts(esc2) - t_upd, ESCALATE, delta=SLACK)

        # The db incident is not public: never a prompt, a reminder or an escalation.
        db = d.incident("service=db")
        self.assertIsNotNone(db)
        for target in (self.ops, self.oncall):
            for t in INTERNAL_TYPES:
                self.assertEqual(of(target, t, db["id"]), [], "%s for a non-public incident" % t)
        self.assert_never_public()

        # Resolved: the chase ends.
        d.ctl("resolve", str(inc))
        wait_until(lambda: of(self.ops, "resolved", inc), 15, 0.05, "resolved")
        n = len(of(self.ops, "reminder", inc)) + len(of(self.oncall, "escalation", inc))
        time.sleep(ESCALATE + 0.5)
        self.assertEqual(len(of(self.ops, "reminder", inc)) + len(of(self.oncall, "escalation", inc)), n)
        self.assertTrue(any(e["type"] == "reminder" for e in d.show(inc)["events"]), "reminders are on the timeline")

    def test_first_message_human_and_restarts(self):
        every, escalate = 3.0, 6.0
        d = self.start_crierd(config(self.ops, self.oncall, self.public, "human", every, escalate))
        inc, t_open = self.open_api(d)
        prompt = wait_until(lambda: of(self.ops, "awaiting_first_update", inc), 15, 0.05, "the prompt")[0]
        self.assertLess(ts(prompt) - t_open, SLACK, "the on-call is prompted at once")
        self.assertIn("crierctl update %d" % inc, prompt["message"])
        self.assertIsNone(prompt["cadence"]["last_public_update"])

        # kill -9 before the reminder is due: the clock runs from the opening, not from the restart.
        d.kill9()
        time.sleep(1.0)
        d.start()
        rem = wait_until(lambda: of(self.ops, "reminder", inc), every + 20, 0.05, "the reminder")[0]
        self.assertAlmostEqual(ts(rem) - t_open, every, delta=SLACK)
        self.assertIn("have not been told", rem["message"])

        # kill -9 again once it is out: it is not sent again, and the escalation keeps its time.
        d.kill9()
        d.start()
        esc = wait_until(lambda: of(self.oncall, "escalation", inc), escalate + 20, 0.05, "the escalation")[0]
        self.assertAlmostEqual(ts(esc) - t_open, escalate, delta=SLACK)
        self.assertEqual(len(of(self.ops, "reminder", inc)), 1, "one reminder across the restarts")
        timeline = [e["type"] for e in d.show(inc)["events"]]
        self.assertEqual(timeline.count("reminder"), 1, timeline)
        self.assertEqual(timeline.count("awaiting_first_update"), 1, timeline)

        # Nothing reached customers but the opening: people write the first update.
        self.assertEqual([x["type"] for x in docs(self.public)], ["opened"])
        self.assert_never_public()
        d.ctl("update", str(inc), "--message", "We are looking into errors on the API.")
        upd = wait_until(lambda: of(self.public, "update", inc), 15, 0.05, "the person's first update")[0]
        self.assertEqual(upd["message"], "We are looking into errors on the API.")


WATCHDOG = {"alertname": "Watchdog", "severity": "none"}


class Watchdog(DaemonCase):
    def setUp(self):
        self.ops = self.start_target(check=webhook_check)
        self.oncall = self.start_target(check=webhook_check)
        self.public = self.start_target(check=webhook_check)

    def files(self, silent, grace=None):
        # Every critical incident is public here: crier's own must still not be.
        f = config(self.ops, self.oncall, self.public, "human", extra_public={"when": [{"min_severity": "critical"}]})
        wd = {"silent_after_seconds": silent}
        if grace is not None:
            wd["startup_grace_seconds"] = grace
        f["watchdog.json"] = {"watchdog": wd}
        return f

    def silent_incidents(self):
        return [i for i in self.d.incidents() if i["key"] == "crier/MonitoringSilent"]

    def opened_silent(self):
        return [x for x in of(self.ops, "opened") if x["incident"]["key"] == "crier/MonitoringSilent"]

    @unittest.skipUnless(Alertmanager.available(), "prometheus-alertmanager is not installed")
    def test_alertmanager_feed(self):
        token = "am-wd-token-8e2"
        tmp = self.tmpdir()
        files = self.files(5.0)
        files["ingest.json"] = {"ingest": {"alertmanager": {"auth": {"token": "${T_AM}"}}}}
        self.d = d = self.start_crierd(files, tmp=tmp, hold_seconds=1, env={"T_AM": token})
        am = Alertmanager(tmp, d.port, token, repeat="2s")
        am.start()
        self.addCleanup(am.stop)
        am.amtool("alert", "add", "alertname=Watchdog", "severity=none", "--annotation=summary=always firing")

        # The feed is alive: the Watchdog keeps coming and nothing opens.
        wait_until(lambda: d.metrics().get("crier_alerts_received_total", source="alertmanager") >= 3, 30, 0.2,
                   "three Watchdog notifications")
        time.sleep(6.0)  # longer than silent_after
        self.assertEqual(d.incidents(), [], "the Watchdog opened nothing and the feed was not silent")
        self.assertEqual(docs(self.ops), [])

        # Alertmanager goes away: after silent_after, MonitoringSilent, inside only.
        am.stop()
        t_stop = time.time()
        opened = wait_until(self.opened_silent, 30, 0.1, "MonitoringSilent")[0]
        self.assertGreaterEqual(ts(opened) - t_stop, 5.0 - 2.0 - SLACK, "not before the silence is long enough")
        self.assertEqual(opened["alert"]["labels"]["alertname"], "MonitoringSilent")
        self.assertEqual(opened["incident"]["severity"], "critical")
        self.assertFalse(opened["incident"]["public"])
        self.assertIn("no Watchdog alert for 5 seconds", opened["incident"]["title"])
        self.assertEqual(of(self.public, "opened"), [], "crier's own incident never goes public")

        # It comes back: the next Watchdog resolves it.
        am.start()
        am.amtool("alert", "add", "alertname=Watchdog", "severity=none", "--annotation=summary=always firing")
        wait_until(lambda: [i for i in self.silent_incidents() if i["state"] == "resolved"], 30, 0.2,
                   "MonitoringSilent resolved")
        self.assertEqual([i["key"] for i in d.incidents()], ["crier/MonitoringSilent"],
                         "the Watchdog never has an incident of its own")
        self.assertEqual(docs(self.public), [])

    def test_example_is_valid(self):
        """conf.d/examples/watchdog.json, copied into a configuration, passes --check-config."""
        with open(os.path.join(harness.REPO, "conf.d", "examples", "watchdog.json")) as f:
            example = json.load(f)
        d = harness.Crierd(self.tmpdir(), {"watchdog.json": example})
        p = d.check_config()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_restarts(self):
        silent, grace = 5.0, 2.0
        self.d = d = self.start_crierd(self.files(silent, grace), hold_seconds=1)
        for _ in range(3):
            self.assertLess(d.post_generic(generic("wd", WATCHDOG)).status, 300)
            time.sleep(1.0)
        self.assertEqual(d.incidents(), [])

        # Down for longer than silent_after: the restart waits the grace, not at once, not a whole silent_after.
        d.kill9()
        time.sleep(silent + 1)
        t_start = time.time()
        d.start()
        time.sleep(max(0.0, grace - 0.6 - (time.time() - t_start)))
        self.assertEqual(self.silent_incidents(), [], "a restart does not declare silence at once")
        opened = wait_until(self.opened_silent, 30, 0.1, "MonitoringSilent after the grace")[0]
        self.assertGreaterEqual(ts(opened) - t_start, grace - 0.3)
        self.assertLess(ts(opened) - t_start, silent - 0.5, "the silence before the restart counted")

        # A restart while silent: it stays open, and is not opened twice.
        d.kill9()
        d.start()
        time.sleep(grace + 1)
        self.assertEqual(len(self.opened_silent()), 1)
        self.assertEqual([i["state"] for i in self.silent_incidents()], ["investigating"])

        # The feed returns: resolved; the Watchdog itself never became an incident.
        self.assertLess(d.post_generic(generic("wd", WATCHDOG)).status, 300)
        wait_until(lambda: [i for i in self.silent_incidents() if i["state"] == "resolved"], 15, 0.1, "resolved")
        self.assertEqual([i["key"] for i in d.incidents()], ["crier/MonitoringSilent"])
        self.assertEqual(of(self.public, "opened"), [])


if __name__ == "__main__":
    unittest.main()
