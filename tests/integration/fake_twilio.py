"""A fake Twilio Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json)
on 127.0.0.1 that checks requests the way Twilio does and answers with
Twilio's own shapes: 201 and a Message resource, or {"code", "message",
"more_info", "status"} with Twilio's error codes.

    with FakeTwilio(sid, token) as tw:
        ... "api_base": tw.url ...
        tw.script(429, (429, {"Retry-After": "2"}), 500, ("hang", 5), "reset")
        tw.messages()   # the Message resources it accepted, in order

Scripted answers are taken one per request before any check; when the
script runs out, requests are checked and answered like Twilio would.
Every request is recorded (FakeTwilio.requests()).
"""

import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from base64 import b64decode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FakeHandler, FakeServer, Recorded, wait_until  # noqa: E402

# GSM 03.38: the basic table (ESC left out) and the extension table, whose
# characters cost two septets.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")

BODY_MAX = 1600
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def gsm7_septets(text):
    """Septets text takes in GSM-7, or None when a character is not in it."""
    n = 0
    for ch in text:
        if ch in GSM7_BASIC:
            n += 1
        elif ch in GSM7_EXTENSION:
            n += 2
        else:
            return None
    return n


def utf16_units(text):
    return len(text.encode("utf-16-le")) // 2


def segments(text):
    """(encoding, units, parts) as Twilio counts a Body: "GSM-7" in septets,
    160 alone or 153 per part; else "UCS-2" in UTF-16 units, 70 or 67."""
    septets = gsm7_septets(text)
    if septets is not None:
        units, single, part, enc = septets, 160, 153, "GSM-7"
    else:
        units, single, part, enc = utf16_units(text), 70, 67, "UCS-2"
    parts = 1 if units <= single else -(-units // part)
    return enc, units, parts


def is_e164(s):
    return bool(s and E164.match(s))


class Request(Recorded):
    """One request as the fake saw it; answered is the status we gave it,
    "reset" or "hang" when we gave none, and answer the JSON document."""

    def __init__(self, method, path, headers, body):
        super().__init__(method, path, headers, body, None)
        self.form = {}
        self.answer = None

    def __repr__(self):
        return "<twilio %s %s To=%s -> %s %s>" % (
            self.method,
            self.path,
            self.form.get("To"),
            self.answered,
            (self.answer or {}).get("code", ""),
        )


class FakeTwilio(FakeServer):
    def __init__(self, account_sid, auth_token, stop_list=(), invalid=(), port=0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.stop_list = set(stop_list)  # numbers that replied STOP: 21610
        self.invalid = set(invalid)  # numbers Twilio says are not valid: 21211
        self.port = port  # 0: a free one, known after start()
        self.lock = threading.Lock()
        self._script = []
        self._requests = []
        self._messages = []
        self._stopping = threading.Event()

    # --- set-up and results
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def script(self, *answers):
        """Queue answers, one per coming request: a status (429 and 5xx with
        Twilio's error body), (status, headers), ("hang", seconds): no answer,
        then the connection closes; "reset": a TCP reset."""
        with self.lock:
            self._script.extend(answers)

    def requests(self):
        with self.lock:
            return list(self._requests)

    def messages(self):
        with self.lock:
            return [dict(m) for m in self._messages]

    def wait_messages(self, n, timeout=15.0):
        """The accepted messages once there are at least n."""
        return wait_until(lambda: len(self.messages()) >= n and self.messages(), timeout, what="%d message(s)" % n)

    # --- Twilio's behaviour
    def _error(self, status, code, message):
        return status, {}, {
            "code": code,
            "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status,
        }

    def _scripted(self, a):
        headers = {}
        if isinstance(a, tuple) and a[0] != "hang":
            a, headers = a[0], dict(a[1])
        if a == 429:
            st, _, doc = self._error(429, 20429, "Too Many Requests")
            return st, headers, doc
        if isinstance(a, int) and a >= 500:
            st, _, doc = self._error(a, 20500, "Internal Server Error")
            return st, headers, doc
        if isinstance(a, int):
            st, _, doc = self._error(a, 20001, "Scripted error")
            return st, headers, doc
        return a, headers, None  # "reset" or ("hang", s)

    def _authorized(self, headers, path_sid):
        auth = headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = b64decode(auth[6:], validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        # The user must be the account in the path (or an API key, which this fake has none of).
        return user == path_sid and user == self.account_sid and password == self.auth_token

    def _handle(self, req):
        m = re.match(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$", req.path)
        if not m:
            return self._error(404, 20404, "The requested resource %s was not found" % req.path)
        if not self._authorized(req.headers, m.group(1)):
            return self._error(401, 20003, "Authenticate")
        if req.method != "POST":
            return self._error(405, 20004, "Method not allowed")
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            # What Twilio says to a JSON body: it found no form fields.
            return self._error(400, 21604, "A 'To' phone number is required.")
        try:
            form = urllib.parse.parse_qs(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (ValueError, UnicodeDecodeError):
            return self._error(400, 21604, "A 'To' phone number is required.")
        for k, v in form.items():
            if len(v) != 1:
                return self._error(400, 21604, "Parameter %s given more than once" % k)
        form = {k: v[0] for k, v in form.items()}
        req.form = form
        to, frm, mss, body = form.get("To"), form.get("From"), form.get("MessagingServiceSid"), form.get("Body")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not is_e164(to) or to in self.invalid:
            return self._error(400, 21211, "The 'To' number %s is not a valid phone number." % to)
        if bool(frm) == bool(mss):
            return self._error(400, 21603, "A 'From' phone number or a MessagingServiceSid is required, not both.")
        if frm and not is_e164(frm):
            return self._error(400, 21212, "The 'From' number %s is not a valid phone number." % frm)
        if mss and not re.match(r"^MG[0-9a-fA-F]{32}$", mss):
            return self._error(400, 21701, "The Messaging Service Sid %s is invalid." % mss)
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if len(body) > BODY_MAX:
            return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if to in self.stop_list:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        enc, units, parts = segments(body)
        sid = "SM" + secrets.token_hex(16)
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        msg = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": frm,
            "messaging_service_sid": mss,
            "body": body,
            "status": "accepted" if mss else "queued",
            "num_segments": "0" if mss else str(parts),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (self.account_sid, sid),
            "subresource_uris": {"media": "/2010-04-01/Accounts/%s/Messages/%s/Media.json" % (self.account_sid, sid)},
        }
        with self.lock:
            # Not part of Twilio's answer: how the fake counted, for the tests.
            self._messages.append(dict(msg, encoding=enc, units=units, segments=parts))
        return 201, {}, msg

    # --- the server (FakeServer starts and stops it)
    def handler(self):
        fake = self

        class Handler(FakeHandler):
            def _serve(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = Request(self.command, self.path, headers, self.read_body())
                with fake.lock:
                    fake._requests.append(req)
                    scripted = fake._script.pop(0) if fake._script else None
                if scripted is not None:
                    status, headers, doc = fake._scripted(scripted)
                else:
                    status, headers, doc = fake._handle(req)
                if isinstance(status, tuple) or status == "hang":
                    req.answered = "hang"
                    fake._stopping.wait(float(status[1]) if isinstance(status, tuple) else 30.0)
                    self.close_connection = True
                elif status == "reset":
                    req.answered = "reset"
                    self.reset()
                else:
                    req.answered, req.answer = status, doc
                    self.answer(status, headers, json.dumps(doc).encode(), "application/json; charset=utf-8")

            do_POST = do_GET = do_PUT = do_DELETE = _serve

        return Handler

    def stop(self):
        self._stopping.set()  # wakes the hangs
        super().stop()
