"""The email plugin end to end: crierd mails Alertmanager incidents to a real
SMTP server (aiosmtpd) on loopback, one mail per recipient, and the test
reads what arrived with Python's email package: headers, both parts,
threading, a refused recipient that blocks no one, 451s that are retried
into one mail with one Message-ID, AUTH, STARTTLS and implicit TLS, and an
alert whose text tries to add a header."""

import email
import email.policy
import email.utils
import logging
import os
import re
import shutil
import ssl
import subprocess
import sys
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Crierd, DaemonCase, fixture_json, free_port, rfc3339, wait_until  # noqa: E402

try:
    import aiosmtpd  # noqa: F401
except ImportError:
    # Debian's python3-aiosmtpd (DEPS_TEST) when python3 is another build of the same version.
    sys.path.append("/usr/lib/python3/dist-packages")
try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
except ImportError:
    Controller = None

# aiosmtpd talks on its log.
logging.getLogger("mail.log").setLevel(logging.ERROR)

FROM_ADDR = "alerts@status.example.com"
PASSWORD = "smtp-pass-7c1e9a"
# The alert's summary becomes the incident title, hence the subject.
EVIL_SUMMARY = "API 5xx above 5% \u2014 \u00fcber <b>bold</b>\r\nBcc: evil@example.com"
EVIL_DESCRIPTION = "line one\r\n.\r\nMAIL FROM:<evil@example.com>\r\nFrom nowhere\r\n--=_crier_0000000000000000--"
HEADERS = {
    "date",
    "from",
    "to",
    "reply-to",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "mime-version",
    "content-type",
}


class Mailbox:
    """An aiosmtpd handler that checks each message the way a receiving MTA
    would and records it. Scripts answer per recipient address: a list of
    replies for successive RCPT (or end of DATA) commands, the last repeating;
    "250" accepts."""

    def __init__(self, rcpt=None, data=None):
        self.lock = threading.Lock()
        self.rcpt_script = {k.lower(): list(v) for k, v in (rcpt or {}).items()}
        self.data_script = {k.lower(): list(v) for k, v in (data or {}).items()}
        self.counts = {}
        self.accepted = []  # dicts: mail_from, rcpt_tos, content (bytes), tls, login
        self.rejected = []  # the same, for messages answered 4xx/5xx at the end of DATA
        self.logins = []

    def _answer(self, kind, script, address):
        with self.lock:
            n = self.counts.get((kind, address), 0)
            self.counts[(kind, address)] = n + 1
            replies = script.get(address)
            if not replies:
                return "250 OK"
            return replies[min(n, len(replies) - 1)]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._answer("rcpt", self.rcpt_script, address.lower())
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        msg = email.message_from_bytes(content, policy=email.policy.default)
        if any(h not in msg for h in ("Date", "From", "Message-ID")):
            return "554 5.6.0 Message lacks Date, From or Message-ID"
        if any(len(line) > 998 for line in content.split(b"\r\n")):
            return "554 5.6.0 Line too long"
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "content": content,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data.login if session.authenticated else None,
        }
        reply = self._answer("data", self.data_script, envelope.rcpt_tos[0].lower())
        with self.lock:
            (self.accepted if reply.startswith("250") else self.rejected).append(rec)
        return reply

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        with self.lock:
            self.logins.append(auth_data.login)
        ok = auth_data.login == b"crier" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def mails(self, rcpt=None):
        with self.lock:
            got = list(self.accepted)
        return [m for m in got if rcpt is None or m["rcpt_tos"] == [rcpt]]


def parse(rec):
    return email.message_from_bytes(rec["content"], policy=email.policy.default)


def alert(fingerprint, instance, status="firing", summary=EVIL_SUMMARY, service="api", **annotations):
    now = time.time()
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "service": service, "severity": "critical", "instance": instance},
        "annotations": dict(summary=summary, description=EVIL_DESCRIPTION, **annotations),
        "startsAt": rfc3339(now - 60),
        "endsAt": rfc3339(now) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }


