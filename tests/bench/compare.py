#!/usr/bin/env python3
"""Side-by-side benchmark (`make bench`, after bench.py): one load generator
(wrk), one set of alerts (tests/bench/load.lua: 10 per request, 1 new and 9
repeats), three targets on this machine, all three started and then driven in
turn, BENCH_ROUNDS times (each round's alerts are new to the targets, and each
round starts with the next target, so none always runs after another):

  crierd        POST /api/v1/alertmanager (webhook body), every event routed
  Alertmanager  0.25's own POST /api/v2/alerts (the same alerts as an array)
  nginx         `return 200` (the webhook body): the HTTP ceiling of the machine

This machine's speed drifts by +-20% within minutes, so each ratio is taken
within a round, between runs seconds apart, and the median round is reported
(with every round's figure); requests/s and latencies are medians too.

Then crierd alone: idle RSS, start-up time to ready, RSS with 100,000 open
alerts, and deliveries/s through the webhook plugin to a local HTTP endpoint
(nginx), with the instance's "isolation" set to "thread" and to "process"
(side by side, alternating runs). Prints one table and the ratios. Every
server it starts, it stops.

  python3 tests/bench/compare.py                 everything
  python3 tests/bench/compare.py --deliveries    only the webhook deliveries/s, per isolation

Environment: CRIER_BUILD (default build), BENCH_SECONDS (15, per target and
round), BENCH_ROUNDS (3), BENCH_WARMUP (3), BENCH_THREADS (2),
BENCH_CONNECTIONS (64), BENCH_DELIVERY_RUNS (runs per
isolation, 1; --deliveries: 3), BENCH_ISOLATION (thread,process).
"""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import bench  # noqa: E402
import harness  # noqa: E402
import procfs  # noqa: E402

AM_BIN = "/usr/bin/prometheus-alertmanager"
NGINX_BIN = "/usr/sbin/nginx"


def wrk(url, seconds, run, mode, threads, conns, path="/api/v1/alertmanager"):
    """bench.wrk's run, as requests/s, p50/p99 in ms, bad answers and requests."""
    r, _ = bench.wrk(url, seconds, run, threads, conns, mode=mode, path=path)
    secs = r["duration_us"] / 1e6
    return {"rps": r["requests"] / secs, "p50": r["p50_us"] / 1000, "p99": r["p99_us"] / 1000,
            "bad": r["non2xx"] + r["errors"], "requests": r["requests"]}


def tree_hwm_kib(pid):
    """Peak RSS of a process and its children (nginx's workers)."""
    total = procfs.status_kib(pid, "VmHWM")
    try:
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        kids = []
    return total + sum(procfs.status_kib(int(k), "VmHWM") for k in kids)


def wait_http(port, path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if harness.http_request(port, "GET", path, timeout=1).status < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("nothing answers on port %d" % port)


class Server:
    """A child process stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv, log):
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_nginx(tmp, port):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes 2;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(tmp)s;
    client_max_body_size 2m;
    server {
        listen 127.0.0.1:%(port)d;
        location / { return 200 "ok"; }
    }
}
""" % {"tmp": tmp, "port": port})
    s = Server([NGINX_BIN, "-c", conf, "-e", os.path.join(tmp, "nginx-error.log")], os.path.join(tmp, "nginx.log"))
    wait_http(port, "/")
    return s


def start_alertmanager(tmp, port):
    conf = os.path.join(tmp, "am.yml")
    with open(conf, "w") as f:
        f.write("route:\n  receiver: none\nreceivers:\n- name: none\n")
    s = Server([AM_BIN, "--config.file=" + conf, "--storage.path=" + os.path.join(tmp, "am-data"),
                "--web.listen-address=127.0.0.1:%d" % port, "--cluster.listen-address="],
               os.path.join(tmp, "am.log"))
    wait_http(port, "/-/ready")
    return s


