"""Uptime Robot webhooks: JSON, form and query-string encodings (GET and
POST), SSL expiry notices, unknown alert types, both ways of passing the
token, and one incident shared with Alertmanager through ingest.uptimerobot.services."""

import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, fixture, fixture_json, wait_until  # noqa: E402

TOKEN = "SECRET"  # the token tests/fixtures/uptimerobot/down.query carries
PATH = "/api/v1/uptimerobot"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def ur_files():
    return {
        "ingest.json": {
            "ingest": {
                "uptimerobot": {"auth": {"token": "${CRIER_TEST_UR_TOKEN}"}, "services": {"784350743": "api"}},
                "alertmanager": {"auth": {"token": "${CRIER_TEST_UR_TOKEN}"}},
            }
        }
    }


def bearer():
    return {"Authorization": "Bearer " + TOKEN}


def form_with(**changes):
    fields = urllib.parse.parse_qsl(fixture("uptimerobot", "down.form", mode="r").strip(), keep_blank_values=True)
    return urllib.parse.urlencode([(k, changes.get(k, v)) for k, v in fields])


def query_with(**changes):
    path, _, q = fixture("uptimerobot", "down.query", mode="r").strip().partition("?")
    fields = urllib.parse.parse_qsl(q, keep_blank_values=True)
    return path + "?" + urllib.parse.urlencode([(k, changes.get(k, v)) for k, v in fields])


