"""The statuspage plugin end to end: Alertmanager webhook posts open an
incident and its page appears, the same bytes, in a local folder and on a
WebDAV server (fake_dav.py: PUT aside, MOVE with Overwrite: T); a person's
update shows newest first; resolution moves the incident to the history;
feed.atom is Atom 1.0 with an entry per update; status.json parses. A
WebDAV server answering 500 is retried while the folder, already current, is
left alone; a crash and restart keep the plugin's model; alert text and
human updates full of markup stay inert text; a real headless Chromium loads
the page without console errors and saves screenshots in tests/output/; an
SFTP target against a local sshd, when one can run here."""

import html.parser
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_dav import FakeDav  # noqa: E402
from harness import REPO, Crierd, DaemonCase, crierd_bin, free_port, rfc3339, wait_until  # noqa: E402

PASSWORD = "dav-pw-crier-5e21"
INSTANCE = "statuspage/public"
ATOM = "{http://www.w3.org/2005/Atom}"
NASTY = (
    '<script>alert(1)</script> "onload=alert(1) x=" [x](javascript:alert(1)) '
    "<img src=x onerror=alert(2)> <a href=\"javascript:alert(3)\">y</a> <svg onload=alert(4)>"
)
OUTPUT = os.path.join(REPO, "tests", "output")

# Every element and attribute the shipped templates write; anything else on
# a page came from the data.
ELEMENTS = {
    "html", "head", "meta", "link", "title", "style", "body", "a", "header", "div", "p", "nav", "main",
    "section", "h1", "h2", "h3", "span", "article", "ol", "ul", "li", "strong", "time", "footer",
}  # fmt: skip
ATTRIBUTES = {"lang", "charset", "name", "content", "http-equiv", "rel", "type", "title", "href", "class", "id",
              "aria-labelledby", "aria-hidden", "aria-label", "datetime"}  # fmt: skip


def am(service, summary, fingerprint, status="firing", severity="critical", description="", started=None):
    """An Alertmanager v4 webhook body with one alert."""
    started = started or time.time() - 60
    alert = {
        "status": status,
        "labels": {"alertname": "ApiErrors", "service": service, "severity": severity, "instance": "db-7.internal"},
        "annotations": {"summary": summary, "description": description or "see the runbook on wiki.internal"},
        "startsAt": rfc3339(started),
        "endsAt": rfc3339(time.time()) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }
    return {
        "receiver": "crier",
        "status": status,
        "alerts": [alert],
        "groupLabels": {"alertname": "ApiErrors", "service": service},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.internal:9093",
        "version": "4",
        "groupKey": '{}:{service="%s"}' % service,
        "truncatedAlerts": 0,
    }


def statuspage_files(targets, **extra):
    inst = {
        "name": "Example",
        "url": "https://status.example.com/",
        "components": [
            {"name": "API", "labels": {"service": "api"}},
            {"name": "Website", "labels": {"service": "web"}},
        ],
        "targets": targets,
    }
    inst.update(extra)
    return {
        "statuspage.json": {"plugins": {"statuspage": {"instances": {"public": inst}}}},
        "routes.json": {"routes": [{"name": "everything", "to": ["log/events", INSTANCE]}]},
    }


