"""A fake Mastodon server on 127.0.0.1 for POST /api/v1/statuses that checks
requests the way Mastodon does (docs/channel-apis section 5a) and answers with
its own shapes: 200 and a Status entity, or {"error": "..."}.

    with FakeMastodon(token) as m:
        ... "instance_url": m.url ...
        m.script(500, 429, ("hang", 5), "reset")
        m.statuses()   # the statuses it created, in order

Checks, in Mastodon's order: the path (404), the bearer token (401 "The
access token is invalid"), the Idempotency-Key (a key seen before returns the
status it created the first time, without creating another), the body (JSON
or form), `status` present and at most `max_characters` long counting
graphemes with every URL as 23 (422 "Validation failed: ..."), `visibility`
(422), `in_reply_to_id` a status it knows (404 "Record not found").

Scripted answers are taken one per request before any check: a status (429
comes with X-RateLimit-Reset as an ISO 8601 time and no Retry-After, as
Mastodon sends it), ("hang", seconds): no answer, then the connection
closes; ("lost", seconds): the request is checked and the status created,
but the answer never comes (the connection closes after seconds), as when a
timeout hides a success; "reset": a TCP reset. Every request is recorded
(requests()).
"""

import http.server
import json
import re
import socket
import struct
import threading
import time
import unicodedata
import urllib.parse

URL_RE = re.compile(r"https?://[^\s]+")
URL_LENGTH = 23
VISIBILITIES = ("public", "unlisted", "private", "direct")


def status_length(text):
    """Mastodon's count: graphemes (approximated: code points that are not
    combining marks or joiners), every URL counted as 23."""
    text = URL_RE.sub("x" * URL_LENGTH, text)
    n = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me") or ch in ("\u200d", "\ufe0f"):
            continue
        n += 1
    return n


class Request:
    """One request as the fake saw it, and what it answered."""

    def __init__(self, method, path, headers, body):
        self.time = time.monotonic()
        self.method = method
        self.path = path
        self.headers = headers  # dict, lower-case names
        self.body = body
        self.fields = {}
        self.status = None  # what we answered; "hang"/"reset" when we did not
        self.answer = None

    def __repr__(self):
        return "<mastodon %s %s key=%s -> %s>" % (self.method, self.path, self.headers.get("idempotency-key"),
                                                  self.status)


class FakeMastodon:
    def __init__(self, token, max_characters=500, port=0):
        self.token = token
        self.max_characters = max_characters
        self.port = port
        self.lock = threading.Lock()
        self._script = []
        self._requests = []
        self._statuses = []
        self._by_key = {}
        self._next_id = 109876543210000000
        self._stop = threading.Event()
        self.server = None
        self.thread = None

    # --- set-up and results
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def script(self, *answers):
        with self.lock:
            self._script.extend(answers)

    def requests(self):
        with self.lock:
            return list(self._requests)

    def statuses(self):
        with self.lock:
            return list(self._statuses)

    # --- the Mastodon behaviour
    def _create(self, req):
        """(status, headers, document) for a request that passed the script."""
        if req.method != "POST" or req.path.split("?")[0] != "/api/v1/statuses":
            return 404, {}, {"error": "Record not found"}
        auth = req.headers.get("authorization", "")
        if auth != "Bearer " + self.token:
            return 401, {}, {"error": "The access token is invalid"}
        key = req.headers.get("idempotency-key")
        with self.lock:
            if key and key in self._by_key:
                return 200, {}, self._by_key[key]
        ctype = req.headers.get("content-type", "")
        try:
            if ctype.startswith("application/json"):
                fields = json.loads(req.body.decode("utf-8"))
                if not isinstance(fields, dict):
                    raise ValueError("not an object")
            else:
                fields = {k: v[-1] for k, v in urllib.parse.parse_qs(req.body.decode("utf-8")).items()}
        except (ValueError, UnicodeDecodeError):
            return 400, {}, {"error": "Error while parsing the request body"}
        req.fields = fields
        text = fields.get("status")
        if not isinstance(text, str) or not text.strip():
            return 422, {}, {"error": "Validation failed: Text can't be blank"}
        if status_length(text) > self.max_characters:
            return 422, {}, {"error": "Validation failed: Text character limit of %d exceeded" % self.max_characters}
        visibility = fields.get("visibility", "public")
        if visibility not in VISIBILITIES:
            return 422, {}, {"error": "Validation failed: Visibility is not included in the list"}
        language = fields.get("language")
        if language is not None and not re.fullmatch(r"[a-z]{2}", str(language)):
            return 422, {}, {"error": "Validation failed: Language is not a valid ISO 639-1 code"}
        reply_to = fields.get("in_reply_to_id")
        with self.lock:
            if reply_to is not None and reply_to not in {s["id"] for s in self._statuses}:
                return 404, {}, {"error": "Record not found"}
            self._next_id += 1
            sid = str(self._next_id)
            status = {
                "id": sid,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "in_reply_to_id": reply_to,
                "visibility": visibility,
                "language": language,
                "uri": "%s/users/status/statuses/%s" % (self.url, sid),
                "url": "%s/@status/%s" % (self.url, sid),
                "content": "<p>%s</p>" % text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
                "text": text,
            }
            self._statuses.append(status)
            if key:
                self._by_key[key] = status
        return 200, {}, status

    def _scripted(self):
        with self.lock:
            return self._script.pop(0) if self._script else None

    # --- the server
    def start(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with fake.lock:
                    fake._requests.append(req)
                a = fake._scripted()
                headers = {}
                if a == "reset":
                    req.status = "reset"
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if isinstance(a, tuple) and a[0] in ("hang", "lost"):
                    if a[0] == "lost":
                        fake._create(req)
                    req.status = a[0]
                    fake._stop.wait(a[1])
                    self.close_connection = True
                    return
                if a == 429:
                    at = time.time() + 3
                    reset = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".%03dZ" % (int(at * 1000) % 1000)
                    status, doc = 429, {"error": "Too many requests"}
                    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
                elif isinstance(a, int):
                    status, doc = a, {"error": "Internal server error" if a >= 500 else "scripted"}
                else:
                    status, headers, doc = fake._create(req)
                req.status = status
                req.answer = doc
                out = json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_GET = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # clients that time out and go away are expected here

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
