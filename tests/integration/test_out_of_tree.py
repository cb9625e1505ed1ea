"""A plugin built out of tree, the way docs/writing-a-plugin.md tells a team
to: `make install` into a staging folder, build examples/plugins/ntfy against
the installed header found through pkg-config (crier-plugin.pc), install it
into the team's own folder, and have crierd load it from the second entry of
daemon.plugin_dir (the installed shipped plugins being the first) and deliver
to a fake ntfy server that checks requests the way ntfy does. The installed
crierd finds its HTTP helper (crier-http.so) where make install put it."""

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, wait_until  # noqa: E402

REPO = harness.REPO
TOKEN = "tk_SECRETTOKEN0123456789"


def run(cmd, env=None, cwd=None):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.stdout


def clean_env():
    """The environment without the calling make's job-server flags."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def ntfy_error(status, code, error):
    doc = {"code": code, "http": status, "error": error, "link": "https://ntfy.sh/docs/publish/"}
    return (status, {}, json.dumps(doc).encode())


def ntfy_check(method, path, headers, body):
    """ntfy's JSON publishing: POST / with a JSON object naming the topic (docs.ntfy.sh/publish)."""
    if method not in ("POST", "PUT") or path != "/":
        return ntfy_error(404, 40401, "page not found")
    if headers.get("authorization") != "Bearer " + TOKEN:
        return ntfy_error(401, 40101, "unauthorized")
    try:
        doc = json.loads(body.decode("utf-8"))
    except ValueError:
        return ntfy_error(400, 40024, "invalid request: request body must be message JSON")
    topic = doc.get("topic") if isinstance(doc, dict) else None
    if not isinstance(topic, str) or not re.fullmatch(r"[-_A-Za-z0-9]{1,64}", topic):
        return ntfy_error(400, 40009, "invalid request: topic invalid")
    if not isinstance(doc.get("priority", 3), int) or not 1 <= doc.get("priority", 3) <= 5:
        return ntfy_error(400, 40007, "invalid priority")
    if len(doc.get("message", "").encode()) > 4096:
        return ntfy_error(413, 41301, "message too large")
    if not all(isinstance(t, str) for t in doc.get("tags", [])):
        return ntfy_error(400, 40024, "invalid request: tags")
    return None


def ntfy_ok():
    return (200, {}, json.dumps({"id": "hwQ2YpKdmg", "event": "message", "topic": "x"}).encode())