def measure_rounds(start_targets, rounds, seconds, warmup, threads, conns):
    """start_targets(i) starts round i's targets and returns ([(name, url,
    pid_fn, mode, path), ...], [servers to stop after the round]): crierd and
    Alertmanager start afresh each round, so no round inherits another's
    alerts. Each target is warmed up, then driven in turn; the order turns
    by one each round (crierd first, then Alertmanager first, ...), so no
    target always runs in the wake of another (its writeback, its garbage
    collection). Returns {name: medians of the rounds, the highest peak
    RSS, each round's requests/s}."""
    runs = {}
    for i in range(rounds):
        targets, stop = start_targets(i)
        k = i % len(targets) if targets else 0
        try:
            for name, url, pid_fn, mode, path in targets[k:] + targets[:k]:
                wrk(url, warmup, "0000", mode, threads, conns, path)
                r = wrk(url, seconds, "%04x" % (i + 1), mode, threads, conns, path)
                r["rss_mib"] = pid_fn() / 1024.0
                runs.setdefault(name, []).append(r)
                print("bench: round %d  %-13s %8.0f requests/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %6.1f MiB"
                      "  non-2xx/errors %d" % (i + 1, name, r["rps"], r["p50"], r["p99"], r["rss_mib"], r["bad"]),
                      flush=True)
        finally:
            for srv in stop:
                srv.stop()
    res = {}
    for name, rs in runs.items():
        res[name] = {"rps": median([r["rps"] for r in rs]), "p50": median([r["p50"] for r in rs]),
                     "p99": median([r["p99"] for r in rs]), "bad": sum(r["bad"] for r in rs),
                     "requests": sum(r["requests"] for r in rs), "rss_mib": max(r["rss_mib"] for r in rs),
                     "rounds_rps": [r["rps"] for r in rs]}
    return res


def post_alerts(port, alerts):
    """One request of generic alerts to crierd's /api/v1/alerts; anything but a 200 raises."""
    r = harness.http_request(port, "POST", "/api/v1/alerts", json.dumps({"alerts": alerts}).encode(),
                             {"Content-Type": "application/json"}, timeout=60)
    if r.status != 200:
        raise RuntimeError("posting alerts: %d %s" % (r.status, r.text()))


def post_many(port, n_alerts, per_request=1000, alert=None):
    """n_alerts open alerts, per_request a request; alert(i) makes the i-th
    (by default key open-i in one of 100 incidents)."""
    alert = alert or (lambda i: {"key": "open-%d" % i, "labels": {"service": "open%d" % (i % 100),
                                                                  "severity": "warning"}})
    for start in range(0, n_alerts, per_request):
        post_alerts(port, [alert(i) for i in range(start, min(start + per_request, n_alerts))])


def sink_files(url, **instance):
    """crierd's files with every event routed to one webhook instance, "sink", and no log."""
    return {
        "webhook.json": {"plugins": {"webhook": {"instances": {"sink": dict({"url": url}, **instance)}}}},
        "routes.json": {"routes": [{"name": "all", "to": ["webhook/sink"]}]},
        "log.json": None,
    }


