"""The slack plugin against a fake Slack (fake_slack.py), fed Alertmanager
webhook posts: one root message per incident, every later event a reply in
its thread, the root edited to show the current state, the resolve reply
broadcast; mrkdwn escaping (no mass mention from an annotation); 429 with
Retry-After, 500, ratelimited and a hang retried into exactly one root; a
deleted root replaced; invalid_auth dead at once with the code shown and the
token nowhere; incoming webhooks post text and fail on 404 no_service."""

import hashlib
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_slack import FakeSlack  # noqa: E402
from harness import REPO, Crierd, DaemonCase, crierd_bin, http_request, rfc3339, wait_until  # noqa: E402

TOKEN = "xoxb-crier-test-7d41c9e2"
CHANNEL = "C0OPS"
SCARY = "<!channel> & <script>alert(1)</script>"


def alert(instance, status="firing", description=None, started=None):
    a = {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical", "instance": instance},
        "annotations": {"summary": "API 5xx above 5%"},
        "startsAt": rfc3339(started or time.time() - 60),
        "endsAt": rfc3339(time.time()) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom:9090/graph?g0.expr=rate&g0.tab=1",
        "fingerprint": hashlib.sha1(instance.encode()).hexdigest()[:16],
    }
    if description:
        a["annotations"]["description"] = description
    return a


def am(alerts):
    """An Alertmanager v4 webhook body for one group."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "receiver": "crier",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": "HighErrorRate", "service": "api"},
        "commonLabels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
        "commonAnnotations": {"summary": "API 5xx above 5%"},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate", service="api"}',
        "truncatedAlerts": 0,
    }


def config(instances):
    """slack/<name> instances; every event of service=api goes to each of them."""
    return {
        "slack.json": {"plugins": {"slack": {"instances": instances}}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                {"name": "api", "labels": {"service": "api"}, "to": ["slack/" + n for n in instances]},
            ]
        },
    }


class SlackCase(DaemonCase):
    def start_slack(self, **kw):
        s = FakeSlack(**kw)
        self.addCleanup(s.stop)
        return s.start()

    def start_with_templates(self, files, env):
        """A crierd whose configuration folder has the repository's templates."""
        d = Crierd(self.tmpdir(), files, env=env)
        self.addCleanup(self._finish_crierd, d)
        return d.start()

    def api_instance(self, slack, **extra):
        inst = {"token": "${CRIER_TEST_SLACK_TOKEN}", "channel": "#ops", "api_base": slack.api_base}
        inst.update(extra)
        return inst

    def settled(self, d, instance, n):
        """Wait until n deliveries to instance are delivered and none is pending."""

        def done():
            ds = [x for x in d.deliveries() if x["instance"] == instance]
            return len(ds) >= n and all(x["state"] == "delivered" for x in ds) and ds

        return wait_until(done, 30, 0.2, "%d deliveries to %s delivered" % (n, instance))

    def assert_no_token(self, d, *texts):
        self.assertNotIn(TOKEN, d.log_text(), "the token reached the log")
        for t in texts:
            self.assertNotIn(TOKEN, t)


