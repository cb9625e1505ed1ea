#!/usr/bin/env python3
"""Load benchmark (`make bench`): crierd (optimized build, temporary state,
every event routed to the log plugin) driven by wrk with tests/bench/load.lua:
Alertmanager bodies of 10 alerts, 1 new and 9 repeats each.

Prints requests/s, alerts/s, latency p50/p99, crierd's CPU time per request,
how busy the machine was (crierd, wrk, everything else: the machine is
shared), crierd's peak RSS and the non-2xx count as a table against the
targets (>= 10,000 requests/s, p99 < 20 ms), then checks durability: every new alert of a 2xx'd request
must be in the store. Exits 1 when an alert was lost or the run broke;
missing a performance target is reported, not fatal.

Environment: CRIER_BUILD (default build), BENCH_SECONDS (15),
BENCH_WARMUP (3), BENCH_THREADS (2), BENCH_CONNECTIONS (64).
"""

import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness  # noqa: E402
import procfs  # noqa: E402

TARGET_RPS = 10000
TARGET_P99_MS = 20.0
RUN = "0001"  # fingerprint prefix of the measured run's new alerts (load.lua)


def wrk(target, seconds, run, threads, conns, timeout="5s", mode="webhook", path=None):
    """wrk with load.lua against target (a loopback port, or a URL), load.lua's
    mode and path: (its BENCH line as {name: number}, its output)."""
    url = target if isinstance(target, str) else "http://127.0.0.1:%d" % target
    cmd = [
        "wrk",
        "-t%d" % threads,
        "-c%d" % conns,
        "-d%ds" % seconds,
        "--timeout", timeout,
        "-s", os.path.join(HERE, "load.lua"),
        url,
        "--",
        run,
        mode,
    ] + ([path] if path else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if p.returncode != 0:
        raise RuntimeError("wrk failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    m = re.search(r"^BENCH (.*)$", p.stdout, re.M)
    if not m:
        raise RuntimeError("wrk printed no BENCH line:\n" + p.stdout + p.stderr)
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}, p.stdout


def machine_cpu():
    """(busy, total) CPU seconds of the whole machine, all cores (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tck = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]  # idle + iowait
    return (sum(v[:8]) - idle) / tck, sum(v[:8]) / tck


def count_stored_sqlite(db, prefix):
    """Distinct alert keys with prefix, read-only. None when the schema is not understood."""
    if not os.path.exists(db):
        return None
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in sorted(tables, key=lambda n: (n != "alerts", n)):
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t.replace('"', '""'))]
            if "key" in cols and ("source" in cols or t == "alerts"):
                q = 'SELECT COUNT(DISTINCT key) FROM "%s" WHERE key LIKE ?' % t.replace('"', '""')
                return con.execute(q, (prefix + "%",)).fetchone()[0]
    finally:
        con.close()
    return None


def count_stored_ctl(d, prefix):
    keys = set()
    for inc in d.incidents(all=True):
        for a in d.show(inc["id"])["alerts"]:
            if a.get("key", "").startswith(prefix):
                keys.add(a["key"])
    return len(keys)


def main():
    if not shutil.which("wrk"):
        print("bench: wrk is not installed (apt-get install wrk; `make bench` does it)", file=sys.stderr)
        return 1
    seconds = int(os.environ.get("BENCH_SECONDS", "15"))
    warmup = int(os.environ.get("BENCH_WARMUP", "3"))
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    conns = int(os.environ.get("BENCH_CONNECTIONS", "64"))

    with harness.TempDir(prefix="crier-bench-") as tmp:
        # Knobs for experiments: BENCH_HTTP_THREADS (http.threads), BENCH_CHECKPOINT_PAGES (store.checkpoint_pages).
        files = {}
        if os.environ.get("BENCH_CHECKPOINT_PAGES"):
            files["store.json"] = {"store": {"checkpoint_pages": int(os.environ["BENCH_CHECKPOINT_PAGES"])}}
        d = harness.Crierd(tmp, hold_seconds=300, files=files)
        if os.environ.get("BENCH_HTTP_THREADS"):
            d.files["http.json"]["http"]["threads"] = int(os.environ["BENCH_HTTP_THREADS"])
            d.write_config()
        d.start()
        try:
            print("bench: crierd %s, pid %d, port %d; warm-up %ds, then %ds with %d threads and %d connections"
                  % (harness.crierd_bin(), d.pid(), d.port, warmup, seconds, threads, conns), flush=True)
            wrk(d.port, warmup, "0000", threads, conns)
            # CPU time of crierd and of wrk, and how busy the whole machine
            # was, so that runs on a shared machine can be compared.
            cpu0, mach0, wrk0 = procfs.cpu_seconds(d.pid()), machine_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
            th0 = procfs.thread_cpu(d.pid())
            r, raw = wrk(d.port, seconds, RUN, threads, conns)
            cpu1, mach1, wrk1 = procfs.cpu_seconds(d.pid()), machine_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
            th1 = procfs.thread_cpu(d.pid())
            rss = procfs.status_kib(d.pid(), "VmHWM")
            # Deliveries not yet made when the load stopped: whether the
            # log channel kept up with the events, not just with the end.
            behind = d.ctl_json("status").get("outbox_pending")
            time.sleep(1.0)  # requests cut by wrk's end may still commit
            status = d.ctl_json("status")
            try:
                stored = count_stored_sqlite(os.path.join(d.state_dir, "crier.db"), RUN)
                how = "sqlite (read-only)"
            except sqlite3.Error as e:
                print("bench: sqlite read failed (%s); asking crierctl" % e, file=sys.stderr)
                stored = None
            if stored is None:
                stored = count_stored_ctl(d, RUN)
                how = "crierctl show"
            events_logged = len(d.events())
        finally:
            try:
                d.stop()
                stop_error = None
            except AssertionError as e:
                stop_error = str(e)

    secs = r["duration_us"] / 1e6
    rps = r["requests"] / secs
    crierd_cpu = cpu1 - cpu0
    wrk_cpu = (wrk1.ru_utime + wrk1.ru_stime) - (wrk0.ru_utime + wrk0.ru_stime)
    busy, total = mach1[0] - mach0[0], mach1[1] - mach0[1]
    others = max(0.0, busy - crierd_cpu - wrk_cpu)
    cpu_us = crierd_cpu * 1e6 / r["requests"] if r["requests"] else 0.0
    # The core thread is the one serial part: its CPU per request bounds what
    # crierd can take when it has a CPU to itself, however busy the machine.
    per_thread = {}
    for name, v in th1.items():
        group = "core" if name == "crier-core" else "http" if name.startswith("crier-http") else "other"
        per_thread[group] = per_thread.get(group, 0.0) + v - th0.get(name, 0.0)
    core_us = per_thread.get("core", 0.0) * 1e6 / r["requests"] if r["requests"] else 0.0
    http_us = per_thread.get("http", 0.0) * 1e6 / r["requests"] if r["requests"] else 0.0
    ok = r["requests"] - r["non2xx"]
    p50 = r["p50_us"] / 1000.0
    p99 = r["p99_us"] / 1000.0
    errors = r["connect_err"] + r["read_err"] + r["write_err"] + r["timeouts"]

    rows = [
        ("requests/s", "%.0f" % rps, ">= %d" % TARGET_RPS, "met" if rps >= TARGET_RPS else "MISSED"),
        ("alerts/s (10 per request)", "%.0f" % (rps * 10), "", ""),
        ("new alerts/s", "%.0f" % (ok / secs), "", ""),
        ("latency p50", "%.2f ms" % p50, "", ""),
        ("latency p99", "%.2f ms" % p99, "< %.0f ms" % TARGET_P99_MS, "met" if p99 < TARGET_P99_MS else "MISSED"),
        ("latency max", "%.2f ms" % (r["max_us"] / 1000.0), "", ""),
        ("requests", "%d" % r["requests"], "", ""),
        ("non-2xx answers", "%d" % r["non2xx"], "0", "met" if r["non2xx"] == 0 else "MISSED"),
        ("socket errors/timeouts", "%d" % errors, "0", "met" if errors == 0 else "MISSED"),
        ("crierd CPU per request", "%.0f us" % cpu_us, "", ""),
        ("  core thread / HTTP workers", "%.0f / %.0f us" % (core_us, http_us), "", ""),
        ("  core thread's ceiling (1 s / its CPU)", "%.0f req/s" % (1e6 / core_us if core_us else 0), "", ""),
        ("machine busy (crierd/wrk/others)", "%.0f%% (%.0f/%.0f/%.0f)" % (
            100.0 * busy / total if total else 0, 100.0 * crierd_cpu / total if total else 0,
            100.0 * wrk_cpu / total if total else 0, 100.0 * others / total if total else 0), "", ""),
        ("crierd peak RSS (VmHWM)", "%.1f MiB" % (rss / 1024.0), "", ""),
        ("events logged (log plugin)", "%d" % events_logged, "", ""),
        ("outbox pending as the load stopped", "%s" % behind, "", ""),
        ("outbox pending 1 s later", "%s" % status.get("outbox_pending"), "", ""),
    ]
    w = max(len(x[0]) for x in rows)
    print()
    print("%-*s  %14s  %10s  %s" % (w, "figure", "value", "target", ""))
    print("-" * (w + 36))
    for name, val, target, verdict in rows:
        print("%-*s  %14s  %10s  %s" % (w, name, val, target, verdict))

    lost = ok - stored if stored < ok else 0
    print()
    print("durability: %d new alerts sent, %d answered 2xx, %d stored (%s)" % (r["new_sent"], ok, stored, how))
    if stored < ok:
        print("durability: LOST %d alerts that were answered 2xx" % lost)
    elif stored > r["new_sent"]:
        print("durability: the store holds %d more alerts than were sent" % (stored - r["new_sent"]))
    else:
        print("durability: ok (every 2xx'd alert is stored)")
    print(json.dumps({"rps": round(rps), "p50_ms": p50, "p99_ms": p99, "peak_rss_kib": rss, "non2xx": r["non2xx"],
                      "new_sent": r["new_sent"], "ok": ok, "stored": stored, "cpu_us_per_request": round(cpu_us, 1),
                      "core_us_per_request": round(core_us, 1), "http_us_per_request": round(http_us, 1),
                      "machine_busy_pct": round(100.0 * busy / total, 1) if total else None,
                      "others_pct": round(100.0 * others / total, 1) if total else None,
                      "outbox_behind": behind}))
    if stop_error:
        print("bench: crierd did not stop cleanly: %s" % stop_error)
    return 1 if stored < ok or stored > r["new_sent"] or stop_error else 0


if __name__ == "__main__":
    sys.exit(main())
