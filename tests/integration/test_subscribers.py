"""Subscribers end to end (docs/subscribers.md): crierctl add/list/remove; the
public API's double opt-in, by a link mailed to a real SMTP server (aiosmtpd)
and by a code texted through a fake Twilio; unconfirmed subscribers get
nothing; a public incident reaches every confirmed subscriber once, with
their component filter, with List-Unsubscribe headers whose GET page and
one-click POST both work, after which nothing more comes; a refused address
is dead without holding back the others; a non-public incident reaches no
subscriber; the rate limit answers 429 with Retry-After; a known address
gets the same answer as a new one; malformed requests get clear errors."""

import json
import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_twilio import FakeTwilio  # noqa: E402
from harness import REPO, Crierd, DaemonCase, free_port, http_raw, wait_until  # noqa: E402
from test_email import Controller, Mailbox, parse  # noqa: E402

SID = "AC5e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b"
TOKEN = "9f86d081884c7d659a2feaa0c55ad015"
FROM_PHONE = "+15017122661"
FROM_ADDR = "status@status.example.com"
STATUS_PAGE = "https://status.example.com/"
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/api/v1/subscribe/confirm\?token=[A-Za-z0-9_-]{22}")
UNSUB_LINK = re.compile(r"http://127\.0\.0\.1:\d+/api/v1/unsubscribe\?t=[A-Za-z0-9_-]{22}")


def files(port, smtp_port=None, twilio=None, rate=None, expiry=None):
    """crierd's configuration: two public components, email and sms
    instances that fan out to subscribers, and the subscription API whose
    links point at this crierd."""
    plugins = {}
    to = []
    subs = {"public_url": "http://127.0.0.1:%d" % port}
    if smtp_port:
        plugins["email"] = {
            "instances": {
                "subscribers": {
                    "url": "smtp://127.0.0.1:%d" % smtp_port,
                    "tls": "none",
                    "from": "Example Status <%s>" % FROM_ADDR,
                    "timeout_ms": 5000,
                    "audience": "public",
                    "subscribers": True,
                    "delivery": {"max_attempts": 3},
                }
            }
        }
        to.append("email/subscribers")
        subs["email_instance"] = "email/subscribers"
    if twilio:
        plugins["sms"] = {
            "instances": {
                "subscribers": {
                    "account_sid": SID,
                    "auth_token": TOKEN,
                    "from": FROM_PHONE,
                    "api_base": twilio.url,
                    "timeout_ms": 3000,
                    "audience": "public",
                    "subscribers": "phone",
                }
            }
        }
        to.append("sms/subscribers")
        subs["sms_instance"] = "sms/subscribers"
    if rate:
        subs["rate_limit"] = rate
    if expiry:
        subs["confirm_expiry_seconds"] = expiry
    return {
        "public.json": {
            "public": {
                "status_page_url": STATUS_PAGE,
                "components": [
                    {"name": "API", "labels": {"service": "api"}},
                    {"name": "Website", "labels": {"service": "web"}},
                ],
                # The messages counted here are the alerts' own: crier's first update
                # (the default "auto", docs/incidents.md) would add one per subscriber.
                "first_message": "human",
            }
        },
        "subscribers.json": {"subscribers": subs},
        "channels.json": {"plugins": plugins},
        "routes.json": {
            "routes": [{"name": "everything", "to": ["log/events"]}]
            # Everything a route may send: the core keeps non-public incidents away.
            + ([{"name": "public", "labels": {"team": "sre"}, "to": to}] if to else [])
        },
    }


def alert(key, service, status="firing"):
    return {
        "key": key,
        "status": status,
        "labels": {"alertname": key, "service": service, "team": "sre", "severity": "critical"},
        "annotations": {"summary": "%s is failing" % service, "impact": "Requests to %s fail." % service},
    }


