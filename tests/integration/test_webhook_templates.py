"""The webhook plugin's templates against fake Microsoft Teams (Workflows) and
Discord webhooks that check each request the way the services do: the shipped
teams and discord templates give the shapes each service accepts, an alert
text full of quotes, backslashes, newlines and "</script>" arrives as valid
JSON carrying the exact text, Discord's 429 body retry_after is honoured, its
404 10015 (the webhook was deleted) is dead at once, and a template that
renders broken JSON is never sent."""

import json
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, wait_until  # noqa: E402

REPO = harness.REPO

TRICKY = (
    'He said "stop" \\ C:\\temp\\new\nsecond line\twith a tab </script><script>alert(1)</script>'
    " ünïcødé ✓ @everyone \x01"
)
LONG = "word " * 2000  # 10,000 characters: over Discord's 4,096 for a description

TEAMS_SIG = "teams-signature-SECRET"
DISCORD_ID = "1234567890"
DISCORD_TOKEN = "discord-token-SECRET"


def bad_json(status, doc):
    return (status, {}, json.dumps(doc).encode())


def teams_check(method, path, headers, body):
    """A Workflows webhook: POST, sig= in the query, JSON with an Adaptive Card, at most 28 KB; 202 Accepted."""
    url = urllib.parse.urlsplit(path)
    if method != "POST" or url.path != "/workflows/7/triggers/manual/paths/invoke":
        return bad_json(404, {"error": {"code": "TriggerNotFound", "message": "The workflow was not found."}})
    if urllib.parse.parse_qs(url.query).get("sig") != [TEAMS_SIG]:
        return bad_json(401, {"error": {"code": "DirectApiAuthorizationRequired", "message": "No valid sig."}})
    if not headers.get("content-type", "").startswith("application/json"):
        return bad_json(415, {"error": {"code": "UnsupportedMediaType", "message": "Expected JSON."}})
    if len(body) > 28 * 1024:
        return (413, {}, b"Request Entity too large")
    try:
        doc = json.loads(body.decode("utf-8"))
        att = doc["attachments"][0]
        ok = (
            doc["type"] == "message"
            and att["contentType"] == "application/vnd.microsoft.card.adaptive"
            and att["content"]["type"] == "AdaptiveCard"
            and isinstance(att["content"]["body"], list)
            and att["content"]["body"]
        )
    except (ValueError, KeyError, IndexError, TypeError):
        ok = False
    if not ok:
        return bad_json(400, {"error": {"code": "InvalidRequestContent", "message": "Not a message with a card."}})
    return None


def discord_form_errors(doc):
    """What Discord's "Invalid Form Body" would list for doc (docs.discord.com execute-webhook, embed limits)."""
    errs = []
    if not isinstance(doc, dict) or not any(doc.get(k) for k in ("content", "embeds", "components", "files", "poll")):
        return ["empty message"]
    if len(doc.get("content", "")) > 2000:
        errs.append("content: must be 2000 or fewer in length")
    embeds = doc.get("embeds", [])
    if len(embeds) > 10:
        errs.append("embeds: must be 10 or fewer in length")
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            n = len(e.get(key, ""))
            total += n
            if n > limit:
                errs.append("embeds.%d.%s: must be %d or fewer in length" % (i, key, limit))
        fields = e.get("fields", [])
        if len(fields) > 25:
            errs.append("embeds.%d.fields: must be 25 or fewer in length" % i)
        for j, f in enumerate(fields):
            if not (1 <= len(f.get("name", "")) <= 256) or not (1 <= len(f.get("value", "")) <= 1024):
                errs.append("embeds.%d.fields.%d: name 1-256, value 1-1024" % (i, j))
            total += len(f.get("name", "")) + len(f.get("value", ""))
        footer = e.get("footer", {}).get("text", "")
        total += len(footer)
        if len(footer) > 2048:
            errs.append("embeds.%d.footer.text: must be 2048 or fewer in length" % i)
        if "color" in e and not (isinstance(e["color"], int) and 0 <= e["color"] <= 0xFFFFFF):
            errs.append("embeds.%d.color: not a colour" % i)
    if total > 6000:
        errs.append("embeds: 6000 characters in all at most")
    return errs


