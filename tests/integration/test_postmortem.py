"""Post-mortems end to end (docs/postmortems.md): the draft crier writes from
the timeline when an incident resolves, its publication as escaped HTML to
an internal and a public webhook and onto the status page, the postmortem_due reminder (internal
channels only, never once published, and on time across restarts), the
draft a person edited left alone, and crierctl's refusals.

Two webhook instances: "ops" (internal) and "public" ("audience":
"public"), both routed every event."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, wait_until  # noqa: E402
from test_bad_input_more import zmq_send  # noqa: E402
from test_statuspage import ELEMENTS, Page, statuspage_files  # noqa: E402

PUBLIC = {
    "public": {
        "status_page_url": "https://status.example.com",
        "components": [
            {"name": "API", "labels": {"service": "api"}},
            {"name": "Website", "labels": {"service": "web"}},
        ],
    }
}


def webhook_check(method, path, headers, body):
    """What a webhook receiver insists on: a JSON POST with crier's idempotency key."""
    if method != "POST":
        return (405, {}, b'{"error":"method not allowed"}')
    if not headers.get("content-type", "").startswith("application/json"):
        return (415, {}, b'{"error":"expected application/json"}')
    if not headers.get("idempotency-key", "").startswith("crier-"):
        return (400, {}, b'{"error":"missing Idempotency-Key"}')
    try:
        doc = json.loads(body)
    except ValueError:
        return (400, {}, b'{"error":"body is not JSON"}')
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        return (400, {}, b'{"error":"no event type"}')
    return None


def files(ops_url, public_url, due=None):
    incidents = {"hold_seconds": 1}
    if due is not None:
        incidents["postmortem_due_seconds"] = due
    return {
        "public.json": PUBLIC,
        "incidents.json": {"incidents": incidents},
        "webhook.json": {
            "plugins": {
                "webhook": {
                    "instances": {
                        "ops": {"url": ops_url},
                        "public": {"url": public_url, "audience": "public"},
                    }
                }
            }
        },
        "routes.json": {"routes": [{"name": "all", "to": ["webhook/ops", "webhook/public"]}]},
    }


def alert(key, service, status="firing", name="HighErrorRate", **annotations):
    ann = {"summary": "%s errors above 5%%" % service.upper()}
    ann.update(annotations)
    return json.dumps({"alerts": [{
        "key": key, "status": status, "starts_at": "2026-11-21T12:00:00Z",
        "labels": {"alertname": name, "service": service, "severity": "critical", "instance": "10.0.3.4"},
        "annotations": ann,
    }]}).encode()


def of_type(target, type_, incident=None):
    """The events of a type a target received, each once (a delivery may be repeated, with its key)."""
    seen, out = set(), []
    for d in (r.json() for r in target.recorded()):
        if d["type"] == type_ and (incident is None or d["incident"]["id"] == incident) and d["id"] not in seen:
            seen.add(d["id"])
            out.append(d)
    return out


HOSTILE = """# What happened

Between 12:00 and 12:40 UTC some API calls failed. We <script>alert(1)</script> nothing,
<img src=x onerror=alert(1)> stays text, and so does [this](javascript:alert(1)).

## What we changed

- Deploys now **wait** for the health check (see [the runbook](https://runbooks.example.com/deploys?a=1&b=2))
- `rollback <tag>` takes *seconds*, not minutes

```
if [ "$errors" -gt 5 ]; then page <oncall>; fi
```
"""


