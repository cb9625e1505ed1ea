#!/usr/bin/env python3
"""Subscriber fan-out benchmark (part of `make bench`): 10,000 confirmed email
subscribers, one public incident, and a real SMTP server on loopback
(aiosmtpd, as the email tests use). Measures the time from the alert's POST
until the SMTP server has accepted one mail per subscriber, and prints it
with deliveries/s.

The subscribers are written straight into crierd's store while it is
stopped (10,000 crierctl runs would take longer than the benchmark). Every
mail is checked: one per subscriber, each with its own List-Unsubscribe.
Exits 1 when a subscriber got no mail, or two, or the run broke.

Environment: CRIER_BUILD (default build), BENCH_SUBSCRIBERS (10000).
"""

import os
import re
import secrets
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
import procfs  # noqa: E402

try:
    import aiosmtpd  # noqa: F401
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
from aiosmtpd.controller import Controller  # noqa: E402

N = int(os.environ.get("BENCH_SUBSCRIBERS", "10000"))
UNSUB = re.compile(rb"List-Unsubscribe:\s*<http://127\.0\.0\.1:\d+/api/v1/unsubscribe\?t=([A-Za-z0-9_-]{22})>")


class Counter:
    """Takes every mail, remembers who got one and their unsubscribe token."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rcpts = {}
        self.tokens = set()
        self.first = self.last = None

    async def handle_DATA(self, server, session, envelope):
        m = UNSUB.search(envelope.original_content)
        now = time.monotonic()
        with self.lock:
            for r in envelope.rcpt_tos:
                self.rcpts[r] = self.rcpts.get(r, 0) + 1
            if m:
                self.tokens.add(m.group(1))
            self.first = self.first or now
            self.last = now
        return "250 OK"

    def count(self):
        with self.lock:
            return sum(self.rcpts.values())


def files(port, smtp_port):
    return {
        "public.json": {
            "public": {
                "status_page_url": "https://status.example.com/",
                "components": [{"name": "API", "labels": {"service": "api"}}],
            }
        },
        "subscribers.json": {
            "subscribers": {"public_url": "http://127.0.0.1:%d" % port, "email_instance": "email/subscribers"}
        },
        "email.json": {
            "plugins": {
                "email": {
                    "instances": {
                        "subscribers": {
                            "url": "smtp://127.0.0.1:%d" % smtp_port,
                            "tls": "none",
                            "from": "Example Status <status@status.example.com>",
                            "audience": "public",
                            "subscribers": True,
                        }
                    }
                }
            }
        },
        "routes.json": {"routes": [{"name": "public", "events": ["opened"], "to": ["email/subscribers"]}]},
    }


def add_subscribers(db_path, n):
    db = sqlite3.connect(db_path)
    now = int(time.time() * 1000)
    rows = [
        (1, "reader%05d@example.com" % i, "[]", 1, secrets.token_urlsafe(16)[:22], now, now, "operator", "bench")
        for i in range(n)
    ]
    db.executemany(
        "INSERT INTO subscribers(kind, address, components, confirmed, unsubscribe_token, created_at,"
        " confirmed_at, source, client) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()


def main():
    box = Counter()
    smtp_port = harness.free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    failed = False
    with harness.TempDir("crier-bench-subs-") as tmp:
        port = harness.free_port()
        d = harness.Crierd(tmp, files(port, smtp_port), port=port)
        try:
            d.start()
            d.stop()  # the store and its subscribers table exist now
            add_subscribers(os.path.join(d.state_dir, "crier.db"), N)
            d.start()
            alert = {
                "key": "api-down",
                "status": "firing",
                "labels": {"alertname": "ApiDown", "service": "api", "severity": "critical"},
                "annotations": {"summary": "API unavailable", "impact": "Requests to the API fail."},
            }
            t0 = time.monotonic()
            r = d.post_generic(alert)
            t_ack = time.monotonic() - t0
            assert r.status == 200, r
            deadline = t0 + 600
            while box.count() < N and time.monotonic() < deadline and d.alive():
                time.sleep(0.05)
            elapsed = (box.last or time.monotonic()) - t0
            got = box.count()
            time.sleep(1.0)  # a duplicate would come now
            twice = sum(1 for v in box.rcpts.values() if v > 1)
            missing = N - len(box.rcpts)
            print("subscriber fan-out: %d email subscribers, one public incident, aiosmtpd on loopback" % N)
            print("  alert accepted (outbox rows for every subscriber committed) in %.0f ms" % (t_ack * 1000))
            print("  %d mails in %.2f s from the alert's POST: %.0f deliveries/s" % (got, elapsed, got / elapsed))
            if box.first:
                print(
                    "  first mail after %.0f ms; steady rate %.0f deliveries/s"
                    % ((box.first - t0) * 1000, (got - 1) / max(box.last - box.first, 1e-9))
                )
            print("  %d distinct unsubscribe links; %d missing, %d twice" % (len(box.tokens), missing, twice))
            print("  crierd peak RSS %.1f MiB" % (procfs.status_kib(d.pid(), "VmHWM") / 1024.0))
            if missing or twice or len(box.tokens) != N:
                failed = True
                print("FAILED: every subscriber must get exactly one mail with their own link")
        finally:
            if d.proc is not None:
                d.stop()
            smtp.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
