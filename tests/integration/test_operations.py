"""Running crierd: SIGHUP reloads the configuration (a broken one is refused
and the old one keeps working), SIGTERM exits 0, /metrics shows the documented
metrics with plausible values, /healthz and /readyz answer."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, fixture, wait_until  # noqa: E402


def generic(key, service, severity="warning"):
    return {"key": key, "labels": {"service": service, "severity": severity}, "annotations": {"summary": key}}


class Operations(DaemonCase):
    def test_sighup_reload(self):
        target = self.start_target(default=200)
        d = self.start_crierd()
        self.assertEqual(d.post_generic(generic("r1", "one")).status, 200)
        wait_until(lambda: len(d.events()) == 1, 10, what="first event logged")
        self.assertEqual(target.recorded(), [])

        # Add an instance and a route to it, then SIGHUP.
        d.files["webhook.json"] = {"plugins": {"webhook": {"instances": {"new": {"url": target.url("/new")}}}}}
        d.files["routes.json"]["routes"].append({"name": "to-new", "events": ["opened"], "to": ["webhook/new"]})
        d.write_config()
        d.signal(signal.SIGHUP)
        wait_until(
            lambda: "webhook/new" in [i["name"] for i in d.ctl_json("status")["instances"]], 15, what="webhook/new loaded"
        )
        self.assertEqual(d.post_generic(generic("r2", "two")).status, 200)
        reqs = target.wait_requests(1, 15)
        self.assertEqual(reqs[0].path, "/new")
        doc = reqs[0].json()
        self.assertEqual(doc["type"], "opened")
        self.assertEqual(doc["incident"]["key"], "service=two")
        self.assertEqual(doc["alert"]["key"], "r2")
        wait_until(lambda: len(d.events()) == 2, 10, what="second event logged by the old instance too")
        self.assertTrue(d.alive())

        # A broken configuration on SIGHUP: refused with a log line; the old one keeps working.
        log_before = len(d.log_text())
        good_routes = d.files["routes.json"]
        d.files["routes.json"] = {"routes": [{"name": "broken", "to": ["webhook/does-not-exist"]}]}
        d.write_config()
        d.signal(signal.SIGHUP)
        line = wait_until(
            lambda: [l for l in d.log_text()[log_before:].splitlines() if "routes.json" in l], 15,
            what="a log line naming the broken file",
        )[0]
        self.assertRegex(line, r"level=(error|warn)", line)
        self.assertIn("does-not-exist", line)
        self.assertTrue(d.alive(), "a broken config on SIGHUP took the daemon down")
        self.assertEqual(d.post_generic(generic("r3", "three")).status, 200)
        reqs = target.wait_requests(2, 15)
        self.assertEqual(reqs[1].json()["incident"]["key"], "service=three")
        wait_until(lambda: len(d.events()) == 3, 10, what="third event logged: old routes still in force")

        # Invalid JSON on SIGHUP: same.
        d.files["routes.json"] = '{"routes": ['
        d.write_config()
        d.signal(signal.SIGHUP)
        time.sleep(1.0)
        self.assertTrue(d.alive())
        self.assertEqual(d.post_generic(generic("r4", "four")).status, 200)
        target.wait_requests(3, 15)
        wait_until(lambda: len(d.events()) == 4, 10, what="fourth event logged")

        # Fixed again: a later good reload still applies (drop the webhook route).
        d.files["routes.json"] = {"routes": [good_routes["routes"][0]]}
        d.write_config()
        d.signal(signal.SIGHUP)
        time.sleep(1.5)
        self.assertEqual(d.post_generic(generic("r5", "five")).status, 200)
        wait_until(lambda: len(d.events()) == 5, 10, what="fifth event logged")
        time.sleep(1.0)
        self.assertEqual(len(target.recorded()), 3, "the removed route still sent events")

    def test_sigterm_exits_zero(self):
        d = self.start_crierd()
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)
        t0 = time.monotonic()
        self.assertEqual(d.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10, "SIGTERM took too long")
        # The store survives a clean stop: the incident is there after a restart.
        d.start()
        self.assertEqual([i["key"] for i in d.incidents()], ["service=web"])

    def test_health_and_metrics(self):
        d = self.start_crierd()
        self.assertEqual(d.request("GET", "/healthz").status, 200)
        self.assertEqual(d.request("GET", "/readyz").status, 200)
        r = d.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)

        self.assertEqual(d.post_am(fixture("alertmanager", "firing-group-two-alerts.json")).status, 200)
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-group-two-alerts.json")).status, 200)  # duplicate
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)
        self.assertEqual(d.post("/api/v1/uptimerobot", fixture("uptimerobot", "down.json")).status, 200)
        self.assertEqual(d.post_am(b"{broken").status, 400)
        self.assertEqual(d.request("GET", "/nope").status, 404)
        wait_until(lambda: len(d.events()) == 4, 10, what="4 events logged")

        m = d.metrics()
        documented = [
            "crier_http_requests_total",
            "crier_alerts_received_total",
            "crier_requests_rejected_total",
            "crier_alerts_duplicate_total",
            "crier_events_total",
        ]
        for name in documented:
            self.assertIn(name, m.names(), "metric %s missing" % name)
        self.assertGreaterEqual(m.get("crier_http_requests_total", code="200"), 4)
        self.assertEqual(m.get("crier_http_requests_total", code="400"), 1)
        self.assertEqual(m.get("crier_http_requests_total", code="404"), 1)
        self.assertEqual(m.get("crier_alerts_received_total", source="alertmanager"), 5)
        self.assertEqual(m.get("crier_alerts_received_total", source="uptimerobot"), 1)
        self.assertEqual(m.get("crier_requests_rejected_total", source="alertmanager", reason="bad_request"), 1)
        self.assertEqual(m.get("crier_alerts_duplicate_total"), 2)
        # opened api, alert_joined, opened web, opened "Example API": 4 events.
        self.assertEqual(m.get("crier_events_total"), 4)
        self.assertEqual(d.ctl_json("status")["incidents_open"], 3)
        # Gauges (named in the daemon's # HELP lines); the core refreshes them about once a second.
        m = wait_until(lambda: d.metrics().get("crier_incidents_open") == 3 and d.metrics(), 5, 0.2, "gauge 3 open")
        self.assertEqual(m.get("crier_outbox_dead"), 0)
        self.assertEqual(m.get("crier_ready"), 1)
        self.assertEqual(m.get("crier_deliveries_total", instance="log/events", result="ok"), 4)

    def _slow_setup(self, delay):
        target = self.start_target(default=200)
        target.delay = delay
        files = {
            "webhook.json": {"plugins": {"webhook": {"instances": {"slow": {"url": target.url("/slow")}}}}},
            "routes.json": {"routes": [{"name": "opened", "events": ["opened"], "to": ["webhook/slow"]}]},
        }
        return target, files

    @staticmethod
    def _keys(target):
        return [r.headers.get("idempotency-key") for r in target.recorded()]

    def test_reload_while_deliveries_are_queued(self):
        """Changing an instance while its queue is full sends nothing twice."""
        target, files = self._slow_setup(0.2)
        d = self.start_crierd(files=files)
        for i in range(8):
            self.assertEqual(d.post_generic(generic("q%d" % i, "svc%d" % i)).status, 200)
        target.wait_requests(1, 10)
        d.files["webhook.json"]["plugins"]["webhook"]["instances"]["slow"]["timeout_ms"] = 9000
        d.write_config()
        d.signal(signal.SIGHUP)
        target.wait_requests(8, 30)
        time.sleep(1.0)  # anything sent twice would show up by now
        keys = self._keys(target)
        self.assertEqual(len(keys), 8, keys)
        self.assertEqual(len(set(keys)), 8, "a delivery was sent twice: %s" % keys)
        self.assertEqual({r.headers.get("x-crier-attempt") for r in target.recorded()}, {"1"})
        wait_until(lambda: all(x["state"] == "delivered" for x in d.deliveries()), 10, what="all delivered")

    def test_shutdown_is_bounded_and_loses_nothing(self):
        """SIGTERM with a slow channel: the delivery in progress finishes, the
        queued ones stay pending and go out once after the restart."""
        target, files = self._slow_setup(1.5)
        tmp = self.tmpdir()
        d = self.start_crierd(files=files, tmp=tmp)
        for i in range(6):
            self.assertEqual(d.post_generic(generic("s%d" % i, "svc%d" % i)).status, 200)
        target.wait_requests(1, 10)
        t0 = time.monotonic()
        d.stop()
        self.assertLess(time.monotonic() - t0, 8.0, "shutdown took too long")
        sent_before = len(target.recorded())
        self.assertLess(sent_before, 6, "queued deliveries were not held back at shutdown")
        target.delay = 0
        d.start()
        target.wait_requests(6, 20)
        time.sleep(0.5)
        keys = self._keys(target)
        self.assertEqual(sorted(keys), sorted(set(keys)), "a delivery was sent twice: %s" % keys)
        self.assertEqual(len(keys), 6)

    def test_shutdown_with_a_plugin_stuck_in_deliver(self):
        """A plugin that does not return (a target slower than any grace) cannot
        hold crierd hostage: SIGTERM still ends it, and the delivery stays pending."""
        target, files = self._slow_setup(40)
        files["webhook.json"]["plugins"]["webhook"]["instances"]["slow"]["timeout_ms"] = 60000
        d = self.start_crierd(files=files)
        self.assertEqual(d.post_generic(generic("stuck", "svc")).status, 200)
        target.wait_requests(1, 10)
        t0 = time.monotonic()
        d.stop(timeout=40)
        self.assertLess(time.monotonic() - t0, 25.0, "shutdown waited for the stuck plugin")
        self.assertIn("abandoning it", d.log_text())


if __name__ == "__main__":
    unittest.main()
