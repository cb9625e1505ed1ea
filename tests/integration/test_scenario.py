"""The scenario of issue 5, end to end: seed-like incidents played through a
real Alertmanager (amtool) and Uptime Robot bodies into one crierd running
the shipped example configuration conf.d/examples/scenario/, with every
channel pointed at a server on loopback:

  status page    a local folder and a fake WebDAV host (fake_dav.py)
  subscribers    email through aiosmtpd, SMS through a fake Twilio
  on-call        a Slack thread (fake_slack.py), SMS to the on-call number
  social         drafts for a fake Mastodon, approved over the drafts API
  tracker        an internal webhook that gets every event whole

1. A service-wide API outage (two gateway alerts, then an Uptime Robot
   monitor of the same service joining): the page, subscribers, the Slack
   thread and a social draft hear of it; the approved draft is published
   once; with no public update a reminder reaches the internal channels,
   then an escalation the on-call's phone; a person's update restarts the
   clock and reaches the page, subscribers and the thread; Alertmanager's
   resolution and the hold resolve it everywhere; a post-mortem draft is
   written, and its publication reaches the page and subscribers.
2. One lagging host of an internal service: the internal channels hear of
   it; no public output mentions it.
3. A DDoS (alertname matching public.security_when): public, but redacted.
   Every public output (the page's files on both hosts, both parts of every
   mail, every subscriber's SMS, every Mastodon status and draft) is scanned
   for its alert name, hosts, label values and annotations; the internal
   channels get all of them.

Only the URLs, the secrets (from the environment, as the example has them)
and the intervals differ from the example: hold 3 s, a reminder after 4 s
without a public update, an escalation after 8 s, a post-mortem reminder
10 s after resolution."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_dav import FakeDav  # noqa: E402
from fake_mastodon import FakeMastodon  # noqa: E402
from fake_slack import FakeSlack  # noqa: E402
from fake_twilio import FakeTwilio  # noqa: E402
from harness import REPO, Alertmanager, Crierd, DaemonCase, fixture, free_port, rfc3339, wait_until  # noqa: E402
from test_cadence import docs, ts, webhook_check  # noqa: E402
from test_email import Controller, Mailbox, parse  # noqa: E402

EXAMPLE = os.path.join(REPO, "conf.d", "examples", "scenario")

HOLD = 3
EVERY = 4.0
ESCALATE = 8.0
PM_DUE = 10
LATE = 2.0  # how late a timer may fire on a loaded machine (ASan, two shared cores)

AM_TOKEN = "am-scenario-6b1f0e"
UR_TOKEN = "ur-scenario-93c2d4"
DRAFTS_TOKEN = "drafts-scenario-47aa1c"
DAV_PASSWORD = "dav-scenario-e05b77"
TWILIO_SID = "AC0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TWILIO_TOKEN = "twilio-scenario-5d8e2a90c1"
SLACK_TOKEN = "xoxb-scenario-2c7e91"
MASTO_TOKEN = "masto-scenario-81d3f6"
TRACKER_AUTH = "Bearer tracker-scenario-0c4e19"
SECRETS = (AM_TOKEN, UR_TOKEN, DRAFTS_TOKEN, DAV_PASSWORD, TWILIO_TOKEN, SLACK_TOKEN, MASTO_TOKEN, TRACKER_AUTH)

SLACK_CHANNEL = "C0OPS"
ONCALL_PHONE = "+15558675310"
SUB_PHONE = "+14155550100"
JANE = "jane@example.com"  # every component
BOB = "bob@example.com"  # the Website only
PENDING = "pat@example.com"  # signs up on the web and never confirms

SUBSCRIBER_EVENTS = ("opened", "update", "resolved", "postmortem_published")
CADENCE_TYPES = ("reminder", "escalation", "awaiting_first_update", "postmortem_due")

# 1. The outage. Its title and impact are written for customers.
API_TITLE = "API requests are failing"
API_IMPACT = "Most API requests fail with a 502 error."
API_WORKAROUND = "Retry failed requests after a few minutes."
API_LABELS = ["alertname=APIGatewayErrors", "service=api", "severity=critical", "scope=service-wide"]
API_GATEWAYS = ["instance=api-gw-1.internal", "instance=api-gw-2.internal"]
API_ANNOTATIONS = [
    "--annotation=summary=" + API_TITLE,
    "--annotation=impact=" + API_IMPACT,
    "--annotation=workaround=" + API_WORKAROUND,
    "--annotation=description=upstream pool exhausted on the gateways",
]
# What the alerts say besides: for the inside only, though the incident is not a security one.
API_INTERNAL = ["APIGatewayErrors", "api-gw-1", "api-gw-2", "upstream pool exhausted", "MonitorDown",
                "www.example.com/health", "Bad Gateway"]  # fmt: skip
UR_MONITOR = "784350743"  # tests/fixtures/uptimerobot, mapped to service=api in the example
HUMAN_UPDATE = "We found a faulty gateway configuration and are rolling it back."
POSTMORTEM = """# What happened

For about a minute most API requests failed with a 502 error.

## Root cause

A gateway configuration change exhausted the upstream connection pool.

## What we will change