class Postmortem(DaemonCase):
    def start(self, due=None):
        self.ops = self.start_target(default=200, check=webhook_check)
        self.pub = self.start_target(default=200, check=webhook_check)
        self.d = self.start_crierd(files(self.ops.url("/ops"), self.pub.url("/public"), due))
        return self.d

    def fire(self, key, service, **kw):
        r = self.d.post_generic(alert(key, service, **kw))
        self.assertEqual(r.status, 200, r)
        return wait_until(lambda: self.d.incident("service=%s" % service), 15, what="the incident of %s" % service)["id"]

    def draft_path(self, iid):
        return os.path.join(self.d.state_dir, "postmortems", "incident-%d.md" % iid)

    def wait_draft(self, iid):
        path = self.draft_path(iid)
        wait_until(lambda: os.path.exists(path), 15, what="the draft of incident %d" % iid)
        with open(path, encoding="utf-8") as f:
            return f.read()

    def write(self, name, data):
        path = os.path.join(self.d.tmp, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def pm(self, iid):
        return self.d.ctl_json("postmortem", "show", str(iid))["postmortem"]

    def test_draft_then_publish_to_internal_and_public(self):
        d = self.start()
        iid = self.fire("api-1", "api", impact="Some API calls fail")
        d.ctl("--actor", "alice", "update", str(iid), "--message", "We are rolling back the 12:00 deploy")
        self.assertEqual(d.post_generic(alert("api-1", "api", status="resolved", impact="Some API calls fail")).status, 200)

        # Resolved after the hold, by crier: the draft tells the timeline.
        text = self.wait_draft(iid)
        self.assertTrue(text.startswith("# Post-mortem: API errors above 5%\n"), text[:200])
        for want in [
            "crierctl postmortem publish %d FILE" % iid,
            "- **Incident:** %d, API errors above 5%%" % iid,
            "- **Severity:** critical",
            "- **Detected:** 2026-11-21 12:00:00 UTC by generic (alert HighErrorRate)",
            "- **Affected components:** API",
            "The alerts said: Some API calls fail",
            "## Timeline (UTC)",
            "Opened by generic: API errors above 5%",
            "Update by alice: We are rolling back the 12:00 deploy",
            "State changed from investigating to monitoring by generic: all alerts resolved; monitoring",
            "Resolved by crier: resolved: no alert fired during the monitoring hold",
            "## Alerts involved",
            "- HighErrorRate from generic: started 2026-11-21 12:00:00 UTC, ended ",
            "## Root cause",
        ]:
            self.assertIn(want, text)
        resolved = d.show(iid)["incident"]["resolved_at"]
        self.assertIn("- **Resolved:** %s UTC by crier" % resolved[:19].replace("T", " "), text)
        self.assertRegex(text, r"- \*\*Duration:\*\* \d+ (d|h|min) \d+ (h|min|s)\n")
        # The order of the timeline is the incident's.
        order = [text.index(s) for s in ("Opened by", "Update by", "State changed", "Resolved by crier")]
        self.assertEqual(order, sorted(order))

        p = self.pm(iid)
        self.assertEqual((p["draft"], p["draft_status"], p["published"]), (self.draft_path(iid), "written", False))
        self.assertIsNotNone(p["due_at"], "a public incident's post-mortem is owed")
        out = d.ctl("postmortem", "show", str(iid)).stdout
        self.assertIn("draft      %s (as crier wrote it)" % self.draft_path(iid), out)

        # Publish: the Markdown is kept, the HTML is escaped, both channels hear of it.
        f = self.write("pm.md", HOSTILE)
        out = d.ctl("--actor", "alice", "postmortem", "publish", str(iid), f).stdout
        self.assertRegex(out, r"^post-mortem of incident %d published \(revision 1, event \d+\)\n$" % iid)
        wait_until(lambda: of_type(self.ops, "postmortem_published") and of_type(self.pub, "postmortem_published"),
                   15, what="the publication on both channels")
        internal = of_type(self.ops, "postmortem_published")[0]
        public = of_type(self.pub, "postmortem_published")[0]
        html = internal["postmortem"]["html"]
        self.assertEqual(internal["postmortem"]["markdown"], HOSTILE)
        self.assertEqual(internal["postmortem"]["revision"], 1)
        self.assertEqual(internal["actor"], "alice")
        self.assertTrue(html.startswith("<h3>What happened</h3>\n<p>Between 12:00"), html[:80])
        self.assertIn("We &lt;script&gt;alert(1)&lt;/script&gt; nothing", html)
        self.assertIn("&lt;img src=x onerror=alert(1)&gt; stays text", html)
        self.assertIn("so does [this](javascript:alert(1)).", html)
        self.assertIn('<a href="https://runbooks.example.com/deploys?a=1&amp;b=2">the runbook</a>', html)
        self.assertIn("<code>rollback &lt;tag&gt;</code> takes <em>seconds</em>", html)
        self.assertIn("<pre><code>if [ &quot;$errors&quot; -gt 5 ]; then page &lt;oncall&gt;; fi\n</code></pre>", html)
        for bad in ("<script", "<img", "javascript:alert(1)\"", "href=\"javascript"):
            self.assertNotIn(bad, html)
        self.assertEqual(internal["incident"]["labels"]["instance"], "10.0.3.4")
        # The public view keeps the post-mortem and drops the internals.
        self.assertEqual(public["postmortem"], internal["postmortem"])
        self.assertEqual(public["incident"]["title"], "API errors above 5%")
        self.assertNotIn("labels", public["incident"])
        self.assertNotIn("10.0.3.4", json.dumps(public))
        self.assertEqual(public["links"]["incident"], "https://status.example.com/incidents/%d.html" % iid)

        p = self.pm(iid)
        self.assertEqual((p["published"], p["published_by"], p["revision"]), (True, "alice", 1))
        # A second publication is a revision, and says so.
        d.ctl("postmortem", "publish", str(iid), self.write("pm2.md", HOSTILE + "\nUpdated with the root cause.\n"))
        wait_until(lambda: len(of_type(self.pub, "postmortem_published")) == 2, 15, what="the revision")
        rev = of_type(self.pub, "postmortem_published")[1]
        self.assertEqual(rev["postmortem"]["revision"], 2)
        self.assertIn("<p>Updated with the root cause.</p>", rev["postmortem"]["html"])
        self.assertEqual(of_type(self.ops, "postmortem_published")[1]["message"], "post-mortem revised (revision 2)")
        # Published in time: no reminder, ever.
        self.assertEqual(of_type(self.ops, "postmortem_due"), [])

    def test_reminder_only_when_nothing_is_published(self):
        d = self.start(due=2)
        late = self.fire("api-1", "api")
        done = self.fire("web-1", "web")
        narrow = self.fire("db-1", "db")  # no component: not public, owes no post-mortem
        resolved = time.time()
        for iid in (late, done, narrow):
            d.ctl("resolve", str(iid))
        self.wait_draft(done)
        d.ctl("postmortem", "publish", str(done), self.write("pm.md", "# Web\n\nFixed.\n"))

        wait_until(lambda: of_type(self.ops, "postmortem_due"), 20, what="the reminder")
        reminders = of_type(self.ops, "postmortem_due")
        self.assertGreaterEqual(time.time() - resolved, 1.9, "not before it is due")
        self.assertEqual([r["incident"]["id"] for r in reminders], [late])
        r = reminders[0]
        self.assertEqual(r["actor"], "crier")
        self.assertEqual(r["postmortem"]["draft"], self.draft_path(late))
        self.assertIn("No post-mortem is published for incident %d (API errors above 5%%), resolved" % late,
                      r["message"])
        self.assertIn("crierctl postmortem publish %d FILE" % late, r["message"])
        self.assertTrue(self.wait_draft(narrow).startswith("# Post-mortem: DB errors"), "a draft for every incident")

        time.sleep(3)  # past every due time
        self.assertEqual([x["incident"]["id"] for x in of_type(self.ops, "postmortem_due")], [late])
        # Customers never hear of the reminder, whatever the routes say.
        self.assertEqual(of_type(self.pub, "postmortem_due"), [])
        self.assertEqual(len(of_type(self.pub, "postmortem_published")), 1)
        self.assertNotIn(narrow, [x["incident"]["id"] for x in (r.json() for r in self.pub.recorded())])

        rows = {p["incident_id"]: p for p in d.ctl_json("postmortem", "list")["postmortems"]}
        self.assertIsNotNone(rows[late]["reminded_at"])
        self.assertTrue(rows[done]["published"])
        self.assertIsNone(rows[narrow]["due_at"])
        out = d.ctl("postmortem", "list").stdout
        self.assertRegex(out, r"\n%d +\S+ \S+ +- +sent \S+ \S+ +API errors above 5%%\n" % late)

    def test_reminder_is_on_time_across_restarts(self):
        d = self.start(due=4)
        first = self.fire("api-1", "api")
        d.ctl("resolve", str(first))
        t0 = time.time()
        self.wait_draft(first)
        d.stop()
        d.start()  # before it is due: the time comes from the store
        wait_until(lambda: of_type(self.ops, "postmortem_due", first), 20, what="the reminder after a restart")
        self.assertGreaterEqual(time.time() - t0, 3.5, "due 4 s after the resolution, not at the restart")

        second = self.fire("web-1", "web")
        d.ctl("resolve", str(second))
        self.wait_draft(second)
        d.stop()
        time.sleep(4.5)  # it falls due while crierd is down
        d.start()
        started = time.time()
        wait_until(lambda: of_type(self.ops, "postmortem_due", second), 10, what="the overdue reminder")
        self.assertLess(time.time() - started, 5.0)

        d.stop()
        d.start()
        time.sleep(2)
        self.assertEqual([r["incident"]["id"] for r in of_type(self.ops, "postmortem_due")], [first, second],
                         "each reminder once")

    def test_a_persons_draft_is_left_alone(self):
        d = self.start()
        # A file already at the path crier would write to is someone's: the first incident is 1.
        os.makedirs(os.path.join(d.state_dir, "postmortems"), exist_ok=True)
        with open(self.draft_path(1), "w") as f:
            f.write("my own notes\n")
        first = self.fire("api-1", "api")
        self.assertEqual(first, 1)
        d.ctl("resolve", str(first))
        wait_until(lambda: "post-mortem draft left alone: a person's file is there\" incident=1" in d.log_text(), 15,
                   what="crier's decision on the draft")
        self.assertEqual(self.pm(first)["draft_status"], "edited")
        with open(self.draft_path(first)) as f:
            self.assertEqual(f.read(), "my own notes\n")

        second = self.fire("web-1", "web")
        d.ctl("resolve", str(second))
        text = self.wait_draft(second)
        with open(self.draft_path(second), "a") as f:
            f.write("\nRoot cause: a bad deploy.\n")
        p = d.ctl("postmortem", "draft", str(second), check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertEqual(p.stderr, "crierctl: the draft %s was edited since crier wrote it, and crier leaves a "
                                   "person's text alone: move it away to have a fresh one written\n"
                         % self.draft_path(second))
        with open(self.draft_path(second)) as f:
            self.assertEqual(f.read(), text + "\nRoot cause: a bad deploy.\n")
        self.assertEqual(self.pm(second)["draft_status"], "edited")
        # Moved away: missing, and written again on request.
        os.rename(self.draft_path(second), self.draft_path(second) + ".mine")
        self.assertEqual(self.pm(second)["draft_status"], "missing")
        out = d.ctl("postmortem", "draft", str(second)).stdout
        self.assertEqual(out, "draft of incident %d written to %s\n" % (second, self.draft_path(second)))
        self.assertEqual(self.pm(second)["draft_status"], "written")
        # Unchanged since crier wrote it: written again from the timeline as it is now.
        d.ctl("postmortem", "draft", str(second))
        with open(self.draft_path(second)) as f:
            self.assertIn("Resolved by ", f.read())

    def test_crierctl_errors_are_named(self):
        d = self.start()
        good = self.write("good.md", "# Fine\n")
        iid = self.fire("api-1", "api")

        def refused(args, code, message):
            p = d.ctl(*args, check=False)
            self.assertEqual(p.returncode, code, p)
            self.assertEqual(p.stderr.splitlines()[0], "crierctl: " + message, p.stderr)
            self.assertEqual(p.stdout, "")

        refused(["postmortem", "publish", "999", good], 1, "no incident 999")
        refused(["postmortem", "publish", str(iid), good], 1,
                "incident %d is investigating, not resolved: its post-mortem comes once it is resolved" % iid)
        refused(["postmortem", "draft", str(iid)], 1,
                "incident %d is investigating, not resolved: its post-mortem comes once it is resolved" % iid)
        refused(["postmortem", "show", "999"], 1, "no incident 999")
        d.ctl("resolve", str(iid))
        self.wait_draft(iid)

        missing = os.path.join(d.tmp, "missing.md")
        refused(["postmortem", "publish", str(iid), missing], 64,
                "cannot read %s: No such file or directory" % missing)
        refused(["postmortem", "publish", str(iid), d.tmp], 64, "cannot read %s: it is a directory" % d.tmp)
        big = self.write("big.md", b"a" * (256 * 1024 + 1))
        refused(["postmortem", "publish", str(iid), big], 64,
                "%s is 262145 bytes, over the limit of 262144 bytes (256 KiB)" % big)
        latin1 = self.write("latin1.md", "# Caf\xe9\n".encode("latin-1"))
        refused(["postmortem", "publish", str(iid), latin1], 64, "%s is not UTF-8 text (byte 0xe9 at offset 5)" % latin1)
        esc = self.write("esc.md", b"# Title\n\x1b[31mred\n")
        refused(["postmortem", "publish", str(iid), esc], 64,
                "%s holds a control character (byte 0x1b at offset 8); a post-mortem is plain text" % esc)
        empty = self.write("empty.md", b"")
        refused(["postmortem", "publish", str(iid), empty], 64, "%s is empty" % empty)
        refused(["postmortem", "publish", str(iid)], 64, "postmortem publish needs an incident ID and a FILE")
        refused(["postmortem", "publish", "x", good], 64, 'ID must be a positive number, got "x"')
        refused(["postmortem", "show"], 64, "postmortem show needs an incident ID")
        refused(["postmortem", "show", str(iid), "extra"], 64, "postmortem show takes an incident ID only")
        refused(["postmortem", "frob", "1"], 64, 'unknown postmortem subcommand "frob" (use list, show, draft or publish)')

        # crierd checks what other clients send the same way.
        ep = "ipc://" + d.control_path

        def raw(req):
            rc, out, err = zmq_send(ep, json.dumps(req))
            self.assertEqual(rc, 0, err)
            return json.loads(out)

        self.assertEqual(raw({"cmd": "postmortem_publish", "id": iid}),
                         {"ok": False, "error": 'postmortem_publish needs "markdown", the post-mortem\'s text'})
        self.assertEqual(raw({"cmd": "postmortem_publish", "id": iid, "markdown": "x" * (256 * 1024 + 1)}),
                         {"ok": False, "error": "the post-mortem is 262145 bytes, over the limit of 262144 bytes (256 KiB)"})
        self.assertEqual(raw({"cmd": "postmortem_publish", "id": iid, "markdown": "a\u0007b"}),
                         {"ok": False, "error": "the post-mortem holds a control character (byte 0x07 at offset 1); "
                                                "a post-mortem is plain text"})
        self.assertEqual(raw({"cmd": "postmortem_publish", "id": iid, "markdown": ""}),
                         {"ok": False, "error": "the post-mortem is empty"})
        self.assertEqual(raw({"cmd": "postmortem", "id": "1"}),
                         {"ok": False, "error": 'postmortem needs a positive incident "id"'})
        # Nothing was published by any of it.
        self.assertNotIn("postmortem_published", [e["type"] for e in d.show(iid)["events"]])
        self.assertFalse(self.pm(iid)["published"])
        # The largest file that passes the checks goes through, to both channels, whole.
        line = "<&" * 31 + "\n"
        biggest = (line * (256 * 1024 // len(line) + 1))[: 256 * 1024 - 1] + "\n"
        self.assertEqual(len(biggest.encode()), 256 * 1024)
        d.ctl("postmortem", "publish", str(iid), self.write("biggest.md", biggest))
        self.assertTrue(self.pm(iid)["published"])
        wait_until(lambda: of_type(self.ops, "postmortem_published") and of_type(self.pub, "postmortem_published"),
                   30, what="the largest post-mortem on both channels")
        for target in (self.ops, self.pub):
            pm = of_type(target, "postmortem_published")[0]["postmortem"]
            self.assertEqual(pm["markdown"], biggest)
            self.assertGreater(len(pm["html"]), 1024 * 1024)
            self.assertTrue(pm["html"].startswith("<p>&lt;&amp;&lt;&amp;"), pm["html"][:40])


class PostmortemOnStatusPage(DaemonCase):
    def test_published_html_on_the_incident_page(self):
        site = os.path.join(self.tmpdir(), "www")
        os.makedirs(site)
        files = statuspage_files([{"dir": site}], audience="public")
        files.update({"public.json": PUBLIC, "incidents.json": {"incidents": {"hold_seconds": 1}}})
        d = self.start_crierd(files)
        self.assertEqual(d.post_generic(alert("api-1", "api")).status, 200)
        iid = wait_until(lambda: d.incident("service=api"), 15)["id"]
        d.ctl("resolve", str(iid))
        page_path = os.path.join(site, "incidents", "%d.html" % iid)

        def page(contains):
            try:
                with open(page_path, encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                return False
            return contains in text and text

        wait_until(lambda: page("Resolved"), 20, what="the resolved incident's page")
        self.assertFalse(page("Post-mortem"), "no post-mortem section before one is published")
        md = os.path.join(d.tmp, "pm.md")
        with open(md, "w") as f:
            f.write(HOSTILE)
        d.ctl("postmortem", "publish", str(iid), md)
        text = wait_until(lambda: page('<h2 id="postmortem">Post-mortem</h2>'), 20, what="the post-mortem on the page")

        # The core's HTML as it is: structure kept, everything else text that cannot run.
        section = text[text.index('<section class="postmortem"'):]
        section = section[:section.index("</section>")]
        self.assertIn("<h3>What happened</h3>", section)
        self.assertIn("We &lt;script&gt;alert(1)&lt;/script&gt; nothing", section)
        self.assertIn('<a href="https://runbooks.example.com/deploys?a=1&amp;b=2">the runbook</a>', section)
        self.assertIn("<pre><code>if [ &quot;$errors&quot;", section)
        p = Page(text)
        allowed = ELEMENTS | {"h4", "h5", "h6", "em", "code", "pre"}
        self.assertEqual([e for e in p.problems() if not any(e == "element <%s>" % t for t in allowed)], [])
        self.assertNotRegex(text.lower(), r"<script|<img|<svg|<iframe|href=\"javascript")
        # One h1, first, and no level skipped: the post-mortem's headings sit under its section's.
        self.assertEqual((p.headings[0], p.headings.count(1)), (1, 1), p.headings)
        self.assertEqual([b for a, b in zip(p.headings, p.headings[1:]) if b > a + 1], [], p.headings)
        self.assertIn(4, p.headings)

        # A revision replaces it.
        with open(md, "w") as f:
            f.write("# What happened\n\nRevised: the root cause was a bad deploy.\n")
        d.ctl("postmortem", "publish", str(iid), md)
        text = wait_until(lambda: page("Revised: the root cause"), 20, what="the revision on the page")
        self.assertNotIn("onerror", text)
        self.assertIn(", revised since.", text)


if __name__ == "__main__":
    unittest.main()
