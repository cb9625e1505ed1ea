"""No configured secret (ingest tokens, basic-auth passwords, webhook URLs and
their credential headers) ever appears in a log line, an HTTP error body,
crierctl output, /metrics, or a --check-config message, whatever goes wrong."""

import base64
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, fixture, wait_until  # noqa: E402

AM_TOKEN = "am-tok-9f3c1e7a55d2"
UR_TOKEN = "ur-tok-41b8e0c2d9aa"
BASIC_PASS = "basic-pw-7d21c4f0e8b3"
HOOK_PATH_SECRET = "hook-path-secret-c81f2a"
HOOK_HEADER_SECRET = "hook-hdr-secret-5e9b07"
SECRETS = [AM_TOKEN, UR_TOKEN, BASIC_PASS, HOOK_PATH_SECRET, HOOK_HEADER_SECRET]


class Secrets(DaemonCase):
    def assertNoSecret(self, text, where):
        for s in SECRETS:
            self.assertNotIn(s, text, "secret leaked into %s" % where)

    def test_no_secret_anywhere(self):
        # A webhook target that fails permanently and echoes what it received,
        # the way many real services put the request into their error body.
        target = self.start_target(default=200)
        target.set_answers([(404, {}, "no such hook: /%s (auth %s)" % (HOOK_PATH_SECRET, HOOK_HEADER_SECRET))],
                           default=404)
        env = {
            "T_AM": AM_TOKEN,
            "T_UR": UR_TOKEN,
            "T_PW": BASIC_PASS,
            "T_URL": target.url("/" + HOOK_PATH_SECRET),
            "T_HDR": "Bearer " + HOOK_HEADER_SECRET,
        }
        files = {
            "ingest.json": {
                "ingest": {
                    "alertmanager": {"auth": {"token": "${T_AM}"}},
                    "uptimerobot": {"auth": {"token": "${T_UR}"}},
                    "generic": {"auth": {"username": "ci", "password": "${T_PW}"}},
                }
            },
            "webhook.json": {
                "plugins": {"webhook": {"instances": {"ops": {"url": "${T_URL}", "headers": {"Authorization": "${T_HDR}"}}}}}
            },
            "routes.json": {"routes": [{"name": "all", "to": ["webhook/ops", "log/events"]}]},
        }
        d = self.start_crierd(files=files, env=env)
        bodies = []

        # Wrong and missing credentials on every source, tokens in headers and query strings.
        for path, headers in [
            ("/api/v1/alertmanager", {"Authorization": "Bearer wrong-" + AM_TOKEN}),
            ("/api/v1/alertmanager", {}),
            ("/api/v1/uptimerobot?token=" + UR_TOKEN + "x", {}),
            ("/api/v1/alerts", {"Authorization": "Basic " + base64.b64encode(b"ci:" + BASIC_PASS.encode() + b"x").decode()}),
        ]:
            r = d.request("POST", path, b'{"alerts": []}', headers)
            self.assertEqual(r.status, 401, (path, r.status))
            bodies.append(r.text())
        # Accepted requests, with the right credentials in the header and in the query string.
        r = d.post_am(fixture("alertmanager", "firing-single.json"), token=AM_TOKEN)
        self.assertEqual(r.status, 200)
        r = d.request("GET", "/api/v1/uptimerobot?token=%s&monitorID=7&monitorFriendlyName=web&alertType=1" % UR_TOKEN)
        self.assertEqual(r.status, 200, r.text())
        # A bad body on an authenticated request: the 400 reason must not echo credentials.
        r = d.request("POST", "/api/v1/uptimerobot?token=%s" % UR_TOKEN, b'{"monitorID": ', {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        bodies.append(r.text())

        # The webhook fails for good: the delivery is dead with the far side's error text.
        wait_until(lambda: d.deliveries(dead=True), 15, what="a dead delivery")
        outputs = [
            d.ctl("deliveries").stdout,
            d.ctl("deliveries", "--dead").stdout,
            d.ctl_json("deliveries") and str(d.ctl_json("deliveries")),
            d.ctl("show", "1").stdout,
            d.ctl("status").stdout,
            d.request("GET", "/metrics").text(),
        ]
        # A broken reload (bad URL) is refused and logged; the log must still be clean.
        d.files["webhook.json"]["plugins"]["webhook"]["instances"]["ops"]["url"] = "gopher://" + HOOK_PATH_SECRET
        d.write_config()
        d.signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in d.log_text(), 10, what="refused reload")
        # --check-config on a configuration that fails next to the secrets.
        bad_env = dict(d.env, T_URL="ftp://x/" + HOOK_PATH_SECRET)
        p = subprocess.run([harness.crierd_bin(), "--config", d.conf_dir, "--check-config"], capture_output=True,
                           text=True, env=bad_env, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        outputs.append(p.stdout + p.stderr)

        for i, b in enumerate(bodies):
            self.assertNoSecret(b, "HTTP error body %d" % i)
        for i, o in enumerate(outputs):
            self.assertNoSecret(o, "output %d" % i)
        d.stop()
        self.assertNoSecret(d.log_text(), "the daemon log")
        # And the log is not empty: the failures above were logged, just without secrets.
        self.assertIn("request rejected", d.log_text())
        self.assertIn("delivery is dead", d.log_text())


if __name__ == "__main__":
    unittest.main()
