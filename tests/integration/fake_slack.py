"""A fake Slack for end-to-end tests: incoming webhooks and the Web API's
chat.postMessage and chat.update, checked the way Slack checks them
(docs: /work/shared/reference/channel-apis.md section 1) and answered with
Slack's own error shapes.

    with FakeSlack(token="xoxb-1", channels={"ops": "C0OPS"}) as slack:
        slack.api_base        -> "http://127.0.0.1:PORT/api"
        slack.webhook_url()   -> "http://127.0.0.1:PORT/services/T000/B000/XXXX"
        slack.script("chat.postMessage", [("429", 2), "500", "ratelimited"])
        slack.messages("C0OPS")  -> [Message, ...] in posting order

Scripted answers are taken one per request to that endpoint ("webhook",
"chat.postMessage", "chat.update") before the request is looked at:
  ("429", seconds)   HTTP 429, Retry-After, {"ok":false,"error":"ratelimited"}
                     (plain "rate_limited" text on the webhook)
  "ratelimited"      HTTP 200 {"ok":false,"error":"ratelimited"} (Web API only)
  "500"              HTTP 500 (webhook: "rollup_error"; Web API: internal_error)
  ("hang", seconds)  wait, then answer normally without acting (a request
                     that timed out never posted anything here)
  "reset"            close the connection with a TCP reset, no answer
  ("error", code)    HTTP 200 {"ok":false,"error":code} (Web API only)
Only the Web API's JSON bodies are understood (as crier sends them); a form
body is answered invalid_post_type.
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FakeHandler, FakeServer  # noqa: E402

MAX_BLOCKS = 50
MAX_TEXT = 40000  # Slack truncates above this; the fake refuses, so a test notices


class Message:
    def __init__(self, channel, ts, body):
        self.channel = channel
        self.ts = ts
        self.text = body.get("text")
        self.blocks = body.get("blocks")
        self.thread_ts = body.get("thread_ts")
        self.reply_broadcast = bool(body.get("reply_broadcast"))
        self.body = body
        self.edits = []  # the bodies of chat.update calls, in order

    def __repr__(self):
        return "<Message %s %s thread=%s broadcast=%s %r>" % (
            self.channel,
            self.ts,
            self.thread_ts,
            self.reply_broadcast,
            (self.text or "")[:60],
        )


class Request:
    """One request, recorded on arrival; status and answer are filled in
    when it is answered."""

    def __init__(self, method, path, headers, body):
        self.time = time.monotonic()
        self.method = method
        self.path = path
        self.headers = headers  # dict, lower-case names
        self.body = body  # bytes
        self.status = None  # what we answered (0: reset, None: not yet)
        self.answer = b""  # the answer body
        self.hung = False  # a scripted hang: answered late, nothing done

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error(self):
        """Slack's error code in our answer, or None."""
        try:
            doc = json.loads(self.answer.decode("utf-8"))
        except ValueError:
            return self.answer.decode("utf-8", "replace") if self.status != 200 else None
        return None if doc.get("ok") else doc.get("error")

    def __repr__(self):
        return "<Request %s %s -> %s %r>" % (self.method, self.path, self.status, self.answer[:80])


