"""Plugin isolation "process": an instance runs in a child process (crierd
started again as `crierd --plugin-host`, over an ipc:// socket in the state
folder). A plugin that segfaults on some input kills only its child: crierd
keeps serving, restarts the child, retries the delivery it was running and
dead-letters it after max_attempts (DeliveryDead), while other channels carry
on undelayed. The child's command line and environment hold no secret;
SIGHUP swaps a changed child; SIGTERM leaves no child and no socket file.

The crashing plugin is tests/unit/plugins/crashy.c (built into
$CRIER_BUILD/tests/plugins/, never shipped). It is never run with isolation
"thread" here: its crash would take crierd down, which is the point of
isolation "process"."""

import glob
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, build_dir, crierd_bin, plugin_dir, wait_until  # noqa: E402

SEGV = "killed by signal 11 (SIGSEGV)"


def generic(key, service, **labels):
    labels = dict(labels, service=service)
    return {"key": key, "labels": labels, "annotations": {"summary": key}}


def proc_read(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def children(pid):
    """Pids whose parent is pid (zombies included)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        status = proc_read(int(entry), "status")
        m = re.search(rb"^PPid:\s*(\d+)", status or b"", re.M)
        if m and int(m.group(1)) == pid:
            out.append(int(entry))
    return out


def host_pids(d, instance):
    """The live plugin host processes of instance under crierd d."""
    out = []
    for p in children(d.pid()):
        argv = (proc_read(p, "cmdline") or b"").split(b"\0")
        if b"--plugin-host" in argv and instance.encode() in argv:
            out.append(p)
    return out


def is_plugin_host(pid):
    """True while pid is still a plugin host process (not reaped, not reused)."""
    return b"--plugin-host" in (proc_read(pid, "cmdline") or b"")


def socket_files(d):
    return glob.glob(os.path.join(d.state_dir, "plugin-hosts", "*.sock"))


class Isolation(DaemonCase):
    def setUp(self):
        # The daemon's plugins and the test plugin side by side in one folder.
        self.plugins = os.path.join(self.tmpdir(), "plugins")
        os.makedirs(self.plugins)
        for so in glob.glob(os.path.join(plugin_dir(), "*.so")):
            os.symlink(so, os.path.join(self.plugins, os.path.basename(so)))
        crashy = os.path.join(build_dir(), "tests", "plugins", "crashy.so")
        self.assertTrue(os.path.exists(crashy), "%s is missing: make unit-bins builds it" % crashy)
        os.symlink(crashy, os.path.join(self.plugins, "crashy.so"))
        # A segfault must reach the kernel (and so crierd) as SIGSEGV, not be
        # turned into an exit by ASan's handler in the sanitizer build.
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.env = {"ASAN_OPTIONS": (asan + ":" if asan else "") + "handle_segv=0"}

    def start(self, files, env=None):
        tmp = self.tmpdir()
        daemon = {"daemon": {"state_dir": os.path.join(tmp, "state"), "plugin_dir": self.plugins}}
        return self.start_crierd(files=dict(files, **{"daemon.json": daemon}), tmp=tmp,
                                 env=dict(self.env, **(env or {})))

    def crash_files(self, side_url, **boom):
        boom_cfg = dict({"isolation": "process", "url": "${CRIER_TEST_BOOM_URL}"}, **boom)
        # Retries 0.5-1 s, then 1-2 s apart: the crashes span a few seconds.
        boom_cfg["delivery"] = {"max_attempts": 3, "backoff_initial_ms": 1000, "backoff_max_ms": 2000}
        return {
            "crashy.json": {"plugins": {"crashy": {"instances": {"boom": boom_cfg}}}},
            "webhook.json": {"plugins": {"webhook": {"instances": {"side": {"url": side_url}}}}},
            "routes.json": {"routes": [{"name": "all", "to": ["crashy/boom", "webhook/side"]}]},
        }

    @staticmethod
    def alert_keys(target):
        return [r.json().get("alert", {}).get("key") for r in target.recorded()]

    def test_a_crash_costs_its_delivery_and_a_restart(self):
        boom, side = self.start_target(default=200), self.start_target(default=200)
        token = "tok-" + secrets.token_hex(12)
        secret_url = boom.url("/boom/" + token)
        d = self.start(self.crash_files(side.url("/side")), env={"CRIER_TEST_BOOM_URL": secret_url})

        # A normal alert goes through both channels.
        self.assertEqual(d.post_generic(generic("n1", "one")).status, 200)
        first = boom.wait_requests(1)[0]
        self.assertEqual(first.method, "POST")
        self.assertEqual(first.path, "/boom/" + token)
        self.assertIn("application/json", first.headers.get("content-type", ""))
        self.assertTrue(first.headers.get("idempotency-key", "").startswith("crier-"))
        self.assertEqual(first.json()["alert"]["key"], "n1")
        side.wait_requests(1)

        # One child for the process instance, none for the thread one.
        p1 = wait_until(lambda: host_pids(d, "crashy/boom"), 10, what="the crashy/boom host process")
        self.assertEqual(len(p1), 1, p1)
        p1 = p1[0]
        self.assertEqual(host_pids(d, "webhook/side"), [])
        self.assertEqual(len(children(d.pid())), 1, "one child process in all")

        # No secret on its command line or in its environment (both in /proc).
        cmdline, environ = proc_read(p1, "cmdline"), proc_read(p1, "environ")
        self.assertIn(b"crashy/boom", cmdline)
        for blob, what in ((cmdline, "cmdline"), (environ, "environ")):
            self.assertNotIn(token.encode(), blob, "the URL's token is in /proc/%d/%s" % (p1, what))
            self.assertNotIn(b"127.0.0.1:%d" % boom.port, blob, what)
        self.assertNotIn(b"CRIER_TEST_BOOM_URL", environ)

        # Its socket: a 0600 file in a 0700 folder of the state directory.
        socks = socket_files(d)
        self.assertEqual(len(socks), 1, socks)
        self.assertEqual(stat.S_IMODE(os.stat(socks[0]).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(socks[0])).st_mode), 0o700)

        # The crash: the child dies, crierd does not. Two more alerts in the
        # same request are queued at the child behind the crashing one.
        log_mark = len(d.log_text())
        t0 = time.monotonic()
        batch = [generic("c1", "crash", crash="yes"), generic("q1", "queued1"), generic("q2", "queued2")]
        self.assertEqual(d.post_generic({"alerts": batch}).status, 200)
        got = wait_until(lambda: [r for r in side.recorded() if r.json()["alert"]["key"] == "q2"], 5, 0.02, "q2")
        self.assertLess(got[0].time - t0, 1.0, "the other channel was held up by the crash")
        wait_until(lambda: SEGV in d.log_text()[log_mark:], 10, what="the crash in the log")
        self.assertTrue(d.alive())
        self.assertTrue(d.healthy())
        line = [l for l in d.log_text()[log_mark:].splitlines() if "plugin host died" in l][0]
        self.assertIn("level=error", line)
        self.assertIn("instance=crashy/boom", line)
        self.assertIn("pid=%d" % p1, line)
        self.assertIn('reason="%s"' % SEGV, line)
        self.assertIn("in_flight=3", line)

        # Restarted: a new child, the old one gone (reaped, not a zombie).
        p2 = wait_until(lambda: [p for p in host_pids(d, "crashy/boom") if p != p1], 10, what="a new host process")
        self.assertFalse(is_plugin_host(p1), "the crashed child is still there")
        self.assertNotIn(p1, children(d.pid()), "the crashed child was not reaped")
        # crierctl status and /metrics tell of it: the new pid, one death.
        st = wait_until(lambda: [i for i in d.ctl_json("status")["instances"]
                                 if i["name"] == "crashy/boom" and i.get("pid") == p2[0]], 10, what="status")
        self.assertEqual(st[0]["isolation"], "process")
        self.assertEqual(st[0]["host_deaths"], 1)
        side_st = [i for i in d.ctl_json("status")["instances"] if i["name"] == "webhook/side"][0]
        self.assertEqual(side_st["isolation"], "thread")
        self.assertNotIn("pid", side_st)
        metrics = d.metrics()
        self.assertEqual(metrics.get("crier_plugin_host_deaths_total", instance="crashy/boom"), 1)
        self.assertIn("crier_plugin_host_deaths_total", metrics.names())
        out = d.ctl("status").stdout
        self.assertRegex(out, r"crashy/boom +crashy +process +\d+ +%d +1" % p2[0])

        # Meanwhile ingest and the thread channel go on without delay.
        for i in range(3):
            key = "m%d" % i
            t = time.monotonic()
            self.assertEqual(d.post_generic(generic(key, "more%d" % i)).status, 200)
            got = wait_until(lambda: [r for r in side.recorded() if r.json().get("alert", {}).get("key") == key], 5, 0.02, key)
            self.assertLess(got[0].time - t, 1.0, "the thread channel was slow during the crashes")
        self.assertTrue(d.healthy())

        # The crashing delivery: retried, then dead after max_attempts (3).
        dead = wait_until(
            lambda: [x for x in d.deliveries(dead=True) if x["instance"] == "crashy/boom"], 20, 0.2, "a dead delivery"
        )
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(dead[0]["attempts"], 3)
        self.assertEqual(dead[0]["last_error"], "plugin host crashed: " + SEGV)
        self.assertNotIn(token, d.log_text())
        crashes = [l for l in d.log_text()[log_mark:].splitlines() if "plugin host died" in l]
        self.assertEqual(len(crashes), 3, crashes)
        pids = {re.search(r"pid=(\d+)", l).group(1) for l in crashes}
        self.assertEqual(len(pids), 3, "each crash was a different child: %s" % crashes)

        # DeliveryDead is raised, through the existing on_dead path.
        wait_until(
            lambda: [l for l in d.log_text().splitlines() if "alert=DeliveryDead" in l and "crashy/boom" in l],
            10,
            what="DeliveryDead raised",
        )
        inc = wait_until(lambda: d.incident("service=crier"), 10, what="crier's own incident")
        labels = [a["labels"] for a in d.show(inc["id"])["alerts"]]
        self.assertIn({"alertname": "DeliveryDead", "service": "crier", "severity": "warning",
                       "channel": "crashy/boom"}, labels)

        # The deliveries that were queued behind a crash never reached the
        # plugin: they went to the next child, their attempts not counted.
        def others():
            return [x for x in d.deliveries() if x["instance"] == "crashy/boom" and x["state"] != "dead"]

        wait_until(lambda: all(x["state"] == "delivered" for x in others()), 15, what="everything else delivered")
        self.assertGreaterEqual(len(others()), 6)  # n1, q1, q2, m0-m2 (and DeliveryDead's event)
        for x in others():
            self.assertEqual(x["attempts"], 1, x)

        # A later normal alert still goes through the restarted child.
        self.assertEqual(d.post_generic(generic("n2", "two")).status, 200)
        wait_until(lambda: "n2" in self.alert_keys(boom), 10, what="n2 delivered by crashy/boom")
        self.assertNotIn("c1", self.alert_keys(boom), "the crashing alert reached the target")
        for k in ("n1", "q1", "q2", "m0", "m1", "m2"):
            self.assertEqual(self.alert_keys(boom).count(k), 1, k)

    def test_b_sighup_swaps_the_child_and_sigterm_leaves_nothing(self):
        target = self.start_target(default=200)
        files = {
            "webhook.json": {
                "plugins": {"webhook": {"instances": {"iso": {"url": target.url("/iso"), "isolation": "process"}}}}
            },
            "routes.json": {"routes": [{"name": "all", "to": ["webhook/iso", "log/events"]}]},
        }
        d = self.start(files)
        self.assertEqual(d.post_generic(generic("h1", "one")).status, 200)
        target.wait_requests(1)
        old = wait_until(lambda: host_pids(d, "webhook/iso"), 10, what="the host process")
        self.assertEqual(len(old), 1)
        self.assertEqual(len(socket_files(d)), 1)

        # A changed instance: a new child takes over, the old one stops.
        d.files["webhook.json"]["plugins"]["webhook"]["instances"]["iso"]["timeout_ms"] = 7000
        d.write_config()
        d.signal(signal.SIGHUP)
        new = wait_until(lambda: [p for p in host_pids(d, "webhook/iso") if p not in old], 15, what="a new child")
        wait_until(lambda: not is_plugin_host(old[0]), 10, what="the old child gone")
        self.assertEqual(host_pids(d, "webhook/iso"), new)
        wait_until(lambda: len(socket_files(d)) == 1, 10, what="the old socket file removed")
        self.assertEqual(d.post_generic(generic("h2", "two")).status, 200)
        reqs = target.wait_requests(2)
        self.assertEqual(reqs[1].json()["alert"]["key"], "h2")

        # An unchanged reload keeps the child.
        d.signal(signal.SIGHUP)
        wait_until(lambda: d.log_text().count("configuration reloaded") == 2, 10, what="second reload")
        self.assertEqual(host_pids(d, "webhook/iso"), new)

        # Back to a thread: the child stops and nothing replaces it.
        del d.files["webhook.json"]["plugins"]["webhook"]["instances"]["iso"]["isolation"]
        d.write_config()
        d.signal(signal.SIGHUP)
        wait_until(lambda: not is_plugin_host(new[0]), 10, what="the child gone")
        self.assertEqual(children(d.pid()), [])
        self.assertEqual(d.post_generic(generic("h3", "three")).status, 200)
        target.wait_requests(3)

        # And to a process again, then SIGTERM: no child, no socket file left.
        d.files["webhook.json"]["plugins"]["webhook"]["instances"]["iso"]["isolation"] = "process"
        d.write_config()
        d.signal(signal.SIGHUP)
        last = wait_until(lambda: host_pids(d, "webhook/iso"), 10, what="a child again")
        self.assertEqual(d.post_generic(generic("h4", "four")).status, 200)
        target.wait_requests(4)
        d.stop()
        self.assertFalse(is_plugin_host(last[0]), "a plugin host outlived crierd")
        self.assertEqual(socket_files(d), [])
        self.assertEqual([r.json()["alert"]["key"] for r in target.recorded()], ["h1", "h2", "h3", "h4"])
        self.assertIn("plugin host process started", d.log_text())

    def test_c_a_host_that_crashes_at_init_is_restarted_with_backoff(self):
        boom, side = self.start_target(default=200), self.start_target(default=200)
        flag = os.path.join(self.tmpdir(), "crash-at-init")
        d = self.start(self.crash_files(side.url("/side"), init_crash_file=flag),
                       env={"CRIER_TEST_BOOM_URL": boom.url("/boom")})
        child = wait_until(lambda: host_pids(d, "crashy/boom"), 10, what="the host process")[0]
        log_mark = len(d.log_text())
        # The child is killed (the OOM killer, say); every new one dies in init.
        with open(flag, "w"):
            pass
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: d.log_text()[log_mark:].count("plugin host died") >= 6, 20, 0.2, "six deaths")
        log = d.log_text()[log_mark:]
        self.assertIn('pid=%d reason="killed by signal 9 (SIGKILL)"' % child, log)
        self.assertEqual(log.count(SEGV), log.count("plugin host died") - 1, log)
        delays = [int(x) for x in re.findall(r"restart_in_ms=(\d+)", log)]
        self.assertEqual(delays[:6], [100, 200, 400, 800, 1600, 3200], delays)
        self.assertTrue(d.healthy())
        # Meanwhile the other channel works.
        self.assertEqual(d.post_generic(generic("s1", "side")).status, 200)
        wait_until(lambda: "s1" in self.alert_keys(side), 5, what="s1 on the side channel")
        # Fixed: the next restart comes up and delivers what waited.
        os.unlink(flag)
        wait_until(lambda: "s1" in self.alert_keys(boom), 20, 0.2, "s1 delivered once the host starts")

    def test_d_shutdown_is_bounded_and_kills_a_stuck_child(self):
        """SIGTERM with a slow process channel: the delivery in progress
        finishes, the queued ones stay pending and go out once after the
        restart; a child stuck in deliver() is killed, not waited for."""
        target = self.start_target(default=200)
        target.delay = 1.5
        inst = {"url": target.url("/slow"), "isolation": "process", "timeout_ms": 60000}
        files = {
            "webhook.json": {"plugins": {"webhook": {"instances": {"slow": inst}}}},
            "routes.json": {"routes": [{"name": "opened", "events": ["opened"], "to": ["webhook/slow"]}]},
        }
        d = self.start(files)
        for i in range(6):
            self.assertEqual(d.post_generic(generic("s%d" % i, "svc%d" % i)).status, 200)
        target.wait_requests(1, 10)
        child = host_pids(d, "webhook/slow")
        t0 = time.monotonic()
        d.stop()
        self.assertLess(time.monotonic() - t0, 8.0, "shutdown took too long")
        self.assertFalse(is_plugin_host(child[0]))
        self.assertEqual(socket_files(d), [])
        sent = len(target.recorded())
        self.assertLess(sent, 6, "queued deliveries were not held back at shutdown")
        target.delay = 0
        d.start()
        target.wait_requests(6, 20)
        time.sleep(0.5)
        keys = [r.headers.get("idempotency-key") for r in target.recorded()]
        self.assertEqual(sorted(keys), sorted(set(keys)), "a delivery was sent twice: %s" % keys)

        # Stuck: a target slower than any grace.
        target.delay = 40
        self.assertEqual(d.post_generic(generic("stuck", "svc-stuck")).status, 200)
        target.wait_requests(7, 10)
        child = host_pids(d, "webhook/slow")
        t0 = time.monotonic()
        d.stop(timeout=40)
        self.assertLess(time.monotonic() - t0, 25.0, "shutdown waited for the stuck plugin")
        self.assertIn("did not stop in time; killing it", d.log_text())
        self.assertFalse(is_plugin_host(child[0]))
        self.assertEqual(socket_files(d), [])
        target.delay = 0

    def test_f_check_config_reports_a_plugin_that_crashes_while_starting(self):
        """--check-config starts each instance in a child: a segfault in init is a finding, not the end."""
        import harness
        flag = os.path.join(self.tmpdir(), "crash-at-init")
        with open(flag, "w"):
            pass
        for isolation in ("process", "thread"):
            tmp = self.tmpdir()
            files = self.crash_files("http://127.0.0.1:9/side", init_crash_file=flag)
            files["crashy.json"]["plugins"]["crashy"]["instances"]["boom"]["isolation"] = isolation
            files["daemon.json"] = {"daemon": {"state_dir": os.path.join(tmp, "state"), "plugin_dir": self.plugins}}
            d = harness.Crierd(tmp, files=files, env=dict(self.env, CRIER_TEST_BOOM_URL="http://127.0.0.1:9/boom"))
            p = d.check_config()
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("crashy.json: plugins.crashy.instances.boom: the plugin failed while starting: "
                          "killed by signal 11 (SIGSEGV)", p.stderr)
            # The check went on: the other instance was started and found fine.
            self.assertNotIn("webhook", p.stderr)
            self.assertNotIn("AddressSanitizer", p.stderr)

    def test_e_plugin_host_by_hand(self):
        """--plugin-host is crierd's own: refused when run wrongly."""
        p = subprocess.run([crierd_bin(), "--plugin-host"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 64)
        self.assertIn("--plugin-host is crierd's own", p.stderr)
        # A parent pid that is not its parent: it exits at once, connecting nowhere.
        sock = os.path.join(self.tmpdir(), "x.sock")
        p = subprocess.run([crierd_bin(), "--plugin-host", "webhook/x", self.plugins, "ipc://" + sock, "1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertFalse(os.path.exists(sock))


if __name__ == "__main__":
    unittest.main()