def host_children(pid):
    """The plugin host processes crierd pid started (isolation "process")."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = procfs.status(int(entry), "PPid")["PPid"]
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == pid and b"--plugin-host" in argv:
            out.append(int(entry))
    return out


def deliveries_per_s(tmp, sink_port, isolation, n_alerts=20000):
    """Deliveries/s through one webhook instance with the given isolation to
    sink_port, alone: first n_alerts new alerts fill the outbox while the
    instance points at a port that never answers (then crierd is killed -9:
    nothing was attempted, everything stays pending), then crierd starts
    again with the instance pointing at sink_port and drains it. The rate
    comes from the store's own times (first to last delivery). Also: CPU of
    crierd and its plugin host process per delivery, and the host's RSS."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # connections wait in the backlog: never accepted, never answered
    d = harness.Crierd(tmp, hold_seconds=300, files=sink_files("http://127.0.0.1:%d/sink" % hole.getsockname()[1],
                                                               timeout_ms=300000))
    try:
        d.start()
        post_many(d.port, n_alerts)
        d.kill9()
    finally:
        hole.close()
    d.files["webhook.json"]["plugins"]["webhook"]["instances"]["sink"] = {
        "url": "http://127.0.0.1:%d/sink" % sink_port, "isolation": isolation}
    d.write_config()
    d.start()
    kids = host_children(d.pid())
    if len(kids) != (1 if isolation == "process" else 0):
        d.stop()
        raise RuntimeError("isolation %s: %d plugin host processes" % (isolation, len(kids)))
    db = os.path.join(d.state_dir, "crier.db")

    def query(sql):
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            return con.execute(sql).fetchone()
        finally:
            con.close()

    harness.wait_until(lambda: query("SELECT SUM(state = 0) FROM outbox")[0] == 0, 300, 0.05, "deliveries drained")
    # Since start: start-up is a few ms of it.
    cpu = procfs.cpu_seconds(d.pid()) + sum(procfs.cpu_seconds(k) for k in kids)
    total, first, last = query("SELECT COUNT(*), MIN(updated_at), MAX(updated_at) FROM outbox WHERE state = 2")
    hosts = [procfs.status(k, "VmRSS", "RssAnon") for k in kids]
    r = {"isolation": isolation, "deliveries": total, "per_s": (total - 1) / max(last - first, 1) * 1000.0,
         "cpu_us": cpu / total * 1e6 if total else 0.0,
         "crierd_rss_mib": procfs.status_kib(d.pid(), "VmRSS") / 1024.0,
         "host_rss_mib": sum(h["VmRSS"] for h in hosts) / 1024.0,
         "host_anon_mib": sum(h["RssAnon"] for h in hosts) / 1024.0}
    d.stop()
    print("bench: deliveries, isolation %-8s %6.0f/s  CPU %5.1f us/delivery  crierd RSS %5.1f MiB"
          "  host process RSS %4.1f MiB (%.1f MiB its own)"
          % (isolation, r["per_s"], r["cpu_us"], r["crierd_rss_mib"], r["host_rss_mib"], r["host_anon_mib"]),
          flush=True)
    return r


def compare_isolation(tmp, sink_port, runs):
    """deliveries_per_s for each isolation, alternating, runs times; the medians."""
    modes = [m for m in os.environ.get("BENCH_ISOLATION", "thread,process").split(",") if m]
    got = {m: [] for m in modes}
    for i in range(runs):
        for m in modes:
            got[m].append(deliveries_per_s(os.path.join(tmp, "deliver-%s-%d" % (m, i)), sink_port, m))
    out = {}
    for m, rs in got.items():
        med = dict(rs[0])
        for k in ("per_s", "cpu_us", "crierd_rss_mib", "host_rss_mib", "host_anon_mib"):
            med[k] = median(r[k] for r in rs)  # each figure's own median
        med["runs"] = [round(r["per_s"]) for r in rs]
        med["cpu_runs"] = [round(r["cpu_us"], 1) for r in rs]
        out[m] = med
    return out


def print_isolation(iso):
    print("medians of %d run(s) each:" % len(next(iter(iso.values()))["runs"]))
    print("%-10s %14s %12s %12s %26s   %s" % ("isolation", "deliveries/s", "CPU/delivery", "crierd RSS",
                                           "host process RSS (own)", "runs: deliveries/s; CPU us/delivery"))
    for m, r in iso.items():
        print("%-10s %14.0f %9.1f us %8.1f MiB %12.1f MiB (%4.1f MiB)   %s; %s" % (
            m, r["per_s"], r["cpu_us"], r["crierd_rss_mib"], r["host_rss_mib"], r["host_anon_mib"], r["runs"],
            r["cpu_runs"]))
    if "thread" in iso and "process" in iso:
        t, p = iso["thread"], iso["process"]
        print("process vs thread: %.0f%% of the deliveries/s, %+.1f us of wall time and %+.1f us of CPU per delivery"
              % (100 * p["per_s"] / t["per_s"], 1e6 / p["per_s"] - 1e6 / t["per_s"], p["cpu_us"] - t["cpu_us"]))


