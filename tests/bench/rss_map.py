"""crierd's idle RSS, mapping by mapping.

Starts crierd (binaries from $CRIER_BUILD, default "build"; use an optimized
build: make all OPT="-O2 -g" BUILD=build-bench) with the integration tests'
default configuration (only the log plugin), waits one second as
tests/bench/compare.py does, and prints the resident KiB of each mapping
(/proc/PID/smaps, largest first), then VmRSS, RssAnon, RssFile and the thread
count (/proc/PID/status).

  --webhook     also configure a webhook instance (to a local HTTP server
                that answers 200) and have it deliver one event before
                measuring: the first delivery is what loads crier-http.so
                and libcurl (core/http_module.h)
  --runs N      measure N fresh daemons and print the VmRSS of each (and
                the per-mapping table of the last)

  CRIER_BUILD=build-bench python3 tests/bench/rss_map.py [--webhook] [--runs 3]
"""

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
import procfs  # noqa: E402


def per_mapping(pid):
    """{mapping name: resident KiB}; anonymous mappings as "[anon]"."""
    per = collections.Counter()
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and "-" in parts[0] and not parts[0].endswith(":"):
                cur = parts[5] if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                per[cur] += int(parts[1])
    return per


def measure(webhook):
    """One fresh crierd; (per-mapping KiB, status) one second after it is ready
    (after its first webhook delivery with --webhook)."""
    with harness.TempDir(prefix="crier-rss-") as tmp:
        files, target = None, None
        if webhook:
            target = harness.FakeTarget(None, 200, 0, None).start()
            files = harness.webhook_files(target.url("/hook"))
        d = harness.Crierd(tmp, files, hold_seconds=300)
        try:
            d.start()
            if webhook:
                r = d.post_am(harness.fixture("alertmanager", "firing-single.json"))
                assert r.status == 200, r
                target.wait_requests(1)
            time.sleep(1)
            return per_mapping(d.pid()), procfs.status(d.pid(), "VmRSS", "RssAnon", "RssFile", "Threads")
        finally:
            d.stop()
            if target:
                target.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--webhook", action="store_true")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    for i in range(args.runs):
        per, st = measure(args.webhook)
        if args.runs > 1:
            print("run %d: VmRSS %d KiB (%.2f MiB)" % (i + 1, st["VmRSS"], st["VmRSS"] / 1024.0))
    for name, kib in per.most_common():
        print("%7d KiB  %s" % (kib, name))
    print("VmRSS %d KiB (%.2f MiB, %.2f MB), RssAnon %d KiB, RssFile %d KiB, threads %d"
          % (st["VmRSS"], st["VmRSS"] / 1024.0, st["VmRSS"] * 1.024 / 1000.0, st["RssAnon"], st["RssFile"],
             st["Threads"]))


if __name__ == "__main__":
    main()
