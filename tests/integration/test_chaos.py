"""Chaos: load runs while crierd is killed with SIGKILL at random moments (20
times), restarted each time. Afterwards every alert that got a 2xx is in the
store, every routed event reached the sink at least once, and no event reached
it under two different idempotency keys. Prints the counts."""

import json
import os
import random
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, http_request, wait_until  # noqa: E402

KILLS = int(os.environ.get("CHAOS_KILLS", "20"))


class Load(threading.Thread):
    """Posts generic alerts, each new, several per request; remembers which were accepted."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.accepted = set()
        self.sent = 0
        self.refused = 0

    def run(self):
        n = 0
        while not self.stop.is_set():
            keys = ["chaos-%d" % (n + i) for i in range(3)]
            n += 3
            body = json.dumps(
                {
                    "alerts": [
                        {"key": k, "labels": {"service": "svc%d" % (hash(k) % 7), "severity": "warning"}}
                        for k in keys
                    ]
                }
            ).encode()
            self.sent += len(keys)
            try:
                r = http_request(self.port, "POST", "/api/v1/alerts", body, {"Content-Type": "application/json"},
                                 timeout=5)
                if r.status == 200:
                    self.accepted.update(keys)
                else:
                    self.refused += 1
            except OSError:
                self.refused += 1
                time.sleep(0.02)


class Chaos(DaemonCase):
    def test_kill9_under_load(self):
        rnd = random.Random(int(os.environ.get("CHAOS_SEED", "2026")))
        target = self.start_target(default=200)
        files = {
            "webhook.json": {"plugins": {"webhook": {"instances": {"sink": {"url": target.url("/sink")}}}}},
            "routes.json": {"routes": [{"name": "all", "to": ["webhook/sink"]}]},
        }
        d = self.start_crierd(files=files)
        load = Load(d.port)
        load.start()
        try:
            for _ in range(KILLS):
                time.sleep(rnd.uniform(0.1, 0.6))
                d.kill9()
                d.start()
        finally:
            load.stop.set()
            load.join(30)
        # Let everything pending go out, then stop cleanly.
        db = os.path.join(d.state_dir, "crier.db")

        def pending():
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            try:
                return con.execute("SELECT COUNT(*) FROM outbox WHERE state = 0").fetchone()[0]
            finally:
                con.close()

        wait_until(lambda: pending() == 0, 60, what="outbox drained")
        d.stop()

        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        stored = {k for (k,) in con.execute("SELECT key FROM alerts WHERE source = 'generic'")}
        events = {i for (i,) in con.execute("SELECT id FROM events")}
        dead = con.execute("SELECT COUNT(*) FROM outbox WHERE state = 3").fetchone()[0]
        con.close()
        keys_by_event = {}
        for r in target.recorded():
            doc = r.json()
            keys_by_event.setdefault(doc["id"], set()).add(r.headers.get("idempotency-key"))
        lost = load.accepted - stored
        undelivered = events - set(keys_by_event)
        twice = {e: k for e, k in keys_by_event.items() if len(k) > 1}
        print(
            "\nchaos: %d kills; alerts sent %d, accepted %d, stored %d, lost %d; requests refused or cut %d; "
            "events %d, delivered %d (requests %d), undelivered %d, under two keys %d, dead %d"
            % (KILLS, load.sent, len(load.accepted), len(stored), len(lost), load.refused, len(events),
               len(keys_by_event), len(target.recorded()), len(undelivered), len(twice), dead),
            file=sys.stderr,
        )
        self.assertGreater(len(load.accepted), 0)
        self.assertEqual(lost, set(), "alerts answered 2xx but not stored")
        self.assertEqual(undelivered, set(), "events never delivered")
        self.assertEqual(twice, {}, "events delivered under different idempotency keys")
        self.assertEqual(dead, 0)


if __name__ == "__main__":
    unittest.main()