- Canary every gateway configuration change on one gateway first.
- Alert on the pool's saturation before requests fail.
"""

# 2. The narrow incident: one host of an internal service; every string is internal.
NARROW = {
    "alertname": "IndexerLagHigh",
    "service": "search-indexer",
    "instance": "idx-3.internal",
    "summary": "idx-3.internal lags 40 minutes behind the catalogue",
    "description": "kafka consumer group catalogue-idx stalled on partition 7",
}

# 3. The DDoS: public, security. Every one of these is internal.
DDOS = {
    "alertname": "DDoSAttackDetected",
    "instance": "edge-lb-2.fra1.internal",
    "pop": "fra1",
    "target_ip": "198.51.100.23",
    "summary": "DDoS: 2.4 Mpps SYN flood on edge-lb-2.fra1.internal",
    "description": "Botnet traffic from AS64500 against 198.51.100.23:443, scrubbing not engaged",
    "impact": "edge-lb-2 saturated; fra1 visitors time out",
    "workaround": "Withdraw the fra1 anycast prefix",
    "generator": "http://prometheus.fra1.internal:9090/graph?g0.expr=syn_rate",
}
DDOS_INTERNAL = list(DDOS.values()) + ["DDoS", "edge-lb-2", "prometheus.fra1", "AS64500"]
DDOS_UPDATE = "We are mitigating unusual traffic that slows our website down."


def load_example():
    out = {}
    for name in sorted(os.listdir(EXAMPLE)):
        if name.endswith(".json"):
            with open(os.path.join(EXAMPLE, name)) as f:
                out[name] = json.load(f)
    return out


def tracker_check(method, path, headers, body):
    """The tracker's receiver: its credentials, then what any webhook receiver relies on."""
    if headers.get("authorization") != TRACKER_AUTH:
        return (401, {}, '{"error":"unauthorized"}')
    return webhook_check(method, path, headers, body)


def leaks(outputs, strings):
    """Each (where, text) of outputs that holds one of strings, with the hit in context."""
    out = []
    for where, text in outputs:
        for s in strings:
            i = text.find(s)
            if i >= 0:
                out.append("%s: %r in ...%s..." % (where, s, text[max(0, i - 60) : i + len(s) + 60]))
    return out


def mail_text(rec):
    """Everything a reader of one mail sees: subject, and both parts decoded."""
    msg = parse(rec)
    parts = [str(msg["Subject"])]
    for kind in ("plain", "html"):
        body = msg.get_body((kind,))
        parts.append(body.get_content() if body is not None else "")
    return "\n".join(parts)