class Subscribers(DaemonCase):
    def start(self, smtp=None, twilio=None, rate=None, expiry=None, env=None, http=None):
        """crierd with files(); http: more keys of its http section."""
        port = free_port()
        smtp_port = self.start_smtp(smtp) if smtp else None
        if rate is None:
            rate = {"burst": 100, "per_hour": 3600}
        conf = files(port, smtp_port, twilio, rate, expiry)
        if http:
            conf["http.json"] = {"http": dict(http, listen="127.0.0.1:%d" % port)}
        return self.start_crierd(conf, port=port, env=env)

    def start_smtp(self, box):
        port = free_port()
        c = Controller(box, hostname="127.0.0.1", port=port)
        c.start()
        self.addCleanup(c.stop)
        return port

    def start_twilio(self, **kw):
        fake = FakeTwilio(SID, TOKEN, **kw)
        self.addCleanup(fake.stop)
        return fake.start()

    def subscribe(self, d, body, headers=None):
        return d.request("POST", "/api/v1/subscribe", body, headers)

    def fire(self, d, key, service, status="firing"):
        r = d.post_generic(alert(key, service, status))
        self.assertEqual(r.status, 200, r)

    def confirm_link(self, box, rcpt):
        recs = wait_until(lambda: box.mails(rcpt), 15, what="the confirmation mail to " + rcpt)
        self.assertEqual(len(recs), 1, recs)
        msg = parse(recs[0])
        self.assertEqual(str(msg["Subject"]), "Please confirm your subscription to status updates")
        self.assertNotIn("List-Unsubscribe", msg, "not subscribed yet: nothing to leave")
        self.assertNotIn("In-Reply-To", msg)
        text = msg.get_body(("plain",)).get_content()
        links = CONFIRM_LINK.findall(text)
        self.assertEqual(len(set(links)), 1, text)
        self.assertIn(links[0].replace("&", "&amp;"), msg.get_body(("html",)).get_content())
        return urllib.parse.urlsplit(links[0])

    def get(self, d, url):
        """GET or a link of crierd's own (an http:// URL on its port)."""
        u = urllib.parse.urlsplit(url) if isinstance(url, str) else url
        self.assertEqual(u.port, d.port)
        return d.request("GET", u.path + "?" + u.query)

    def subscribers(self, d):
        return {s["address"]: s for s in d.ctl_json("subscribers")["subscribers"]}

    def test_crierctl_add_list_remove(self):
        d = self.start()
        p = d.ctl("subscribers")
        self.assertEqual(p.stdout, "no subscribers\n")
        p = d.ctl("subscribers", "add", "Jane@Example.COM", "--component", "API", "--actor", "ops-jo")
        self.assertEqual(p.stdout, "subscriber jane@example.com added, confirmed; follows API\n")
        d.ctl("subscribers", "add", "+1 (415) 555-0100")
        d.ctl("subscribers", "add", "bob@example.com", "--component", "API", "--component", "Website")
        subs = self.subscribers(d)
        self.assertEqual(sorted(subs), ["+14155550100", "bob@example.com", "jane@example.com"])
        jane = subs["jane@example.com"]
        self.assertEqual((jane["kind"], jane["status"], jane["components"]), ("email", "confirmed", ["API"]))
        self.assertEqual((jane["source"], jane["client"]), ("operator", "ops-jo"))
        self.assertRegex(jane["confirmed_at"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual((subs["+14155550100"]["kind"], subs["+14155550100"]["components"]), ("phone", []))
        self.assertEqual(subs["bob@example.com"]["components"], ["API", "Website"])
        for secret in ("token", "unsubscribe_token", "confirm_hash"):
            self.assertNotIn(secret, json.dumps(jane))
        table = d.ctl("subscribers", "list").stdout
        self.assertRegex(table, r"(?m)^ID\s+KIND\s+ADDRESS\s+STATUS\s+COMPONENTS\s+SINCE\s+SOURCE\s*$")
        self.assertRegex(table, r"jane@example\.com\s+confirmed\s+API\s")
        self.assertRegex(table, r"\+14155550100\s+confirmed\s+all\s")

        # Adding again replaces the components; it is still one subscriber.
        d.ctl("subscribers", "add", "jane@example.com", "--component", "Website")
        self.assertEqual(self.subscribers(d)["jane@example.com"]["components"], ["Website"])
        self.assertEqual(len(self.subscribers(d)), 3)

        p = d.ctl("subscribers", "remove", "JANE@example.com")
        self.assertEqual(p.stdout, "subscriber jane@example.com removed, with their deliveries\n")
        self.assertEqual(sorted(self.subscribers(d)), ["+14155550100", "bob@example.com"])

        # What an operator gets wrong, said clearly (exit 1: crierd refused; 64: usage).
        p = d.ctl("subscribers", "remove", "jane@example.com", check=False)
        self.assertEqual((p.returncode, p.stderr), (1, "crierctl: no subscriber jane@example.com\n"))
        p = d.ctl("subscribers", "add", "not-an-address", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("neither an email address nor a phone number", p.stderr)
        p = d.ctl("subscribers", "add", "x@example.com", "--component", "Databases", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('"Databases" is not a component here (known: API, Website)', p.stderr)
        p = d.ctl("subscribers", "add", check=False)
        self.assertEqual(p.returncode, 64)
        p = d.ctl("subscribers", "remove", "bob@example.com", "--component", "API", check=False)
        self.assertEqual(p.returncode, 64)
        p = d.ctl("subscribers", "purge", check=False)
        self.assertEqual(p.returncode, 64)
        self.assertIn('unknown subscribers subcommand "purge"', p.stderr)

        # Subscribers outlive a restart.
        d.stop()
        d.start()
        self.assertEqual(sorted(self.subscribers(d)), ["+14155550100", "bob@example.com"])

    @unittest.skipUnless(Controller is not None, "python3-aiosmtpd is not installed")
    def test_email_opt_in_fan_out_and_unsubscribe(self):
        box = Mailbox(rcpt={"gone@example.com": ["550 5.1.1 No such user"]})
        d = self.start(smtp=box)
        # Public sign-ups: Jane for the API, Bob who never confirms.
        r = self.subscribe(d, {"email": "jane@example.com", "components": ["API"]})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["status"], "pending")
        self.assertIn("confirmation link", r.json()["message"])
        r = self.subscribe(d, "email=bob%40example.com", {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 202, r)
        link = self.confirm_link(box, "jane@example.com")
        self.confirm_link(box, "bob@example.com")
        subs = self.subscribers(d)
        self.assertEqual(subs["jane@example.com"]["status"], "pending")
        self.assertEqual((subs["jane@example.com"]["source"], subs["jane@example.com"]["client"]), ("api", "127.0.0.1"))
        self.assertEqual(subs["jane@example.com"]["components"], ["API"], "the components asked for")

        r = self.get(d, link)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
        self.assertIn("<h1>You are subscribed</h1>", r.text())
        self.assertIn("default-src 'none'", r.headers["content-security-policy"])
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(r.headers["referrer-policy"], "no-referrer")
        self.assertNotIn("<script", r.text().lower())
        r = self.get(d, link)
        self.assertEqual(r.status, 400, "a link works once")
        self.assertIn("used already or has expired", r.text())
        self.assertEqual(self.subscribers(d)["jane@example.com"]["status"], "confirmed")

        # Operators add Carol (everything), Dave (the website only) and an address the server refuses.
        for a in (["carol@example.com"], ["dave@example.com", "--component", "Website"], ["gone@example.com"]):
            d.ctl("subscribers", "add", *a)
        box.accepted.clear()

        self.fire(d, "api-down", "api")
        wait_until(lambda: len(box.mails()) >= 2, 20, what="the API incident to Jane and Carol")
        dead = wait_until(
            lambda: [x for x in d.deliveries(dead=True) if x["instance"] == "email/subscribers"],
            20,
            what="the refused address dead",
        )
        time.sleep(1.0)  # nothing more may come
        got = sorted(m["rcpt_tos"][0] for m in box.mails())
        self.assertEqual(got, ["carol@example.com", "jane@example.com"], "once each; not Dave, not unconfirmed Bob")
        self.assertEqual([(x["recipient"], x["attempts"]) for x in dead], [("gone@example.com", 1)])
        self.assertIn("550", dead[0]["last_error"])
        # One stranger's bad address does not page anyone: no DeliveryDead alert for it.
        self.assertIsNone(d.incident("service=crier"))

        unsub = {}
        for rec in box.mails():
            msg = parse(rec)
            rcpt = rec["rcpt_tos"][0]
            lu = msg["List-Unsubscribe"].strip()  # on a line of its own when long: folded
            self.assertRegex(lu, r"^<http://127\.0\.0\.1:\d+/api/v1/unsubscribe\?t=[A-Za-z0-9_-]{22}>$")
            self.assertEqual(msg["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
            url = lu[1:-1]
            text = msg.get_body(("plain",)).get_content()
            self.assertIn("To stop them: " + url, text)
            self.assertIn('href="%s"' % url, msg.get_body(("html",)).get_content())
            self.assertIn("Requests to api fail.", text)
            self.assertNotIn("team", text, "the public view only")
            for line in rec["content"].split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
                self.assertLessEqual(len(line), 78, line)
            unsub[rcpt] = urllib.parse.urlsplit(url)
        self.assertNotEqual(unsub["jane@example.com"].query, unsub["carol@example.com"].query, "one token each")

        # Jane: the page asks first (mail scanners open links), then one click.
        u = unsub["jane@example.com"]
        r = self.get(d, u)
        self.assertEqual(r.status, 200, r)
        self.assertIn("j***@example.com", r.text())
        self.assertNotIn("jane@example.com", r.text())
        self.assertIn('<form method="post" action="?%s">' % u.query, r.text())
        self.assertEqual(self.subscribers(d)["jane@example.com"]["status"], "confirmed", "a GET changes nothing")
        one_click = {"Content-Type": "application/x-www-form-urlencoded"}
        r = d.request("POST", u.path + "?" + u.query, "List-Unsubscribe=One-Click", one_click)
        self.assertEqual(r.status, 200, r)
        self.assertIn("You are unsubscribed", r.text())
        # Carol: the RFC 8058 POST a mail provider sends, twice (idempotent).
        u = unsub["carol@example.com"]
        for _ in range(2):
            r = d.request("POST", u.path + "?" + u.query, "List-Unsubscribe=One-Click", one_click)
            self.assertEqual(r.status, 200, r)
        r = self.get(d, unsub["jane@example.com"])
        self.assertIn("Nothing to unsubscribe", r.text())
        subs = self.subscribers(d)
        self.assertNotIn("jane@example.com", subs)
        self.assertNotIn("carol@example.com", subs)
        self.assertNotIn("jane@example.com", json.dumps(d.deliveries()), "their delivery history is gone too")

        # The incident goes on: nobody left for the API hears of it. Dave hears of the website.
        box.accepted.clear()
        self.fire(d, "api-down", "api", status="resolved")
        self.fire(d, "web-down", "web")
        wait_until(lambda: box.mails(), 20, what="the website incident to Dave")
        time.sleep(2.5)  # the API incident resolves after its hold, and the mails it makes arrive
        self.assertEqual([m["rcpt_tos"][0] for m in box.mails()], ["dave@example.com"])

        # An incident of no public component reaches no subscriber, even one who follows everything.
        d.ctl("subscribers", "add", "erin@example.com")
        box.accepted.clear()
        self.fire(d, "db-down", "db")
        db = wait_until(lambda: d.incident("service=db"), 10, what="the database incident")
        time.sleep(1.5)
        self.assertEqual(box.mails(), [])
        self.assertFalse([x for x in d.deliveries() if x["incident_id"] == db["id"] and x["instance"] != "log/events"])

    @unittest.skipUnless(Controller is not None, "python3-aiosmtpd is not installed")
    def test_rate_limit_and_no_enumeration(self):
        box = Mailbox()
        d = self.start(smtp=box, rate={"burst": 3, "per_hour": 2})
        d.ctl("subscribers", "add", "known@example.com")
        known = self.subscribe(d, {"email": "known@example.com"})
        new = self.subscribe(d, {"email": "new@example.com"})
        self.assertEqual((known.status, new.status), (202, 202))
        self.assertEqual(known.body, new.body, "the answer does not tell who is subscribed")
        # A refused request counts too: guessing is what the limit is for.
        r = self.subscribe(d, {"email": "not an address"})
        self.assertEqual(r.status, 400)
        r = self.subscribe(d, {"email": "third@example.com"})
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["status"], "error")
        wait = int(r.headers["retry-after"])
        self.assertTrue(1500 <= wait <= 1801, wait)  # one request back every 30 minutes
        self.assertIn("try again in %d seconds" % wait, r.json()["error"])
        r = d.request("POST", "/api/v1/subscribe/confirm", {"phone": "+14155550100", "code": "123456"})
        self.assertEqual(r.status, 429, "code guesses count against the same allowance")
        # Links from messages are not limited.
        r = d.request("GET", "/api/v1/unsubscribe?t=" + "A" * 22)
        self.assertEqual(r.status, 200)
        self.assertIn("Nothing to unsubscribe", r.text())
        # The known subscriber got a confirmation, so its owner may change what they follow; nothing else changed.
        wait_until(lambda: box.mails("known@example.com"), 15, what="a mail to the known address")
        self.assertEqual(self.subscribers(d)["known@example.com"]["status"], "confirmed")
        self.assertNotIn("third@example.com", self.subscribers(d))

    @unittest.skipUnless(Controller is not None, "python3-aiosmtpd is not installed")
    def test_rate_limit_per_client_behind_a_trusted_proxy(self):
        box = Mailbox()
        # The proxy is this host (the test itself, sending X-Forwarded-For).
        d = self.start(smtp=box, rate={"burst": 2, "per_hour": 2}, http={"trusted_proxies": ["127.0.0.0/8"]})

        def via(xff, addr):
            return self.subscribe(d, {"email": addr}, {"X-Forwarded-For": xff}).status

        # Each client behind the proxy has its own allowance.
        self.assertEqual([via("198.51.100.1", "a%d@example.com" % i) for i in range(3)], [202, 202, 429])
        self.assertEqual(via("198.51.100.2", "b@example.com"), 202)
        # What a client writes itself, left of what the proxy appended, is not believed.
        self.assertEqual(via("198.51.100.77, 198.51.100.1", "c@example.com"), 429)
        # A proxy that adds its own header line (HAProxy) rather than append:
        # the last line is the proxy's, the first the client's own claim.
        body = json.dumps({"email": "d@example.com"}).encode()
        head = (
            "POST /api/v1/subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "X-Forwarded-For: 198.51.100.88\r\nX-Forwarded-For: 198.51.100.1\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % len(body)
        )
        status, _, _ = http_raw(d.port, head.encode(), body)
        self.assertEqual(status, 429)
        # Lines too long to join: the last one alone, the proxy's.
        long_line = ", ".join("198.51.100.%d" % (100 + i % 100) for i in range(60))
        self.assertGreater(len(long_line), 512)
        status, _, _ = http_raw(d.port, head.replace("198.51.100.88", long_line).encode(), body)
        self.assertEqual(status, 429)
        # Without the header, the request is the proxy's own.
        self.assertEqual(self.subscribe(d, {"email": "p@example.com"}).status, 202)
        log = d.log_text()
        self.assertIn("api=subscribe peer=198.51.100.1 reason=rate_limit", log)
        self.assertIn("api=subscribe peer=198.51.100.2 action=subscribe status=202", log)
        self.assertIn("api=subscribe peer=127.0.0.1 action=subscribe status=202", log)
        self.assertNotIn("198.51.100.77", log)
        self.assertNotIn("198.51.100.88", log)

    @unittest.skipUnless(Controller is not None, "python3-aiosmtpd is not installed")
    def test_forwarded_for_is_ignored_from_an_untrusted_peer(self):
        box = Mailbox()
        d = self.start(smtp=box, rate={"burst": 1, "per_hour": 1})
        self.assertEqual(self.subscribe(d, {"email": "a@example.com"}, {"X-Forwarded-For": "198.51.100.1"}).status, 202)
        # Another claimed client, the same TCP peer: the same allowance.
        r = self.subscribe(d, {"email": "b@example.com"}, {"X-Forwarded-For": "198.51.100.2"})
        self.assertEqual(r.status, 429)
        self.assertIn("api=subscribe peer=127.0.0.1 reason=rate_limit", d.log_text())

    def test_bad_requests(self):
        twilio = self.start_twilio()
        d = self.start(twilio=twilio)
        cases = [
            ({"email": "a@example.com"}, 400, "subscriptions by email are not offered here"),
            ({"phone": "555-0100"}, 400, "phone: not a phone number in international form, like +14155550100"),
            ({"phone": "+14155550100", "email": "a@example.com"}, 400, 'give either "email" or "phone"'),
            ({"components": ["API"]}, 400, 'give "email" or "phone"'),
            ({"phone": "+14155550100", "components": ["Databases"]}, 400, '"Databases" is not a component here'),
            ({"phone": "+14155550100", "components": "API"}, 400, "components: expected an array"),
            ({"phone": 14155550100}, 400, "phone: expected a string"),
            ({"phone": "+14155550100", "name": "Jo"}, 400, 'unknown key "name" (known: email, phone, components)'),
            ('{"phone": ', 400, "invalid JSON"),
            ("[1]", 400, "body: expected a JSON object"),
        ]
        for body, status, words in cases:
            hdr = {"Content-Type": "application/json"} if isinstance(body, str) else None
            r = self.subscribe(d, body, hdr)
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertEqual(r.json()["status"], "error")
            self.assertIn(words, r.json()["error"], body)
        r = self.subscribe(d, "phone=%2B1", {"Content-Type": "text/plain"})
        self.assertEqual(r.status, 400)
        self.assertIn("send JSON (application/json) or a form", r.json()["error"])
        r = d.request("GET", "/api/v1/subscribe")
        self.assertEqual((r.status, r.headers.get("allow")), (405, "POST"))
        r = d.request("PUT", "/api/v1/unsubscribe?t=x")
        self.assertEqual((r.status, r.headers.get("allow")), (405, "GET, POST"))
        r = d.request("GET", "/api/v1/subscribe/confirm")
        self.assertEqual(r.status, 400)
        self.assertIn("This link is incomplete", r.text())
        r = d.request("GET", "/api/v1/subscribe/confirm?token=%3Cscript%3E")
        self.assertEqual(r.status, 400)
        self.assertNotIn("<script>", r.text())
        r = d.request("POST", "/api/v1/subscribe/confirm", {"phone": "+14155550100", "code": "12345"})
        self.assertEqual(r.status, 400)
        self.assertIn("code: expected the 6 digits", r.json()["error"])
        self.assertEqual(twilio.messages(), [], "nothing was sent for any of these")

    def test_sms_code_confirms_and_stop_link_works(self):
        twilio = self.start_twilio()
        d = self.start(twilio=twilio)
        phone = "+14155550100"
        r = self.subscribe(d, {"phone": "+1 415 555 0100", "components": ["Website"]})
        self.assertEqual(r.status, 202, r)
        self.assertIn("6-digit code", r.json()["message"])
        msg = twilio.wait_messages(1)[0]
        self.assertEqual(msg["to"], phone)
        m = re.match(r"^Your code for status updates: (\d{6})\. It works for 24 hours\. ", msg["body"])
        self.assertTrue(m, msg["body"])
        code = m.group(1)
        wrong = "%06d" % ((int(code) + 1) % 1000000)

        def confirm(c, who=phone):
            return d.request("POST", "/api/v1/subscribe/confirm", {"phone": who, "code": c})

        r = confirm(wrong)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], "the code is wrong or has expired")
        r = confirm(code, "+14155550199")
        self.assertEqual((r.status, r.json()["error"]), (400, "the code is wrong or has expired"), "no enumeration")
        r = confirm(code)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "confirmed")
        self.assertEqual(confirm(code).status, 400, "a code works once")
        self.assertEqual(self.subscribers(d)[phone]["components"], ["Website"])

        self.fire(d, "web-down", "web")
        msgs = twilio.wait_messages(2)
        body = msgs[1]["body"]
        self.assertEqual(msgs[1]["to"], phone)
        stop = UNSUB_LINK.search(body)
        self.assertTrue(stop and body.endswith(" Stop: " + stop.group(0)), body)
        self.assertIn("https://status.example.com/incidents/", body)
        u = urllib.parse.urlsplit(stop.group(0))
        r = d.request("POST", u.path + "?" + u.query, b"")
        self.assertEqual(r.status, 200)
        self.assertNotIn(phone, self.subscribers(d))
        self.fire(d, "web-down", "web", status="resolved")
        time.sleep(3.5)  # the hold ends and the resolution goes out, to nobody
        self.assertEqual(len(twilio.messages()), 2)
        self.assertNotIn(phone, d.log_text(), "numbers stay out of the log")

    def test_code_attempts_and_expiry(self):
        twilio = self.start_twilio()
        d = self.start(twilio=twilio, expiry=3)
        phone = "+14155550101"
        self.assertEqual(self.subscribe(d, {"phone": phone}).status, 202)
        code = re.search(r"\d{6}", twilio.wait_messages(1)[0]["body"]).group(0)
        self.assertIn("It works for 3 seconds.", twilio.messages()[0]["body"])
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        for _ in range(5):
            r = d.request("POST", "/api/v1/subscribe/confirm", {"phone": phone, "code": wrong})
            self.assertEqual(r.status, 400)
        r = d.request("POST", "/api/v1/subscribe/confirm", {"phone": phone, "code": code})
        self.assertEqual(r.status, 400, "five wrong codes end the attempt")
        # A second request within a minute sends no second message (nobody floods a phone).
        self.assertEqual(self.subscribe(d, {"phone": phone}).status, 202)
        time.sleep(1.0)
        self.assertEqual(len(twilio.messages()), 1)
        # Unconfirmed subscriptions lapse and go.
        time.sleep(2.5)
        self.assertEqual(self.subscribers(d), {})
        self.assertEqual([x for x in d.deliveries() if x["instance"] == "sms/subscribers"], [], "the code is deleted")

    def test_example_checks(self):
        """conf.d/examples/subscribers.json, with a route to its instances, is a valid configuration."""
        with open(os.path.join(REPO, "conf.d", "examples", "subscribers.json")) as f:
            example = json.load(f)
        routes = {"routes": [{"name": "customers", "to": ["email/subscribers", "sms/subscribers"]}]}
        env = {"CRIER_SMTP_PASSWORD": "pw", "CRIER_TWILIO_ACCOUNT_SID": SID, "CRIER_TWILIO_AUTH_TOKEN": TOKEN}
        p = Crierd(self.tmpdir(), {"subscribers.json": example, "routes.json": routes}, env=env).check_config()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_configuration_refusals(self):
        # Without a subscribers section the API is off.
        d = self.start_crierd()
        for method, path in (("POST", "/api/v1/subscribe"), ("GET", "/api/v1/unsubscribe?t=x")):
            r = d.request(method, path, {"email": "jane@example.com"} if method == "POST" else None)
            self.assertEqual(r.status, 404, r)
            self.assertIn("subscriptions are not offered here", r.text().lower())
        tmp = self.tmpdir()
        base = files(free_port(), smtp_port=2525)
        inst = base["channels.json"]["plugins"]["email"]["instances"]["subscribers"]
        del inst["audience"]
        p = Crierd(tmp, base).check_config()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(
            'plugins.email.instances.subscribers.subscribers: needs "audience": "public" on the instance',
            p.stdout + p.stderr,
        )
        base = files(free_port(), smtp_port=2525)
        del base["subscribers.json"]
        p = Crierd(self.tmpdir(), base).check_config()
        self.assertIn('needs a "subscribers" section with "public_url"', p.stdout + p.stderr)
        base = files(free_port(), smtp_port=2525)
        base["subscribers.json"]["subscribers"]["sms_instance"] = "sms/nowhere"
        p = Crierd(self.tmpdir(), base).check_config()
        self.assertIn('subscribers.sms_instance: unknown instance "sms/nowhere"', p.stdout + p.stderr)
        base = files(free_port(), smtp_port=2525)
        del base["subscribers.json"]["subscribers"]["public_url"]
        p = Crierd(self.tmpdir(), base).check_config()
        self.assertIn('subscribers: expected "public_url"', p.stdout + p.stderr)
        for change, words in (
            ({"recipients": ["ops@example.com"]}, 'subscribers: goes without "recipients"'),
            ({"subscribers": "fax"}, 'subscribers: expected "email" or "phone"'),
        ):
            base = files(free_port(), smtp_port=2525)
            base["channels.json"]["plugins"]["email"]["instances"]["subscribers"].update(change)
            p = Crierd(self.tmpdir(), base).check_config()
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(words, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