class Page(html.parser.HTMLParser):
    """Elements, attributes and text of one HTML page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []  # (tag, {attr: value})
        self.text = []
        self.headings = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def all_text(self):
        return " ".join(" ".join(self.text).split())

    def problems(self):
        """What could run or load something: elements and attributes the
        templates do not write, event handlers, links that are not plain
        relative or http(s) addresses."""
        out = []
        for tag, attrs in self.elements:
            if tag not in ELEMENTS:
                out.append("element <%s>" % tag)
            for name, value in attrs.items():
                if name.startswith("on") or name not in ATTRIBUTES:
                    out.append("attribute %s= on <%s>" % (name, tag))
                if name == "href" and not re.match(r"^(https?://|[a-z0-9./#_-]*$)", value or ""):
                    out.append("href %r" % value)
            if tag == "link" and attrs.get("rel") != "alternate":
                out.append("link rel=%s" % attrs.get("rel"))
        return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


class StatusPageCase(DaemonCase):
    def start_dav(self, failing=None):
        dav = FakeDav(username="uploader", password=PASSWORD)
        self.addCleanup(dav.stop)
        dav.start()
        if failing:
            dav.fail(failing)
        return dav

    def dav_target(self, dav):
        return {"url": dav.url("/status/"), "username": "uploader", "password": "${CRIER_TEST_DAV_PASSWORD}"}

    def start_page(self, targets, **extra):
        tmp = self.tmpdir()
        return self.start_crierd(statuspage_files(targets, **extra), tmp=tmp, env={"CRIER_TEST_DAV_PASSWORD": PASSWORD})

    def site_dir(self):
        site = os.path.join(self.tmpdir(), "www")
        os.makedirs(site)
        return site

    def wait_local(self, site, name, contains, timeout=20.0):
        path = os.path.join(site, name)

        def ready():
            try:
                data = read(path)
            except OSError:
                return False
            return contains.encode() in data and data.decode()

        return wait_until(ready, timeout, 0.1, "%s holding %r" % (path, contains))

    def settled(self, d, n):
        """n deliveries to the instance, all delivered."""

        def done():
            ds = [x for x in d.deliveries() if x["instance"] == INSTANCE]
            return len(ds) >= n and all(x["state"] == "delivered" for x in ds) and ds

        return wait_until(done, 30, 0.2, "%d deliveries to %s delivered" % (n, INSTANCE))

    def assert_no_secret(self, d, *texts):
        self.assertNotIn(PASSWORD, d.log_text())
        for t in texts:
            self.assertNotIn(PASSWORD, t)

    def assert_inert(self, text, where):
        page = Page(text)
        self.assertEqual(page.problems(), [], where)
        self.assertNotRegex(text.lower(), r"<script|<img|<svg|<iframe", where)
        return page


class StatusPageFlow(StatusPageCase):
    def test_alert_update_resolve_on_two_targets(self):
        dav = self.start_dav()
        site = self.site_dir()
        d = self.start_page([{"dir": site}, self.dav_target(dav)])

        self.assertEqual(d.post_am(am("api", "API error rate above 5%", "a1")).status, 200)
        index = self.wait_local(site, "index.html", "API error rate above 5%")
        inc = d.incident("service=api")
        page = Page(index)
        text = page.all_text()
        self.assertIn("Major outage", text)
        self.assertRegex(text, r"API ✕ Major outage")
        self.assertRegex(text, r"Website ✓ Operational")
        self.assertIn("We are investigating this issue.", text)
        for internal in ("db-7", "ApiErrors", "wiki.internal", "prometheus.internal", "alertmanager.internal"):
            self.assertNotIn(internal, index)
        # Accessible: language, viewport, one h1 first, no skipped level.
        self.assertIn('<html lang="en">', index)
        self.assertIn('<meta name="viewport" content="width=device-width, initial-scale=1">', index)
        self.assertEqual(page.headings[0], 1)
        self.assertEqual(page.headings.count(1), 1)
        for a, b in zip(page.headings, page.headings[1:]):
            self.assertLessEqual(b - a, 1, page.headings)
        times = [attrs for tag, attrs in page.elements if tag == "time"]
        self.assertTrue(times and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", t["datetime"]) for t in times))
        # Nothing loads from elsewhere: no scripts, no external styles or fonts.
        self.assertEqual(page.problems(), [])
        self.assertNotRegex(index, r"(src|href)=\"(https?:)?//(?!status\.example\.com)")
        self.assertNotIn("@import", index)
        self.assertNotIn("url(", index)

        # A person's update, newest first.
        d.ctl("update", str(inc["id"]), "--message", "A fix is being deployed.\nNext update in 30 minutes.",
              "--state", "identified")  # fmt: skip
        index = self.wait_local(site, "index.html", "A fix is being deployed.")
        article = index[index.index('id="incident-%d"' % inc["id"]) :]
        article = article[: article.index("</article>")]
        self.assertLess(article.index("A fix is being deployed."), article.index("We are investigating this issue."))
        self.assertIn("Identified", index)
        page_name = "incidents/%d.html" % inc["id"]
        incident_page = self.wait_local(site, page_name, "A fix is being deployed.")
        self.assertIn("This incident affected: API.", incident_page)

        # Resolved: off the active list, into the history; all operational.
        d.ctl("resolve", str(inc["id"]))
        index = self.wait_local(site, "index.html", "All systems operational")
        self.assertNotIn("Active incidents", index)
        self.assertIn('<a href="%s">API error rate above 5%%</a>' % page_name, index)  # recently resolved
        history = self.wait_local(site, "history.html", "API error rate above 5%")
        self.assertIn("Affected API.", history)
        self.assertIn("This incident has been resolved.", read(os.path.join(site, page_name)).decode())
        self.settled(d, 3)

        # The feed: Atom 1.0 with an entry per update.
        feed = ET.fromstring(read(os.path.join(site, "feed.atom")))
        self.assertEqual(feed.tag, ATOM + "feed")
        for child in ("id", "title", "updated", "author"):
            self.assertIsNotNone(feed.find(ATOM + child), child)
        self.assertEqual(feed.find(ATOM + "id").text, "https://status.example.com/feed.atom")
        entries = feed.findall(ATOM + "entry")
        self.assertEqual(len(entries), 3)
        for e in entries:
            for child in ("id", "title", "updated", "content"):
                self.assertTrue(e.find(ATOM + child) is not None and e.find(ATOM + child).text, child)
            self.assertRegex(e.find(ATOM + "updated").text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertTrue(e.find(ATOM + "link").get("href").startswith("https://status.example.com/incidents/"))
        self.assertEqual(len({e.find(ATOM + "id").text for e in entries}), 3)
        titles = [e.find(ATOM + "title").text for e in entries]
        self.assertEqual(titles[0], "API error rate above 5%: Resolved")
        self.assertIn("A fix is being deployed.", entries[1].find(ATOM + "content").text)
        self.assertEqual(feed.find(ATOM + "updated").text, entries[0].find(ATOM + "updated").text)

        # status.json, for machines.
        st = json.loads(read(os.path.join(site, "status.json")))
        self.assertEqual(st["schema"], "crier-statuspage/1")
        self.assertEqual(st["status"]["indicator"], "operational")
        self.assertEqual(st["incidents"], [])
        self.assertEqual([c["status"] for c in st["components"]], ["operational", "operational"])
        self.assertEqual(len(st["resolved"]), 1)
        r = st["resolved"][0]
        self.assertEqual((r["id"], r["title"], r["state"], r["components"]), (inc["id"], inc["title"], "resolved", ["API"]))
        self.assertEqual([u["state"] for u in r["updates"]], ["resolved", "identified", "investigating"])
        self.assertEqual(r["updates"][1]["message"], "A fix is being deployed.\nNext update in 30 minutes.")

        # The WebDAV copy is the same site, put in place by MOVE only.
        for name in ("index.html", "history.html", "feed.atom", "status.json", page_name):
            self.assertEqual(dav.file("/status/" + name), read(os.path.join(site, name)), name)
        reqs = dav.requests()
        self.assertEqual({r.status for r in reqs} - {201, 204}, set(), reqs)
        puts = [r for r in reqs if r.method == "PUT"]
        moves = [r for r in reqs if r.method == "MOVE"]
        self.assertTrue(puts and moves)
        self.assertEqual(len([r for r in reqs if r.method == "MKCOL"]), 1, "incidents/ is made once")
        for r in puts:
            self.assertRegex(r.path, r"/\.[^/]+\.crier-tmp$")
        for r in moves:
            self.assertEqual(r.headers.get("overwrite"), "T")
            self.assertTrue(r.headers["destination"].startswith(dav.url("/status/")))
        self.assertEqual(reqs[-1].headers["destination"], dav.url("/status/index.html"))
        self.assertEqual([p for p in dav.files if "crier-tmp" in p], [])
        self.assertEqual([n for n in os.listdir(site) if "crier-tmp" in n], [])
        self.assert_no_secret(d, d.ctl("deliveries").stdout)

    def test_failing_target_retried_while_the_folder_is_current(self):
        dav = self.start_dav(failing=500)
        site = self.site_dir()
        d = self.start_page([{"dir": site}, self.dav_target(dav)])
        self.assertEqual(d.post_am(am("web", "Website unreachable", "w1")).status, 200)
        self.wait_local(site, "index.html", "Website unreachable")
        index = os.path.join(site, "index.html")
        inode = os.stat(index).st_ino

        def failing():
            ds = [x for x in d.deliveries() if x["instance"] == INSTANCE]
            return ds and ds[0]["attempts"] >= 3 and ds[0]

        x = wait_until(failing, 20, 0.2, "three attempts")
        self.assertNotEqual(x["state"], "delivered")
        self.assertIn("target 1 (127.0.0.1:%d): MKCOL incidents/: HTTP 500" % dav.port, x["last_error"])
        self.assertIn("target 1 (127.0.0.1:%d)" % dav.port, d.ctl("deliveries").stdout)
        self.assertIn("will retry", d.log_text())
        self.assertGreaterEqual(d.metrics().get("crier_deliveries_total", instance=INSTANCE, result="retry"), 2)
        # The folder got the page once and is not written again by the retries.
        self.assertEqual(os.stat(index).st_ino, inode)
        self.assertEqual([r.method for r in dav.requests()], ["MKCOL"] * len(dav.requests()))

        dav.fail(None)
        dav.wait_file("/status/index.html", b"Website unreachable")
        self.settled(d, 1)
        self.assertEqual(os.stat(index).st_ino, inode)
        self.assertEqual(dav.file("/status/index.html"), read(index))
        self.assertIn("is current again", d.log_text())
        self.assert_no_secret(d, d.ctl("deliveries").stdout)

    def test_crash_and_restart_keep_the_model(self):
        dav = self.start_dav()
        site = self.site_dir()
        d = self.start_page([{"dir": site}, self.dav_target(dav)])
        self.assertEqual(d.post_am(am("api", "API slow", "k1", severity="warning")).status, 200)
        inc = wait_until(lambda: d.incident("service=api"), 10)
        d.ctl("update", str(inc["id"]), "--message", "Looking into the slow responses.")
        self.wait_local(site, "index.html", "Looking into the slow responses.")
        self.settled(d, 2)
        model = os.path.join(d.state_dir, "statuspage", "public", "model.json")
        self.assertTrue(os.path.exists(model))
        self.assertEqual(os.stat(model).st_mode & 0o777, 0o600)
        d.kill9()
        d.start()
        self.assertEqual(d.post_am(am("web", "Website down", "k2")).status, 200)
        index = self.wait_local(site, "index.html", "Website down")
        self.assertIn("API slow", index)
        self.assertIn("Looking into the slow responses.", index)
        self.assertIn("Major outage", index)  # the worst of the two
        dav.wait_file("/status/index.html", b"Website down")
        self.assertEqual(dav.file("/status/index.html"), read(os.path.join(site, "index.html")))


class StatusPageEscaping(StatusPageCase):
    def test_markup_in_alerts_and_updates_stays_text(self):
        site = self.site_dir()
        d = self.start_page([{"dir": site}])
        self.assertEqual(d.post_am(am("api", NASTY, "x1", description=NASTY)).status, 200)
        inc = wait_until(lambda: d.incident("service=api"), 10)
        self.assertEqual(inc["title"], NASTY)  # the summary annotation, whole
        d.ctl("update", str(inc["id"]), "--message", "Update: " + NASTY)
        self.wait_local(site, "index.html", "Update: ")
        page_name = "incidents/%d.html" % inc["id"]
        self.wait_local(site, page_name, "Update: ")
        d.ctl("resolve", str(inc["id"]))
        self.wait_local(site, "history.html", "Resolved")
        self.settled(d, 3)

        for name in ("index.html", page_name, "history.html"):
            text = read(os.path.join(site, name)).decode()
            page = self.assert_inert(text, name)
            # Shown, as the words people and alerts wrote.
            self.assertIn(" ".join(NASTY.split()), page.all_text(), name)
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; &quot;onload=alert(1) x=&quot;", text, name)
        feed = ET.fromstring(read(os.path.join(site, "feed.atom")))
        for e in feed.findall(ATOM + "entry"):
            self.assertEqual(e.find(ATOM + "title").text.split(": ")[0], NASTY.split(": ")[0])
            self.assertEqual(e.find(ATOM + "content").get("type"), "text")
        contents = [e.find(ATOM + "content").text for e in feed.findall(ATOM + "entry")]
        self.assertIn("Update: " + NASTY, contents)
        raw_json = read(os.path.join(site, "status.json")).decode()
        self.assertNotIn("<", raw_json)
        st = json.loads(raw_json)
        self.assertEqual(st["resolved"][0]["title"], NASTY)


class StatusPagePublicView(StatusPageCase):
    """An instance with "audience": "public" gets public incidents only, as
    their public view: components named by the core, no labels, security
    incidents redacted. Nothing internal reaches a file of the site."""

    def test_public_incidents_only_and_nothing_internal(self):
        site = self.site_dir()
        files = statuspage_files([{"dir": site}], audience="public")
        files["public.json"] = {
            "public": {
                "status_page_url": "https://status.example-status.net/",
                "components": [
                    {"name": "API", "labels": {"service": "api"}},
                    {"name": "Website", "labels": {"service": "web"}},
                ],
                "security_when": [{"labels_match": {"alertname": "^(DDoS|SynFlood)"}}],
            }
        }
        # This instance's own component labels differ: the core's names win.
        files["statuspage.json"]["plugins"]["statuspage"]["instances"]["public"]["components"] = [
            {"name": "API", "labels": {"tier": "never-matches"}},
            {"name": "Website"},
        ]
        files["statuspage.json"]["plugins"]["statuspage"]["instances"]["public"].pop("url")
        d = self.start_crierd(files, tmp=self.tmpdir())

        def post(key, labels, annotations):
            body = json.dumps({"alerts": [{"key": key, "labels": labels, "annotations": annotations}]})
            self.assertLess(d.post_generic(body.encode()).status, 300)

        post("db", {"alertname": "HighErrorRate", "service": "db", "severity": "critical",
                    "instance": "db-7.internal"}, {"summary": "db-7.internal is down"})  # fmt: skip
        post("api", {"alertname": "HighErrorRate", "service": "api", "severity": "major", "instance": "10.0.3.4"},
             {"summary": "API errors above 5%", "impact": "Some API calls fail", "description": "10.0.3.4 returns 502"})  # fmt: skip
        post("ddos", {"alertname": "SynFlood", "service": "web", "severity": "critical", "instance": "lb-2.internal"},
             {"summary": "SYN flood on lb-2.internal", "impact": "lb-2.internal saturated"})  # fmt: skip
        index = self.wait_local(site, "index.html", "Service disruption")
        index = self.wait_local(site, "index.html", "API errors above 5%")
        wait_until(lambda: len(d.incidents()) >= 3, 10)
        db = d.incident("service=db")
        self.assertFalse(os.path.exists(os.path.join(site, "incidents", "%d.html" % db["id"])))
        text = Page(index).all_text()
        self.assertRegex(text, r"API ! Partial outage")
        self.assertRegex(text, r"Website ✕ Major outage")
        self.assertIn("Major outage", text)
        api = d.incident("service=api")
        # The impact annotation is written for customers (docs/audience.md): crier's first update quotes it.
        page = self.wait_local(site, "incidents/%d.html" % api["id"], "Impact: Some API calls fail")
        self.assertIn("This incident affected: API.", page)
        feed = read(os.path.join(site, "feed.atom")).decode()
        self.assertIn("<id>https://status.example-status.net/feed.atom</id>", feed)
        for root, _, names in os.walk(site):
            for name in names:
                data = read(os.path.join(root, name)).decode()
                for internal in ("db-7", "lb-2", "SynFlood", "10.0.3.4", "HighErrorRate", "saturated"):
                    self.assertNotIn(internal, data, name)


class StatusPageConfig(StatusPageCase):
    def check_config(self, doc):
        d = Crierd(self.tmpdir(), {"statuspage.json": doc}, env={"CRIER_STATUS_DAV_PASSWORD": PASSWORD})
        p = subprocess.run([crierd_bin(), "--config", d.conf_dir, "--check-config"], capture_output=True, text=True,
                           timeout=60, env=d.env)  # fmt: skip
        return p.returncode, p.stdout + p.stderr

    def test_example_checks_and_errors_name_the_key(self):
        with open(os.path.join(REPO, "conf.d", "examples", "statuspage.json")) as f:
            example = json.load(f)
        rc, out = self.check_config(example)
        self.assertEqual(rc, 0, out)
        self.assertNotIn(PASSWORD, out)
        inst = example["plugins"]["statuspage"]["instances"]["public"]
        self.assertEqual([sorted(t) for t in inst["targets"]], [["dir"], ["password", "timeout_ms", "url", "username"]])

        inst["targets"][1]["pasword"] = inst["targets"][1].pop("password")
        rc, out = self.check_config(example)
        self.assertNotEqual(rc, 0)
        self.assertIn('targets[1]: unknown key "pasword" for an HTTP target', out)
        inst["targets"][1]["password"] = inst["targets"][1].pop("pasword")
        inst["targets"][1]["url"] = "https://crier:${CRIER_STATUS_DAV_PASSWORD}@dav.example-status.net/status/"
        rc, out = self.check_config(example)
        self.assertNotEqual(rc, 0)
        self.assertIn("put credentials in", out)
        self.assertNotIn(PASSWORD, out)


def chromium_bin():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


CONSOLE = re.compile(r":CONSOLE\(\d+\)\]|:CONSOLE:\d+\]|Uncaught|Refused to")


class StatusPageInChromium(StatusPageCase):
    """The page as a browser sees it: Chromium headless, from the folder."""

    def chromium(self, url, *args, timeout=120):
        profile = os.path.join(self.tmpdir(), "profile")
        cmd = [chromium_bin(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0"]  # fmt: skip
        p = subprocess.run(cmd + list(args) + [url], capture_output=True, text=True, timeout=timeout)
        console = [line for line in p.stderr.splitlines() if CONSOLE.search(line)]
        return p, console

    def test_loads_without_console_errors_and_screenshots(self):
        if not chromium_bin():
            self.skipTest("chromium is not installed (make deps installs it)")
        tmp = self.tmpdir()
        # The detector first: a page with errors must be caught.
        control = os.path.join(tmp, "control.html")
        with open(control, "w") as f:
            f.write('<!DOCTYPE html><html lang="en"><title>c</title><script>console.error("boom"); nosuch();</script>')
        shot = os.path.join(tmp, "control.png")
        p, console = self.chromium("file://" + control, "--screenshot=" + shot, "--window-size=400,300")
        if not os.path.exists(shot):
            self.skipTest("chromium cannot start here: %s" % p.stderr[-500:])
        self.assertTrue(any("boom" in c for c in console) and any("nosuch" in c for c in console), p.stderr)

        site = self.site_dir()
        d = self.start_page([{"dir": site}])
        self.assertEqual(d.post_am(am("api", "Checkout requests failing", "c1")).status, 200)
        inc = wait_until(lambda: d.incident("service=api"), 10)
        d.ctl("update", str(inc["id"]), "--message", "Payments are being retried; no action is needed on your side.")
        self.wait_local(site, "index.html", "Payments are being retried")
        url = "file://" + os.path.join(site, "index.html")

        os.makedirs(OUTPUT, exist_ok=True)
        shots = {"statuspage.png": (1280, 1600), "statuspage-mobile.png": (390, 844)}
        for name, (w, h) in shots.items():
            out = os.path.join(OUTPUT, name)
            if os.path.exists(out):
                os.unlink(out)
            p, console = self.chromium(url, "--screenshot=" + out, "--window-size=%d,%d" % (w, h),
                                       "--hide-scrollbars")  # fmt: skip
            self.assertEqual(console, [], "console messages in Chromium:\n" + p.stderr[-2000:])
            self.assertEqual(png_size(out), (w, h), name)
            self.assertGreater(os.path.getsize(out), 10000, "%s looks blank" % name)

        p, console = self.chromium(url, "--dump-dom")
        self.assertEqual(console, [])
        dom = p.stdout
        self.assertIn("Checkout requests failing", dom)
        self.assertIn("Payments are being retried; no action is needed on your side.", dom)
        self.assertIn("Major outage", dom)
        page_url = "file://" + os.path.join(site, "incidents", "%d.html" % inc["id"])
        p, console = self.chromium(page_url, "--dump-dom")
        self.assertEqual(console, [])
        self.assertIn("This incident affected: API.", p.stdout)


def contrast(a, b):
    def lum(hexcol):
        rgb = [int(hexcol[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


class StatusPageStyle(unittest.TestCase):
    def test_text_contrast_at_least_4_5(self):
        with open(os.path.join(REPO, "conf.d", "templates", "statuspage", "style.mustache")) as f:
            css = f.read()
        self.assertLess(contrast("#777777", "#ffffff"), 4.5)  # the measure itself
        checked = 0
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
            decl = dict(
                (k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)
            )
            color = decl.get("color")
            if not color or color == "currentColor":
                continue
            bg = decl.get("background") or decl.get("background-color") or "#ffffff"
            self.assertRegex(color, r"^#[0-9a-f]{6}$", selector)
            self.assertRegex(bg, r"^#[0-9a-f]{6}$", selector)
            self.assertGreaterEqual(contrast(color, bg), 4.5, "%s: %s on %s" % (selector.strip(), color, bg))
            checked += 1
        self.assertGreater(checked, 15)


def sshd_bin():
    return shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)


class StatusPageSftp(StatusPageCase):
    """An SFTP target against OpenSSH's sshd on loopback, run as root (sshd
    drops privileges to the user it logs in); skipped where it cannot run."""

    def start_sshd(self, tmp):
        if not sshd_bin() or not shutil.which("ssh-keygen"):
            self.skipTest("no sshd here (make deps installs openssh-server)")
        if os.geteuid() != 0:
            self.skipTest("sshd needs root to log a user in")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege separation folder
        keys = os.path.join(tmp, "keys")
        os.makedirs(keys)
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(keys, name)], check=True)
        shutil.copy(os.path.join(keys, "client.pub"), os.path.join(keys, "authorized_keys"))
        port = free_port()
        with open(os.path.join(keys, "host.pub")) as f:
            host_pub = " ".join(f.read().split()[:2])
        with open(os.path.join(keys, "known_hosts"), "w") as f:
            f.write("[127.0.0.1]:%d %s\n" % (port, host_pub))
        config = os.path.join(keys, "sshd_config")
        with open(config, "w") as f:
            f.write(
                "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n"
                "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n"
                "Subsystem sftp internal-sftp\n"
                % (port, os.path.join(keys, "host"), os.path.join(keys, "sshd.pid"), os.path.join(keys, "authorized_keys"))
            )
        log = open(os.path.join(keys, "sshd.log"), "wb")
        proc = subprocess.Popen([sshd_bin(), "-D", "-e", "-f", config], stdout=log, stderr=subprocess.STDOUT)

        def stop():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()

        self.addCleanup(stop)

        def listening():
            if proc.poll() is not None:
                raise AssertionError("sshd exited: " + read(os.path.join(keys, "sshd.log")).decode())
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                return False

        wait_until(listening, 10, 0.1, "sshd listening")
        return port, keys

    def test_sftp_upload_then_rename(self):
        tmp = self.tmpdir()
        port, keys = self.start_sshd(tmp)
        remote = os.path.join(tmp, "remote", "status")
        os.makedirs(remote)
        target = {
            "url": "sftp://127.0.0.1:%d%s/" % (port, remote),
            "username": "root",
            "private_key": os.path.join(keys, "client"),
            "known_hosts": os.path.join(keys, "known_hosts"),
        }
        site = self.site_dir()
        d = self.start_page([{"dir": site}, target])
        self.assertEqual(d.post_am(am("api", "Search unavailable", "s1")).status, 200)
        self.wait_local(remote, "index.html", "Search unavailable")
        inc = d.incident("service=api")
        d.ctl("update", str(inc["id"]), "--message", "Search is back for most users.")
        # Replacing existing files works too (OpenSSH refuses a rename over a file).
        self.wait_local(remote, "index.html", "Search is back for most users.")
        self.settled(d, 2)
        for name in ("index.html", "history.html", "feed.atom", "status.json", "incidents/%d.html" % inc["id"]):
            self.assertEqual(read(os.path.join(remote, name)), read(os.path.join(site, name)), name)
        leftovers = [n for _, _, fs in os.walk(remote) for n in fs if "crier-tmp" in n]
        self.assertEqual(leftovers, [])
        self.assertEqual(os.stat(os.path.join(remote, "index.html")).st_mode & 0o777, 0o644)

    def test_sftp_unknown_host_key_is_refused(self):
        tmp = self.tmpdir()
        port, keys = self.start_sshd(tmp)
        other = os.path.join(keys, "other_known_hosts")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(keys, "other")], check=True)
        with open(os.path.join(keys, "other.pub")) as f, open(other, "w") as out:
            out.write("[127.0.0.1]:%d %s\n" % (port, " ".join(f.read().split()[:2])))
        remote = os.path.join(tmp, "remote")
        os.makedirs(remote)
        target = {"url": "sftp://127.0.0.1:%d%s/" % (port, remote), "username": "root",
                  "private_key": os.path.join(keys, "client"), "known_hosts": other}  # fmt: skip
        d = self.start_page([target])
        self.assertEqual(d.post_am(am("api", "Search unavailable", "s2")).status, 200)
        dead = wait_until(lambda: [x for x in d.deliveries(dead=True) if x["instance"] == INSTANCE], 20, 0.2, "dead")
        self.assertIn("target 0 (127.0.0.1:%d)" % port, dead[0]["last_error"])
        self.assertEqual(dead[0]["attempts"], 1)
        self.assertEqual(os.listdir(remote), [])


if __name__ == "__main__":
    unittest.main()
