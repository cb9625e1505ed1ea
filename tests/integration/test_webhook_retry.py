"""The webhook plugin and the core's retry: 503, then 429 with Retry-After,
then 200 delivers exactly once with one idempotency key and counted attempts;
a 404 makes the delivery dead at once, and crierctl retry requeues it."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, fixture, wait_until  # noqa: E402


def webhook_files(instances):
    return {
        "webhook.json": {"plugins": {"webhook": {"instances": {n: {"url": u} for n, u in instances.items()}}}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                {"name": "hooks", "events": ["opened"], "to": ["webhook/" + n for n in instances]},
            ]
        },
    }


class WebhookRetry(DaemonCase):
    def test_503_then_429_retry_after_then_200(self):
        target = self.start_target([503, (429, {"Retry-After": "2"}, b"slow down"), 200], default=200)
        d = self.start_crierd(webhook_files({"flaky": target.url("/flaky")}))
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)

        reqs = target.wait_requests(3, timeout=30)
        time.sleep(1.5)  # nothing more may come after the 200
        reqs = target.recorded()
        self.assertEqual([x.answered for x in reqs], [503, 429, 200], reqs)
        for x in reqs:
            self.assertEqual(x.method, "POST")
            self.assertEqual(x.path, "/flaky")
            self.assertIn("application/json", x.headers.get("content-type", ""))
        keys = {x.headers.get("idempotency-key") for x in reqs}
        self.assertEqual(len(keys), 1, "one Idempotency-Key on every attempt: %s" % keys)
        key = keys.pop()
        self.assertTrue(key)
        self.assertEqual([x.headers.get("x-crier-attempt") for x in reqs], ["1", "2", "3"])
        gap = reqs[2].time - reqs[1].time
        self.assertGreaterEqual(gap, 1.99, "the 200 attempt came %.3fs after the 429 with Retry-After: 2" % gap)

        docs = [x.json() for x in reqs]
        self.assertEqual(docs[0], docs[2], "the same event document on every attempt")
        doc = docs[0]
        self.assertEqual(doc["type"], "opened")
        self.assertEqual(doc["idempotency_key"], key)
        self.assertEqual(doc["incident"]["key"], "service=web")
        self.assertEqual(doc["alert"]["key"], "41e0d77341504fa0")
        self.assertEqual(doc["alert"]["labels"]["alertname"], "SiteDown")

        ds = [x for x in d.deliveries() if x["instance"] == "webhook/flaky"]
        self.assertEqual(len(ds), 1, ds)
        self.assertEqual(ds[0]["state"], "delivered")
        self.assertEqual(ds[0]["attempts"], 3)
        self.assertEqual(ds[0]["idempotency_key"], key)

    def test_404_is_dead_at_once_and_retry_requeues(self):
        target = self.start_target([404], default=200)
        d = self.start_crierd(webhook_files({"gone": target.url("/gone")}))
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)

        dead = wait_until(lambda: d.deliveries(dead=True), 15, 0.2, "a dead delivery")
        self.assertEqual(len(dead), 1, dead)
        x = dead[0]
        self.assertEqual(x["instance"], "webhook/gone")
        self.assertEqual(x["state"], "dead")
        self.assertEqual(x["attempts"], 1, "a 404 is not retried")
        self.assertTrue(x["last_error"], "the reason is kept")
        self.assertNotIn(target.url("/gone"), x["last_error"], "the URL is a secret")
        time.sleep(1.0)
        key = x["idempotency_key"]
        # (The dead letter raises crier's DeliveryDead alert, which this catch-all
        # route also sends to the same channel: count this delivery's requests.)
        mine = lambda: [r for r in target.recorded() if r.headers.get("idempotency-key") == key]  # noqa: E731
        self.assertEqual(len(mine()), 1, "no retry after a 404")

        human = d.ctl("deliveries", "--dead").stdout
        self.assertIn("webhook/gone", human)
        self.assertIn(str(x["id"]), human)
        self.assertIn("dead", human)
        status = d.ctl_json("status")
        self.assertEqual(status["outbox_dead"], 1, status)

        reply = d.ctl_json("retry", str(x["id"]))
        self.assertEqual(reply["delivery"]["id"], x["id"], reply)
        self.assertIn(reply["delivery"]["state"], ("pending", "inflight", "delivered"), reply)
        reqs = wait_until(lambda: len(mine()) >= 2 and mine(), 15, what="the requeued attempt")
        self.assertEqual([r.answered for r in reqs], [404, 200])
        wait_until(
            lambda: [y for y in d.deliveries() if y["id"] == x["id"] and y["state"] == "delivered"],
            10,
            what="the requeued delivery delivered",
        )
        self.assertEqual(d.deliveries(dead=True), [])
        self.assertNotIn("webhook/gone", d.ctl("deliveries", "--dead").stdout)
        # The channel's success resolved crier's own alert about it.
        wait_until(lambda: d.incident("service=crier")["state"] == "monitoring", 10, what="DeliveryDead resolved")
        p = d.ctl("retry", "999999", check=False)
        self.assertNotEqual(p.returncode, 0, "retry of an unknown delivery fails")

    def test_error_body_that_is_not_utf8_still_lists(self):
        # A server answering in Latin-1: the reason is kept, readable, and
        # crierctl still lists every delivery (its JSON needs valid UTF-8).
        latin1 = (400, {"Content-Type": "text/plain; charset=iso-8859-1"}, b"requ\xeate refus\xe9e")
        target = self.start_target([latin1])
        d = self.start_crierd(webhook_files({"latin": target.url("/latin")}))
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)
        target.wait_requests(1, timeout=15)
        dead = wait_until(lambda: d.deliveries(dead=True), 15, 0.2, "the dead delivery listed")
        mine = [x for x in dead if x["instance"] == "webhook/latin"]
        self.assertEqual(len(mine), 1, dead)
        self.assertEqual(mine[0]["last_error"], "HTTP 400: requ?te refus?e")
        self.assertIn("webhook/latin", d.ctl("deliveries", "--dead").stdout)


if __name__ == "__main__":
    unittest.main()
