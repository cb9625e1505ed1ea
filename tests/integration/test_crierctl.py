"""crierctl against a real crierd: incidents, show, ack, update, resolve,
deliveries and status, in human and --json form; a human update reaches the
log plugin as an `update` event; a clear message when no daemon runs."""

import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, fixture, wait_until  # noqa: E402


class Crierctl(DaemonCase):
    def test_operator_flow(self):
        d = self.start_crierd(hold_seconds=60)
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-group-two-alerts.json")).status, 200)
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)

        # incidents
        incs = d.incidents(all=False)
        self.assertEqual(sorted(i["key"] for i in incs), ["service=api", "service=web"])
        api = [i for i in incs if i["key"] == "service=api"][0]
        for field in ("id", "key", "title", "state", "severity", "labels", "opened_at", "updated_at", "resolved_at",
                      "alerts_firing", "human"):
            with self.subTest("incident object field (docs/control.md)", field=field):
                self.assertIn(field, api)
        self.assertEqual(api["state"], "investigating")
        self.assertEqual(api["severity"], "critical")
        self.assertEqual(api["alerts_firing"], 2)
        self.assertEqual(api["labels"].get("service"), "api")
        self.assertTrue(api["title"])
        self.assertIsNone(api["resolved_at"])
        self.assertFalse(api["human"])
        self.assertRegex(api["opened_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        human = d.ctl("incidents").stdout
        self.assertIn("service=api", human)
        self.assertIn("service=web", human)
        self.assertIn("investigating", human)
        self.assertNotIn('"key"', human, "human output is not JSON")

        # show
        shown = d.show(api["id"])
        self.assertEqual(shown["incident"]["id"], api["id"])
        self.assertEqual(sorted(a["key"] for a in shown["alerts"]), ["03a48b6b6f783735", "84f3db9106b9f6a2"])
        self.assertEqual([e["type"] for e in shown["events"]], ["opened", "alert_joined"])
        for field in ("id", "incident_id", "type", "time", "actor", "message", "data"):
            with self.subTest("event object field (docs/control.md)", field=field):
                self.assertIn(field, shown["events"][0])
        human = d.ctl("show", str(api["id"])).stdout
        for s in ("service=api", "investigating", "opened", "alert_joined", "84f3db9106b9f6a2"):
            self.assertIn(s, human)

        # ack
        r = d.ctl_json("ack", str(api["id"]))
        self.assertIsInstance(r.get("event"), int, r)
        self.assertEqual(d.incident("service=api")["state"], "identified")
        with self.subTest("ack acknowledges but does not take the state over (docs/control.md)"):
            self.assertFalse(d.incident("service=api")["human"])
        wait_until(lambda: "acknowledged" in [e["type"] for e in d.events_of("service=api")], 10, what="acknowledged")
        ack = [e for e in d.events_of("service=api") if e["type"] == "acknowledged"][0]
        self.assertEqual(ack["incident"]["state"], "identified")
        self.assertEqual(ack["id"], r["event"])

        # update, human form: flows to the log plugin as an `update` event
        p = d.ctl("update", str(api["id"]), "--state", "monitoring", "--message", "Fix deployed, watching error rates")
        inc = d.incident("service=api")
        self.assertEqual(inc["state"], "monitoring")
        self.assertTrue(inc["human"])
        up = wait_until(
            lambda: [e for e in d.events_of("service=api") if e["type"] == "update"], 10, what="update event in the log"
        )[0]
        self.assertEqual(up["message"], "Fix deployed, watching error rates")
        self.assertEqual(up["incident"]["state"], "monitoring")
        self.assertTrue(up["incident"]["human"])
        self.assertNotIn("alert", up, "a human update carries no alert")
        self.assertNotEqual(up["actor"], "alertmanager")

        # update --json, without a state change
        r = d.ctl_json("update", str(api["id"]), "--message", "Still watching")
        self.assertIsInstance(r.get("event"), int, r)
        self.assertEqual(d.incident("service=api")["state"], "monitoring")
        shown = d.show(api["id"])
        msgs = [e["message"] for e in shown["events"] if e["type"] == "update"]
        self.assertEqual(msgs, ["Fix deployed, watching error rates", "Still watching"])

        # resolve
        r = d.ctl_json("resolve", str(api["id"]))
        self.assertIsInstance(r.get("event"), int, r)
        inc = d.incident("service=api")
        self.assertEqual(inc["state"], "resolved")
        self.assertIsNotNone(inc["resolved_at"])
        self.assertEqual([i["key"] for i in d.incidents(all=False)], ["service=web"])
        self.assertIn("service=api", d.ctl("incidents", "--all").stdout)
        self.assertNotIn("service=api", d.ctl("incidents").stdout)
        wait_until(lambda: "resolved" in [e["type"] for e in d.events_of("service=api")], 10, what="resolved event")

        # deliveries: every event to log/events, delivered
        ds = d.deliveries()
        self.assertTrue(ds)
        for x in ds:
            for field in ("id", "event_id", "incident_id", "instance", "state", "attempts", "next_at", "created_at",
                          "updated_at", "last_error", "idempotency_key"):
                with self.subTest("delivery object field (docs/control.md)", field=field):
                    self.assertIn(field, x)
        wait_until(lambda: all(x["state"] == "delivered" for x in d.deliveries()), 10, what="all delivered")
        n_events = len(d.events())
        self.assertEqual(len(d.deliveries()), n_events)
        ids = [x["id"] for x in d.deliveries()]
        self.assertEqual(ids, sorted(ids, reverse=True), "newest first")
        human = d.ctl("deliveries").stdout
        self.assertIn("log/events", human)
        self.assertIn("delivered", human)
        self.assertEqual(d.deliveries(dead=True), [])

        # status
        st = d.ctl_json("status")
        for field in ("version", "uptime_s", "incidents_open", "outbox_pending", "outbox_dead", "instances"):
            with self.subTest("status reply field (docs/control.md)", field=field):
                self.assertIn(field, st)
        self.assertEqual(st["incidents_open"], 1)
        self.assertEqual(st["outbox_dead"], 0)
        self.assertIn("log/events", [i["name"] for i in st["instances"]])
        self.assertIn("log/events", d.ctl("status").stdout)

        # errors
        p = d.ctl("show", "999999", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue((p.stdout + p.stderr).strip(), "an error says why")
        p = d.ctl("update", str(api["id"]), "--state", "bogus", "--message", "x", check=False)
        self.assertNotEqual(p.returncode, 0, "an unknown state is refused")
        p = d.ctl("frobnicate", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_not_running(self):
        tmp = self.tmpdir()
        cases = {"missing": os.path.join(tmp, "nothing-here.ctl")}
        # A socket file left behind by a daemon that died.
        stale = os.path.join(tmp, "stale.ctl")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()
        cases["stale"] = stale
        for what, path in cases.items():
            t0 = time.monotonic()
            p = subprocess.run(
                [harness.crierctl_bin(), "--socket", path, "incidents"], capture_output=True, text=True, timeout=60
            )
            took = time.monotonic() - t0
            out = p.stdout + p.stderr
            self.assertNotEqual(p.returncode, 0, "%s: %s" % (what, out))
            self.assertIn("not running", out.lower(), "%s socket: %r" % (what, out))
            self.assertLess(took, 15, "%s socket: crierctl took %.1fs" % (what, took))
            self.assertEqual(harness.sanitizer_errors(out), [], out)


if __name__ == "__main__":
    unittest.main()