def discord_check(method, path, headers, body):
    """POST /api/webhooks/{id}/{token}, JSON within Discord's limits; 204 No Content."""
    parts = urllib.parse.urlsplit(path).path.split("/")
    if method != "POST" or len(parts) != 5 or parts[1:3] != ["api", "webhooks"] or parts[3] != DISCORD_ID:
        return bad_json(404, {"message": "Unknown Webhook", "code": 10015})
    if parts[4] != DISCORD_TOKEN:
        return bad_json(401, {"message": "Invalid Webhook Token", "code": 50027})
    try:
        doc = json.loads(body.decode("utf-8"))
    except ValueError:
        return bad_json(400, {"message": "The request body contains invalid JSON.", "code": 50109})
    errs = discord_form_errors(doc)
    if errs == ["empty message"]:
        return bad_json(400, {"message": "Cannot send an empty message", "code": 50006})
    if errs:
        return bad_json(400, {"message": "Invalid Form Body", "code": 50035, "errors": errs})
    return None


DISCORD_OK = (204, {}, b"")
TEAMS_OK = (202, {}, b"")


def files(instances):
    return {
        "webhook.json": {"plugins": {"webhook": {"instances": instances}}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                # Not crier's own DeliveryDead alert (service=crier) that a dead delivery raises.
                {
                    "name": "hooks",
                    "events": ["opened"],
                    "labels": {"service": "tricky"},
                    "to": ["webhook/" + n for n in instances],
                },
            ]
        },
    }


def example_instance(name, url):
    """The instance of conf.d/examples/<name>.json, pointed at url."""
    with open(os.path.join(REPO, "conf.d", "examples", name + ".json")) as f:
        inst = dict(json.load(f)["plugins"]["webhook"]["instances"][name])
    inst["url"] = url
    return inst


def alert(summary, description="", link="https://ci.example.net/jobs/812"):
    return {
        "key": "tricky-1",
        "status": "firing",
        "labels": {"alertname": "TrickyText", "service": "tricky", "severity": "critical"},
        "annotations": {"summary": summary, "description": description},
        "link": link,
        "source": "test",
    }