class UptimeRobot(DaemonCase):
    def setUp(self):
        self.d = self.start_crierd(ur_files(), hold_seconds=2, env={"CRIER_TEST_UR_TOKEN": TOKEN})

    def ok(self, r, alerts=None, changed=None):
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body.get("status"), "ok", body)
        if alerts is not None:
            self.assertEqual(body.get("alerts"), alerts, body)
        if changed is not None:
            self.assertEqual(body.get("changed"), changed, body)
        return body

    def alerts_of(self, key):
        inc = self.d.incident(key)
        self.assertIsNotNone(inc, "no incident %s in %r" % (key, self.d.incidents()))
        return inc, self.d.show(inc["id"])["alerts"]

    def test_json_body_down_then_up(self):
        d = self.d
        self.ok(d.post(PATH, fixture("uptimerobot", "down.json"), bearer()), alerts=1, changed=1)
        inc, alerts = self.alerts_of("service=api")
        self.assertEqual(inc["state"], "investigating")
        self.assertEqual(inc["severity"], "critical")
        self.assertEqual([a["key"] for a in alerts], ["uptimerobot/784350743"])
        a = alerts[0]
        self.assertEqual(a["source"], "uptimerobot")
        self.assertEqual(a["status"], "firing")
        self.assertEqual(a["labels"].get("service"), "api", "mapped by ingest.uptimerobot.services")
        self.assertEqual(a["labels"].get("alertname"), "MonitorDown")
        self.assertEqual(a["labels"].get("severity"), "critical")
        for v in list(a["labels"].values()) + list(a.get("annotations", {}).values()):
            self.assertNotRegex(str(v), r"^\*[A-Za-z]+\*$", "a literal placeholder was kept as a value")

        # The same notice again changes nothing.
        self.ok(d.post(PATH, fixture("uptimerobot", "down.json"), bearer()), alerts=1, changed=0)

        self.ok(d.post(PATH, fixture("uptimerobot", "up.json"), bearer()), alerts=1, changed=1)
        wait_until(lambda: d.incident("service=api")["state"] in ("monitoring", "resolved"), 10, what="monitoring")
        wait_until(lambda: len(d.events_of("service=api")) >= 2, 10, what="2 events logged")
        with self.subTest("the only alert resolving is the move to monitoring, not alert_resolved (docs/events.md)"):
            self.assertEqual([e["type"] for e in d.events_of("service=api")][:2], ["opened", "state_changed"])
        wait_until(lambda: d.incident("service=api")["state"] == "resolved", 15, what="resolved after the hold")
        wait_until(lambda: "resolved" in [e["type"] for e in d.events_of("service=api")], 10, what="resolved event")
        t = [e["type"] for e in d.events_of("service=api")]
        self.assertEqual(t[0], "opened")
        self.assertEqual(t.count("opened"), 1, t)
        self.assertIn("state_changed", t)
        self.assertEqual(t[-1], "resolved")
        self.assertEqual(d.events_of("service=api")[0]["alert"]["source"], "uptimerobot")

    def test_refire_within_hold_continues_the_incident(self):
        d = self.d
        down = fixture_json("uptimerobot", "down.json")
        self.ok(d.post(PATH, down, bearer()), changed=1)
        first = d.incident("service=api")
        self.ok(d.post(PATH, fixture("uptimerobot", "up.json"), bearer()), changed=1)
        wait_until(lambda: d.incident("service=api")["state"] == "monitoring", 10, what="monitoring")
        down["alertDateTime"] = str(int(down["alertDateTime"]) + 120)  # it goes down again, within the hold
        self.ok(d.post(PATH, down, bearer()), changed=1)
        incs = d.incidents()
        self.assertEqual(len(incs), 1, "a re-fire within the hold opened a new incident: %r" % incs)
        self.assertEqual(incs[0]["id"], first["id"])
        self.assertEqual(incs[0]["state"], "investigating")
        self.assertEqual(incs[0]["alerts_firing"], 1)
        wait_until(lambda: len(d.events_of("service=api")) >= 4, 10, what="4 events logged")
        ev = d.events_of("service=api")
        back = [e for e in ev if e["type"] == "state_changed" and e["incident"]["state"] == "investigating"]
        self.assertEqual(len(back), 1, [e["type"] for e in ev])
        self.assertEqual(back[0]["previous"]["state"], "monitoring")
        self.assertNotIn("opened", [e["type"] for e in ev[1:]])
        time.sleep(3)  # longer than the hold: a firing incident stays open
        self.assertEqual(d.incident("service=api")["state"], "investigating")

    def test_refire_after_hold_opens_a_new_incident(self):
        d = self.d
        down = fixture_json("uptimerobot", "down.json")
        self.ok(d.post(PATH, down, bearer()), changed=1)
        first = d.incident("service=api")
        self.ok(d.post(PATH, fixture("uptimerobot", "up.json"), bearer()), changed=1)
        wait_until(lambda: d.incident("service=api")["state"] == "resolved", 15, what="resolved after the 2s hold")
        down["alertDateTime"] = str(int(down["alertDateTime"]) + 3600)
        self.ok(d.post(PATH, down, bearer()), changed=1)
        incs = d.incidents()
        self.assertEqual(len(incs), 2, incs)
        new = [i for i in incs if i["id"] != first["id"]][0]
        self.assertEqual(new["key"], "service=api")
        self.assertEqual(new["state"], "investigating")

    def test_form_body(self):
        d = self.d
        # ?token= on a form POST, and an unmapped monitor: service = friendly name.
        body = form_with(monitorID="900001", monitorFriendlyName="Form Monitor")
        self.ok(d.post(PATH + "?token=" + TOKEN, body.encode(), FORM), alerts=1, changed=1)
        inc, alerts = self.alerts_of("service=Form Monitor")
        self.assertEqual([a["key"] for a in alerts], ["uptimerobot/900001"])
        self.assertEqual(alerts[0]["labels"].get("service"), "Form Monitor")
        self.assertEqual(alerts[0]["status"], "firing")
        # The fixture as it is (the mapped monitor), with the token in the header.
        self.ok(d.post(PATH, fixture("uptimerobot", "down.form"), dict(FORM, **bearer())), alerts=1, changed=1)
        inc, alerts = self.alerts_of("service=api")
        self.assertEqual([a["key"] for a in alerts], ["uptimerobot/784350743"])

    def test_query_string_get_and_post(self):
        d = self.d
        q = fixture("uptimerobot", "down.query", mode="r").strip()
        self.ok(d.request("GET", q), alerts=1, changed=1)
        inc, alerts = self.alerts_of("service=Example")
        self.assertEqual([a["key"] for a in alerts], ["uptimerobot/11"])
        self.assertEqual(alerts[0]["status"], "firing")
        # POST with the variables in the query and no body: same alert, no change.
        self.ok(d.request("POST", q, b"", {"Content-Length": "0"}), alerts=1, changed=0)
        # POST of a query for another monitor of the same service.
        self.ok(d.request("POST", query_with(monitorID="12"), b""), alerts=1, changed=1)
        inc, alerts = self.alerts_of("service=Example")
        self.assertEqual(sorted(a["key"] for a in alerts), ["uptimerobot/11", "uptimerobot/12"])
        self.assertEqual(inc["alerts_firing"], 2)
        # Up for monitor 11 by query string.
        self.ok(d.request("GET", query_with(alertType="2", alertDetails="HTTP 200 - OK")), alerts=1, changed=1)
        wait_until(lambda: d.incident("service=Example")["alerts_firing"] == 1, 10, what="one alert left firing")

    def test_ssl_expiry(self):
        d = self.d
        self.ok(d.post(PATH, fixture("uptimerobot", "ssl-expiry.json"), bearer()), alerts=1, changed=1)
        inc, alerts = self.alerts_of("service=Shop")
        self.assertEqual([a["key"] for a in alerts], ["uptimerobot/784350744/ssl"])
        self.assertEqual(alerts[0]["labels"].get("alertname"), "CertificateExpiry")
        self.assertEqual(alerts[0]["labels"].get("severity"), "warning")
        self.assertEqual(inc["severity"], "warning")

    def test_unknown_alert_type_is_ignored(self):
        d = self.d
        body = fixture_json("uptimerobot", "down.json")
        body["alertType"] = "9"
        body["monitorID"] = "555"
        body["monitorFriendlyName"] = "Nine"
        r = d.post(PATH, body, bearer())
        self.assertEqual(r.status, 202, r)
        r = d.request("GET", query_with(alertType="4", monitorID="556", monitorFriendlyName="Four"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(d.incidents(), [], "an unknown alertType opened an incident")
        self.assertTrue(d.healthy())

    def test_token(self):
        d = self.d
        body = fixture("uptimerobot", "down.json")
        self.assertEqual(d.post(PATH, body).status, 401, "no token")
        self.assertEqual(d.post(PATH, body, {"Authorization": "Bearer wrong-token-77"}).status, 401)
        self.assertEqual(d.post(PATH + "?token=wrong-token-78", body).status, 401)
        self.assertEqual(d.request("GET", query_with(token="wrong-token-79")).status, 401)
        self.assertEqual(d.incidents(), [], "a refused request opened an incident")
        self.ok(d.post(PATH + "?token=" + TOKEN, body), alerts=1)
        self.ok(d.post(PATH, body, bearer()), alerts=1, changed=0)
        log = d.log_text()
        for secret in ("wrong-token-77", "wrong-token-78", "wrong-token-79", "token=" + TOKEN):
            self.assertNotIn(secret, log, "a token reached the log")

    def test_shared_incident_with_alertmanager(self):
        d = self.d
        self.ok(d.post_am(fixture("alertmanager", "firing-group-two-alerts.json"), token=TOKEN), alerts=2, changed=2)
        self.ok(d.post(PATH, fixture("uptimerobot", "down.json"), bearer()), alerts=1, changed=1)
        incs = d.incidents()
        self.assertEqual([i["key"] for i in incs], ["service=api"], "one incident for service api")
        self.assertEqual(incs[0]["alerts_firing"], 3)
        alerts = d.show(incs[0]["id"])["alerts"]
        self.assertEqual(sorted(a["source"] for a in alerts), ["alertmanager", "alertmanager", "uptimerobot"])
        wait_until(lambda: len(d.events_of("service=api")) >= 3, 10, what="3 events")
        t = [e["type"] for e in d.events_of("service=api")]
        self.assertEqual(t, ["opened", "alert_joined", "alert_joined"])
        self.assertEqual(d.events_of("service=api")[2]["alert"]["source"], "uptimerobot")


if __name__ == "__main__":
    unittest.main()
