#!/usr/bin/env python3
"""A dead channel with a backlog must not slow ingest (`make bench`).

crierd routes every event to a webhook instance whose target refuses every
connection, so its deliveries retry with backoff and pile up. BACKLOG
alerts (20,000) go into one incident: one lane of that many pending
deliveries. Then PROBES (300) alerts, each a request and an incident of its own,
are posted one after the other, and their answer times are printed. Every
routed event wakes the dead channel to look for due deliveries; that look
must cost what is due (lane heads), not the backlog.

    CRIER_BUILD=build python3 tests/bench/dead_lane.py [BACKLOG]
"""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import compare  # noqa: E402
import harness  # noqa: E402

PROBES = 300


def main():
    backlog = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    refuse = socket.socket()  # bound, never listening: connections are refused
    refuse.bind(("127.0.0.1", 0))
    try:
        with harness.TempDir(prefix="crier-dead-lane-") as tmp, harness.Crierd(
                tmp, hold_seconds=300,
                files=compare.sink_files("http://127.0.0.1:%d/dead" % refuse.getsockname()[1])) as d:
            compare.post_many(d.port, backlog, 500, lambda i: {"key": "backlog-%d" % i, "labels": {"service": "one"}})
            time.sleep(1.0)
            took = []
            for i in range(PROBES):
                t0 = time.monotonic()
                compare.post_alerts(d.port, [{"key": "probe-%d" % i, "labels": {"service": "probe%d" % i}}])
                took.append((time.monotonic() - t0) * 1000)
            took.sort()
            pending = d.ctl_json("status").get("outbox_pending")
    finally:
        refuse.close()
    print("dead channel, %d deliveries pending in one lane (%s pending in all): %d requests one after the"
          " other, answered in p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (backlog, pending, PROBES, took[PROBES // 2], took[PROBES * 99 // 100 - 1], took[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