def deliveries_only():
    if not shutil.which(NGINX_BIN):
        print("bench: nginx is missing (apt-get install nginx-light; `make bench` does it)", file=sys.stderr)
        return 1
    runs = int(os.environ.get("BENCH_DELIVERY_RUNS", "3"))
    with harness.TempDir(prefix="crier-isolation-") as tmp:
        ng_port = harness.free_port()
        ng = start_nginx(tmp, ng_port)
        try:
            iso = compare_isolation(tmp, ng_port, runs)
        finally:
            ng.stop()
    print()
    print_isolation(iso)
    print("\n" + json.dumps(iso))
    return 0


def _receiver(port_q, count, stop, out_q):
    """The webhook target, in its own process so the senders' GIL does not delay it."""
    target = harness.FakeTarget(default=200).start()
    port_q.put(target.port)
    while not stop.is_set():
        count.value = len(target.recorded())
        time.sleep(0.1)
    out_q.put([(r.wall, r.json().get("alert", {}).get("key")) for r in target.recorded()])
    target.stop()


def paced_latency(rate=1000, seconds=10, senders=8, sink_url=None):
    """Alerts sent at a steady `rate` requests/s, each a new event for the
    webhook plugin. Returns crierd's own histogram of accepted -> plugin
    called ("inside", see ingest_to_plugin) and, when no sink_url is given,
    p50/p99 from sending to a local Python target receiving the webhook (an
    upper bound that adds both HTTP hops and Python's own delays; the
    plugin's calls wait for that slow target, too). With sink_url (nginx),
    only the histogram."""
    import http.client
    import multiprocessing as mp
    import threading

    port_q, out_q, stop, count = mp.Queue(), mp.Queue(), mp.Event(), mp.Value("i", 0)
    rx = None
    if not sink_url:
        rx = mp.Process(target=_receiver, args=(port_q, count, stop, out_q), daemon=True)
        rx.start()
    got = []
    try:
        url = sink_url or "http://127.0.0.1:%d/sink" % port_q.get(timeout=30)
        with harness.TempDir(prefix="crier-latency-") as tmp:
            d = harness.Crierd(tmp, hold_seconds=300, files=sink_files(url))
            d.start()
            sent, lock = {}, threading.Lock()
            t_start = time.time() + 0.5
            per = rate / senders

            def sender(k):
                c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                i = 0
                while t_start + i / per <= t_start + seconds:
                    delay = t_start + i / per - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    key = "lat-%d-%d" % (k, i)
                    body = json.dumps({"key": key, "labels": {"service": "lat%d" % (i % 50)}}).encode()
                    now = time.time()
                    c.request("POST", "/api/v1/alerts", body, {"Content-Type": "application/json"})
                    c.getresponse().read()
                    with lock:
                        sent[key] = now
                    i += 1
                c.close()

            ts = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            if rx:
                harness.wait_until(lambda: count.value >= len(sent), 60, 0.2, "all deliveries")
            else:
                harness.wait_until(lambda: ingest_to_plugin(d)["count"] >= len(sent), 60, 0.2, "all deliveries")
            inside = ingest_to_plugin(d)
            stop.set()
            if rx:
                got = out_q.get(timeout=30)
            d.stop()
    finally:
        stop.set()
        if rx:
            rx.join(10)
            if rx.is_alive():
                rx.terminate()
    r = {"rate": len(sent) / seconds, "inside": inside}
    lat = sorted((wall - sent[key]) * 1000 for wall, key in got if key in sent)
    if lat:
        r.update({"n": len(lat), "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)]})
    return r


def ingest_to_plugin(d):
    """crierd's own measure of accepted -> plugin called: the histogram
    crier_ingest_to_plugin_seconds from d's /metrics, as {count, p50_le,
    p99_le, share_le_5ms}: a quantile is known to lie at or below its
    bucket's bound."""
    buckets = sorted((float(dict(labels)["le"]), int(v)) for (name, labels), v in d.metrics().samples.items()
                     if name == "crier_ingest_to_plugin_seconds_bucket" and {k for k, _ in labels} == {"le"})
    total = buckets[-1][1] if buckets else 0

    def le(q):
        for bound, cum in buckets:
            if total and cum >= q * total:
                return bound * 1000
        return float("nan")
    at5 = next((cum for bound, cum in buckets if abs(bound - 0.005) < 1e-9), 0)
    return {"count": total, "p50_le": le(0.50), "p99_le": le(0.99), "share_le_5ms": at5 / total if total else 0}


def main():
    for tool, pkg in (("wrk", "wrk"), (NGINX_BIN, "nginx-light"), (AM_BIN, "prometheus-alertmanager")):
        if not shutil.which(tool):
            print("bench: %s is missing (apt-get install %s; `make bench` does it)" % (tool, pkg), file=sys.stderr)
            return 1
    seconds = int(os.environ.get("BENCH_SECONDS", "15"))
    rounds = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
    warmup = int(os.environ.get("BENCH_WARMUP", "3"))
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    conns = int(os.environ.get("BENCH_CONNECTIONS", "64"))
    extra = {}
    with harness.TempDir(prefix="crier-compare-") as tmp:
        servers = []
        try:
            # crierd: start-up time and idle RSS first, on an empty store.
            d = harness.Crierd(os.path.join(tmp, "crier"), hold_seconds=300)
            t0 = time.monotonic()
            d.start()
            servers.append(d)
            extra["startup_ms"] = (time.monotonic() - t0) * 1000
            time.sleep(1.0)
            extra["idle_rss_mib"] = procfs.status_kib(d.pid(), "VmRSS") / 1024.0
            d.stop()
            servers.remove(d)
            ng_port = harness.free_port()
            ng = start_nginx(tmp, ng_port)
            servers.append(ng)

            def start_targets(i):
                cd = harness.Crierd(os.path.join(tmp, "crier-%d" % i), hold_seconds=300)
                cd.start()
                servers.append(cd)
                am_port = harness.free_port()
                am_dir = os.path.join(tmp, "am-%d" % i)
                os.makedirs(am_dir)
                am = start_alertmanager(am_dir, am_port)
                servers.append(am)

                def handed(srv):
                    # From here on the round stops it (measure_rounds).
                    servers.remove(srv)
                    return srv
                return ([
                    ("crierd", "http://127.0.0.1:%d" % cd.port, lambda: procfs.status_kib(cd.pid(), "VmHWM"),
                     "webhook", "/api/v1/alertmanager"),
                    ("Alertmanager", "http://127.0.0.1:%d" % am_port,
                     lambda: procfs.status_kib(am.proc.pid, "VmHWM"), "amv2", "/api/v2/alerts"),
                    ("nginx", "http://127.0.0.1:%d" % ng_port, lambda: tree_hwm_kib(ng.proc.pid), "webhook", "/"),
                ], [handed(cd), handed(am)])

            m = measure_rounds(start_targets, rounds, seconds, warmup, threads, conns)
            res = {"crierd": m["crierd"], "alertmanager": m["Alertmanager"], "nginx": m["nginx"]}

            # crierd with 100,000 open alerts (1,000 incidents), then its RSS.
            d2 = harness.Crierd(os.path.join(tmp, "crier-open"), hold_seconds=300,
                                files={"routes.json": {"routes": []}})
            d2.start()
            t0 = time.monotonic()
            post_many(d2.port, 100000)
            extra["open_100k_s"] = time.monotonic() - t0
            time.sleep(1.0)
            extra["open_100k_rss_mib"] = procfs.status_kib(d2.pid(), "VmRSS") / 1024.0
            d2.stop()

            # Deliveries/s through the webhook plugin to nginx: 20,000 queued
            # deliveries drained, the instance as a thread and as a child process.
            iso = compare_isolation(tmp, ng_port, int(os.environ.get("BENCH_DELIVERY_RUNS", "1")))
            extra["isolation"] = iso
            first = iso.get("thread") or next(iter(iso.values()))
            extra["deliveries"] = first["deliveries"]
            extra["deliveries_per_s"] = first["per_s"]

            # Accepted -> plugin called at a steady 1,000 requests/s, the webhook going to nginx.
            extra["latency_nginx"] = paced_latency(sink_url="http://127.0.0.1:%d/sink" % ng_port)
        finally:
            for s in servers:
                s.stop()
    extra["latency"] = paced_latency()

    c, a, n = res["crierd"], res["alertmanager"], res["nginx"]
    print()
    print("medians of %d rounds, %d s per target in each:" % (rounds, seconds))
    print("%-14s %12s %12s %10s %10s %12s" % ("target", "requests/s", "alerts/s", "p50 ms", "p99 ms", "peak RSS"))
    print("-" * 76)
    for name, r in (("crierd", c), ("Alertmanager", a), ("nginx", n)):
        alerts = "%.0f" % (r["rps"] * 10) if name != "nginx" else "-"
        print("%-14s %12.0f %12s %10.2f %10.2f %9.1f MiB" % (name, r["rps"], alerts, r["p50"], r["p99"], r["rss_mib"]))
    print()
    # Within each round: the targets ran seconds apart, on the machine as it was then.
    rounds_am = [x / y if y else float("inf") for x, y in zip(c["rounds_rps"], a["rounds_rps"])]
    rounds_ng = [x / y if y else 0 for x, y in zip(c["rounds_rps"], n["rounds_rps"])]
    ratio_am, ratio_ng = median(rounds_am), median(rounds_ng)
    extra["ratio_am_rounds"], extra["ratio_ng_rounds"] = rounds_am, rounds_ng
    print("crierd / Alertmanager, alerts/s: %5.2fx   (target >= 4x: %s; rounds: %s)" % (
        ratio_am, "met" if ratio_am >= 4 else "MISSED", ", ".join("%.2fx" % x for x in rounds_am)))
    print("crierd / nginx, requests/s:      %5.0f%%   (target >= 50%%: %s; rounds: %s)" % (
        ratio_ng * 100, "met" if ratio_ng >= 0.5 else "MISSED", ", ".join("%.0f%%" % (100 * x) for x in rounds_ng)))
    print("crierd idle RSS:                 %5.1f MiB (target < 10 MB: %s)" % (
        extra["idle_rss_mib"], "met" if extra["idle_rss_mib"] * 1.048576 < 10 else "MISSED"))
    print("crierd RSS, 100,000 open alerts: %5.1f MiB (target < 100 MB: %s; took %.1f s to post)" % (
        extra["open_100k_rss_mib"], "met" if extra["open_100k_rss_mib"] * 1.048576 < 100 else "MISSED",
        extra["open_100k_s"]))
    print("crierd start-up to ready:        %5.0f ms" % extra["startup_ms"])
    print("webhook deliveries/s to nginx:   %5.0f    (%d deliveries; target >= 5,000: %s)" % (
        extra["deliveries_per_s"], extra["deliveries"], "met" if extra["deliveries_per_s"] >= 5000 else "MISSED"))
    print()
    print_isolation(extra["isolation"])
    print()
    lt = extra["latency"]
    ins = extra["latency_nginx"]["inside"]
    print("accepted -> plugin called, p99:  <= %.1f ms (crierd's own histogram; p50 <= %.1f ms; %.2f%% within 5 ms;"
          " %d first attempts at %.0f requests/s, webhook to nginx; target < 5 ms: %s)" % (
              ins["p99_le"], ins["p50_le"], 100 * ins["share_le_5ms"], ins["count"], extra["latency_nginx"]["rate"],
              "met" if ins["p99_le"] <= 5 else "MISSED"))
    ins = lt["inside"]
    print("  the same, webhook to a Python target: p99 <= %.1f ms, p50 <= %.1f ms; end to end, sender -> target:"
          " p99 %.2f ms, p50 %.2f ms (adds both HTTP hops and Python)" % (
              ins["p99_le"], ins["p50_le"], lt.get("p99", float("nan")), lt.get("p50", float("nan"))))
    print("\n" + json.dumps({"crierd": c, "alertmanager": a, "nginx": n, "extra": extra}))
    return 0


if __name__ == "__main__":
    sys.exit(deliveries_only() if sys.argv[1:] == ["--deliveries"] else main())