class SlackWebApi(SlackCase):
    def test_thread_per_incident(self):
        slack = self.start_slack(token=TOKEN, channels={"ops": CHANNEL})
        d = self.start_with_templates(
            config({"ops": self.api_instance(slack)}), {"CRIER_TEST_SLACK_TOKEN": TOKEN}
        )
        t0 = time.time() - 60
        self.assertEqual(d.post_am(am([alert("api-1", started=t0)])).status, 200)
        wait_until(lambda: slack.roots(CHANNEL), 15, what="the root message")
        self.assertEqual(
            d.post_am(am([alert("api-1", started=t0), alert("api-2", description=SCARY, started=t0)])).status, 200
        )
        wait_until(lambda: slack.replies(CHANNEL), 15, what="a reply")
        resolved = am([alert("api-1", "resolved", started=t0), alert("api-2", "resolved", SCARY, started=t0)])
        self.assertEqual(d.post_am(resolved).status, 200)
        wait_until(lambda: d.incident("service=api")["state"] == "resolved", 20, what="the incident resolved")

        events = d.events_of("service=api")
        types = [e["type"] for e in events]
        self.assertEqual(types[0], "opened")
        self.assertEqual(types[-1], "resolved")
        self.assertIn("alert_joined", types)
        self.settled(d, "slack/ops", len(events))
        time.sleep(0.5)

        # One root, in the configured channel (posted by name, answered with the ID).
        roots = slack.roots(CHANNEL)
        self.assertEqual(len(roots), 1, slack.messages(CHANNEL))
        root = roots[0]
        self.assertRegex(root.ts, r"^\d+\.\d{6}$")
        posts = [r for r in slack.recorded("/api/chat.postMessage")]
        self.assertEqual(posts[0].json()["channel"], "#ops")
        self.assertNotIn("thread_ts", posts[0].json())

        # Every later event: one reply in the root's thread, in order.
        replies = slack.replies(CHANNEL)
        self.assertEqual(len(slack.messages(CHANNEL)), len(events), slack.messages(CHANNEL))
        self.assertEqual(len(replies), len(events) - 1, (types, replies))
        self.assertEqual({m.thread_ts for m in replies}, {root.ts})
        self.assertEqual([m.reply_broadcast for m in replies], [False] * (len(replies) - 1) + [True])
        self.assertIn("*Resolved*", replies[-1].text)

        # The root was edited once per later event and now shows the resolved state.
        self.assertEqual(len(root.edits), len(replies))
        self.assertTrue(all(e["channel"] == CHANNEL and e["ts"] == root.ts for e in root.edits))
        self.assertTrue(root.body["text"].startswith(":red_circle: *API 5xx above 5%*\n*Investigating*"), root.body)
        resolved_root = ":large_green_circle: *API 5xx above 5%*\n*Resolved* · Critical"
        self.assertTrue(root.text.startswith(resolved_root), root.text)

        # The annotation arrives escaped: no mass mention, no markup.
        joined = [m for m in replies if "Another alert is firing" in m.text]
        self.assertEqual(len(joined), 1, replies)
        self.assertIn("&lt;!channel&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;", joined[0].text)
        for m in slack.messages(CHANNEL):
            self.assertNotIn("<!channel>", m.text)
            self.assertNotIn("<script>", m.text)
            self.assertLessEqual(len(m.text), 4000)
        for e in root.edits:
            self.assertNotIn("<!channel>", e["text"])

        # Every call was well formed, and Slack said ok to each.
        for r in slack.recorded():
            self.assertEqual(r.headers.get("authorization"), "Bearer " + TOKEN)
            self.assertEqual(r.headers.get("content-type"), "application/json; charset=utf-8")
            self.assertEqual((r.status, r.error()), (200, None), r)
        self.assert_no_token(d, d.ctl("deliveries").stdout)

    def test_rate_limits_and_faults_end_in_one_root(self):
        slack = self.start_slack(token=TOKEN, channels={"ops": CHANNEL})
        slack.script("chat.postMessage", [("429", 2), "500", "ratelimited", ("hang", 2.5)])
        d = self.start_with_templates(
            config({"ops": self.api_instance(slack, timeout_ms=1000)}), {"CRIER_TEST_SLACK_TOKEN": TOKEN}
        )
        self.assertEqual(d.post_am(am([alert("api-1")])).status, 200)
        ds = self.settled(d, "slack/ops", 1)
        time.sleep(1.0)
        posts = slack.recorded("/api/chat.postMessage")
        self.assertEqual(len(posts), 5, posts)
        answers = [(r.status, r.error()) for r in posts[:3]]
        self.assertEqual(answers, [(429, "ratelimited"), (500, "internal_error"), (200, "ratelimited")])
        self.assertTrue(posts[3].hung, "the fourth attempt hung past timeout_ms and was retried")
        self.assertEqual((posts[4].status, posts[4].error()), (200, None))
        gap = posts[1].time - posts[0].time
        self.assertGreaterEqual(gap, 1.9, "the retry came %.2fs after a 429 with Retry-After: 2" % gap)
        self.assertEqual(len(slack.roots(CHANNEL)), 1, slack.messages(CHANNEL))
        self.assertEqual(len(slack.messages(CHANNEL)), 1)
        self.assertEqual(ds[0]["attempts"], 5)

    def test_deleted_root_is_replaced(self):
        slack = self.start_slack(token=TOKEN, channels={"ops": CHANNEL})
        d = self.start_with_templates(
            config({"ops": self.api_instance(slack)}), {"CRIER_TEST_SLACK_TOKEN": TOKEN}
        )
        t0 = time.time() - 60
        d.post_am(am([alert("api-1", started=t0)]))
        old = wait_until(lambda: slack.roots(CHANNEL), 15, what="the root")[0]
        slack.script("chat.update", [("error", "message_not_found")])
        d.post_am(am([alert("api-1", started=t0), alert("api-2", started=t0)]))
        wait_until(lambda: slack.replies(CHANNEL), 15, what="a reply")
        d.post_am(am([alert("api-1", "resolved", started=t0), alert("api-2", "resolved", started=t0)]))
        wait_until(lambda: d.incident("service=api")["state"] == "resolved", 20, what="resolved")
        self.settled(d, "slack/ops", len(d.events_of("service=api")))

        roots = slack.roots(CHANNEL)
        self.assertEqual(len(roots), 2, slack.messages(CHANNEL))
        new = roots[1]
        self.assertEqual(roots[0].ts, old.ts)
        self.assertEqual(old.edits, [], "the lost root is left alone")
        self.assertEqual({m.thread_ts for m in slack.replies(CHANNEL)}, {new.ts}, "replies go under the new root")
        self.assertIn("*Resolved*", new.text)

    def test_invalid_auth_is_dead_with_the_code(self):
        slack = self.start_slack(token="xoxb-the-right-one", channels={"ops": CHANNEL})
        d = self.start_with_templates(
            config({"ops": self.api_instance(slack)}), {"CRIER_TEST_SLACK_TOKEN": TOKEN}
        )
        self.assertEqual(d.post_am(am([alert("api-1")])).status, 200)
        dead = wait_until(lambda: d.deliveries(dead=True), 15, 0.2, "a dead delivery")
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(dead[0]["instance"], "slack/ops")
        self.assertEqual(dead[0]["attempts"], 1, "invalid_auth is not retried")
        self.assertEqual(dead[0]["last_error"], "chat.postMessage: invalid_auth")
        raw = d.ctl("deliveries", "--dead", json_out=True).stdout
        self.assertIn("invalid_auth", raw)
        human = d.ctl("deliveries", "--dead").stdout
        self.assertIn("invalid_auth", human)
        self.assertEqual([r.error() for r in slack.recorded()], ["invalid_auth"])
        self.assertEqual(slack.messages(CHANNEL), [])
        self.assert_no_token(d, raw, human)