@unittest.skipUnless(Alertmanager.available(), "prometheus-alertmanager is not installed")
@unittest.skipUnless(Controller is not None, "python3-aiosmtpd is not installed")
class Scenario(DaemonCase):
    def setUp(self):
        self.box = Mailbox()
        self.smtp_port = free_port()
        smtp = Controller(self.box, hostname="127.0.0.1", port=self.smtp_port)
        smtp.start()
        self.addCleanup(smtp.stop)
        self.twilio = self.fake(FakeTwilio(TWILIO_SID, TWILIO_TOKEN))
        self.slack = self.fake(FakeSlack(token=SLACK_TOKEN, channels={"ops-incidents": SLACK_CHANNEL}))
        self.masto = self.fake(FakeMastodon(MASTO_TOKEN))
        self.dav = self.fake(FakeDav(username="crier", password=DAV_PASSWORD))
        self.tracker = self.start_target(check=tracker_check)
        self.checked = []  # what was checked, for the summary

    def fake(self, server):
        self.addCleanup(server.stop)
        return server.start()

    def note(self, text):
        self.checked.append(text)

    # ------------------------------------------------------------ configuration

    def files(self, tmp, port):
        """The example, pointed at the fakes, on short intervals."""
        ex = load_example()
        self.site = os.path.join(tmp, "site")
        os.makedirs(self.site)
        pub = ex["public.json"]["public"]
        pub["update_every_minutes"] = EVERY / 60.0
        pub["escalate_after_minutes"] = ESCALATE / 60.0
        ex["subscribers.json"]["subscribers"]["public_url"] = "http://127.0.0.1:%d/" % port
        plugins = ex["channels.json"]["plugins"]
        page = plugins["statuspage"]["instances"]["public"]
        self.assertEqual([sorted(t) for t in page["targets"]], [["dir"], ["password", "url", "username"]])
        page["targets"][0]["dir"] = self.site
        page["targets"][1]["url"] = self.dav.url("/status/")
        mail = plugins["email"]["instances"]["subscribers"]
        for k in ("username", "password"):  # this SMTP server takes mail without AUTH
            del mail[k]
        mail.update(url="smtp://127.0.0.1:%d" % self.smtp_port, tls="none", timeout_ms=5000)
        for inst in plugins["sms"]["instances"].values():
            inst["api_base"] = self.twilio.url
        plugins["slack"]["instances"]["ops"]["api_base"] = self.slack.api_base
        plugins["social"]["instances"]["mastodon"]["instance_url"] = self.masto.url
        files = dict(ex)
        files["incidents.json"] = {"incidents": {"hold_seconds": HOLD, "postmortem_due_seconds": PM_DUE}}
        files["log.json"] = {"plugins": {"log": {"instances": {"default": {"path": "events.jsonl"}}}}}
        return files

    def env(self):
        return {
            "CRIER_AM_TOKEN": AM_TOKEN,
            "CRIER_UPTIMEROBOT_TOKEN": UR_TOKEN,
            "CRIER_DRAFTS_TOKEN": DRAFTS_TOKEN,
            "CRIER_STATUS_DAV_PASSWORD": DAV_PASSWORD,
            "CRIER_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "CRIER_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "CRIER_SLACK_TOKEN": SLACK_TOKEN,
            "CRIER_MASTODON_TOKEN": MASTO_TOKEN,
            "CRIER_TRACKER_WEBHOOK_URL": self.tracker.url("/crier/events"),
            "CRIER_TRACKER_AUTH": TRACKER_AUTH,
        }

    # ------------------------------------------------------------ what each side saw

    def events(self, incident=None, type_=None):
        """What the tracker (internal) got, once each: a retry repeats the key."""
        return [e for e in docs(self.tracker) if (incident is None or e["incident"]["id"] == incident)
                and (type_ is None or e["type"] == type_)]  # fmt: skip

    def wait_event(self, incident, type_, what, timeout=30, after=None):
        return wait_until(
            lambda: [e for e in self.events(incident, type_) if after is None or ts(e) > after],
            timeout,
            0.1,
            what,
        )[0]

    def status_json(self):
        try:
            with open(os.path.join(self.site, "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def page_incident(self, incident):
        """The incident in status.json, active or resolved, or None."""
        doc = self.status_json() or {}
        for i in doc.get("incidents", []) + doc.get("resolved", []):
            if i["id"] == incident:
                return i
        return None

    @staticmethod
    def read(path):
        """A file's text, or "" while it is not there."""
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return ""

    def page_file(self, name):
        return self.read(os.path.join(self.site, name))

    def mails(self, rcpt, incident):
        tag = "[crier #%d]" % incident
        return [m for m in self.box.mails(rcpt) if tag in str(parse(m)["Subject"])]

    def texts(self, to, contains=""):
        return [m["body"] for m in self.twilio.messages() if m["to"] == to and contains in m["body"]]

    def thread(self, title):
        """The root of title's Slack thread and its replies."""
        roots = [m for m in self.slack.roots(SLACK_CHANNEL) if "*%s*" % title in m.body["text"]]
        if len(roots) != 1:
            return None, []
        return roots[0], self.slack.replies(SLACK_CHANNEL, roots[0].ts)

    def drafts(self, d, incident=None):
        r = d.request("GET", "/api/v1/drafts", headers={"Authorization": "Bearer " + DRAFTS_TOKEN})
        self.assertEqual(r.status, 200, r)
        return [x for x in r.json()["drafts"] if incident is None or x["incident_id"] == incident]

    def statuses(self, incident):
        link = "/incidents/%d.html" % incident
        return [s for s in self.masto.statuses() if link in s["text"]]

    def public_outputs(self, d):
        """(where, text) for everything a customer can read."""
        out = []
        for root, _, names in os.walk(self.site):
            for name in names:  # a temporary file renamed meanwhile reads as ""
                path = os.path.join(root, name)
                out.append(("page " + os.path.relpath(path, self.site), self.read(path)))
        for path, data in sorted(self.dav.files.items()):
            out.append(("WebDAV " + path, data.decode("utf-8")))
        for m in self.box.mails():
            out.append(("mail to %s" % m["rcpt_tos"], mail_text(m)))
        for m in self.twilio.messages():
            if m["to"] != ONCALL_PHONE:
                out.append(("SMS to " + m["to"], m["body"]))
        for s in self.masto.statuses():
            out.append(("Mastodon status " + s["id"], s["text"]))
        for x in self.drafts(d):
            out.append(("draft %d" % x["id"], x["text"]))
        return out

    # ------------------------------------------------------------ the scenario

    def test_seed_incidents_end_to_end(self):
        started = time.monotonic()
        tmp = self.tmpdir()
        port = free_port()
        d = Crierd(tmp, self.files(tmp, port), hold_seconds=HOLD, env=self.env(), port=port)
        self.addCleanup(self._finish_crierd, d)
        d.start()
        am = Alertmanager(tmp, d.port, AM_TOKEN)
        self.addCleanup(am.stop)
        am.start()

        self.subscribe(d)
        am.amtool("alert", "add", "alertname=Watchdog", "severity=none")
        for gw in API_GATEWAYS:
            am.amtool("alert", "add", *API_LABELS, gw, *API_ANNOTATIONS)
        am.amtool(
            "alert", "add", "alertname=" + NARROW["alertname"], "service=" + NARROW["service"], "severity=major",
            "instance=" + NARROW["instance"], "--annotation=summary=" + NARROW["summary"],
            "--annotation=description=" + NARROW["description"],
        )  # fmt: skip

        api = self.outage(d, am)
        narrow = self.narrow(d)
        ddos = self.ddos(d, am)
        self.nothing_public_of_narrow(d, narrow)
        self.redacted_everywhere(d, ddos)
        self.internal_got_everything(d, api, narrow, ddos)
        self.internal_events_stay_inside(d)

        for s in SECRETS:
            self.assertNotIn(s, d.log_text(), "a secret reached crierd's log")
        self.note("no secret in crierd's log")
        page_files = sum(len(f) for _, _, f in os.walk(self.site))
        print("\nscenario: %.0f s, %d mails, %d SMS, %d Slack messages, %d tracker events, %d page files, "
              "%d drafts, %d Mastodon statuses" % (
                  time.monotonic() - started, len(self.box.mails()), len(self.twilio.messages()),
                  len(self.slack.messages(SLACK_CHANNEL)), len(self.events()), page_files, len(self.drafts(d)),
                  len(self.masto.statuses())))  # fmt: skip
        for line in self.checked:
            print("  checked: " + line)

    def subscribe(self, d):
        d.ctl("subscribers", "add", JANE)
        d.ctl("subscribers", "add", BOB, "--component", "Website")
        d.ctl("subscribers", "add", SUB_PHONE)
        r = d.request("POST", "/api/v1/subscribe", {"email": PENDING})
        self.assertEqual(r.status, 202, r)
        wait_until(lambda: self.box.mails(PENDING), 20, 0.1, "the confirmation mail to the web sign-up")

    # --- 1. the outage

    def outage(self, d, am):
        inc = wait_until(lambda: d.incident("service=api"), 30, 0.2, "the API incident")
        api = inc["id"]
        self.assertEqual(inc["severity"], "critical")
        opened = self.wait_event(api, "opened", "the API incident opened, at the tracker")
        self.assertTrue(opened["incident"]["public"])
        self.assertFalse(opened["incident"]["security"])
        self.assertEqual(opened["incident"]["components"], ["API"])
        # Two gateways, the indexer and the Watchdog: all four arrived.
        wait_until(lambda: d.metrics().get("crier_alerts_received_total", source="alertmanager") >= 4, 30, 0.2,
                   "four alerts from Alertmanager")  # fmt: skip
        self.assertIsNone(d.incident("alertname=Watchdog"), "the Watchdog is consumed, never an incident")
        self.assertEqual(len([i for i in d.incidents() if "Watchdog" in i["title"]]), 0)
        self.note("the Watchdog alert opened no incident")

        # Uptime Robot's monitor of the same service joins the incident.
        down = json.loads(fixture("uptimerobot", "down.json"))
        self.assertEqual(down["monitorID"], UR_MONITOR)
        down["alertDateTime"] = str(int(time.time()))
        r = d.post("/api/v1/uptimerobot", json.dumps(down).encode(), {"Authorization": "Bearer " + UR_TOKEN})
        self.assertEqual(r.status, 200, r)
        self.wait_event(api, "alert_joined", "Uptime Robot's alert joining the API incident")
        alerts = wait_until(lambda: len(d.show(api)["alerts"]) == 3 and d.show(api)["alerts"], 20, 0.2, "3 alerts")
        self.assertEqual(sorted(a["source"] for a in alerts), ["alertmanager", "alertmanager", "uptimerobot"])
        self.assertEqual([i["key"] for i in d.incidents() if i["key"].startswith("service=api")], ["service=api"])
        self.note("Uptime Robot down for monitor %s joined the Alertmanager incident %d" % (UR_MONITOR, api))

        # crier's first public update, then the page, subscribers, the thread.
        first = self.wait_event(api, "update", "crier's first public update")
        self.assertEqual(first["actor"], "crier")
        self.assertIn("We are investigating a problem: " + API_TITLE, first["message"])
        self.assertIn("Impact: " + API_IMPACT, first["message"])
        t_first = ts(first)
        page = wait_until(lambda: (self.page_incident(api) or {}).get("updates") and self.page_incident(api), 30,
                          0.2, "the API incident on the page")  # fmt: skip
        self.assertEqual((page["title"], page["state"], page["components"]), (API_TITLE, "investigating", ["API"]))
        status = self.status_json()
        self.assertEqual(status["status"]["indicator"], "major_outage")
        self.assertEqual({c["name"]: c["status"] for c in status["components"]},
                         {"API": "major_outage", "Website": "operational"})  # fmt: skip
        wait_until(lambda: "Workaround: " + API_WORKAROUND in self.page_file("incidents/%d.html" % api), 30, 0.2,
                   "the first update on the incident's page")  # fmt: skip
        wait_until(lambda: API_TITLE in self.page_file("index.html"), 30, 0.2, "the incident on the front page")
        self.dav.wait_file("/status/incidents/%d.html" % api, API_WORKAROUND.encode())
        self.note("page: incident %d, API major outage, crier's first update (local folder and WebDAV)" % api)

        wait_until(lambda: len(self.mails(JANE, api)) >= 2, 30, 0.2, "the opening and first update mailed to Jane")
        wait_until(lambda: len(self.texts(SUB_PHONE, API_TITLE)) >= 2, 30, 0.2, "the same texted to the subscriber")
        self.assertIn(API_IMPACT, "\n".join(mail_text(m) for m in self.mails(JANE, api)))
        self.note("subscribers: Jane mailed and %s texted; Bob (Website only) not" % SUB_PHONE)
        wait_until(lambda: self.texts(ONCALL_PHONE, API_TITLE), 30, 0.2, "the on-call paged for a critical incident")

        root, _ = wait_until(lambda: self.thread(API_TITLE)[0] and self.thread(API_TITLE), 30, 0.2, "the Slack root")
        self.assertIn("alerts firing", root.body["text"])

        # The social draft: nothing goes out until a person approves it, then once.
        draft = wait_until(lambda: [x for x in self.drafts(d, api) if x["instance"] == "social/mastodon"], 30, 0.2,
                           "the API incident's Mastodon draft")[0]  # fmt: skip
        self.assertEqual(draft["status"], "pending")
        self.assertIn("looking into a problem", draft["text"])
        self.assertIn("https://status.example-status.net/incidents/%d.html" % api, draft["text"])
        self.assertEqual(self.masto.statuses(), [], "nothing is posted before a person approves")
        r = d.request("POST", "/api/v1/drafts/%d/approve" % draft["id"], {"actor": "comms-lee"},
                      {"Authorization": "Bearer " + DRAFTS_TOKEN})  # fmt: skip
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "approved")
        wait_until(lambda: [x for x in self.drafts(d, api) if x["id"] == draft["id"] and x["status"] == "published"],
                   30, 0.2, "the draft published")  # fmt: skip
        r = d.request("POST", "/api/v1/drafts/%d/approve" % draft["id"], {"actor": "comms-kim"},
                      {"Authorization": "Bearer " + DRAFTS_TOKEN})  # fmt: skip
        self.assertEqual(r.status, 409, "a second approval publishes nothing: %r" % r)
        self.assertEqual([s["text"] for s in self.statuses(api)], [draft["text"]])
        self.note("social: draft %d approved over the drafts API, published once on Mastodon" % draft["id"])

        # No public update for EVERY: a reminder inside; at ESCALATE, the on-call's phone.
        rem = self.wait_event(api, "reminder", "a reminder", EVERY + 20)
        self.assertAlmostEqual(ts(rem) - t_first, EVERY, delta=LATE)
        esc = self.wait_event(api, "escalation", "an escalation", ESCALATE + 20)
        self.assertAlmostEqual(ts(esc) - t_first, ESCALATE, delta=LATE)
        wait_until(lambda: self.texts(ONCALL_PHONE, "ESCALATION " + API_TITLE), 30, 0.2, "the escalation texted")
        wait_until(lambda: any("*Reminder*" in m.text for m in self.thread(API_TITLE)[1]), 30, 0.2,
                   "the reminder in the Slack thread")  # fmt: skip
        self.note("cadence: reminder %.1f s and escalation %.1f s after crier's first update; the escalation "
                  "texted to the on-call" % (ts(rem) - t_first, ts(esc) - t_first))  # fmt: skip

        # A person's update: page, subscribers, thread; and the clock starts again.
        d.ctl("update", str(api), "--message", HUMAN_UPDATE, "--actor", "oncall-sam")
        upd = wait_until(lambda: [e for e in self.events(api, "update") if e.get("message") == HUMAN_UPDATE], 30,
                         0.1, "the person's update")[0]  # fmt: skip
        t_upd = ts(upd)
        wait_until(lambda: HUMAN_UPDATE in self.page_file("incidents/%d.html" % api), 30, 0.2, "the update on the page")
        wait_until(lambda: any(u["message"] == HUMAN_UPDATE for u in self.page_incident(api)["updates"]), 30, 0.2,
                   "the update in status.json")  # fmt: skip
        wait_until(lambda: any(HUMAN_UPDATE in mail_text(m) for m in self.mails(JANE, api)), 30, 0.2,
                   "the update mailed")  # fmt: skip
        wait_until(lambda: self.texts(SUB_PHONE, HUMAN_UPDATE), 30, 0.2, "the update texted")
        wait_until(lambda: any(HUMAN_UPDATE in m.text for m in self.thread(API_TITLE)[1]), 30, 0.2,
                   "the update in the Slack thread")  # fmt: skip
        rem2 = self.wait_event(api, "reminder", "a reminder after the update", EVERY + 20, after=t_upd)
        self.assertAlmostEqual(ts(rem2) - t_upd, EVERY, delta=LATE)
        self.note("a person's update reached the page, Jane, the subscriber's phone and the thread; the next "
                  "reminder came %.1f s after it" % (ts(rem2) - t_upd))  # fmt: skip

        # Resolution: Uptime Robot up, Alertmanager resolves both gateways, then the hold.
        up = json.loads(fixture("uptimerobot", "up.json"))
        up["alertDateTime"] = str(int(time.time()))
        r = d.post("/api/v1/uptimerobot", json.dumps(up).encode(), {"Authorization": "Bearer " + UR_TOKEN})
        self.assertEqual(r.status, 200, r)
        end = rfc3339(time.time() - 1)
        for gw in API_GATEWAYS:
            am.amtool("alert", "add", *API_LABELS, gw, "--end=" + end)
        wait_until(lambda: d.incident("service=api")["state"] == "monitoring", 30, 0.2, "monitoring")
        t_mon = time.monotonic()
        res = wait_until(lambda: d.incident("service=api")["state"] == "resolved" and d.incident("service=api"),
                         HOLD + 20, 0.2, "resolved after the hold")  # fmt: skip
        self.assertGreaterEqual(time.monotonic() - t_mon, HOLD - 1.5, "resolved only after the hold")
        self.assertIsNotNone(res["resolved_at"])

        self.published_postmortem(d, api)  # first: its reminder is due PM_DUE after the resolution
        wait_until(lambda: (self.page_incident(api) or {}).get("state") == "resolved", 30, 0.2, "resolved on the page")
        status = self.status_json()
        self.assertNotIn(api, [i["id"] for i in status["incidents"]])
        self.assertEqual({c["name"]: c["status"] for c in status["components"]}["API"], "operational")
        wait_until(lambda: any("This incident is resolved." in mail_text(m) for m in self.mails(JANE, api)), 30, 0.2,
                   "the resolution mailed")  # fmt: skip
        wait_until(lambda: self.texts(SUB_PHONE, "[crier] Resolved: " + API_TITLE), 30, 0.2, "the resolution texted")
        root, replies = wait_until(lambda: any("*Resolved*" in m.text for m in self.thread(API_TITLE)[1])
                                   and self.thread(API_TITLE), 30, 0.2, "the resolution in the thread")  # fmt: skip
        self.assertTrue([m for m in replies if "*Resolved*" in m.text][0].reply_broadcast)
        wait_until(lambda: "*Resolved*" in self.thread(API_TITLE)[0].text, 30, 0.2, "the root edited to Resolved")
        wait_until(lambda: [x for x in self.drafts(d, api) if "resolved" in x["text"] and x["status"] == "pending"],
                   30, 0.2, "the resolution's draft, pending")  # fmt: skip
        self.note("resolved by Alertmanager + Uptime Robot up + %d s hold: page operational, mail, SMS, a "
                  "broadcast reply and the root edited in Slack, a pending draft" % HOLD)  # fmt: skip

        # Exactly one message per routed public event to each subscriber: no more, no less.
        routed = [e["type"] for e in self.events(api) if e["type"] in SUBSCRIBER_EVENTS]
        self.assertEqual(routed.count("resolved"), 1)
        self.assertEqual(routed.count("postmortem_published"), 1)
        wait_until(lambda: len(self.mails(JANE, api)) >= len(routed), 30, 0.2, "every routed event mailed to Jane")
        wait_until(lambda: len(self.texts(SUB_PHONE, "incidents/%d.html" % api)) >= len(routed), 30, 0.2,
                   "every routed event texted")  # fmt: skip
        time.sleep(1)
        self.assertEqual(len(self.mails(JANE, api)), len(routed), routed)
        self.assertEqual(len(self.texts(SUB_PHONE, "incidents/%d.html" % api)), len(routed), routed)
        self.assertEqual(self.mails(BOB, api), [], "Bob follows the Website only")
        self.assertEqual(self.mails(PENDING, api), [], "an unconfirmed sign-up hears nothing")
        self.assertEqual([s["text"] for s in self.statuses(api)], [draft["text"]], "approved drafts only")
        self.note("Jane got %d mails and the subscriber's phone %d texts for incident %d, one per routed event (%s)"
                  % (len(routed), len(routed), api, ", ".join(routed)))  # fmt: skip
        self.assertEqual(leaks(self.public_outputs(d), API_INTERNAL), [], "alert details of the outage went public")
        self.note("no public output holds the outage's alert names, hosts, description or Uptime Robot details")
        return api

    def published_postmortem(self, d, api):
        path = os.path.join(d.state_dir, "postmortems", "incident-%d.md" % api)
        draft = wait_until(lambda: self.read(path), 30, 0.2, "the post-mortem draft")
        for part in (API_TITLE, "Timeline", "APIGatewayErrors", "uptimerobot", HUMAN_UPDATE, "Root cause"):
            self.assertIn(part, draft)
        mine = os.path.join(d.tmp, "postmortem-%d.md" % api)
        with open(mine, "w", encoding="utf-8") as f:
            f.write(POSTMORTEM)
        p = d.ctl("postmortem", "publish", str(api), mine, "--actor", "oncall-sam")
        self.assertIn("published (revision 1", p.stdout)
        self.wait_event(api, "postmortem_published", "the post-mortem event")
        name = "incidents/%d.html" % api
        page = wait_until(lambda: "Canary every gateway" in self.page_file(name) and self.page_file(name), 30, 0.2,
                          "the post-mortem on the page")  # fmt: skip
        self.assertIn("Post-mortem", page)
        self.assertIn("<h3>What happened</h3>", page)
        wait_until(lambda: any("Canary every gateway" in mail_text(m) for m in self.mails(JANE, api)), 30, 0.2,
                   "the post-mortem mailed")  # fmt: skip
        wait_until(lambda: self.texts(SUB_PHONE, "Post-mortem published"), 30, 0.2, "the post-mortem texted")
        self.note("post-mortem: draft %s written (%d bytes); publish put it on incidents/%d.html, mailed and "
                  "texted it" % (os.path.relpath(path, d.tmp), len(draft), api))  # fmt: skip

    # --- 2. the narrow incident

    def narrow(self, d):
        inc = wait_until(lambda: d.incident("service=" + NARROW["service"]), 30, 0.2, "the narrow incident")
        n = inc["id"]
        opened = self.wait_event(n, "opened", "the narrow incident at the tracker")
        self.assertFalse(opened["incident"]["public"])
        self.assertEqual(opened["alert"]["labels"]["instance"], NARROW["instance"])
        root, _ = wait_until(lambda: self.thread(NARROW["summary"])[0] and self.thread(NARROW["summary"]), 30, 0.2,
                             "the narrow incident's Slack thread")  # fmt: skip
        self.assertIn(NARROW["instance"], root.text)
        return n

    def nothing_public_of_narrow(self, d, n):
        self.assertIsNone(self.page_incident(n))
        self.assertFalse(os.path.exists(os.path.join(self.site, "incidents", "%d.html" % n)))
        self.assertNotIn("/status/incidents/%d.html" % n, self.dav.files)
        for rcpt in (JANE, BOB, PENDING):
            self.assertEqual(self.mails(rcpt, n), [])
        self.assertEqual(self.texts(SUB_PHONE, "incidents/%d.html" % n), [])
        self.assertEqual(self.drafts(d, n), [])
        self.assertEqual(self.statuses(n), [])
        self.assertEqual(leaks(self.public_outputs(d), NARROW.values()), [], "the narrow incident went public")
        for t in CADENCE_TYPES:
            self.assertEqual(self.events(n, t), [], "a %s for an incident customers never heard of" % t)
        self.note("narrow incident %d (one host of %s): Slack thread and tracker only; no page, mail, SMS, "
                  "draft or status mentions it" % (n, NARROW["service"]))  # fmt: skip

    # --- 3. the DDoS

    def ddos(self, d, am):
        labels = ["alertname=" + DDOS["alertname"], "service=web", "severity=critical", "instance=" + DDOS["instance"],
                  "pop=" + DDOS["pop"], "target_ip=" + DDOS["target_ip"]]  # fmt: skip
        annotations = ["--annotation=%s=%s" % (k, DDOS[k]) for k in ("summary", "description", "impact", "workaround")]
        am.amtool("alert", "add", *labels, *annotations, "--generator-url=" + DDOS["generator"])
        inc = wait_until(lambda: d.incident("service=web"), 30, 0.2, "the DDoS incident")
        x = inc["id"]
        opened = self.wait_event(x, "opened", "the DDoS at the tracker")
        self.assertTrue(opened["incident"]["public"])
        self.assertTrue(opened["incident"]["security"])
        self.assertEqual(opened["incident"]["components"], ["Website"])

        page = wait_until(lambda: (self.page_incident(x) or {}).get("updates") and self.page_incident(x), 30, 0.2,
                          "the DDoS on the page")  # fmt: skip
        self.assertEqual((page["title"], page["components"]), ("Service disruption", ["Website"]))
        wait_until(lambda: "We are investigating a disruption of our service." in
                   self.page_file("incidents/%d.html" % x), 30, 0.2, "crier's neutral first update")  # fmt: skip
        for who in (JANE, BOB):
            mails = wait_until(lambda: len(self.mails(who, x)) >= 2 and self.mails(who, x), 30, 0.2, "mails to " + who)
            self.assertEqual(str(parse(mails[0])["Subject"]), "[crier #%d] Service disruption" % x)
        wait_until(lambda: self.texts(SUB_PHONE, "Service disruption"), 30, 0.2, "the DDoS texted")
        draft = wait_until(lambda: self.drafts(d, x), 30, 0.2, "the DDoS's draft")[0]
        self.assertIn("looking into a problem", draft["text"])
        r = d.request("POST", "/api/v1/drafts/%d/approve" % draft["id"], {"actor": "comms-lee"},
                      {"Authorization": "Bearer " + DRAFTS_TOKEN})  # fmt: skip
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: self.statuses(x), 30, 0.2, "the DDoS's post published")

        d.ctl("update", str(x), "--message", DDOS_UPDATE, "--actor", "netops-ari")
        wait_until(lambda: DDOS_UPDATE in self.page_file("incidents/%d.html" % x), 30, 0.2, "the update on the page")
        wait_until(lambda: any(DDOS_UPDATE in mail_text(m) for m in self.mails(BOB, x)), 30, 0.2, "the update to Bob")

        am.amtool("alert", "add", *labels, "--end=" + rfc3339(time.time() - 1))
        wait_until(lambda: d.incident("service=web")["state"] == "resolved", HOLD + 30, 0.2, "the DDoS resolved")
        wait_until(lambda: (self.page_incident(x) or {}).get("state") == "resolved", 30, 0.2, "resolved on the page")
        wait_until(lambda: any("This incident is resolved." in mail_text(m) for m in self.mails(BOB, x)), 30, 0.2,
                   "the resolution mailed to Bob")  # fmt: skip
        wait_until(lambda: self.texts(SUB_PHONE, "[crier] Resolved: Service disruption"), 30, 0.2,
                   "the resolution texted")  # fmt: skip

        # Nobody publishes its post-mortem: the reminder goes inside only (checked at the end).
        due = self.wait_event(x, "postmortem_due", "the post-mortem reminder", PM_DUE + 30)
        hint = "crierctl postmortem publish %d" % x
        self.assertIn(hint, due["message"])
        wait_until(lambda: any(hint in m.text for m in self.thread(DDOS["summary"])[1]), 30, 0.2,
                   "the post-mortem reminder in the Slack thread")  # fmt: skip
        self.assertEqual(self.events(self.api_id(d), "postmortem_due"), [], "the API's was published in time")
        draft = self.read(os.path.join(d.state_dir, "postmortems", "incident-%d.md" % x))
        self.assertIn("**This is a security incident.**", draft)
        self.assertIn(DDOS["alertname"], draft, "the draft, under the state folder, has everything")
        self.note("DDoS incident %d: public as \"Service disruption\" on the page, to Jane, Bob and the phone, in "
                  "a published post; its post-mortem draft warns that it is a security incident; its "
                  "reminder reached the tracker and the Slack thread" % x)  # fmt: skip
        return x

    def api_id(self, d):
        return d.incident("service=api")["id"]

    def redacted_everywhere(self, d, x):
        outputs = self.public_outputs(d)
        mentions = [w for w, t in outputs if "Service disruption" in t]
        self.assertTrue(any(w.startswith("page ") for w in mentions), mentions)
        self.assertTrue(any(w.startswith("WebDAV ") for w in mentions), mentions)
        self.assertTrue(any(w.startswith("mail ") for w in mentions), mentions)
        self.assertTrue(any(w.startswith("SMS ") for w in mentions), mentions)
        self.assertEqual(leaks(outputs, DDOS_INTERNAL), [], "the DDoS's internal details went public")
        page = self.page_file("incidents/%d.html" % x)
        self.assertIn("This incident affected: Website", page)
        self.note("scanned %d public outputs (page files on both hosts, both parts of %d mails, %d subscriber "
                  "SMS, %d statuses, %d drafts): none of the DDoS's %d internal strings" % (
                      len(outputs), len(self.box.mails()), len(self.texts(SUB_PHONE)), len(self.masto.statuses()),
                      len(self.drafts(d)), len(DDOS_INTERNAL)))  # fmt: skip

    def internal_got_everything(self, d, api, narrow, ddos):
        got = json.dumps(self.events(ddos))
        for s in (DDOS["alertname"], DDOS["instance"], DDOS["target_ip"], DDOS["summary"], DDOS["description"]):
            self.assertIn(s, got, "the tracker misses the DDoS's %r" % s)
        # The thread's root carries the real title (the summary, naming the host).
        root, replies = self.thread(DDOS["summary"])
        self.assertIsNotNone(root, "the DDoS's Slack thread, under its real title")
        self.assertTrue(any(DDOS_UPDATE in m.text for m in replies))
        self.assertTrue(self.events(narrow, "opened"))
        types = {e["type"] for e in self.events(api)}
        for t in ("opened", "alert_joined", "update", "reminder", "escalation", "state_changed", "resolved",
                  "draft_created", "draft_approved", "draft_published", "postmortem_published"):
            self.assertIn(t, types, "the tracker misses the API incident's %s" % t)
        self.note("internal channels: the tracker got %d events with every alert detail; the DDoS's Slack "
                  "thread is titled with its host" % len(self.events()))  # fmt: skip

    def internal_events_stay_inside(self, d):
        """Reminders, escalations and post-mortem reminders reach no customer."""
        words = ["ESCALATION", "Reminder", "Customers have had no update", "crierctl", "No post-mortem", "overdue"]
        for t in ("reminder", "escalation", "postmortem_due"):
            messages = [e["message"] for e in self.events(type_=t)]
            self.assertTrue(messages, "no %s to look for" % t)
            words += messages
        found = leaks(self.public_outputs(d), words)
        self.assertEqual(found, [], "an internal reminder reached a public channel")
        self.note("no reminder, escalation or post-mortem reminder in any public output")


