"""One delivery per recipient (the host-level "recipients" key), and what
the core adds to every event document at delivery: recipient, links and is.
Driven through the webhook plugin, which posts the document as it gets it."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, fixture, wait_until  # noqa: E402


def files(url, recipients=None, public=None):
    inst = {"url": url}
    if recipients is not None:
        inst["recipients"] = recipients
    f = {
        "webhook.json": {"plugins": {"webhook": {"instances": {"fan": inst}}}},
        "routes.json": {"routes": [{"name": "opened", "events": ["opened"], "to": ["webhook/fan"]}]},
    }
    if public:
        f["public.json"] = {"public": {"status_page_url": public}}
    return f


class Recipients(DaemonCase):
    def test_one_delivery_per_recipient_each_with_its_own_key(self):
        # The instance's one host thread takes alice's delivery first (it was
        # added first); bob's first attempt fails: only bob is retried.
        target = self.start_target([200, 503], default=200)
        d = self.start_crierd(
            files(target.url("/fan"), ["alice@example.com", "bob@example.com"], "https://status.example.com")
        )
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: len([x for x in target.recorded() if x.answered == 200]) >= 2, 30, 0.2, "two deliveries")
        time.sleep(1.0)
        reqs = target.recorded()
        by = {}
        for x in reqs:
            by.setdefault(x.json()["recipient"], []).append(x)
        self.assertEqual(sorted(by), ["alice@example.com", "bob@example.com"])
        self.assertEqual([x.answered for x in by["alice@example.com"]], [200], "alice is not held back by bob")
        self.assertEqual([x.answered for x in by["bob@example.com"]], [503, 200])
        ka = by["alice@example.com"][0].headers.get("idempotency-key")
        kb = {x.headers.get("idempotency-key") for x in by["bob@example.com"]}
        self.assertEqual(len(kb), 1, "one key across bob's retries")
        kb = kb.pop()
        self.assertNotEqual(ka, kb)
        self.assertTrue(ka.endswith("-webhook/fan-alice@example.com"), ka)
        doc = by["alice@example.com"][0].json()
        self.assertEqual(doc["idempotency_key"], ka)
        self.assertEqual(doc["is"], {"opened": True})
        inc = doc["incident"]["id"]
        self.assertEqual(
            doc["links"],
            {"status_page": "https://status.example.com/", "incident": "https://status.example.com/incidents/%d.html" % inc},
        )
        ds = sorted((x["recipient"], x["state"], x["attempts"], x["idempotency_key"]) for x in d.deliveries())
        self.assertEqual(
            ds,
            [("alice@example.com", "delivered", 1, ka), ("bob@example.com", "delivered", 2, kb)],
        )

    def test_without_recipients_or_public_url(self):
        target = self.start_target(default=200)
        d = self.start_crierd(files(target.url("/fan")))
        r = d.post_am(fixture("alertmanager", "firing-single.json"))
        self.assertEqual(r.status, 200, r)
        target.wait_requests(1, timeout=30)
        doc = target.recorded()[0].json()
        self.assertNotIn("recipient", doc)
        self.assertEqual(doc["links"], {"status_page": "", "incident": ""})
        self.assertTrue(doc["idempotency_key"].endswith("-webhook/fan"), doc["idempotency_key"])
        self.assertIsNone(d.deliveries()[0].get("recipient"))


if __name__ == "__main__":
    unittest.main()