class OutOfTree(DaemonCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="crier-oot-")
        cls.stage = os.path.join(cls.tmp, "stage")
        cls.team_plugins = os.path.join(cls.tmp, "team", "plugins")
        env = clean_env()
        # -o all: install what the test build already made (make test built it
        # with sanitizer flags this command line does not repeat).
        make = ["make", "-s", "-C", REPO, "-o", "all", "install", "BUILD=" + harness.build_dir()]
        run(make + ["DESTDIR=" + cls.stage, "PREFIX=/usr/local"], env=env)
        cls.pc_env = dict(env)
        cls.pc_env["PKG_CONFIG_LIBDIR"] = os.path.join(cls.stage, "usr/local/lib/pkgconfig")
        cls.pc_env["PKG_CONFIG_SYSROOT_DIR"] = cls.stage
        cls.pc_env.pop("PKG_CONFIG_PATH", None)
        # The team's own tree: a copy of the example, built and installed with its Makefile.
        cls.src = os.path.join(cls.tmp, "team", "ntfy")
        shutil.copytree(os.path.join(REPO, "examples", "plugins", "ntfy"), cls.src)
        cls.build_log = run(["make", "-C", cls.src, "install", "PLUGINDIR=" + cls.team_plugins], env=cls.pc_env)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_installed_header_and_pkg_config(self):
        inc = os.path.join(self.stage, "usr/local/include")
        self.assertTrue(filecmp.cmp(os.path.join(inc, "crier/plugin.h"), os.path.join(REPO, "include/crier/plugin.h")))
        for so in ("log.so", "webhook.so"):
            self.assertTrue(os.path.isfile(os.path.join(self.stage, "usr/local/lib/crier/plugins", so)))
        self.assertTrue(os.path.isfile(os.path.join(self.stage, "usr/local/lib/crier/crier-http.so")))
        cflags = run(["pkg-config", "--cflags", "crier-plugin"], env=self.pc_env).split()
        self.assertEqual(cflags, ["-I" + inc])
        with open(os.path.join(REPO, "include/crier/plugin.h")) as f:
            abi = re.search(r"#define CRIER_ABI_VERSION\s+(\d+)\n", f.read()).group(1)
        self.assertEqual(run(["pkg-config", "--variable=abi_version", "crier-plugin"], env=self.pc_env).strip(), abi)
        # The prefix is the installed one, not the staging folder.
        with open(os.path.join(self.stage, "usr/local/lib/pkgconfig/crier-plugin.pc")) as f:
            self.assertIn("prefix=/usr/local\n", f.read())
        # The example was compiled against the staged header, and nothing from the source tree.
        self.assertIn("-I" + inc, self.build_log)
        self.assertNotIn(REPO + "/include", self.build_log)
        self.assertTrue(os.path.isfile(os.path.join(self.team_plugins, "ntfy.so")))

    def config(self, tmp, instances):
        dirs = [os.path.join(self.stage, "usr/local/lib/crier/plugins"), self.team_plugins]
        return {
            "daemon.json": {"daemon": {"state_dir": os.path.join(tmp, "state"), "plugin_dir": dirs}},
            "ntfy.json": {"plugins": {"ntfy": {"instances": instances}}},
            "routes.json": {
                "routes": [
                    {"name": "everything", "to": ["log/events"]},
                    # Not crier's own DeliveryDead alert (service=crier) that ntfy/stale raises.
                    {
                        "name": "phones",
                        "events": ["opened"],
                        "labels": {"service": "db"},
                        "to": ["ntfy/" + n for n in instances],
                    },
                ]
            },
        }

    def test_crierd_loads_it_from_the_second_folder_and_delivers(self):
        ntfy = self.start_target(default=ntfy_ok(), check=ntfy_check)
        tmp = self.tmpdir()
        instances = {
            "phones": {"url": ntfy.url("/"), "token": TOKEN, "recipients": ["ops-alerts", "oncall-ana"]},
            "stale": {"url": ntfy.url("/"), "token": "tk_REVOKEDTOKEN", "recipients": ["ops-alerts"]},
        }
        d = self.start_crierd(self.config(tmp, instances), tmp=tmp)
        r = d.post_generic(
            {
                "key": "db-1",
                "status": "firing",
                "labels": {"alertname": "BackupFailed", "service": "db", "severity": "critical"},
                "annotations": {"summary": "Nightly backup of db-1 failed"},
                "source": "backup-cron",
            }
        )
        self.assertEqual(r.status, 200, r)

        def published():
            return [x for x in ntfy.recorded() if x.answered == 200]

        wait_until(lambda: len(published()) >= 2, 20, what="two published messages")
        docs = sorted((x.json() for x in published()), key=lambda doc: doc["topic"])
        self.assertEqual([doc["topic"] for doc in docs], ["oncall-ana", "ops-alerts"], "one message per recipient")
        for doc in docs:
            self.assertEqual(doc["priority"], 5, "critical")
            self.assertEqual(doc["message"], "Nightly backup of db-1 failed")
            self.assertRegex(doc["title"], r"^Incident \d+ \(investigating\): Nightly backup of db-1 failed$")
            self.assertEqual(doc["tags"], ["rotating_light"])

        def states():
            both = d.deliveries(dead=False) + d.deliveries(dead=True)
            return {(x["instance"], x["state"]) for x in both if x["instance"].startswith("ntfy/")}

        wait_until(
            lambda: {("ntfy/stale", "dead"), ("ntfy/phones", "delivered")} <= states(),
            20,
            what="ntfy/phones delivered, ntfy/stale dead",
        )
        stale = [x for x in d.deliveries(dead=True) if x["instance"] == "ntfy/stale"]
        self.assertEqual(stale[0]["attempts"], 1, "a revoked token is not retried")
        self.assertEqual(stale[0]["last_error"], "ntfy answered HTTP 401: unauthorized")
        self.assertNotIn("REVOKED", d.log_text())
        self.assertNotIn(TOKEN, d.log_text())

    def test_the_installed_crierd_finds_its_http_helper(self):
        # <prefix>/bin/crierd loads <prefix>/lib/crier/crier-http.so on the
        # first HTTP request a plugin makes (here the installed webhook plugin).
        target = self.start_target(default=200)
        tmp = self.tmpdir()
        files = {
            "daemon.json": {
                "daemon": {
                    "state_dir": os.path.join(tmp, "state"),
                    "plugin_dir": os.path.join(self.stage, "usr/local/lib/crier/plugins"),
                }
            },
            "webhook.json": {"plugins": {"webhook": {"instances": {"hook": {"url": target.url("/hook")}}}}},
            "routes.json": {"routes": [{"name": "hook", "events": ["opened"], "to": ["webhook/hook"]}]},
        }
        installed = os.path.join(self.stage, "usr/local/bin/crierd")
        with mock.patch.object(harness, "crierd_bin", lambda: installed):
            d = self.start_crierd(files, tmp=tmp)
        self.assertEqual(d.post_am(harness.fixture("alertmanager", "firing-single.json")).status, 200)
        self.assertEqual(target.wait_requests(1, timeout=20)[0].path, "/hook")
        with open("/proc/%d/maps" % d.pid()) as f:
            self.assertIn(os.path.join(self.stage, "usr/local/lib/crier/crier-http.so"), f.read())

    def test_a_missing_plugin_names_every_folder(self):
        tmp = self.tmpdir()
        files = self.config(tmp, {"x": {"recipients": ["a"]}})
        files["other.json"] = {"plugins": {"nosuch": {"instances": {"y": {}}}}}
        d = harness.Crierd(tmp, files)
        p = d.check_config()
        self.assertNotEqual(p.returncode, 0)
        folders = "%s/usr/local/lib/crier/plugins, %s" % (self.stage, self.team_plugins)
        want = 'plugin "nosuch": nosuch.so not found in daemon.plugin_dir (%s)' % folders
        self.assertIn(want, p.stderr)
        self.assertNotIn('plugin "ntfy"', p.stderr, "ntfy itself was found in the second folder")


if __name__ == "__main__":
    unittest.main()
