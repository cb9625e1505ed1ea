"""A real Alertmanager 0.25 (amtool to fire and resolve) in front of crierd:
one incident per service, repeated group notifications change nothing,
resolution goes through monitoring to resolved, and the log plugin gets the
timeline."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Alertmanager, Crierd, TempDir, wait_until  # noqa: E402

TOKEN = "am-token-5f1c"
HOLD = 4


def types(events):
    return [e["type"] for e in events]


@unittest.skipUnless(Alertmanager.available(), "prometheus-alertmanager is not installed")
class AlertmanagerEndToEnd(unittest.TestCase):
    def test_fire_repeat_resolve(self):
        with TempDir() as tmp:
            files = {"ingest.json": {"ingest": {"alertmanager": {"auth": {"token": "${CRIER_TEST_AM_TOKEN}"}}}}}
            with Crierd(tmp, files, hold_seconds=HOLD, env={"CRIER_TEST_AM_TOKEN": TOKEN}) as d:
                # repeat_interval 4s: Alertmanager re-sends the unchanged groups
                # while we wait, so duplicates really arrive.
                with Alertmanager(tmp, d.port, TOKEN, repeat="4s") as am:
                    self.run_scenario(d, am)
            self.assertNotIn(TOKEN, d.log_text(), "the token reached the log")

    def run_scenario(self, d, am):
        api = ["alertname=HighErrorRate", "service=api", "severity=critical"]
        am.amtool("alert", "add", *api, "instance=api-1", "--annotation=summary=API 5xx above 5%")
        am.amtool("alert", "add", *api, "instance=api-2", "--annotation=summary=API 5xx above 5%")
        am.amtool("alert", "add", "alertname=SiteDown", "service=web", "severity=warning", "--annotation=summary=web down")
        fired_at = time.time()

        def two_incidents():
            inc = {i["key"]: i for i in d.incidents()}
            a, w = inc.get("service=api"), inc.get("service=web")
            return a and w and a["alerts_firing"] == 2 and w["alerts_firing"] == 1 and inc

        inc = wait_until(two_incidents, 30, 0.2, "incidents service=api (2 alerts) and service=web (1 alert)")
        self.assertEqual(sorted(inc), ["service=api", "service=web"], "exactly one incident per service")
        api_inc, web_inc = inc["service=api"], inc["service=web"]
        self.assertEqual(api_inc["state"], "investigating")
        self.assertEqual(api_inc["severity"], "critical")
        self.assertEqual(web_inc["severity"], "warning")
        self.assertFalse(api_inc["human"])

        shown = d.show(api_inc["id"])
        self.assertEqual(len(shown["alerts"]), 2)
        for a in shown["alerts"]:
            self.assertEqual(a.get("source"), "alertmanager")
            self.assertRegex(a.get("key", ""), r"^[0-9a-f]{16}$", "key is the Alertmanager fingerprint")

        wait_until(lambda: len(d.events()) >= 3, 15, what="3 events in events.jsonl")
        received0 = d.metrics().get("crier_alerts_received_total", source="alertmanager")

        # Several group_intervals and at least one repeat_interval: re-sends only.
        time.sleep(10)
        after = d.events()
        self.assertEqual(sorted(types(after)), ["alert_joined", "opened", "opened"], after)
        received1 = d.metrics().get("crier_alerts_received_total", source="alertmanager")
        self.assertGreater(received1, received0, "Alertmanager re-sent the groups (repeat_interval 4s)")
        self.assertEqual(len(d.incidents()), 2, "re-sends opened nothing")

        api_events = d.events_of("service=api")
        self.assertEqual(types(api_events), ["opened", "alert_joined"])
        opened = api_events[0]
        self.assertEqual(opened["incident"]["state"], "investigating")
        self.assertEqual(opened["actor"], "alertmanager")
        self.assertEqual(opened["alert"]["source"], "alertmanager")
        self.assertEqual(opened["alert"]["status"], "firing")
        self.assertEqual(opened["alert"]["labels"]["service"], "api")
        self.assertIn(opened["alert"]["labels"]["instance"], ("api-1", "api-2"))
        self.assertIsNone(opened["alert"]["ends_at"])
        self.assertTrue(opened["idempotency_key"])
        self.assertIn("id", opened)
        self.assertIn("time", opened)

        # Resolve one api alert: the incident goes on; then the other: monitoring.
        end = max(fired_at + 1, time.time() - 1)
        am.amtool("alert", "add", *api, "instance=api-1", "--end=" + harness.rfc3339(end))
        wait_until(lambda: "alert_resolved" in types(d.events_of("service=api")), 20, 0.2, "alert_resolved")
        self.assertEqual(d.incident("service=api")["state"], "investigating")
        self.assertEqual(d.incident("service=api")["alerts_firing"], 1)

        am.amtool("alert", "add", *api, "instance=api-2", "--end=" + harness.rfc3339(time.time() - 1))
        mon = wait_until(
            lambda: (d.incident("service=api") or {}).get("state") in ("monitoring", "resolved")
            and d.incident("service=api"),
            20,
            0.1,
            "service=api in monitoring",
        )
        self.assertEqual(mon["state"], "monitoring", "the incident holds in monitoring before it resolves")
        self.assertEqual(mon["alerts_firing"], 0)
        self.assertIsNone(mon["resolved_at"])
        t_monitoring = time.monotonic()
        wait_until(lambda: "state_changed" in types(d.events_of("service=api")), 10, what="state_changed logged")
        t = types(d.events_of("service=api"))
        with self.subTest("the last alert's resolution is the move to monitoring, not alert_resolved (docs/events.md)"):
            self.assertEqual(t, ["opened", "alert_joined", "alert_resolved", "state_changed"])

        res = wait_until(
            lambda: (d.incident("service=api") or {}).get("state") == "resolved" and d.incident("service=api"),
            HOLD + 15,
            0.2,
            "service=api resolved after the hold",
        )
        self.assertGreaterEqual(time.monotonic() - t_monitoring, HOLD - 1.5, "resolved only after the hold")
        self.assertIsNotNone(res["resolved_at"])
        open_keys = [i["key"] for i in d.incidents(all=False)]
        self.assertNotIn("service=api", open_keys)
        self.assertIn("service=web", open_keys)

        wait_until(lambda: "resolved" in types(d.events_of("service=api")), 10, what="resolved event in the log")
        api_events = d.events_of("service=api")
        t = types(api_events)
        self.assertEqual(t[:3], ["opened", "alert_joined", "alert_resolved"], t)
        self.assertEqual(t.count("opened"), 1)
        self.assertEqual(t.count("resolved"), 1)
        self.assertEqual(t[-1], "resolved", t)
        changes = [e for e in api_events if e["type"] == "state_changed"]
        self.assertTrue(changes, "a state_changed event to monitoring")
        self.assertEqual(changes[0]["incident"]["state"], "monitoring")
        self.assertEqual(changes[0]["previous"]["state"], "investigating")
        self.assertLess(t.index("state_changed"), t.index("resolved"))
        self.assertEqual(api_events[-1]["incident"]["state"], "resolved")
        ids = [e["id"] for e in api_events]
        self.assertEqual(ids, sorted(ids), "events delivered in order")
        self.assertEqual(len(set(e["idempotency_key"] for e in api_events)), len(api_events))

        # The web incident saw only its opening.
        self.assertEqual(types(d.events_of("service=web")), ["opened"])


if __name__ == "__main__":
    unittest.main()
