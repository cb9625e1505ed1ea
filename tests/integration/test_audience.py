"""Audience: customers hear of public incidents only, and read their public
view; security incidents are redacted; internal channels get everything.
Two webhook instances side by side: "ops" (internal) and "public"
("audience": "public"), both routed every event."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, wait_until  # noqa: E402

PUBLIC = {
    "public": {
        "status_page_url": "https://status.example.com",
        "components": [
            {"name": "API", "labels": {"service": "api"}},
            {"name": "Website", "labels": {"service": "web"}},
        ],
        "security_when": [{"labels_match": {"alertname": "^(DDoS|SynFlood)"}}],
    }
}


def files(ops_url, public_url):
    return {
        "public.json": PUBLIC,
        "webhook.json": {
            "plugins": {
                "webhook": {
                    "instances": {
                        "ops": {"url": ops_url},
                        "public": {"url": public_url, "audience": "public"},
                    }
                }
            }
        },
        "routes.json": {"routes": [{"name": "all", "to": ["webhook/ops", "webhook/public"]}]},
    }


def alert(key, labels, annotations):
    return json.dumps({"alerts": [{"key": key, "labels": labels, "annotations": annotations}]}).encode()


def opened(target):
    return [x.json() for x in target.recorded() if x.json()["type"] == "opened"]


INTERNAL = ["db-7.internal", "lb-2.internal", "SynFlood", "10.0.3.4", "HighErrorRate"]


class Audience(DaemonCase):
    def test_public_view_and_redaction(self):
        ops = self.start_target(default=200)
        pub = self.start_target(default=200)
        d = self.start_crierd(files(ops.url("/ops"), pub.url("/public")))

        # 1. Not public (affects no component): internal only.
        r = d.post_generic(alert("db", {"alertname": "HighErrorRate", "service": "db", "severity": "critical",
                                        "instance": "db-7.internal"}, {"summary": "db-7.internal is down"}))
        self.assertLess(r.status, 300, r)
        ops.wait_requests(1, timeout=30)

        # 2. Public, not security: the public view with title and impact, no labels.
        r = d.post_generic(alert("api", {"alertname": "HighErrorRate", "service": "api", "severity": "critical",
                                         "instance": "10.0.3.4"},
                                 {"summary": "API errors above 5%", "impact": "Some API calls fail",
                                  "description": "10.0.3.4 returns 502"}))
        self.assertLess(r.status, 300, r)
        # 3. Security: redacted to a neutral title.
        r = d.post_generic(alert("ddos", {"alertname": "SynFlood", "service": "web", "severity": "critical",
                                          "instance": "lb-2.internal"},
                                 {"summary": "SYN flood on lb-2.internal", "impact": "lb-2.internal saturated"}))
        self.assertLess(r.status, 300, r)

        # Each public incident also gets crier's first update (docs/incidents.md): public too.
        wait_until(lambda: len(opened(ops)) >= 3 and len(pub.recorded()) >= 4, 30, 0.2, "deliveries")
        time.sleep(1.0)
        internal = opened(ops)
        public = [x.json() for x in pub.recorded()]
        self.assertEqual(sorted(x["incident"]["key"] for x in internal), ["service=api", "service=db", "service=web"])
        self.assertEqual(len(opened(pub)), 2, "the db incident never reaches the public channel: %s" % public)
        self.assertEqual(sorted(x["type"] for x in public), ["opened", "opened", "update", "update"])

        by_title = {x["incident"]["title"]: x for x in opened(pub)}
        self.assertIn("API errors above 5%", by_title)
        self.assertIn("Service disruption", by_title)
        api = by_title["API errors above 5%"]
        self.assertEqual(api["incident"]["components"], ["API"])
        self.assertEqual(api["incident"]["impact"], "Some API calls fail")
        self.assertTrue(api["incident"]["public"])
        self.assertFalse(api["incident"]["security"])
        self.assertTrue(api["links"]["incident"].startswith("https://status.example.com/incidents/"))
        ddos = by_title["Service disruption"]
        self.assertTrue(ddos["incident"]["security"])
        self.assertEqual(ddos["incident"]["components"], ["Website"])
        for doc in public:
            self.assertNotIn("alert", doc)
            self.assertNotIn("labels", doc["incident"])
            self.assertNotIn("key", doc["incident"])
            text = json.dumps(doc)
            for s in INTERNAL:
                self.assertNotIn(s, text, "internal detail %r reached a public channel" % s)
        # Internal channels get everything, flags included.
        full = [x for x in internal if x["incident"]["key"] == "service=web"][0]
        self.assertEqual(full["alert"]["labels"]["instance"], "lb-2.internal")
        self.assertTrue(full["incident"]["security"])

        # A person's update reaches the public channel with its message.
        inc = ddos["incident"]["id"]
        d.ctl("update", str(inc), "--message", "We are mitigating a traffic surge.")
        wait_until(lambda: len(pub.recorded()) >= 5, 30, 0.2, "the update")
        upd = pub.recorded()[-1].json()
        self.assertEqual(upd["type"], "update")
        self.assertEqual(upd["message"], "We are mitigating a traffic surge.")
        self.assertEqual(upd["incident"]["title"], "Service disruption")

    def test_flags_survive_a_restart(self):
        ops = self.start_target(default=200)
        pub = self.start_target(default=200)
        d = self.start_crierd(files(ops.url("/ops"), pub.url("/public")))
        r = d.post_generic(alert("ddos", {"alertname": "DDoSAttack", "service": "web", "severity": "warning"},
                                 {"summary": "DDoS on the edge"}))
        self.assertLess(r.status, 300, r)
        pub.wait_requests(1, timeout=30)
        d.stop()
        d.start()
        inc = pub.recorded()[0].json()["incident"]["id"]
        d.ctl("ack", str(inc))
        ack = wait_until(lambda: [x.json() for x in pub.recorded() if x.json()["type"] == "acknowledged"], 30, 0.2,
                         "the ack after a restart")[0]
        self.assertEqual(ack["type"], "acknowledged")
        self.assertTrue(ack["incident"]["security"], "security stays set across a restart")
        self.assertEqual(ack["incident"]["title"], "Service disruption")


if __name__ == "__main__":
    unittest.main()
