"""End-to-end test helpers: a crierd in a temporary folder, a scriptable fake
HTTP target, crierctl, Alertmanager.

Everything a helper starts is stopped by its context manager (or stop()),
even when the test fails. Binaries come from $CRIER_BUILD (default "build"),
relative to the repository root unless absolute.
"""

import copy
import http.client
import http.server
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")


def build_dir():
    b = os.environ.get("CRIER_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def crierd_bin():
    return os.path.join(build_dir(), "crierd")


def crierctl_bin():
    return os.path.join(build_dir(), "crierctl")


def plugin_dir():
    return os.path.join(build_dir(), "plugins")


# The sanitizer build reports at run time; these make the reports land in the
# captured stderr without aborting, also when a test file is run alone.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

# `make valgrind` runs crierd under memcheck: CRIER_WRAPPER is the command
# line put in front of it, and its error summary counts as a sanitizer's.
WRAPPER = os.environ.get("CRIER_WRAPPER", "").split()


def sanitizer_errors(text):
    found = [m for m in SANITIZER_MARKERS if m in text]
    found += ["valgrind: " + m.group(0) for m in re.finditer(r"ERROR SUMMARY: [1-9][0-9]* errors", text)]
    found += ["valgrind: " + m.group(0) for m in re.finditer(r"definitely lost: [1-9][0-9,]* bytes", text)]
    return found


def fixture(*parts, mode="rb"):
    with open(os.path.join(FIXTURES, *parts), mode) as f:
        return f.read()


def fixture_json(*parts):
    return json.loads(fixture(*parts))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=15.0, interval=0.1, what="condition"):
    """Call fn until it returns something truthy; return that, or fail after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last value: %r)" % (timeout, what, last))
        time.sleep(interval)


def keep_tmp():
    return os.environ.get("CRIER_KEEP_TMP") == "1"


class TempDir:
    """A temporary folder, kept when CRIER_KEEP_TMP=1 (for post-mortems)."""

    def __init__(self, prefix="crier-it-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        if keep_tmp():
            print("kept %s" % self.path, file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


# --------------------------------------------------------------------- HTTP client


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body  # bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %s %r>" % (self.status, self.body[:300])


def http_request(port, method, path, body=None, headers=None, host="127.0.0.1", timeout=30.0):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def http_raw(port, raw_head, body=b"", host="127.0.0.1", timeout=30.0):
    """Send a hand-made request and return (status, head text, body bytes).

    The body is written while the answer is read, so a server that answers
    early (413 before reading a huge body) and closes is still heard, and a
    reset after the answer does not hide it.
    """
    s = socket.create_connection((host, port), timeout=timeout)
    s.setblocking(False)
    out = raw_head + body
    sent = 0
    got = b""
    deadline = time.monotonic() + timeout
    closed = False
    try:
        while time.monotonic() < deadline and not closed:
            want_w = [s] if sent < len(out) else []
            r, w, _ = select.select([s], want_w, [], 0.5)
            if r:
                try:
                    chunk = s.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    break
                if not chunk:
                    closed = True
                    break
                got += chunk
                if _raw_complete(got):
                    break
            if w:
                try:
                    sent += s.send(out[sent : sent + 65536])
                except (ConnectionResetError, BrokenPipeError):
                    sent = len(out)  # the server stopped reading; keep listening for its answer
    finally:
        s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return (int(m.group(1)) if m else 0), head.decode("latin-1"), rest


def _raw_complete(got):
    head, sep, rest = got.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return bool(m) and len(rest) >= int(m.group(1))


# --------------------------------------------------------------------- fake target


class Recorded:
    def __init__(self, method, path, headers, body, answered):
        self.time = time.monotonic()
        self.wall = time.time()
        self.method = method
        self.path = path
        self.headers = headers  # dict, lower-case names
        self.body = body
        self.answered = answered  # the status we answered

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Recorded %s %s -> %s key=%s attempt=%s>" % (
            self.method,
            self.path,
            self.answered,
            self.headers.get("idempotency-key"),
            self.headers.get("x-crier-attempt"),
        )


class FakeHandler(http.server.BaseHTTPRequestHandler):
    """The request handler of the fake servers: HTTP/1.1, no access log, and
    the two ways a fake ends a request."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle
    # plus the client's delayed ACK cost 40 ms per answer.
    disable_nagle_algorithm = True

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def answer(self, status, headers, body, content_type):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reset(self):
        """Close the connection with a TCP reset, no answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def log_message(self, *args):
        pass


class _FakeHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client killed mid-request (kill -9 tests), or one that gave up
        # on a slow answer, is not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """A fake server in a thread on 127.0.0.1. A subclass gives handler(), a
    FakeHandler subclass; start() serves on self.port (0: a free one, set
    then), stop() (or the with block's end) stops it."""

    port = 0
    server = None
    thread = None

    def handler(self):
        raise NotImplementedError

    def start(self):
        self.server = _FakeHTTPServer(("127.0.0.1", self.port), self.handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
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


class FakeTarget(FakeServer):
    """An HTTP server in a thread. Each request takes the next scripted answer
    (status, or (status, headers, body)); when the script runs out, the default
    answer. Every request is recorded with its headers and body.

    check(method, path, headers, body), if given, sees each request first (headers
    with lower-case names) and returns None to accept it, or an answer that
    replaces the scripted one: the service's own error for a malformed request."""

    def __init__(self, answers=None, default=200, port=0, check=None):
        self.lock = threading.Lock()
        self.answers = list(answers or [])
        self.default = default
        self.check = check
        self.requests = []
        self.port = port
        self.server = None
        self.thread = None
        self.delay = 0.0  # seconds to wait before answering (a slow channel)

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def set_answers(self, answers, default=None):
        with self.lock:
            self.answers = list(answers)
            if default is not None:
                self.default = default

    def _next_answer(self):
        with self.lock:
            a = self.answers.pop(0) if self.answers else self.default
        return self._answer(a)

    def _answer(self, a):
        if a == "reset":  # close the connection with a TCP reset, no answer
            return "reset", {}, b""
        if isinstance(a, tuple) and a and a[0] == "hang":  # ("hang", seconds): answer 200 that late
            return 200, {"X-Hang": str(a[1])}, b'{"ok":true}'
        if isinstance(a, int):
            return a, {}, b'{"ok":true}' if a < 300 else b'{"error":"scripted"}'
        status, headers, body = a
        return status, headers or {}, body if isinstance(body, bytes) else str(body).encode()

    def _record(self, rec):
        with self.lock:
            self.requests.append(rec)

    def recorded(self):
        with self.lock:
            return list(self.requests)

    def wait_requests(self, n, timeout=15.0):
        return wait_until(lambda: len(self.recorded()) >= n and self.recorded(), timeout, what="%d requests" % n)

    def handler(self):
        target = self

        class Handler(FakeHandler):
            def _handle(self):
                body = self.read_body()
                seen = {k.lower(): v for k, v in self.headers.items()}
                refused = target.check(self.command, self.path, seen, body) if target.check else None
                status, headers, out = target._answer(refused) if refused is not None else target._next_answer()
                target._record(Recorded(self.command, self.path, seen, body, status))
                if target.delay:  # recorded on arrival, answered late
                    time.sleep(target.delay)
                if "X-Hang" in headers:
                    time.sleep(float(headers.pop("X-Hang")))
                if status == "reset":
                    self.reset()
                    return
                self.answer(status, headers, out, "application/json")

            do_POST = do_GET = do_PUT = _handle

        return Handler


# --------------------------------------------------------------------- crierd


def default_files(state_dir, port, hold_seconds):
    """The configuration folder every test starts from, one file per concern."""
    return {
        "daemon.json": {"daemon": {"state_dir": state_dir, "plugin_dir": plugin_dir()}},
        "http.json": {"http": {"listen": "127.0.0.1:%d" % port}},
        "incidents.json": {"incidents": {"hold_seconds": hold_seconds}},
        "delivery.json": {
            "delivery": {"max_attempts": 12, "backoff_initial_ms": 200, "backoff_max_ms": 1000, "max_age_seconds": 3600}
        },
        "routes.json": {"routes": [{"name": "everything", "to": ["log/events"]}]},
        "log.json": {"plugins": {"log": {"instances": {"events": {"path": "events.jsonl"}}}}},
    }


def webhook_files(url, **instance):
    """Files over the defaults: a webhook instance "hook" (url, and any other
    instance keys) that gets every "opened" event, besides the log."""
    return {
        "webhook.json": {"plugins": {"webhook": {"instances": {"hook": dict({"url": url}, **instance)}}}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                {"name": "hook", "events": ["opened"], "to": ["webhook/hook"]},
            ]
        },
    }


class Crierd:
    """One crierd with its own configuration folder and state folder under tmp.

    files: {"name.json": document} merged over the defaults (a None value
    removes a default file). Change self.files and call write_config() to
    prepare a reload."""

    def __init__(self, tmp, files=None, hold_seconds=2, env=None, port=None):
        self.tmp = tmp
        self.conf_dir = os.path.join(tmp, "conf.d")
        self.state_dir = os.path.join(tmp, "state")
        os.makedirs(self.conf_dir, exist_ok=True)
        os.makedirs(self.state_dir, exist_ok=True)
        self.port = port or free_port()
        self.files = default_files(self.state_dir, self.port, hold_seconds)
        for name, doc in (files or {}).items():
            if doc is None:
                self.files.pop(name, None)
            else:
                self.files[name] = copy.deepcopy(doc)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.runs = 0
        self.log_paths = []
        self.write_config()

    # --- configuration
    def write_config(self):
        # The shipped templates, where a user's conf.d has them (a test that
        # wants its own puts them there first).
        templates = os.path.join(self.conf_dir, "templates")
        if not os.path.exists(templates):
            shutil.copytree(os.path.join(REPO, "conf.d", "templates"), templates)
        for name in os.listdir(self.conf_dir):
            if name.endswith(".json") and name not in self.files:
                os.unlink(os.path.join(self.conf_dir, name))
        for name, doc in self.files.items():
            path = os.path.join(self.conf_dir, name)
            with open(path + ".tmp", "w") as f:
                if isinstance(doc, str):
                    f.write(doc)
                else:
                    json.dump(doc, f, indent=2)
            os.replace(path + ".tmp", path)

    @property
    def control_path(self):
        return os.path.join(self.state_dir, "crierd.ctl")

    # --- process
    def check_config(self, timeout=60.0):
        """crierd --check-config on this folder; the finished process, its output as text."""
        cmd = [crierd_bin(), "--config", self.conf_dir, "--check-config"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=self.tmp)

    def start(self, wait=True, timeout=60.0):
        assert self.proc is None, "already running"
        self.runs += 1
        log_path = os.path.join(self.tmp, "crierd-%d.log" % self.runs)
        self.log_paths.append(log_path)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            WRAPPER + [crierd_bin(), "--config", self.conf_dir],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.tmp,
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("crierd exited with %d before it was ready:\n%s" % (rc, self.log_tail()))
            try:
                if http_request(self.port, "GET", "/readyz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("crierd not ready after %.0fs:\n%s" % (timeout, self.log_tail()))
            time.sleep(0.1)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        self.proc = None
        self._log.close()

    def stop(self, timeout=30.0):
        """SIGTERM; fail unless it exits 0 in time with no sanitizer report."""
        if self.proc is None:
            return None
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self._reap()
            raise AssertionError("crierd did not exit within %.0fs of SIGTERM:\n%s" % (timeout, self.log_tail()))
        self._reap()
        found = sanitizer_errors(self.log_text())
        if found:
            raise AssertionError("sanitizer reported %s:\n%s" % (found, self.log_tail(80)))
        if rc != 0:
            raise AssertionError("crierd exited with %d after SIGTERM:\n%s" % (rc, self.log_tail()))
        return rc

    def kill9(self):
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait()
        self._reap()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def pid(self):
        return self.proc.pid

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
            return False
        # The test already failed: show why crierd might have, and do not mask it.
        try:
            if self.proc is not None:
                self.stop()
        except AssertionError as e:
            print("also: %s" % str(e).splitlines()[0], file=sys.stderr)
        print("---- crierd log tail (%s)\n%s" % (self.tmp, self.log_tail(60)), file=sys.stderr)
        return False

    # --- logs and output
    def log_text(self):
        out = []
        for p in self.log_paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def events(self, path="events.jsonl"):
        """The event documents the log plugin wrote, in order."""
        p = os.path.join(self.state_dir, path)
        if not os.path.exists(p):
            return []
        out = []
        with open(p, "rb") as f:
            for line in f.read().decode("utf-8").splitlines():
                if line.strip():
                    out.append(json.loads(line))
        return out

    def events_of(self, incident_key, path="events.jsonl"):
        return [e for e in self.events(path) if e.get("incident", {}).get("key") == incident_key]

    # --- HTTP
    def request(self, method, path, body=None, headers=None, timeout=30.0):
        return http_request(self.port, method, path, body, headers, timeout=timeout)

    def post(self, path, body, headers=None, token=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, bytes):
            h.setdefault("Content-Type", "application/json")
        return self.request("POST", path, body, h)

    def post_am(self, body, token=None):
        return self.post("/api/v1/alertmanager", body, token=token)

    def post_generic(self, body, token=None):
        return self.post("/api/v1/alerts", body, token=token)

    def healthy(self):
        try:
            return self.request("GET", "/healthz", timeout=5).status == 200
        except OSError:
            return False

    def metrics(self):
        r = self.request("GET", "/metrics")
        assert r.status == 200, r
        return parse_prometheus(r.text())

    # --- crierctl
    def ctl(self, *args, json_out=False, check=True, timeout=30.0):
        cmd = [crierctl_bin(), "--socket", self.control_path] + (["--json"] if json_out else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        found = sanitizer_errors(p.stderr)
        if found:
            raise AssertionError("crierctl %s: sanitizer reported %s:\n%s" % (args, found, p.stderr))
        if check and p.returncode != 0:
            raise AssertionError("crierctl %s exited %d:\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def ctl_json(self, *args, check=True):
        p = self.ctl(*args, json_out=True, check=check)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise AssertionError("crierctl --json %s printed no JSON:\n%s%s" % (" ".join(args), p.stdout, p.stderr))

    def incidents(self, all=True):
        r = self.ctl_json("incidents", *(["--all"] if all else []))
        return unwrap(r, "incidents")

    def incident(self, key):
        for i in self.incidents(all=True):
            if i.get("key") == key:
                return i
        return None

    def show(self, incident_id):
        r = self.ctl_json("show", str(incident_id))
        assert isinstance(r, dict) and "incident" in r, r
        return r

    def deliveries(self, dead=False):
        return unwrap(self.ctl_json("deliveries", *(["--dead"] if dead else [])), "deliveries")


def unwrap(reply, field):
    """crierctl --json prints the control reply; accept it with or without the envelope."""
    if isinstance(reply, dict):
        assert reply.get("ok", True) is not False, reply
        assert field in reply, "no %r in %r" % (field, reply)
        return reply[field]
    return reply


# --------------------------------------------------------------------- metrics


def parse_prometheus(text):
    """{(name, frozenset(labels.items())): value} plus names seen in # TYPE lines."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m:
            raise AssertionError("not Prometheus text format: %r" % line)
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        samples[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return Metrics(samples)


class Metrics:
    def __init__(self, samples):
        self.samples = samples

    def names(self):
        return {n for n, _ in self.samples}

    def get(self, name, **labels):
        """Sum of the samples of name whose labels include the given ones."""
        total = 0.0
        for (n, ls), v in self.samples.items():
            if n == name and all((k, str(val)) in ls for k, val in labels.items()):
                total += v
        return total


# --------------------------------------------------------------------- Alertmanager


AM_CONFIG = """route:
  receiver: crier
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: {repeat}
receivers:
- name: crier
  webhook_configs:
  - url: http://127.0.0.1:{crier_port}/api/v1/alertmanager
    send_resolved: true
    http_config:
      authorization:
        type: Bearer
        credentials: {token}
"""


class Alertmanager:
    """A real Alertmanager 0.25 on a free loopback port, posting to crierd."""

    BIN = "/usr/bin/prometheus-alertmanager"
    AMTOOL = "/usr/bin/amtool"

    def __init__(self, tmp, crier_port, token, repeat="1h"):
        self.dir = os.path.join(tmp, "alertmanager")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = free_port()
        self.config = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write(AM_CONFIG.format(crier_port=crier_port, token=token, repeat=repeat))
        self.proc = None

    @classmethod
    def available(cls):
        return os.access(cls.BIN, os.X_OK) and os.access(cls.AMTOOL, os.X_OK)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self._log = open(os.path.join(self.dir, "alertmanager.log"), "wb")
        self.proc = subprocess.Popen(
            [
                self.BIN,
                "--config.file=" + self.config,
                "--storage.path=" + os.path.join(self.dir, "data"),
                "--cluster.listen-address=",
                "--web.listen-address=127.0.0.1:%d" % self.port,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("alertmanager exited:\n" + self.log_text())
            try:
                return http_request(self.port, "GET", "/-/ready", timeout=2).status == 200
            except OSError:
                return False

        wait_until(ready, 30, what="alertmanager ready")
        return self

    def log_text(self):
        with open(os.path.join(self.dir, "alertmanager.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def amtool(self, *args):
        p = subprocess.run(
            [self.AMTOOL, "--alertmanager.url=" + self.url] + list(args), capture_output=True, text=True, timeout=30
        )
        if p.returncode != 0:
            raise AssertionError("amtool %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
        return p.stdout

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        if exc_type is not None and self.proc is not None:
            print("---- alertmanager log tail\n" + "\n".join(self.log_text().splitlines()[-30:]), file=sys.stderr)
        self.stop()
        return False


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# --------------------------------------------------------------------- unittest base


class DaemonCase(unittest.TestCase):
    """A TestCase whose helpers start things and register their stop as a cleanup
    (run even when the test fails; cleanups run newest first)."""

    def tmpdir(self):
        t = TempDir()
        self.addCleanup(t.__exit__, None, None, None)
        return t.path

    def start_crierd(self, files=None, tmp=None, **kw):
        d = Crierd(tmp or self.tmpdir(), files, **kw)
        self.addCleanup(self._finish_crierd, d)
        d.start()
        return d

    def failed(self):
        """True once this test has a failure or error (cleanups use it to show logs)."""
        o = getattr(self, "_outcome", None)
        if o is None:
            return False
        if not getattr(o, "success", True):
            return True
        r = getattr(o, "result", None)
        for t, _ in list(getattr(r, "failures", [])) + list(getattr(r, "errors", [])):
            if t is self or getattr(t, "test_case", None) is self:
                return True
        return False

    def _finish_crierd(self, d):
        if self.failed():
            print("\n---- crierd log tail (%s)\n%s" % (d.tmp, d.log_tail(60)), file=sys.stderr)
        if d.proc is not None:
            d.stop()

    def start_target(self, answers=None, default=200, port=0, check=None):
        t = FakeTarget(answers, default, port, check)
        self.addCleanup(t.stop)
        return t.start()