def am_post(d, *alerts):
    doc = fixture_json("alertmanager", "firing-single.json")
    doc["alerts"] = list(alerts)
    doc["status"] = "resolved" if all(a["status"] == "resolved" for a in alerts) else "firing"
    r = d.post_am(doc)
    assert r.status == 200, r


def instance(port, recipients, **extra):
    inst = {
        "url": "smtp://127.0.0.1:%d" % port,
        "tls": "none",
        "from": "Crier Status <%s>" % FROM_ADDR,
        "reply_to": "ops@example.com",
        "timeout_ms": 5000,
        "recipients": recipients,
    }
    inst.update(extra)
    return inst


def email_files(instances, service="api"):
    # Only this service's incidents: crier's own DeliveryDead alerts stay out of the mailbox.
    return {
        "email.json": {"plugins": {"email": {"instances": instances}}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                {"name": "mail", "labels": {"service": service}, "to": ["email/" + n for n in instances]},
            ]
        },
    }


@unittest.skipUnless(Controller is not None, "python3-aiosmtpd is not installed")
class EmailEndToEnd(DaemonCase):
    def start_smtp(self, handler, **kw):
        # aiosmtpd warns about AUTH without TLS (for each connection), which the
        # plain test wants; set here, after unittest's runner has set its filters.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        port = free_port()
        c = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="mx.example.com", **kw)
        c.start()
        self.addCleanup(c.stop)
        return port

    def email_deliveries(self, d, dead=False):
        return [x for x in d.deliveries(dead=dead) if x["instance"].startswith("email/")]

    def check_message(self, rec, rcpt, incident_id, alert_event=True):
        """Everything a single mail must get right; returns the parsed message."""
        raw = rec["content"]
        self.assertEqual(rec["mail_from"], FROM_ADDR)
        self.assertEqual(rec["rcpt_tos"], [rcpt])
        head = raw.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            self.assertLessEqual(len(line), 78, line)
            self.assertTrue(line.isascii(), line)
        msg = parse(rec)
        self.assertEqual(msg.defects, [])
        names = {k.lower() for k in msg.keys()}
        self.assertLessEqual(names, HEADERS, "unexpected header fields")
        self.assertNotIn("bcc", names)
        self.assertEqual(len(msg.get_all("To")), 1)
        when = email.utils.parsedate_to_datetime(msg["Date"])
        self.assertLess(abs(when.timestamp() - time.time()), 300, msg["Date"])
        self.assertEqual(msg["From"].addresses[0].addr_spec, FROM_ADDR)
        self.assertEqual(msg["From"].addresses[0].display_name, "Crier Status")
        self.assertEqual(msg["To"].addresses[0].addr_spec, rcpt)
        self.assertEqual(msg["To"].addresses[0].display_name, "")
        self.assertEqual(msg["Reply-To"].addresses[0].addr_spec, "ops@example.com")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertEqual(
            str(msg["Subject"]), "[crier #%d] API 5xx above 5%% \u2014 \u00fcber <b>bold</b> Bcc: evil@example.com" % incident_id
        )
        self.assertRegex(msg["Message-ID"], r"^<crier\.inc-%d\.[0-9a-z.]+@status\.example\.com>$" % incident_id)
        self.assertEqual(msg.get_content_type(), "multipart/alternative")
        parts = [p.get_content_type() for p in msg.iter_parts()]
        self.assertEqual(parts, ["text/plain", "text/html"])
        # Line ends as the reader sees them (the parts travel with CRLF).
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
        for p in msg.iter_parts():
            self.assertEqual(p.get_content_charset(), "utf-8")
            self.assertIn(p["Content-Transfer-Encoding"], ("quoted-printable", "base64"))
        # The alert's words arrive whole in the text; HTML gets them escaped.
        self.assertIn("\u00fcber <b>bold</b>", text)
        self.assertIn("\u00fcber &lt;b&gt;bold&lt;/b&gt;", html)
        if alert_event:
            self.assertIn("line one\n.\nMAIL FROM:<evil@example.com>\nFrom nowhere\n", text)
        self.assertNotIn("<b>bold</b>", html)
        self.assertTrue(html.lstrip().lower().startswith("<!doctype html>"), html[:80])
        return msg, text, html

    def test_mails_thread_per_incident_for_every_recipient(self):
        box = Mailbox()
        port = self.start_smtp(box)
        jane, bob = "jane@example.com", "bob@example.com"
        d = self.start_crierd(email_files({"ops": instance(port, [jane, bob])}))

        am_post(d, alert("a1a1a1a1a1a1a1a1", "api-1"))
        wait_until(lambda: len(box.mails()) >= 2, 20, what="the opening mail to both recipients")
        am_post(d, alert("a1a1a1a1a1a1a1a1", "api-1"), alert("b2b2b2b2b2b2b2b2", "api-2"))
        wait_until(lambda: len(box.mails()) >= 4, 20, what="the alert_joined mail to both recipients")
        # Both resolve: monitoring, then resolved after the hold.
        am_post(d, alert("a1a1a1a1a1a1a1a1", "api-1", "resolved"), alert("b2b2b2b2b2b2b2b2", "api-2", "resolved"))
        inc = wait_until(lambda: (i := d.incident("service=api")) and i["state"] == "resolved" and i, 30,
                         what="the incident resolved")
        events = [e["type"] for e in d.events_of("service=api")]
        wait_until(lambda: len(box.mails()) >= 2 * len(events), 20, what="a mail per event and recipient")
        time.sleep(0.5)
        self.assertEqual(len(box.mails()), 2 * len(events), events)
        self.assertEqual(events[:2], ["opened", "alert_joined"])
        self.assertEqual(events[-1], "resolved")

        roots = set()
        for rcpt in (jane, bob):
            mails = box.mails(rcpt)
            self.assertEqual(len(mails), len(events))
            parsed = [
                self.check_message(m, rcpt, inc["id"], ev in ("opened", "alert_joined", "alert_resolved"))
                for m, ev in zip(mails, events)
            ]
            first = parsed[0][0]
            self.assertIsNone(first["In-Reply-To"], "the opening mail starts the thread")
            self.assertIn("New critical incident", parsed[0][1])
            self.assertIn("Another alert joined", parsed[1][1])
            self.assertIn("This incident is resolved.", parsed[-1][1])
            self.assertIn("This incident is resolved.", parsed[-1][2])
            ids = [p[0]["Message-ID"] for p in parsed]
            self.assertEqual(len(set(ids)), len(ids), "every mail has its own Message-ID")
            for msg, _, _ in parsed[1:]:
                self.assertEqual(msg["In-Reply-To"], first["Message-ID"])
                self.assertEqual(msg["References"], first["Message-ID"])
                self.assertRegex(msg["Message-ID"], r"^<crier\.inc-%d\.e\d+\.[0-9a-f]{16}@" % inc["id"])
            # Subjects stay the same so clients group the thread.
            self.assertEqual(len({str(p[0]["Subject"]) for p in parsed}), 1)
            roots.add(first["Message-ID"])
        self.assertEqual(len(roots), 1, "both recipients' threads share the root id")
        later = {p["content"] for p in box.mails() if b"In-Reply-To" in p["content"]}
        ids = [parse(m)["Message-ID"] for m in box.mails() if m["content"] in later]
        self.assertEqual(len(set(ids)), len(ids), "the recipients' copies of an update differ in id")

        ds = self.email_deliveries(d)
        self.assertEqual(len(ds), 2 * len(events))
        self.assertTrue(all(x["state"] == "delivered" and x["attempts"] == 1 for x in ds), ds)

    def test_refused_recipient_does_not_block_the_others(self):
        nobody, jane = "nobody@example.com", "jane@example.com"
        box = Mailbox(rcpt={nobody: ["550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"]})
        port = self.start_smtp(box)
        d = self.start_crierd(email_files({"ops": instance(port, [nobody, jane])}))

        am_post(d, alert("c3c3c3c3c3c3c3c3", "api-1"))
        dead = wait_until(lambda: self.email_deliveries(d, dead=True), 20, what="the refused delivery dead")
        self.assertEqual(len(dead), 1, dead)
        self.assertEqual(dead[0]["attempts"], 1, "a 550 is not retried")
        self.assertIn("550 5.1.1", dead[0]["last_error"])
        self.assertIn("User unknown", dead[0]["last_error"])
        wait_until(lambda: box.mails(jane), 20, what="jane's mail")
        # The next event reaches jane too; nobody is refused again, and only once per event.
        am_post(d, alert("c3c3c3c3c3c3c3c3", "api-1"), alert("d4d4d4d4d4d4d4d4", "api-2"))
        wait_until(lambda: len(box.mails(jane)) >= 2, 20, what="jane's second mail")
        wait_until(lambda: len(self.email_deliveries(d, dead=True)) >= 2, 20, what="the second refusal")
        time.sleep(0.5)
        self.assertEqual(len(box.mails(jane)), 2)
        self.assertEqual(box.mails(nobody), [])
        self.assertEqual(box.counts[("rcpt", nobody)], 2)
        delivered = [x for x in self.email_deliveries(d) if x["state"] == "delivered"]
        self.assertEqual(len(delivered), 2, delivered)

    def test_451_is_retried_into_one_mail_with_one_id(self):
        jane, bob = "jane@example.com", "bob@example.com"
        box = Mailbox(
            rcpt={bob: ["451 4.7.1 Greylisted, try again later", "250 OK"]},
            data={jane: ["451 4.3.0 Temporary failure, try again", "250 OK"]},
        )
        port = self.start_smtp(box)
        d = self.start_crierd(email_files({"ops": instance(port, [jane, bob])}))

        am_post(d, alert("e5e5e5e5e5e5e5e5", "api-1"))
        wait_until(lambda: box.mails(jane) and box.mails(bob), 30, what="both mails after their retries")
        time.sleep(1.5)  # room for any duplicate to show up
        self.assertEqual(len(box.mails(jane)), 1)
        self.assertEqual(len(box.mails(bob)), 1)
        self.assertEqual(box.counts[("rcpt", bob)], 2)
        self.assertEqual(box.counts[("data", jane)], 2)
        # Jane's first attempt reached the server whole before the 451: the
        # retry is the same mail, under the same Message-ID.
        self.assertEqual(len(box.rejected), 1)
        self.assertEqual(parse(box.rejected[0])["Message-ID"], parse(box.mails(jane)[0])["Message-ID"])
        ds = self.email_deliveries(d)
        self.assertEqual(sorted((x["state"], x["attempts"]) for x in ds), [("delivered", 2), ("delivered", 2)])

    def test_auth_login_and_denied_login(self):
        jane = "jane@example.com"
        box = Mailbox()
        port = self.start_smtp(box, authenticator=box.authenticate, auth_required=True, auth_require_tls=False)
        files = email_files(
            {
                "good": instance(port, [jane], username="crier", password="${CRIER_TEST_SMTP_PASSWORD}"),
                "bad": instance(port, [jane], username="crier", password="${CRIER_TEST_SMTP_WRONG}"),
                "anon": instance(port, [jane]),
            }
        )
        wrong = "wrong-pass-3b8d21"
        d = self.start_crierd(files, env={"CRIER_TEST_SMTP_PASSWORD": PASSWORD, "CRIER_TEST_SMTP_WRONG": wrong})

        am_post(d, alert("f6f6f6f6f6f6f6f6", "api-1"))
        wait_until(lambda: len(self.email_deliveries(d, dead=True)) >= 2, 20, what="bad and anon dead")
        wait_until(lambda: box.mails(jane), 20, what="the authenticated mail")
        time.sleep(0.5)
        self.assertEqual(len(box.mails()), 1, "only the instance that logged in got through")
        self.assertEqual(box.mails()[0]["login"], b"crier")
        dead = {x["instance"]: x for x in self.email_deliveries(d, dead=True)}
        self.assertEqual(sorted(dead), ["email/anon", "email/bad"])
        self.assertIn("login denied", dead["email/bad"]["last_error"])
        self.assertIn("530", dead["email/anon"]["last_error"])
        self.assertIn('set "username" and "password"', dead["email/anon"]["last_error"])
        self.assertTrue(all(x["attempts"] == 1 for x in dead.values()))
        shown = d.ctl("deliveries", "--dead").stdout + d.ctl("deliveries").stdout
        for secret in (PASSWORD, wrong):
            self.assertNotIn(secret, d.log_text())
            self.assertNotIn(secret, shown)

    def test_temporary_auth_failure_454_is_retried(self):
        # RFC 4954's 454 (Gmail: "Too many login attempts, please try again
        # later") is a 4xx: the mail goes out on a later attempt.
        jane = "jane@example.com"
        box = Mailbox()
        tries = []

        def authenticate(server, session, envelope, mechanism, auth_data):
            tries.append(auth_data.login)
            if len(tries) == 1:
                return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")
            return box.authenticate(server, session, envelope, mechanism, auth_data)

        port = self.start_smtp(box, authenticator=authenticate, auth_required=True, auth_require_tls=False)
        files = email_files({"ops": instance(port, [jane], username="crier", password="${CRIER_TEST_SMTP_PASSWORD}")})
        d = self.start_crierd(files, env={"CRIER_TEST_SMTP_PASSWORD": PASSWORD})

        am_post(d, alert("a7a7a7a7a7a7a7a7", "api-1"))
        wait_until(lambda: box.mails(jane), 30, what="the mail after the 454")
        self.assertEqual(len(tries), 2, tries)
        ds = wait_until(lambda: [x for x in self.email_deliveries(d) if x["state"] == "delivered"], 10,
                        what="the delivery delivered")
        self.assertEqual(ds[0]["attempts"], 2, ds)
        self.assertEqual(self.email_deliveries(d, dead=True), [])

    def test_public_subscribers_get_the_public_view_threaded(self):
        box = Mailbox()
        port = self.start_smtp(box)
        subscriber = "customer@example.org"
        files = email_files({"subscribers": instance(port, [subscriber], audience="public")})
        files["public.json"] = {
            "public": {
                "status_page_url": "https://status.example.com",
                "components": [{"name": "API", "labels": {"service": "api"}}],
            }
        }
        d = self.start_crierd(files)

        calm = "API errors above 5%"
        am_post(d, alert("a8a8a8a8a8a8a8a8", "api-1", summary=calm, impact="Some API calls fail; retries succeed."))
        wait_until(lambda: box.mails(), 20, what="the subscriber's first mail")
        am_post(d, alert("a8a8a8a8a8a8a8a8", "api-1", summary=calm), alert("b9b9b9b9b9b9b9b9", "api-2", summary=calm))
        # In between, crier's own first update (public.first_message "auto", docs/incidents.md).
        wait_until(lambda: len(box.mails()) >= 3, 20, what="the subscriber's third mail")
        inc = d.incident("service=api")
        first, update, second = [parse(m) for m in box.mails()]
        self.assertEqual(str(first["Subject"]), "[crier #%d] %s" % (inc["id"], calm))
        self.assertEqual(str(second["Subject"]), str(first["Subject"]))
        self.assertIsNone(first["In-Reply-To"])
        self.assertEqual(second["In-Reply-To"], first["Message-ID"])
        self.assertEqual(second["References"], first["Message-ID"])
        self.assertEqual(update["In-Reply-To"], first["Message-ID"])
        self.assertIn("We are investigating a problem: " + calm, update.get_body(("plain",)).get_content())
        for msg in (first, update, second):
            text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
            html = msg.get_body(("html",)).get_content()
            # Customers read the incident, never the alert behind it.
            for internal in ("HighErrorRate", "api-1", "api-2", "MAIL FROM", "service=api", "alertmanager"):
                self.assertNotIn(internal, text)
                self.assertNotIn(internal, html)
            self.assertIn("https://status.example.com/incidents/%d.html" % inc["id"], text)
            self.assertIn('href="https://status.example.com/incidents/%d.html"' % inc["id"], html)
        first_text = first.get_body(("plain",)).get_content()
        self.assertIn("Impact: Some API calls fail; retries succeed.", first_text)
        second_text = second.get_body(("plain",)).get_content()
        self.assertIn("Another alert joined this incident.", second_text)
        self.assertNotIn("Firing", second_text)

    def test_instance_templates_override_the_shipped_ones(self):
        box = Mailbox()
        port = self.start_smtp(box)
        templates = {"subject": "file:templates/oncall-subject.mustache", "html": "<p>{{incident.title}}</p>"}
        d = Crierd(self.tmpdir(), email_files({"ops": instance(port, ["jane@example.com"], templates=templates)}))
        with open(os.path.join(d.conf_dir, "templates", "oncall-subject.mustache"), "w") as f:
            f.write("{{incident.severity}}: {{incident.title}}\n")
        self.addCleanup(self._finish_crierd, d)
        d.start()

        am_post(d, alert("aaaabbbbccccdddd", "api-1", summary="API errors above 5%"))
        wait_until(lambda: box.mails(), 20, what="the mail")
        msg = parse(box.mails()[0])
        self.assertEqual(str(msg["Subject"]), "critical: API errors above 5%")
        self.assertEqual(msg.get_body(("html",)).get_content().strip(), "<p>API errors above 5%</p>")
        self.assertIn("New critical incident", msg.get_body(("plain",)).get_content(), "text stays the shipped one")

    def make_cert(self):
        tmp = self.tmpdir()
        key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return cert, ctx

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_starttls_and_implicit_tls(self):
        jane = "jane@example.com"
        cert, ctx = self.make_cert()
        starttls_box, smtps_box = Mailbox(), Mailbox()
        # Submission as it is usually set up: STARTTLS required, then AUTH.
        sub_port = self.start_smtp(
            starttls_box, tls_context=ctx, require_starttls=True, authenticator=starttls_box.authenticate,
            auth_required=True,
        )
        smtps_port = self.start_smtp(smtps_box, ssl_context=ctx)
        files = email_files(
            {
                "submission": instance(sub_port, [jane], tls="starttls", ca_file=cert, username="crier",
                                       password="${CRIER_TEST_SMTP_PASSWORD}"),
                "smtps": instance(smtps_port, [jane], url="smtps://127.0.0.1:%d" % smtps_port, tls="implicit",
                                  ca_file=cert),
                "plain": instance(sub_port, [jane]),
            }
        )
        d = self.start_crierd(files, env={"CRIER_TEST_SMTP_PASSWORD": PASSWORD})

        am_post(d, alert("a7a7a7a7a7a7a7a7", "api-1"))
        wait_until(lambda: starttls_box.mails() and smtps_box.mails(), 20, what="mail over both TLS kinds")
        dead = wait_until(lambda: self.email_deliveries(d, dead=True), 20, what="the plain instance refused")
        self.assertTrue(starttls_box.mails()[0]["tls"])
        self.assertEqual(starttls_box.mails()[0]["login"], b"crier")
        self.assertTrue(smtps_box.mails()[0]["tls"])
        self.assertEqual(len(starttls_box.mails()), 1, "the plain instance sent nothing")
        self.assertEqual([x["instance"] for x in dead], ["email/plain"])
        self.assertIn("530", dead[0]["last_error"])
        self.assertIn("STARTTLS", dead[0]["last_error"])


if __name__ == "__main__":
    unittest.main()