class FakeSlack(FakeServer):
    def __init__(self, token="xoxb-test-token", channels=None, webhooks=("/services/T000/B000/XXXX",)):
        self.token = token
        self.channels = dict(channels or {"ops": "C0OPS"})  # name -> ID
        self.webhooks = set(webhooks)
        self.lock = threading.Lock()
        self.scripts = {}
        self.requests = []
        self.posts = {}  # channel ID -> [Message]
        self.hooked = []  # webhook bodies accepted, in order
        self.counter = 0
        self.port = 0

    # --- set-up
    @property
    def api_base(self):
        return "http://127.0.0.1:%d/api" % self.port

    def webhook_url(self, path=None):
        return "http://127.0.0.1:%d%s" % (self.port, path or sorted(self.webhooks)[0])

    def script(self, endpoint, answers):
        with self.lock:
            self.scripts.setdefault(endpoint, []).extend(answers)

    # --- what happened
    def recorded(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def messages(self, channel):
        with self.lock:
            return list(self.posts.get(channel, []))

    def roots(self, channel):
        return [m for m in self.messages(channel) if m.thread_ts is None]

    def replies(self, channel, thread_ts=None):
        return [m for m in self.messages(channel) if m.thread_ts and (thread_ts is None or m.thread_ts == thread_ts)]

    def webhook_bodies(self):
        with self.lock:
            return list(self.hooked)

    # --- answers
    def _next_script(self, endpoint):
        with self.lock:
            s = self.scripts.get(endpoint)
            return s.pop(0) if s else None

    def _new_ts(self, channel):
        # "%d.%06d", unique per channel (here unique overall).
        with self.lock:
            self.counter += 1
            return "%d.%06d" % (int(time.time()), self.counter)

    def _channel_id(self, value, ids_only):
        if not isinstance(value, str) or not value:
            return None
        if value in self.channels.values():
            return value
        if ids_only:
            return None
        return self.channels.get(value.lstrip("#"))

    def _find(self, channel, ts):
        for m in self.posts.get(channel, []):
            if m.ts == ts:
                return m
        return None

    @staticmethod
    def _content_check(body):
        """The shared text/blocks rules: the error code, or None."""
        text, blocks = body.get("text"), body.get("blocks")
        if not text and not blocks and not body.get("attachments"):
            return "no_text"
        if blocks is not None:
            if (
                not isinstance(blocks, list)
                or len(blocks) > MAX_BLOCKS
                or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
            ):
                return "invalid_blocks"
        if text is not None and not isinstance(text, str):
            return "invalid_arguments"
        if text and len(text) > MAX_TEXT:
            return "msg_too_long"
        return None

    def _webhook(self, headers, raw):
        """(status, plain text body) the way hooks.slack.com answers."""
        if not headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
            return 400, "invalid_payload"
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return 400, "invalid_payload"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        err = self._content_check(body)
        if err:
            return 400, err
        with self.lock:
            self.hooked.append(body)
        return 200, "ok"

    def _web_api(self, method, headers, raw):
        """The JSON answer document of a Web API call (always HTTP 200)."""
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return {"ok": False, "error": "not_authed"}
        if auth[7:] != self.token:
            return {"ok": False, "error": "invalid_auth"}
        ctype = [p.strip().lower() for p in headers.get("content-type", "").split(";")]
        if not ctype[0]:
            return {"ok": False, "error": "missing_post_type"}
        if ctype[0] != "application/json":
            return {"ok": False, "error": "invalid_post_type"}
        charset = [p[len("charset=") :] for p in ctype[1:] if p.startswith("charset=")]
        if not charset or charset[0] not in ("utf-8", "iso-8859-1"):
            return {"ok": False, "error": "invalid_charset"}
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return {"ok": False, "error": "invalid_json"}
        if not isinstance(body, dict):
            return {"ok": False, "error": "invalid_json"}
        if method == "chat.postMessage":
            return self._post_message(body)
        return self._update(body)

    def _post_message(self, body):
        channel = self._channel_id(body.get("channel"), ids_only=False)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        err = self._content_check(body)
        if err:
            return {"ok": False, "error": err}
        if "thread_ts" in body and not isinstance(body["thread_ts"], str):
            return {"ok": False, "error": "invalid_arguments"}
        if "reply_broadcast" in body and not isinstance(body["reply_broadcast"], bool):
            return {"ok": False, "error": "invalid_arguments"}
        m = Message(channel, self._new_ts(channel), body)
        with self.lock:
            self.posts.setdefault(channel, []).append(m)
        return {"ok": True, "channel": channel, "ts": m.ts, "message": {"type": "message", "text": m.text, "ts": m.ts}}

    def _update(self, body):
        channel = self._channel_id(body.get("channel"), ids_only=True)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = body.get("ts")
        with self.lock:
            m = self._find(channel, ts) if isinstance(ts, str) else None
        if m is None:
            return {"ok": False, "error": "message_not_found"}
        err = self._content_check(body)
        if err:
            return {"ok": False, "error": err}
        with self.lock:
            m.edits.append(body)
            m.text = body.get("text")
            # "If blocks is omitted but text is given, the existing blocks are removed."
            m.blocks = body.get("blocks")
        return {"ok": True, "channel": channel, "ts": ts, "text": m.text, "message": {"text": m.text, "ts": ts}}

    def _answer(self, rec, path, method, headers, raw):
        """(status, extra headers, body bytes, content type) or "reset"."""
        if path.startswith("/api/"):
            endpoint = path[len("/api/") :]
            if endpoint not in ("chat.postMessage", "chat.update"):
                return 404, {}, b'{"ok":false,"error":"unknown_method"}', "application/json"
        elif path in self.webhooks or path.startswith("/services/"):
            endpoint = "webhook"
        else:
            return 404, {}, b"no_service", "text/plain"
        webhook = endpoint == "webhook"

        def api_error(code, status=200, extra=None):
            return status, extra or {}, json.dumps({"ok": False, "error": code}).encode(), "application/json"

        s = self._next_script(endpoint)
        if s == "reset":
            return "reset"
        if isinstance(s, tuple) and s[0] == "429":
            ra = {"Retry-After": str(s[1])}
            return (429, ra, b"rate_limited", "text/plain") if webhook else api_error("ratelimited", 429, ra)
        if s == "500":
            return (500, {}, b"rollup_error", "text/plain") if webhook else api_error("internal_error", 500)
        if s == "ratelimited":
            return api_error("ratelimited")
        if isinstance(s, tuple) and s[0] == "error":
            return api_error(s[1])
        if isinstance(s, tuple) and s[0] == "hang":
            rec.hung = True
            time.sleep(s[1])
            return (200, {}, b"ok", "text/plain") if webhook else (200, {}, b'{"ok":true}', "application/json")
        if s is not None:
            raise ValueError("unknown scripted answer %r" % (s,))
        if method != "POST":
            return (405, {}, b"invalid_payload", "text/plain") if webhook else api_error("invalid_post_type", 405)
        if webhook:
            if path not in self.webhooks:
                return 404, {}, b"no_service", "text/plain"
            status, text = self._webhook(headers, raw)
            return status, {}, text.encode(), "text/plain"
        doc = self._web_api(endpoint, headers, raw)
        return 200, {}, json.dumps(doc).encode(), "application/json; charset=utf-8"

    # --- server
    def handler(self):
        fake = self

        class Handler(FakeHandler):
            def _handle(self):
                raw = self.read_body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                rec = Request(self.command, self.path, headers, raw)
                with fake.lock:
                    fake.requests.append(rec)
                a = fake._answer(rec, self.path, self.command, headers, raw)
                if a == "reset":
                    rec.status = 0
                    self.reset()
                    return
                status, extra, out, ctype = a
                with fake.lock:
                    rec.status, rec.answer = status, out
                self.answer(status, extra, out, ctype)

            do_POST = do_GET = _handle

        return Handler
