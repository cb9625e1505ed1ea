"""A fake WebDAV server for end-to-end tests (RFC 4918, the subset a site
publisher uses), answering the way Apache's mod_dav and nginx's dav module
do:

    with FakeDav(username="uploader", password="pw") as dav:
        dav.url("/status/")          -> "http://127.0.0.1:PORT/status/"
        dav.files                    -> {"/status/index.html": b"...", ...}
        dav.fail(500)                -> every request answers 500 until dav.fail(None)
        dav.requests()               -> [DavRequest, ...] in arrival order

PUT stores a file (201 created, 204 replaced) and needs its parent
collection (409 Conflict otherwise); MKCOL makes a collection (201; 405 when
it exists; 409 without a parent); MOVE needs an absolute Destination on this
server (400 without one, 502 for another server), honours Overwrite (412
when it is F and the destination exists) and answers 201 or 204; GET serves
a file. With credentials set, every request needs them (HTTP basic; 401 with
WWW-Authenticate otherwise). "/" and the given collections (default
"/status/", as an operator would have made it) are there at the start.
"""

import base64
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FakeHandler, FakeServer, wait_until  # noqa: E402


class DavRequest:
    def __init__(self, method, path, headers, body):
        self.time = time.monotonic()
        self.method = method
        self.path = path
        self.headers = headers  # dict, lower-case names
        self.body = body
        self.status = None

    def __repr__(self):
        return "<DavRequest %s %s dest=%s overwrite=%s -> %s>" % (
            self.method,
            self.path,
            self.headers.get("destination"),
            self.headers.get("overwrite"),
            self.status,
        )


class FakeDav(FakeServer):
    def __init__(self, username=None, password=None, collections=("/status/",), port=0):
        self.username = username
        self.password = password
        self.port = port
        self.lock = threading.Lock()
        self.files = {}  # path -> bytes
        self.collections = {"/"} | set(collections)
        self.reqs = []
        self.failing = None  # a status every request gets, or None

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def fail(self, status):
        with self.lock:
            self.failing = status

    def requests(self):
        with self.lock:
            return list(self.reqs)

    def file(self, path):
        with self.lock:
            return self.files.get(path)

    def wait_file(self, path, contains=b"", timeout=20.0):
        def ready():
            f = self.file(path)
            return f is not None and contains in f and f

        return wait_until(ready, timeout, 0.1, "%s on the WebDAV server holding %r" % (path, contains))

    # --- the protocol, under self.lock
    def _parent(self, path):
        return path.rstrip("/").rsplit("/", 1)[0] + "/"

    def _authorized(self, headers):
        if self.username is None:
            return True
        want = "Basic " + base64.b64encode(("%s:%s" % (self.username, self.password)).encode()).decode()
        return headers.get("authorization") == want

    def _handle(self, method, path, headers, body):
        if self.failing is not None:
            return self.failing, {}
        if not self._authorized(headers):
            return 401, {"WWW-Authenticate": 'Basic realm="status"'}
        if method == "GET":
            return (200, {}) if path in self.files else (404, {})
        if method == "PUT":
            if path.endswith("/"):
                return 405, {}
            if self._parent(path) not in self.collections:
                return 409, {}
            existed = path in self.files
            self.files[path] = body
            return (204 if existed else 201), {}
        if method == "MKCOL":
            if body:
                return 415, {}
            p = path if path.endswith("/") else path + "/"
            if p in self.collections or path.rstrip("/") in self.files:
                return 405, {}
            if self._parent(p) not in self.collections:
                return 409, {}
            self.collections.add(p)
            return 201, {}
        if method == "MOVE":
            dest = headers.get("destination")
            if not dest:
                return 400, {}
            u = urllib.parse.urlsplit(dest)
            if u.scheme != "http" or u.netloc != "127.0.0.1:%d" % self.port:
                return 502, {}
            dpath = urllib.parse.unquote(u.path)
            overwrite = headers.get("overwrite", "T")
            if overwrite not in ("T", "F"):
                return 400, {}
            if path not in self.files:
                return 404, {}
            if self._parent(dpath) not in self.collections:
                return 409, {}
            existed = dpath in self.files
            if existed and overwrite == "F":
                return 412, {}
            self.files[dpath] = self.files.pop(path)
            return (204 if existed else 201), {}
        return 405, {"Allow": "GET, PUT, MKCOL, MOVE"}

    def handler(self):
        dav = self

        class Handler(FakeHandler):
            def _any(self):
                body = self.read_body()
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                rec = DavRequest(self.command, path, headers, body)
                with dav.lock:
                    dav.reqs.append(rec)
                    status, extra = dav._handle(self.command, path, headers, body)
                    rec.status = status
                    out = dav.files[path] if self.command == "GET" and status == 200 else b""
                if status >= 400:
                    out = ("<html><body><h1>%d</h1></body></html>" % status).encode()
                self.answer(status, extra, out, "text/html" if status >= 400 else "application/octet-stream")

            do_GET = do_PUT = do_MKCOL = do_MOVE = do_DELETE = do_POST = _any

        return Handler