class WebhookTemplates(DaemonCase):
    def start(self, instances):
        return self.start_crierd(files(instances))

    def test_teams_adaptive_card_carries_the_exact_text(self):
        teams = self.start_target(default=TEAMS_OK, check=teams_check)
        url = teams.url("/workflows/7/triggers/manual/paths/invoke?api-version=1&sig=" + TEAMS_SIG)
        d = self.start({"teams": example_instance("teams", url)})
        self.assertEqual(d.post_generic(alert(TRICKY, "line one\nline two \\ \"quoted\"")).status, 200)

        req = teams.wait_requests(1)[0]
        self.assertEqual(req.answered, 202, req.body[:300])
        card = req.json()["attachments"][0]["content"]
        texts = [b.get("text") for b in card["body"] if b["type"] == "TextBlock"]
        self.assertEqual(texts[1], TRICKY, "the title (the summary) arrives exactly")
        self.assertEqual(texts[2], "line one\nline two \\ \"quoted\"", "the description arrives exactly")
        self.assertEqual(len(texts), 3, "the summary is not repeated under the title")
        self.assertTrue(texts[0].startswith("Incident ") and texts[0].endswith(" opened"), texts[0])
        self.assertEqual(card["body"][0]["color"], "Attention", "critical")
        facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
        self.assertEqual(facts["Severity"], "critical")
        self.assertEqual(facts["Alert"], "TrickyText (firing)")
        source = {"type": "Action.OpenUrl", "title": "Alert source", "url": "https://ci.example.net/jobs/812"}
        self.assertIn(source, card["actions"])
        wait_until(
            lambda: [x for x in d.deliveries() if x["instance"] == "webhook/teams" and x["state"] == "delivered"],
            10,
            what="the Teams delivery delivered",
        )

    def test_discord_embed_within_limits(self):
        discord = self.start_target(default=DISCORD_OK, check=discord_check)
        url = discord.url("/api/webhooks/%s/%s" % (DISCORD_ID, DISCORD_TOKEN))
        d = self.start({"discord": example_instance("discord", url)})
        self.assertEqual(d.post_generic(alert(TRICKY, LONG)).status, 200)

        req = discord.wait_requests(1)[0]
        self.assertEqual(req.answered, 204, req.body[:300])
        doc = req.json()
        self.assertEqual(doc["allowed_mentions"], {"parse": []}, "an alert never pings")
        self.assertLessEqual(len(doc["content"]), 2000)
        self.assertTrue(doc["content"].startswith("Incident ") and doc["content"].endswith(" opened"))
        embed = doc["embeds"][0]
        self.assertEqual(embed["title"], TRICKY)
        self.assertTrue(embed["description"].startswith("word word "), embed["description"][:200])
        self.assertIn("…", embed["description"], "the 10,000-character description was cut to fit")
        self.assertLessEqual(len(embed["description"]), 4096)
        self.assertIn("[alert source](https://ci.example.net/jobs/812)", embed["description"])
        self.assertEqual(embed["color"], 0xED4245, "critical is red")
        self.assertEqual(discord_form_errors(doc), [])

    def test_discord_429_waits_for_the_body_retry_after(self):
        limited = json.dumps({"message": "You are being rate limited.", "retry_after": 2.5, "global": False})
        discord = self.start_target(
            [(429, {"Retry-After": "1", "X-RateLimit-Scope": "user"}, limited.encode())],
            default=DISCORD_OK,
            check=discord_check,
        )
        url = discord.url("/api/webhooks/%s/%s" % (DISCORD_ID, DISCORD_TOKEN))
        d = self.start({"discord": example_instance("discord", url)})
        self.assertEqual(d.post_generic(alert("rate limited")).status, 200)

        reqs = discord.wait_requests(2, timeout=30)
        self.assertEqual([r.answered for r in reqs[:2]], [429, 204])
        gap = reqs[1].time - reqs[0].time
        self.assertGreaterEqual(gap, 2.45, "retried %.2fs after a 429 whose body said retry_after 2.5" % gap)
        self.assertLess(gap, 10.0)
        ds = wait_until(
            lambda: [x for x in d.deliveries() if x["instance"] == "webhook/discord" and x["state"] == "delivered"],
            10,
            what="delivered",
        )
        self.assertEqual(ds[0]["attempts"], 2)

    def test_discord_unknown_webhook_is_dead_at_once(self):
        discord = self.start_target(default=DISCORD_OK, check=discord_check)
        url = discord.url("/api/webhooks/999/%s" % DISCORD_TOKEN)
        d = self.start({"discord": example_instance("discord", url)})
        self.assertEqual(d.post_generic(alert("deleted webhook")).status, 200)

        dead = wait_until(lambda: d.deliveries(dead=True), 15, 0.2, "a dead delivery")
        self.assertEqual(dead[0]["attempts"], 1, "a 404 is not retried")
        self.assertIn("10015", dead[0]["last_error"])
        self.assertNotIn(DISCORD_TOKEN, dead[0]["last_error"])
        self.assertEqual([r.answered for r in discord.recorded()], [404])

    def test_broken_json_is_never_sent(self):
        target = self.start_target(default=200)
        bad = '{"text": {{incident.title}}}'  # the value is not between quotes
        d = self.start({"broken": {"url": target.url("/hook"), "template": bad}})
        self.assertEqual(d.post_generic(alert("a title")).status, 200)

        dead = wait_until(lambda: d.deliveries(dead=True), 15, 0.2, "a dead delivery")
        self.assertEqual(dead[0]["instance"], "webhook/broken")
        self.assertIn('template "inline" rendered invalid JSON', dead[0]["last_error"])
        time.sleep(0.5)
        self.assertEqual(target.recorded(), [], "nothing was sent")

    def test_check_config_names_a_missing_template(self):
        d = harness.Crierd(self.tmpdir(), files({"x": {"url": "https://x.example/", "template": "nosuch"}}))
        p = d.check_config()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("plugins.webhook.instances.x", p.stderr)
        self.assertIn("nosuch", p.stderr)


if __name__ == "__main__":
    unittest.main()
