"""No configured secret (ingest tokens, basic-auth passwords, webhook URLs and
their credential headers, the Mastodon token, the drafts API token) ever appears in a log line, an HTTP error body,
crierctl output, /metrics, or a --check-config message, whatever goes wrong."""

import base64
import os
import shutil
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
MASTO_TOKEN = "masto-tok-secret-0a7f3e"
DRAFTS_TOKEN = "drafts-tok-secret-b44d19"
SECRETS = [AM_TOKEN, UR_TOKEN, BASIC_PASS, HOOK_PATH_SECRET, HOOK_HEADER_SECRET, MASTO_TOKEN, DRAFTS_TOKEN]


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
        # A Mastodon that refuses the token and quotes it back.
        masto = self.start_target(default=(401, {}, '{"error":"The access token %s is invalid"}' % MASTO_TOKEN))
        env = {
            "T_AM": AM_TOKEN,
            "T_UR": UR_TOKEN,
            "T_PW": BASIC_PASS,
            "T_URL": target.url("/" + HOOK_PATH_SECRET),
            "T_HDR": "Bearer " + HOOK_HEADER_SECRET,
            "T_MASTO": MASTO_TOKEN,
            "T_DRAFTS": DRAFTS_TOKEN,
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
            "social.json": {
                "plugins": {
                    "social": {
                        "instances": {
                            "mastodon": {"network": "mastodon", "instance_url": masto.url(""), "token": "${T_MASTO}"}
                        }
                    }
                }
            },
            "drafts.json": {"drafts": {"auth": {"token": "${T_DRAFTS}"}}},
            "routes.json": {"routes": [{"name": "all", "to": ["webhook/ops", "log/events", "social/mastodon"]}]},
        }
        tmp = self.tmpdir()
        shutil.copytree(os.path.join(harness.REPO, "conf.d", "templates", "social"),
                        os.path.join(tmp, "conf.d", "templates", "social"))
        d = self.start_crierd(files=files, env=env, tmp=tmp)
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

        # The drafts API, with wrong tokens (the ingest one, one that contains the real one), then right.
        draft = wait_until(lambda: d.ctl_json("drafts")["drafts"], 15, what="a draft")[0]
        path = "/api/v1/drafts/%d/approve" % draft["id"]
        for tok in (AM_TOKEN, "x" + DRAFTS_TOKEN, DRAFTS_TOKEN + "x"):
            r = d.request("POST", path, b"", {"Authorization": "Bearer " + tok})
            self.assertEqual(r.status, 401)
            bodies.append(r.text())
        r = d.request("POST", path, b"", {"Authorization": "Bearer " + DRAFTS_TOKEN})
        self.assertEqual(r.status, 200, r.text())
        bodies.append(r.text())
        # Mastodon refuses, quoting the token: the draft fails with its words, redacted.
        failed = wait_until(lambda: [x for x in d.ctl_json("drafts")["drafts"] if x["status"] == "failed"], 15,
                            what="the publication failed")
        self.assertIn("The access token [redacted] is invalid", failed[0]["error"])
        self.assertEqual(masto.recorded()[0].headers.get("authorization"), "Bearer " + MASTO_TOKEN)

        # The webhook fails for good: the delivery is dead with the far side's error text.
        wait_until(lambda: d.deliveries(dead=True), 15, what="a dead delivery")
        outputs = [
            d.ctl("deliveries").stdout,
            d.ctl("deliveries", "--dead").stdout,
            d.ctl_json("deliveries") and str(d.ctl_json("deliveries")),
            d.ctl("show", "1").stdout,
            d.ctl("status").stdout,
            d.ctl("drafts").stdout,
            d.ctl("drafts", "show", str(draft["id"])).stdout,
            str(d.ctl_json("drafts")),
            d.request("GET", "/api/v1/drafts", headers={"Authorization": "Bearer " + DRAFTS_TOKEN}).text(),
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
