"""kill -9 between accepting alerts and delivering them: after a restart the
pending deliveries go out with the idempotency keys they had before, and every
alert that was answered 2xx is in the store."""

import os
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, fixture, wait_until  # noqa: E402


class Durability(DaemonCase):
    def test_kill9_then_restart_delivers_with_same_keys(self):
        flaky = self.start_target(default=503)  # up, but failing: records the keys of the attempts
        down_port = harness.free_port()  # nothing listens here until after the kill
        files = {
            "webhook.json": {
                "plugins": {
                    "webhook": {
                        "instances": {
                            "flaky": {"url": flaky.url("/flaky")},
                            "down": {"url": "http://127.0.0.1:%d/down" % down_port},
                        }
                    }
                }
            },
            # Enough attempts that nothing dies of old age during the test.
            "delivery.json": {"delivery": {"max_attempts": 1000, "backoff_initial_ms": 200, "backoff_max_ms": 1000}},
            # Only the openings, so that `crierctl deliveries` (newest 500) holds them all.
            "routes.json": {"routes": [{"name": "hooks", "events": ["opened"], "to": ["webhook/flaky", "webhook/down"]}]},
        }
        d = self.start_crierd(files)

        accepted = []  # alert keys answered 2xx
        r = d.post_am(fixture("alertmanager", "firing-group-two-alerts.json"))
        self.assertEqual(r.status, 200, r)
        accepted += ["84f3db9106b9f6a2", "03a48b6b6f783735"]
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)
        accepted.append("41e0d77341504fa0")

        # A stream of generic alerts across five services, cut by kill -9.
        stop = threading.Event()
        lock = threading.Lock()

        def flood():
            i = 0
            while not stop.is_set():
                key = "dur-%05d" % i
                body = {"key": key, "labels": {"service": "dur%d" % (i % 5), "severity": "warning"}}
                try:
                    r = harness.http_request(d.port, "POST", "/api/v1/alerts", body, timeout=10)
                except Exception:  # reset, refused, or a cut answer
                    return  # the daemon died under us: this one was not acknowledged
                if 200 <= r.status < 300:
                    with lock:
                        accepted.append(key)
                i += 1

        # Every incident (7) opened: wait for attempts on both instances first.
        def attempted():
            ds = d.deliveries()
            mine = [x for x in ds if x["instance"] in ("webhook/flaky", "webhook/down")]
            return len(mine) >= 4 and all(x["attempts"] >= 1 and x["state"] == "pending" for x in mine) and mine

        before = wait_until(attempted, 20, 0.2, "first attempts on webhook/flaky and webhook/down")
        t = threading.Thread(target=flood)
        t.start()
        try:
            time.sleep(1.5)
            d.kill9()
        finally:
            stop.set()
            t.join(15)
        self.assertGreater(len(accepted), 10, "the flood got some alerts in before the kill")

        keys_flaky = {x.headers.get("idempotency-key") for x in flaky.recorded()}
        self.assertNotIn(None, keys_flaky, "every webhook request carries Idempotency-Key")
        ctl_keys = {(x["instance"], x["event_id"]): x["idempotency_key"] for x in before}

        # The far side recovers; crierd starts again on the same state.
        flaky.set_answers([], default=200)
        down = self.start_target(default=200, port=down_port)
        d.start()

        incidents = wait_until(lambda: len(d.incidents()) >= 7 and d.incidents(), 20, what="7 incidents after restart")
        stored = set()
        for inc in incidents:
            stored |= {a["key"] for a in d.show(inc["id"])["alerts"]}
        missing = [k for k in accepted if k not in stored]
        self.assertEqual(missing, [], "alerts answered 2xx but lost by kill -9")

        def all_delivered():
            ds = d.deliveries()
            hooks = [x for x in ds if x["instance"] in ("webhook/flaky", "webhook/down")]
            return hooks and all(x["state"] == "delivered" for x in hooks) and len(hooks) == 2 * len(incidents) and hooks

        hooks = wait_until(all_delivered, 30, 0.3, "every webhook delivery delivered after restart")
        for x in hooks:
            key = (x["instance"], x["event_id"])
            if key in ctl_keys:
                self.assertEqual(x["idempotency_key"], ctl_keys[key], "idempotency key changed across restart")

        ok_flaky = [x for x in flaky.recorded() if x.answered == 200]
        ok_down = [x for x in down.recorded() if x.answered == 200]
        self.assertEqual(len(ok_flaky), len(incidents), "one 2xx per opened incident on webhook/flaky")
        self.assertEqual(len(ok_down), len(incidents), "one 2xx per opened incident on webhook/down")
        # The attempts made before the kill and the one after share their keys.
        keys_after_flaky = {x.headers.get("idempotency-key") for x in ok_flaky}
        self.assertTrue(keys_flaky <= keys_after_flaky, "keys before the kill: %s, after: %s" % (keys_flaky, keys_after_flaky))
        self.assertEqual(len(keys_after_flaky), len(ok_flaky), "each delivered once")
        before_down = {k for (inst, _), k in ctl_keys.items() if inst == "webhook/down"}
        keys_down = {x.headers.get("idempotency-key") for x in ok_down}
        self.assertTrue(before_down <= keys_down, "keys before the kill: %s, after: %s" % (before_down, keys_down))
        for x in ok_flaky + ok_down:
            doc = x.json()
            self.assertEqual(doc["type"], "opened")
            self.assertEqual(doc["idempotency_key"], x.headers.get("idempotency-key"))

        # No request after its delivery: wait a little and count again.
        time.sleep(1.5)
        self.assertEqual(len([x for x in flaky.recorded() if x.answered == 200]), len(incidents))
        self.assertEqual(len(down.recorded()), len(incidents), "webhook/down got one request per event")

    def test_lane_without_head_is_mended_at_start(self):
        """A pending delivery whose lane lost its head mark (a defect, or a
        hand edit) would never be sent: crierd mends the marks as it starts,
        says so, and the delivery goes out."""
        port = harness.free_port()  # nothing listens until the restart
        files = {
            "webhook.json": {"plugins": {"webhook": {"instances": {"later": {"url": "http://127.0.0.1:%d/x" % port}}}}},
            "routes.json": {"routes": [{"name": "hooks", "events": ["opened"], "to": ["webhook/later"]}]},
        }
        d = self.start_crierd(files)
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: [x for x in d.deliveries() if x["instance"] == "webhook/later" and x["attempts"] >= 1],
                   20, 0.2, "a first, failed attempt on webhook/later")
        d.stop()
        db = sqlite3.connect(os.path.join(d.state_dir, "crier.db"))
        with db:
            n = db.execute("UPDATE outbox SET head = 0 WHERE state = 0 AND instance = 'webhook/later'").rowcount
        db.close()
        self.assertEqual(n, 1, "the one pending delivery, its mark taken away")

        target = self.start_target(default=200, port=port)
        d.start()
        wait_until(lambda: target.recorded(), 20, 0.2, "the mended delivery sent")
        self.assertEqual(target.recorded()[0].json()["type"], "opened")
        self.assertIn('msg="outbox lanes mended', d.log_text())
        self.assertIn("rows=1", [ln for ln in d.log_text().splitlines() if "outbox lanes mended" in ln][0])


if __name__ == "__main__":
    unittest.main()