class SlackWebhook(SlackCase):
    def test_posts_text_and_404_no_service_fails(self):
        slack = self.start_slack(webhooks=("/services/T000/B000/XXXX",))
        good = slack.webhook_url("/services/T000/B000/XXXX")
        revoked = slack.webhook_url("/services/T000/B000/REVOKED")
        d = self.start_with_templates(
            config({"comms": {"webhook_url": "${CRIER_TEST_HOOK}"}, "gone": {"webhook_url": "${CRIER_TEST_GONE}"}}),
            {"CRIER_TEST_HOOK": good, "CRIER_TEST_GONE": revoked},
        )
        self.assertEqual(d.post_am(am([alert("api-1", description=SCARY)])).status, 200)
        dead = wait_until(lambda: d.deliveries(dead=True), 15, 0.2, "a dead delivery")
        self.settled(d, "slack/comms", 1)

        bodies = slack.webhook_bodies()
        self.assertEqual(len(bodies), 1, bodies)
        text = bodies[0]["text"]
        self.assertTrue(text.startswith(":red_circle: *API 5xx above 5%* · Investigating · Critical\n"), text)
        self.assertIn(":rotating_light: *Opened*", text)
        self.assertIn("&lt;!channel&gt; &amp; &lt;script&gt;", text)
        self.assertNotIn("<!channel>", text)
        hooks = [r for r in slack.recorded() if r.path == "/services/T000/B000/XXXX"]
        self.assertEqual(len(hooks), 1)
        self.assertTrue(hooks[0].headers["content-type"].startswith("application/json"))
        self.assertNotIn("authorization", hooks[0].headers)

        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(dead[0]["instance"], "slack/gone")
        self.assertEqual(dead[0]["attempts"], 1)
        self.assertEqual(dead[0]["last_error"], "webhook: HTTP 404 no_service")
        out = d.ctl("deliveries", "--dead", json_out=True).stdout + d.log_text()
        self.assertNotIn("REVOKED", out, "the webhook URL is a secret")
        self.assertNotIn("XXXX", d.log_text())


class SlackConfig(SlackCase):
    def check_config(self, slack_doc, env):
        d = Crierd(self.tmpdir(), {"slack.json": slack_doc}, env=env)
        cmd = [crierd_bin(), "--config", d.conf_dir, "--check-config"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=d.env)
        return p.returncode, p.stdout + p.stderr

    def test_example_checks_and_errors_name_the_key(self):
        with open(os.path.join(REPO, "conf.d", "examples", "slack.json")) as f:
            example = json.load(f)
        hook = "https://hooks.slack.com/services/T/B/SECRETHOOK"
        env = {"CRIER_SLACK_TOKEN": TOKEN, "CRIER_SLACK_COMMS_WEBHOOK": hook}
        rc, out = self.check_config(example, env)
        self.assertEqual(rc, 0, out)
        self.assertNotIn(TOKEN, out)

        bad = {"plugins": {"slack": {"instances": {"ops": {"token": "${CRIER_SLACK_TOKEN}", "chanel": "#ops"}}}}}
        rc, out = self.check_config(bad, env)
        self.assertNotEqual(rc, 0)
        self.assertIn('slack.json: plugins.slack.instances.ops: unknown key "chanel"', out)
        self.assertNotIn(TOKEN, out)
        both = {"webhook_url": "${CRIER_SLACK_COMMS_WEBHOOK}", "token": "t"}
        both = {"plugins": {"slack": {"instances": {"x": both}}}}
        rc, out = self.check_config(both, env)
        self.assertNotEqual(rc, 0)
        self.assertIn("cannot be combined", out)
        self.assertNotIn("SECRETHOOK", out)