class ExampleConfiguration(DaemonCase):
    def test_example_checks_as_shipped(self):
        """conf.d/examples/scenario/, beside the shipped log.json, is a valid configuration."""
        files = load_example()
        files["log.json"] = {"plugins": {"log": {"instances": {"default": {"path": "events.jsonl"}}}}}
        env = {
            "CRIER_AM_TOKEN": AM_TOKEN, "CRIER_UPTIMEROBOT_TOKEN": UR_TOKEN, "CRIER_DRAFTS_TOKEN": DRAFTS_TOKEN,
            "CRIER_STATUS_DAV_PASSWORD": DAV_PASSWORD, "CRIER_SMTP_PASSWORD": "smtp-pw",
            "CRIER_TWILIO_ACCOUNT_SID": TWILIO_SID, "CRIER_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "CRIER_SLACK_TOKEN": SLACK_TOKEN, "CRIER_MASTODON_TOKEN": MASTO_TOKEN,
            "CRIER_TRACKER_WEBHOOK_URL": "https://tracker.example.com/hooks/crier", "CRIER_TRACKER_AUTH": TRACKER_AUTH,
        }  # fmt: skip
        p = Crierd(self.tmpdir(), files, env=env).check_config()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for s in SECRETS:
            self.assertNotIn(s, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
