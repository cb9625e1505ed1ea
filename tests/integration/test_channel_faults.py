"""Channel faults: the far side answers 500, 429 with an HTTP-date
Retry-After, hangs past the timeout, resets the connection, then 200 — the
delivery goes out once in the end, under one key, with backoff and the
Retry-After honoured. A slow channel never delays another. A dead letter
raises crier's own DeliveryDead alert, which goes out through another channel
and resolves at the dead channel's next success."""

import email.utils
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, wait_until  # noqa: E402


def generic(key, service):
    return {"key": key, "labels": {"service": service, "severity": "major"}, "annotations": {"summary": key}}


def webhook(name, url, **extra):
    inst = {"url": url, "timeout_ms": 800}
    inst.update(extra)
    return {name: inst}


class ChannelFaults(DaemonCase):
    def test_every_fault_then_delivered_once(self):
        target = self.start_target(default=200)
        retry_at = time.time() + 3
        target.set_answers(
            [
                500,
                (429, {"Retry-After": email.utils.formatdate(retry_at, usegmt=True)}, "slow down"),
                ("hang", 2.0),  # past the 800 ms timeout
                "reset",
                200,
            ]
        )
        files = {
            "webhook.json": {"plugins": {"webhook": {"instances": webhook("flaky", target.url("/f"))}}},
            "routes.json": {"routes": [{"name": "opened", "events": ["opened"], "to": ["webhook/flaky"]}]},
        }
        d = self.start_crierd(files=files)
        self.assertEqual(d.post_generic(generic("f1", "api")).status, 200)
        reqs = target.wait_requests(5, 30)
        wait_until(lambda: [x for x in d.deliveries() if x["state"] == "delivered"], 10, what="delivered")
        time.sleep(1.0)
        reqs = target.recorded()
        self.assertEqual(len(reqs), 5, [r.answered for r in reqs])
        self.assertEqual({r.headers["idempotency-key"] for r in reqs}, {reqs[0].headers["idempotency-key"]})
        self.assertEqual([r.headers["x-crier-attempt"] for r in reqs], ["1", "2", "3", "4", "5"])
        # Backoff between every pair of attempts (initial 200 ms in the test config).
        gaps = [b.time - a.time for a, b in zip(reqs, reqs[1:])]
        self.assertTrue(all(g >= 0.09 for g in gaps), gaps)
        # The attempt after the 429 waited for its HTTP-date (1 s resolution).
        self.assertGreaterEqual(reqs[2].wall, retry_at - 1.0, "Retry-After not honoured")
        dl = d.deliveries()[0]
        self.assertEqual((dl["state"], dl["attempts"]), ("delivered", 5))

    def test_slow_channel_does_not_delay_another(self):
        slow = self.start_target(default=200)
        slow.delay = 3.0
        fast = self.start_target(default=200)
        files = {
            "webhook.json": {
                "plugins": {
                    "webhook": {
                        "instances": dict(webhook("slow", slow.url("/s"), timeout_ms=10000), **webhook("fast", fast.url("/f")))
                    }
                }
            },
            "routes.json": {"routes": [{"name": "both", "events": ["opened"], "to": ["webhook/slow", "webhook/fast"]}]},
        }
        d = self.start_crierd(files=files)
        t0 = time.monotonic()
        for i in range(5):
            self.assertEqual(d.post_generic(generic("s%d" % i, "svc%d" % i)).status, 200)
        fast.wait_requests(5, 10)
        self.assertLess(time.monotonic() - t0, 2.5, "the fast channel waited for the slow one")
        self.assertLess(len([r for r in slow.recorded()]), 6)

    def test_dead_letter_raises_an_alert_through_another_channel(self):
        bad = self.start_target(default=404)
        good = self.start_target(default=200)
        files = {
            "webhook.json": {
                "plugins": {"webhook": {"instances": dict(webhook("bad", bad.url("/b")), **webhook("good", good.url("/g")))}}
            },
            "routes.json": {
                "routes": [
                    {"name": "api", "labels": {"service": "api"}, "to": ["webhook/bad"]},
                    {"name": "crier itself", "labels": {"service": "crier"}, "to": ["webhook/good"]},
                ]
            },
        }
        d = self.start_crierd(files=files)
        self.assertEqual(d.post_generic(generic("d1", "api")).status, 200)
        reqs = good.wait_requests(1, 15)
        doc = reqs[0].json()
        self.assertEqual(doc["type"], "opened")
        self.assertEqual(doc["alert"]["labels"]["alertname"], "DeliveryDead")
        self.assertEqual(doc["alert"]["labels"]["channel"], "webhook/bad")
        self.assertIn("HTTP 404", doc["alert"]["annotations"]["summary"])
        self.assertEqual(d.incident("service=crier")["state"], "investigating")
        # More dead letters on the same channel do not raise it again.
        self.assertEqual(d.post_generic(generic("d2", "api")).status, 200)
        wait_until(lambda: len(d.deliveries(dead=True)) >= 2, 15, what="second dead letter")
        time.sleep(0.5)
        self.assertEqual([r.json()["type"] for r in good.recorded()], ["opened"])
        # The channel recovers: its next success resolves crier's alert.
        bad.set_answers([], default=200)
        self.assertEqual(d.post_generic(generic("d3", "api2")).status, 200)  # not routed to bad
        self.assertEqual(d.post_generic({"key": "d4", "labels": {"service": "api"}}).status, 200)
        # Watch only the good channel (crierctl would wake the core): monitoring,
        # then resolved once the hold (2 s in tests) is over, on a quiet daemon.
        types = lambda: [r.json()["type"] for r in good.recorded()]  # noqa: E731
        wait_until(lambda: "state_changed" in types(), 15, what="DeliveryDead to monitoring")
        wait_until(lambda: "resolved" in types(), 15, what="DeliveryDead resolved after the hold")
        self.assertEqual(d.incident("service=crier")["state"], "resolved")


if __name__ == "__main__":
    unittest.main()