class FakeSlackChecks(SlackCase):
    """The fake refuses what Slack refuses, so the tests above can fail."""

    def call(self, slack, method, body, token=TOKEN, ctype="application/json; charset=utf-8"):
        h = {"Content-Type": ctype}
        if token:
            h["Authorization"] = "Bearer " + token
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = http_request(slack.port, "POST", "/api/" + method, raw, h)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_web_api_checks(self):
        slack = self.start_slack(token=TOKEN, channels={"ops": CHANNEL})
        ok = {"channel": "#ops", "text": "hi"}

        def post_error(body, **kw):
            return self.call(slack, "chat.postMessage", body, **kw).get("error")

        self.assertEqual(post_error(ok, token=None), "not_authed")
        self.assertEqual(post_error(ok, token="xoxb-other"), "invalid_auth")
        self.assertEqual(post_error(ok, ctype=""), "missing_post_type")
        self.assertEqual(post_error(ok, ctype="text/plain"), "invalid_post_type")
        self.assertEqual(post_error(ok, ctype="application/json"), "invalid_charset")
        self.assertEqual(post_error(b"{"), "invalid_json")
        self.assertEqual(post_error({"text": "hi"}), "channel_not_found")
        self.assertEqual(post_error({"channel": "#nope", "text": "x"}), "channel_not_found")
        self.assertEqual(post_error({"channel": CHANNEL}), "no_text")
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
        self.assertEqual(post_error({"channel": CHANNEL, "blocks": [section] * 51}), "invalid_blocks")
        self.assertEqual(post_error({"channel": CHANNEL, "blocks": [{"text": "x"}]}), "invalid_blocks")
        self.assertEqual(post_error({"channel": CHANNEL, "text": "x" * 40001}), "msg_too_long")
        self.assertEqual(slack.messages(CHANNEL), [])

        a = self.call(slack, "chat.postMessage", ok)
        b = self.call(slack, "chat.postMessage", dict(ok, thread_ts=a["ts"]))
        self.assertTrue(a["ok"] and b["ok"])
        self.assertEqual(a["channel"], CHANNEL)
        self.assertRegex(a["ts"], r"^\d+\.\d{6}$")
        self.assertNotEqual(a["ts"], b["ts"])
        self.assertEqual([m.thread_ts for m in slack.messages(CHANNEL)], [None, a["ts"]])

        up = {"channel": CHANNEL, "ts": a["ts"], "text": "edited"}
        self.assertEqual(self.call(slack, "chat.update", dict(up, channel="#ops"))["error"], "channel_not_found")
        self.assertEqual(self.call(slack, "chat.update", dict(up, ts="1.000001"))["error"], "message_not_found")
        self.assertEqual(self.call(slack, "chat.update", {"channel": CHANNEL, "ts": a["ts"]})["error"], "no_text")
        self.assertTrue(self.call(slack, "chat.update", up)["ok"])
        self.assertEqual(slack.roots(CHANNEL)[0].text, "edited")

    def test_webhook_checks(self):
        slack = self.start_slack(webhooks=("/services/T000/B000/XXXX",))

        def hook(body, path="/services/T000/B000/XXXX", ctype="application/json"):
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            r = http_request(slack.port, "POST", path, raw, {"Content-Type": ctype})
            return r.status, r.text()

        self.assertEqual(hook({"text": "hi"}), (200, "ok"))
        self.assertEqual(hook({"text": "hi"}, path="/services/T000/B000/OTHER"), (404, "no_service"))
        self.assertEqual(hook(b"{"), (400, "invalid_payload"))
        self.assertEqual(hook({"text": "hi"}, ctype="text/plain"), (400, "invalid_payload"))
        self.assertEqual(hook({"unfurl_links": False}), (400, "no_text"))
        self.assertEqual(hook({"blocks": [{"type": "divider"}] * 51}), (400, "invalid_blocks"))
        slack.script("webhook", [("429", 3)])
        r = http_request(slack.port, "POST", "/services/T000/B000/XXXX", {"text": "x"})
        self.assertEqual((r.status, r.headers.get("retry-after"), r.text()), (429, "3", "rate_limited"))
        self.assertEqual(slack.webhook_bodies(), [{"text": "hi"}])


if __name__ == "__main__":
    unittest.main()
