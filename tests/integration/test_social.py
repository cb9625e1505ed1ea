"""Drafted social posts, end to end: an alert becomes Mastodon, X and Bluesky
drafts that nobody sees published until a person approves one; the staff's
review channel (a webhook) is told; crierctl and the drafts HTTP API review,
edit, approve and reject; an approved Mastodon draft is published exactly
once (one Idempotency-Key through 500, 429 and a lost answer) and an
incident's posts thread; X and Bluesky publishing is not built and says so."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_mastodon import FakeMastodon, status_length  # noqa: E402
import harness  # noqa: E402
from harness import REPO, Crierd, DaemonCase, wait_until  # noqa: E402

AM_TOKEN = "am-social-tok-3b9d1f"
MASTO_TOKEN = "masto-tok-7c2e90aa41"
DRAFTS_TOKEN = "drafts-tok-e1f04c55b2"
STATUS_PAGE = "https://status.example.com/"

# What the alert carries: internal, never to be posted.
INTERNAL = {
    "alertname": "PaymentsDbReplicaLagHigh",
    "instance": "db-replica-7.internal:9187",
    "host": "pg-eu-west-3b",
    "summary": "Replica db-replica-7 lag 93s on pg-eu-west-3b",
}


def am_payload(status):
    alert = {
        "status": status,
        "labels": {
            "alertname": INTERNAL["alertname"],
            "service": "payments",
            "severity": "critical",
            "instance": INTERNAL["instance"],
            "host": INTERNAL["host"],
        },
        "annotations": {"summary": INTERNAL["summary"]},
        "startsAt": "2026-11-21T12:00:00Z",
        "endsAt": "2026-11-21T12:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=pg_replication_lag",
        "fingerprint": "a1b2c3d4e5f60718",
    }
    return {"version": "4", "status": status, "receiver": "crier", "alerts": [alert]}


def social_files(masto_url, review_url, with_drafts_token=True, mastodon_delivery=None):
    files = {
        "public.json": {"public": {"status_page_url": STATUS_PAGE}},
        "ingest.json": {"ingest": {"alertmanager": {"auth": {"token": "${T_AM}"}}}},
        "social.json": {
            "plugins": {
                "social": {
                    "instances": {
                        "mastodon": {
                            "network": "mastodon",
                            "instance_url": masto_url,
                            "token": "${T_MASTO}",
                            "language": "en",
                            "timeout_ms": 1500,
                            "delivery": mastodon_delivery or {"backoff_initial_ms": 200, "backoff_max_ms": 400},
                        },
                        "x": {"network": "x"},
                        "bluesky": {"network": "bluesky"},
                    }
                }
            }
        },
        "webhook.json": {"plugins": {"webhook": {"instances": {"review": {"url": review_url}}}}},
        "routes.json": {
            "routes": [
                {"name": "everything", "to": ["log/events"]},
                {
                    "name": "public posts",
                    "events": ["opened", "state_changed", "acknowledged", "update", "resolved"],
                    "to": ["social/mastodon", "social/x", "social/bluesky"],
                },
                {
                    "name": "comms review",
                    "events": ["draft_created", "draft_approved", "draft_rejected", "draft_published", "draft_failed"],
                    "to": ["webhook/review"],
                },
            ]
        },
    }
    if with_drafts_token:
        files["drafts.json"] = {"drafts": {"auth": {"token": "${T_DRAFTS}"}}}
    return files


ENV = {"T_AM": AM_TOKEN, "T_MASTO": MASTO_TOKEN, "T_DRAFTS": DRAFTS_TOKEN}


class Social(DaemonCase):
    def setUp(self):
        self.masto = FakeMastodon(MASTO_TOKEN).start()
        self.addCleanup(self.masto.stop)
        self.review = self.start_target(default=200)

    def start(self, **kw):
        tmp = self.tmpdir()
        # The shipped template, where crierd looks for it: <config>/templates/social/.
        shutil.copytree(os.path.join(REPO, "conf.d", "templates", "social"),
                        os.path.join(tmp, "conf.d", "templates", "social"))
        return self.start_crierd(social_files(self.masto.url, self.review.url("/review"), **kw), tmp=tmp, env=ENV)

    # --- helpers
    def drafts(self, d):
        return d.ctl_json("drafts")["drafts"]

    def draft(self, d, draft_id):
        return d.ctl_json("drafts", "show", str(draft_id))["draft"]

    def wait_drafts(self, d, n, what="drafts"):
        return wait_until(lambda: len(self.drafts(d)) >= n and self.drafts(d), 20, 0.2, "%d %s" % (n, what))

    def wait_status(self, d, draft_id, status):
        return wait_until(lambda: self.draft(d, draft_id)["status"] == status and self.draft(d, draft_id), 30, 0.2,
                          "draft %s %s" % (draft_id, status))

    def review_docs(self, type_=None):
        docs = [r.json() for r in self.review.recorded()]
        return [x for x in docs if type_ is None or x["type"] == type_]

    def api(self, d, method, path, body=None, token=DRAFTS_TOKEN):
        headers = {"Authorization": "Bearer " + token} if token else {}
        return d.request(method, "/api/v1/drafts" + path, body, headers)

    def by_instance(self, drafts, instance, text_has=None):
        for x in drafts:
            if x["instance"] == instance and (text_has is None or text_has in x["text"]):
                return x
        raise AssertionError("no draft of %s%s in %r" % (instance, " with %r" % text_has if text_has else "", drafts))

    def assertPublic(self, text):
        self.assertIn(STATUS_PAGE + "incidents/1.html", text)
        for name, value in INTERNAL.items():
            self.assertNotIn(value, text, "the post leaks the alert's %s" % name)
        for fragment in ("db-replica", "pg-eu", "Payments", "payments", "prometheus", "critical"):
            self.assertNotIn(fragment, text)

    # --- tests
    def test_draft_review_approve_publish_and_thread(self):
        self.masto.script(500, 429)
        d = self.start()
        self.assertEqual(d.post_am(am_payload("firing"), token=AM_TOKEN).status, 200)

        drafts = self.wait_drafts(d, 3)
        self.assertEqual(sorted(x["instance"] for x in drafts), ["social/bluesky", "social/mastodon", "social/x"])
        limits = {x["network"]: x["limit"] for x in drafts}
        self.assertEqual(limits, {"mastodon": 500, "x": 280, "bluesky": 300})
        for x in drafts:
            self.assertEqual(x["status"], "pending")
            self.assertEqual(x["incident_id"], 1)
            self.assertLessEqual(x["length"], x["limit"])
            self.assertPublic(x["text"])
        mdraft = self.by_instance(drafts, "social/mastodon")
        self.assertIn("looking into", mdraft["text"])
        self.assertEqual(mdraft["length"], status_length(mdraft["text"]), "Mastodon's own count")
        time.sleep(0.5)
        self.assertEqual(self.masto.requests(), [], "nothing is published before a person approves")

        # The review channel was told, with what it takes to decide.
        created = wait_until(lambda: len(self.review_docs("draft_created")) >= 3 and self.review_docs("draft_created"),
                             10, what="draft_created at the review channel")
        for doc in created:
            dr = doc["draft"]
            self.assertEqual(dr["status"], "pending")
            self.assertTrue(dr["text"])
            self.assertIsInstance(dr["length"], int)
            self.assertIn(dr["limit"], (500, 280, 300))
            self.assertEqual(dr["approve"], "crierctl drafts approve %d" % dr["id"])
            self.assertEqual(dr["api"], "POST /api/v1/drafts/%d/approve" % dr["id"])
            self.assertEqual(doc["incident"]["id"], 1)

        # crierctl lists them.
        human = d.ctl("drafts").stdout
        for x in drafts:
            self.assertIn("social/" + x["network"], human)
        self.assertIn("pending", human)
        shown = d.ctl("drafts", "show", str(mdraft["id"])).stdout
        self.assertIn(mdraft["text"], shown)
        self.assertIn("crierctl drafts approve %d" % mdraft["id"], shown)

        # The HTTP API: only its own token approves.
        path = "/%d/approve" % mdraft["id"]
        r = self.api(d, "POST", path, token=None)
        self.assertEqual(r.status, 401, r)
        self.assertIn("bearer", r.headers.get("www-authenticate", "").lower())
        self.assertEqual(self.api(d, "POST", path, token="wrong-" + DRAFTS_TOKEN).status, 401)
        self.assertEqual(self.api(d, "POST", path, token=AM_TOKEN).status, 401, "the ingest token is no approval")
        self.assertEqual(d.post_am(am_payload("firing"), token=DRAFTS_TOKEN).status, 401, "nor the reverse")
        self.assertEqual(self.draft(d, mdraft["id"])["status"], "pending")
        self.assertEqual(self.masto.requests(), [])
        r = self.api(d, "POST", path, {"actor": "jane"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "approved")
        self.assertEqual(r.json()["actor"], "jane")

        # Published once, through a 500 and a 429, with one key.
        first = self.wait_status(d, mdraft["id"], "published")
        reqs = self.masto.requests()
        self.assertEqual([q.status for q in reqs], [500, 429, 200], reqs)
        self.assertEqual({q.headers.get("idempotency-key") for q in reqs}, {"crier-draft-%d" % mdraft["id"]})
        self.assertGreaterEqual(reqs[2].time - reqs[1].time, 2.5, "waited for X-RateLimit-Reset (3 s)")
        statuses = self.masto.statuses()
        self.assertEqual(len(statuses), 1, statuses)
        self.assertEqual(statuses[0]["text"], mdraft["text"])
        self.assertEqual(statuses[0]["language"], "en")
        self.assertEqual(statuses[0]["visibility"], "public")
        self.assertIsNone(statuses[0]["in_reply_to_id"])
        self.assertEqual(first["status"], "published")
        self.assertIn(statuses[0]["url"], d.log_text(), "the post's address is logged")
        wait_until(lambda: self.review_docs("draft_published"), 10, what="draft_published at the review channel")
        self.assertEqual(len(self.review_docs("draft_approved")), 1)

        # The incident resolves: monitoring, then resolved, each drafted once per network.
        self.assertEqual(d.post_am(am_payload("resolved"), token=AM_TOKEN).status, 200)
        wait_until(lambda: d.incident("service=payments")["state"] == "resolved", 20, what="resolved")
        drafts = self.wait_drafts(d, 9)
        self.assertEqual(len(drafts), 9, drafts)
        resolved = self.by_instance(drafts, "social/mastodon", "resolved")
        self.assertPublic(resolved["text"])
        # Its answer is lost once (created, then a timeout): the retry's key returns it.
        self.masto.script(("lost", 3))
        d.ctl("drafts", "approve", str(resolved["id"]))
        self.wait_status(d, resolved["id"], "published")
        statuses = self.masto.statuses()
        self.assertEqual(len(statuses), 2, statuses)
        self.assertEqual(statuses[1]["in_reply_to_id"], statuses[0]["id"], "the incident's posts thread")
        keys = [q.headers.get("idempotency-key") for q in self.masto.requests()[3:]]
        self.assertEqual(keys, ["crier-draft-%d" % resolved["id"]] * 2, "retried after the lost answer, same key")

        # The timeline tells the whole story.
        types = [e["type"] for e in d.show(1)["events"]]
        for t in ("draft_created", "draft_approved", "draft_published"):
            self.assertIn(t, types)
        self.assertEqual(types.count("draft_published"), 2)
        self.assertNotIn(MASTO_TOKEN, d.log_text())
        self.assertNotIn(DRAFTS_TOKEN, d.log_text())

    def test_edit_reject_and_unbuilt_networks(self):
        d = self.start()
        self.assertEqual(d.post_am(am_payload("firing"), token=AM_TOKEN).status, 200)
        drafts = self.wait_drafts(d, 3)
        m = self.by_instance(drafts, "social/mastodon")
        x = self.by_instance(drafts, "social/x")
        b = self.by_instance(drafts, "social/bluesky")

        # Over the limit: refused, naming both counts; the text stays.
        long_text = "a" * 501
        p = d.ctl("drafts", "edit", str(m["id"]), "--text", long_text, check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("501", p.stderr)
        self.assertIn("500", p.stderr)
        r = self.api(d, "POST", "/%d/edit" % x["id"], {"text": "b" * 281})
        self.assertEqual(r.status, 400, r)
        self.assertIn("281", r.json()["error"])
        self.assertIn("280", r.json()["error"])
        self.assertEqual(self.draft(d, m["id"])["text"], m["text"])
        # Within it: a long URL counts 23 on Mastodon.
        edited = "We are working on it. " + "https://status.example.com/" + "x" * 600
        r = self.api(d, "POST", "/%d/edit" % m["id"], {"text": edited})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["text"], edited)
        self.assertEqual(r.json()["length"], status_length(edited))
        self.assertEqual(r.json()["status"], "pending")
        self.assertEqual(self.api(d, "POST", "/%d/edit" % m["id"], b'{"text": ').status, 400)
        self.assertEqual(self.api(d, "POST", "/%d/edit" % m["id"], {"txt": "x"}).status, 400)

        # Rejected: never published, and no second decision.
        r = self.api(d, "POST", "/%d/reject" % b["id"], {"message": "not for this one"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "rejected")
        r = self.api(d, "POST", "/%d/approve" % b["id"])
        self.assertEqual(r.status, 409, r)
        self.assertIn("not pending", r.json()["error"])
        p = d.ctl("drafts", "approve", str(b["id"]), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is rejected, not pending", p.stderr)
        wait_until(lambda: self.review_docs("draft_rejected"), 10, what="draft_rejected at the review channel")

        # X: approving says publishing is not built; nothing else is raised.
        d.ctl("drafts", "approve", str(x["id"]))
        failed = self.wait_status(d, x["id"], "failed")
        self.assertEqual(failed["error"], "publishing to X is not built; post the approved text by hand")
        doc = wait_until(lambda: self.review_docs("draft_failed"), 10, what="draft_failed at the review channel")[0]
        self.assertIn("post the approved text by hand", doc["message"])
        self.assertIsNone(d.incident("service=crier"), "a draft's failure is no dead-letter alert")

        # crierctl refuses malformed commands before asking crierd.
        for args, why in (
            (("drafts", "approve"), "drafts approve needs a draft ID"),
            (("drafts", "publish", "1"), 'unknown drafts subcommand "publish"'),
            (("drafts", "edit", str(m["id"])), "drafts edit needs --text TEXT"),
            (("drafts", "approve", str(m["id"]), "--text", "x"), "--text goes with drafts edit"),
            (("drafts", "approve", "seven"), 'ID must be a positive number, got "seven"'),
            (("drafts", "--text", "x"), "--text goes with a subcommand"),
        ):
            p = d.ctl(*args, check=False)
            self.assertEqual(p.returncode, 64, (args, p.stderr))
            self.assertIn(why, p.stderr)
        p = d.ctl("drafts", "show", "999", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no draft 999", p.stderr)

        # Unknown drafts, wrong methods and paths.
        self.assertEqual(self.api(d, "GET", "/999").status, 404)
        self.assertEqual(self.api(d, "POST", "/999/approve").status, 404)
        self.assertEqual(self.api(d, "GET", "/%d/approve" % m["id"]).status, 405)
        self.assertEqual(self.api(d, "POST", "").status, 405)
        self.assertEqual(self.api(d, "GET", "/%d/publish" % m["id"]).status, 404)
        self.assertEqual(self.api(d, "GET", "/0").status, 404)
        listed = self.api(d, "GET", "")
        self.assertEqual(listed.status, 200)
        statuses = [x["status"] for x in listed.json()["drafts"]]
        self.assertEqual(statuses[0], "pending", "pending first: %s" % statuses)
        self.assertEqual(sorted(statuses), ["failed", "pending", "rejected"])
        self.assertEqual(self.masto.requests(), [], "nothing reached Mastodon")

    def test_api_refuses_without_its_token(self):
        d = self.start(with_drafts_token=False)
        for method, path in (("GET", ""), ("POST", "/1/approve")):
            r = self.api(d, method, path, token=AM_TOKEN)
            self.assertEqual(r.status, 403, r)
            self.assertIn("drafts.auth.token", r.json()["error"])
        self.assertEqual(d.ctl_json("drafts")["drafts"], [])

    def test_mastodon_refusal_fails_the_draft(self):
        # A token Mastodon does not accept: 401 is final, with Mastodon's words and never the token.
        self.masto.token = "another-token"
        d = self.start()
        self.assertEqual(d.post_am(am_payload("firing"), token=AM_TOKEN).status, 200)
        m = self.by_instance(self.wait_drafts(d, 3), "social/mastodon")
        d.ctl("drafts", "approve", str(m["id"]))
        failed = self.wait_status(d, m["id"], "failed")
        self.assertEqual(failed["error"], "HTTP 401: The access token is invalid")
        self.assertEqual(len(self.masto.requests()), 1, "a 401 is not retried")
        self.assertEqual(self.masto.statuses(), [])
        out = d.ctl("drafts", "show", str(m["id"])).stdout + json.dumps(self.drafts(d))
        self.assertNotIn(MASTO_TOKEN, out)


class Example(DaemonCase):
    def test_example_configuration_checks(self):
        """conf.d/examples/social.json, copied in place of routes.json, is a valid configuration."""
        with open(os.path.join(REPO, "conf.d", "examples", "social.json")) as f:
            example = json.load(f)
        tmp = self.tmpdir()
        shutil.copytree(os.path.join(REPO, "conf.d", "templates"), os.path.join(tmp, "conf.d", "templates"))
        d = Crierd(tmp, {"routes.json": None, "social.json": example,
                         "log.json": {"plugins": {"log": {"instances": {"default": {"path": "events.jsonl"}}}}}})
        env = dict(os.environ, CRIER_MASTODON_TOKEN="t", CRIER_COMMS_WEBHOOK_URL="https://hooks.example/x",
                   CRIER_DRAFTS_TOKEN="d")
        p = subprocess.run([harness.crierd_bin(), "--config", d.conf_dir, "--check-config"], capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
