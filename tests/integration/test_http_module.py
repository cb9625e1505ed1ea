"""crierd's HTTP helper for plugins (the host table's http_request) lives in
crier-http.so with libcurl, loaded on the first request (core/http_module.h):
a crierd whose plugins never ask maps neither libcurl nor the TLS libraries
behind it (nor GnuTLS, which libmicrohttpd's shared library would bring); the webhook plugin's first delivery loads it, in crierd or, with
isolation "process", in the plugin host process only. Without the file,
HTTP deliveries fail with an error naming the paths looked at, and the rest
of crierd works on."""

import os
import shutil
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, crierd_bin, fixture, wait_until, webhook_files  # noqa: E402
from test_isolation import host_pids  # noqa: E402

MODULE = "crier-http.so"


def mapped(pid):
    """The file names (last path component) pid has mapped."""
    with open("/proc/%d/maps" % pid) as f:
        return {line.split()[5].rsplit("/", 1)[-1] for line in f if len(line.split()) > 5}


def maps_curl(names):
    return any(n.startswith("libcurl") for n in names)


class HttpModule(DaemonCase):
    def test_log_only_never_maps_libcurl(self):
        d = self.start_crierd()
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)
        wait_until(lambda: d.events(), 15, 0.1, "the log plugin's event")
        names = mapped(d.pid())
        self.assertNotIn(MODULE, names)
        self.assertFalse(maps_curl(names), sorted(names))
        self.assertNotIn("libssl.so.3", names)
        # libmicrohttpd is linked without its TLS layer (core/http_notls.c).
        self.assertNotIn("libgnutls.so.30", names)

    def test_first_request_loads_it(self):
        target = self.start_target(default=200)
        d = self.start_crierd(webhook_files(target.url("/hook")))
        before = mapped(d.pid())
        self.assertNotIn(MODULE, before, "not before a plugin asks")
        self.assertFalse(maps_curl(before))
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)
        target.wait_requests(1, timeout=15)
        after = mapped(d.pid())
        self.assertIn(MODULE, after)
        self.assertTrue(maps_curl(after))
        wait_until(lambda: [x for x in d.deliveries() if x["state"] == "delivered"], 15, 0.2, "delivered")

    def test_process_isolation_loads_it_in_the_child_only(self):
        target = self.start_target(default=200)
        d = self.start_crierd(webhook_files(target.url("/iso"), isolation="process"))
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)
        target.wait_requests(1, timeout=15)
        kids = host_pids(d, "webhook/hook")
        self.assertEqual(len(kids), 1, kids)
        self.assertIn(MODULE, mapped(kids[0]))
        self.assertNotIn(MODULE, mapped(d.pid()))
        self.assertFalse(maps_curl(mapped(d.pid())))

    def failed_delivery(self, module=None):
        """A copy of crierd in <tmp>/bin/ (module, if given, copied to
        <tmp>/bin/lib/crier/crier-http.so) delivering to a webhook: the
        delivery's last error once it failed, and the daemon."""
        tmp = self.tmpdir()
        bindir = os.path.join(tmp, "bin")
        os.makedirs(os.path.join(bindir, "lib", "crier"))
        shutil.copy2(crierd_bin(), bindir)
        if module:
            shutil.copy2(module, os.path.join(bindir, "lib", "crier", MODULE))
        target = self.start_target(default=200)
        with mock.patch.object(harness, "crierd_bin", lambda: os.path.join(bindir, "crierd")):
            d = self.start_crierd(webhook_files(target.url("/hook")), tmp=os.path.join(tmp, "run"))
        self.assertEqual(d.post_am(fixture("alertmanager", "firing-single.json")).status, 200)
        pending = wait_until(
            lambda: [x for x in d.deliveries() if x["instance"] == "webhook/hook" and x["last_error"]],
            15,
            0.2,
            "a failed webhook delivery",
        )
        self.assertEqual(pending[0]["state"], "pending", "retried: mending the install mends it")
        self.assertIn("cannot load crierd's HTTP helper", d.log_text())
        self.assertEqual(target.recorded(), [])
        # The rest of crierd goes on.
        wait_until(lambda: d.events(), 15, 0.1, "the log plugin's event")
        self.assertTrue(d.healthy())
        return pending[0]["last_error"], tmp

    def test_missing_module_fails_http_deliveries_and_names_it(self):
        err, tmp = self.failed_delivery()
        installed = os.path.join(tmp, "lib", "crier", MODULE)
        build_tree = os.path.join(tmp, "bin", "lib", "crier", MODULE)
        self.assertIn("neither %s nor %s exists" % (installed, build_tree), err)

    def test_another_file_in_its_place_is_refused(self):
        err, tmp = self.failed_delivery(module=os.path.join(harness.plugin_dir(), "log.so"))
        path = os.path.join(tmp, "bin", "lib", "crier", MODULE)
        self.assertIn("%s: not the HTTP helper of this crierd" % path, err)


if __name__ == "__main__":
    unittest.main()
