#!/usr/bin/env python3
"""Instructions per request of crierd under the bench load, by callgrind.

Wall-clock figures on the shared 2-core VM drift by +-20%; user-space
instruction counts do not, so they are how changes are compared here (see
BENCHMARKS.md). crierd runs under callgrind with collection off; after a
5 s warm-up, collection is switched on for SECONDS of
`wrk -t1 -c4 -s load.lua` (10 alerts a request, 1 new and 9 repeats), then
off again. Prints the requests answered and, per request, the instructions
of the whole process, of the core thread (core_main) and of the HTTP
handler (http_finish: parsing, handing over, answering), inclusive.

    CRIER_BUILD=build python3 tests/bench/callgrind.py [SECONDS] [OUTFILE]

The kernel's share (TCP, context switches, WAL writes) is not counted.
Needs valgrind (callgrind_control, callgrind_annotate) and wrk.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))


def inclusive(out, pattern):
    """Inclusive instructions of the first function matching pattern."""
    p = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                       capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if re.search(pattern, line):
            return int(line.split()[0].replace(",", ""))
    return 0


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(tempfile.gettempdir(), "crierd.callgrind")
    # harness reads CRIER_WRAPPER when it is imported (bench imports it).
    os.environ["CRIER_WRAPPER"] = "valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=%s" % out
    import bench
    import harness

    with harness.TempDir(prefix="crier-callgrind-") as tmp:
        d = harness.Crierd(tmp, hold_seconds=300)
        d.start(timeout=120)
        try:
            bench.wrk(d.port, 5, "0000", 1, 4, timeout="10s")
            subprocess.run(["callgrind_control", "-i", "on", str(d.pid())], check=True, capture_output=True)
            r, _ = bench.wrk(d.port, seconds, "0001", 1, 4, timeout="10s")
            subprocess.run(["callgrind_control", "-i", "off", str(d.pid())], check=True, capture_output=True)
            time.sleep(1.0)
        finally:
            d.stop()
    n = r["requests"]
    total = inclusive(out, r"PROGRAM TOTALS")
    core = inclusive(out, r"core\.c:core_main ")
    http = inclusive(out, r"http_server\.c:http_finish ")
    print("callgrind: %d requests; instructions per request: %.0f in all, %.0f on the core thread (core_main), "
          "%.0f in the HTTP handler (http_finish); profile in %s" % (n, total / n, core / n, http / n, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
