"""Every kind of bad input gets its documented answer, the daemon keeps
serving after each, secrets never reach the log, and --check-config names the
file and key of a configuration error."""

import json
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonCase, Crierd, fixture, fixture_json  # noqa: E402

TOKEN = "tok-9a8b7c6d5e"
PASSWORD = "pw-1f2e3d4c"
AM = "/api/v1/alertmanager"


def auth_files():
    return {
        "ingest.json": {
            "ingest": {
                "alertmanager": {
                    "auth": {"token": "${CRIER_TEST_TOKEN}", "username": "am", "password": "${CRIER_TEST_PASSWORD}"}
                },
                "uptimerobot": {"auth": {"token": "${CRIER_TEST_TOKEN}"}},
            }
        }
    }


def am_alert(fp, labels, annotations=None):
    return {
        "status": "firing",
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": "2026-11-21T12:01:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fp,
    }


def am_body(alerts):
    b = fixture_json("alertmanager", "firing-single.json")
    b["alerts"] = alerts
    return b


def basic(user, pw):
    import base64

    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}


class BadRequests(DaemonCase):
    def setUp(self):
        self.d = self.start_crierd(auth_files(), env={"CRIER_TEST_TOKEN": TOKEN, "CRIER_TEST_PASSWORD": PASSWORD})

    def still_serving(self):
        self.assertTrue(self.d.healthy(), "crierd stopped answering /healthz:\n" + self.d.log_tail())

    def error_400(self, r, mentions=None):
        self.assertEqual(r.status, 400, r)
        body = r.json()
        self.assertEqual(body.get("status"), "error", body)
        self.assertIsInstance(body.get("error"), str)
        self.assertTrue(body["error"], body)
        if mentions:
            self.assertIn(mentions, body["error"], body)
        self.still_serving()
        return body

    def post_am(self, body, headers=None):
        h = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
        h.update(headers or {})
        return self.d.request("POST", AM, body, h)

    def test_all_bad_inputs_then_a_good_one(self):
        d = self.d
        auth = "Authorization: Bearer %s\r\n" % TOKEN

        # Malformed JSON, to each JSON endpoint.
        self.error_400(self.post_am(b'{"version":"4","alerts":[{"labels":'))
        self.error_400(self.post_am(b"not json at all"))
        self.error_400(self.post_am(b'{"version":"4","alerts":{}}'))
        self.error_400(d.post("/api/v1/alerts", b'{"key": "x", '))
        ur = fixture("uptimerobot", "down.json").replace(b'"Example API"', b'"Example "API""')
        self.error_400(d.post("/api/v1/uptimerobot", ur, {"Authorization": "Bearer " + TOKEN}))

        # Bodies over http.max_body_bytes (1 MiB): 413, with and without Content-Length.
        big = b'{"alerts":[' + b" " * (2 * 1024 * 1024) + b"]}"
        head = "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        status, _, _ = harness.http_raw(d.port, (head % (AM, auth, len(big))).encode(), big)
        self.assertEqual(status, 413)
        self.still_serving()
        chunked = b"".join(b"%x\r\n%s\r\n" % (65536, big[i : i + 65536]) for i in range(0, 2 * 1024 * 1024, 65536))
        chunked += b"0\r\n\r\n"
        head_c = "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        status, _, _ = harness.http_raw(d.port, (head_c % (AM, auth)).encode(), chunked)
        self.assertEqual(status, 413, "a chunked body over the limit")
        self.still_serving()

        # Nesting 100 deep.
        deep = b'{"version":"4","alerts":[' + b"[" * 100 + b"]" * 100 + b"]}"
        self.error_400(self.post_am(deep))
        self.error_400(d.post("/api/v1/alerts", b'{"key":"deep","labels":' + b'{"a":' * 100 + b"1" + b"}" * 101))

        # Too many labels, a huge label value, too many alerts.
        labels = {"l%03d" % i: "v" for i in range(100)}
        labels["service"] = "api"
        self.error_400(self.post_am(am_body([am_alert("aaaaaaaaaaaaaaa1", labels)])))
        self.error_400(self.post_am(am_body([am_alert("aaaaaaaaaaaaaaa2", {"service": "api", "huge": "x" * 20000})])))
        self.error_400(
            self.post_am(am_body([am_alert("aaaaaaaaaaaaaaa3", {"service": "api"}, {"description": "y" * 20000})]))
        )
        many = [am_alert("%016x" % i, {"service": "api", "n": str(i)}) for i in range(1001)]
        self.error_400(self.post_am(am_body(many)))
        self.error_400(d.post_generic({"key": "g", "labels": {"l%03d" % i: "v" for i in range(100)}}))

        # Wrong method, unknown path.
        for method, path in (("GET", AM), ("PUT", AM), ("DELETE", "/api/v1/uptimerobot"), ("GET", "/api/v1/alerts")):
            r = d.request(method, path, None, {"Authorization": "Bearer " + TOKEN})
            self.assertEqual(r.status, 405, "%s %s: %r" % (method, path, r))
            self.still_serving()
        for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/api/v1/nope"), ("GET", "/api/v1/alertmanager/x")):
            r = d.request(method, path, b"{}" if method == "POST" else None)
            self.assertEqual(r.status, 404, "%s %s: %r" % (method, path, r))
            self.still_serving()

        # Credentials: missing, wrong bearer, wrong ?token=, wrong basic password.
        good = fixture("alertmanager", "firing-single.json")
        self.assertEqual(d.request("POST", AM, good, {"Content-Type": "application/json"}).status, 401)
        self.assertEqual(self.post_am(good, {"Authorization": "Bearer wrong-bearer-1234"}).status, 401)
        self.assertEqual(d.request("POST", AM + "?token=wrong-query-5678", good).status, 401)
        self.assertEqual(self.post_am(good, basic("am", "wrong-basic-9012")).status, 401)
        self.assertEqual(self.post_am(good, basic("intruder", PASSWORD)).status, 401)
        self.assertEqual(d.request("GET", "/api/v1/uptimerobot?token=wrong-ur-3456&monitorID=1&alertType=1").status, 401)
        self.still_serving()

        # Unknown generic key: 400 naming it.
        self.error_400(d.post_generic({"key": "g1", "labels": {"service": "g"}, "bogus_field": 1}), "bogus_field")
        self.error_400(d.post_generic({"alerts": [{"key": "g2", "severty": "critical"}]}), "severty")

        # Unknown Uptime Robot alertType: 202, nothing opened.
        ur = fixture_json("uptimerobot", "down.json")
        ur["alertType"] = "7"
        r = d.post("/api/v1/uptimerobot", ur, {"Authorization": "Bearer " + TOKEN})
        self.assertEqual(r.status, 202, r)
        self.still_serving()

        self.assertEqual(d.incidents(), [], "a refused request opened an incident")

        # Good requests still work, by bearer and by basic auth.
        r = self.post_am(good)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok", "alerts": 1, "changed": 1})
        r = self.post_am(fixture("alertmanager", "firing-group-two-alerts.json"), basic("am", PASSWORD))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"status": "ok", "alerts": 2, "changed": 2})
        self.assertEqual(sorted(i["key"] for i in d.incidents()), ["service=api", "service=web"])

        m = d.metrics()
        self.assertGreaterEqual(m.get("crier_requests_rejected_total", reason="auth"), 6)
        self.assertGreaterEqual(m.get("crier_requests_rejected_total", reason="too_large"), 2)
        self.assertGreaterEqual(m.get("crier_requests_rejected_total", reason="bad_request"), 10)

        log = d.log_text()
        for secret in (TOKEN, PASSWORD, "wrong-bearer-1234", "wrong-query-5678", "wrong-basic-9012", "wrong-ur-3456"):
            self.assertNotIn(secret, log, "a credential reached the log")


def non_loopback_ipv4():
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the outgoing address
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


class NoCredentialsRemotePeer(DaemonCase):
    def test_403_without_credentials_from_a_non_loopback_peer(self):
        ip = non_loopback_ipv4()
        if not ip:
            self.skipTest("no non-loopback IPv4 address on this machine")
        port = harness.free_port()
        d = self.start_crierd({"http.json": {"http": {"listen": "0.0.0.0:%d" % port}}}, port=port)
        body = fixture("alertmanager", "firing-single.json")
        r = harness.http_request(port, "POST", AM, body, {"Content-Type": "application/json"}, host=ip)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(d.incidents(), [])
        r = harness.http_request(port, "POST", AM, body, {"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, "loopback is accepted without credentials: %r" % r)


class CheckConfig(unittest.TestCase):
    def check(self, files):
        with harness.TempDir() as tmp:
            d = Crierd(tmp, files)
            p = subprocess.run(
                [harness.crierd_bin(), "--config", d.conf_dir, "--check-config"],
                capture_output=True,
                text=True,
                timeout=60,
                env=d.env,
            )
            out = p.stdout + p.stderr
            self.assertEqual(harness.sanitizer_errors(out), [], out)
            return p.returncode, out

    def test_good_config(self):
        rc, out = self.check({})
        self.assertEqual(rc, 0, out)

    def test_unknown_key(self):
        d = harness.default_files("/tmp/x", 1, 2)["http.json"]
        d["http"]["bogus_key"] = 1
        rc, out = self.check({"http.json": d})
        self.assertEqual(rc, 1, out)
        self.assertIn("http.json", out)
        self.assertIn("bogus_key", out)

    def test_unknown_top_level_key(self):
        rc, out = self.check({"extra.json": {"nonsense": {}}})
        self.assertEqual(rc, 1, out)
        self.assertIn("extra.json", out)
        self.assertIn("nonsense", out)

    def test_bad_route_target(self):
        rc, out = self.check({"routes.json": {"routes": [{"name": "r", "to": ["log/events", "nope/missing"]}]}})
        self.assertEqual(rc, 1, out)
        self.assertIn("routes.json", out)
        self.assertIn("routes[0].to", out)
        self.assertIn("nope/missing", out)

    def test_unknown_plugin_setting(self):
        rc, out = self.check({"log.json": {"plugins": {"log": {"instances": {"events": {"path": "e", "bogus_opt": 1}}}}}})
        self.assertEqual(rc, 1, out)
        self.assertIn("log.json", out)
        self.assertIn("bogus_opt", out)

    def test_bad_value_type(self):
        rc, out = self.check({"incidents.json": {"incidents": {"hold_seconds": "soon"}}})
        self.assertEqual(rc, 1, out)
        self.assertIn("incidents.json", out)
        self.assertIn("hold_seconds", out)

    def test_invalid_json_file(self):
        rc, out = self.check({"routes.json": '{"routes": [ '})
        self.assertEqual(rc, 1, out)
        self.assertIn("routes.json", out)

    def test_secret_not_in_error(self):
        # A bad instance setting next to a secret: the error names the key, never the secret.
        files = {
            "webhook.json": {
                "plugins": {"webhook": {"instances": {"x": {"url": "${CRIER_TEST_HOOK_URL}", "bogus_opt2": True}}}}
            }
        }
        with harness.TempDir() as tmp:
            d = Crierd(tmp, files, env={"CRIER_TEST_HOOK_URL": "http://user:hunter2secret@127.0.0.1:9/x"})
            p = subprocess.run(
                [harness.crierd_bin(), "--config", d.conf_dir, "--check-config"],
                capture_output=True,
                text=True,
                timeout=60,
                env=d.env,
            )
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 1, out)
        self.assertIn("bogus_opt2", out)
        self.assertNotIn("hunter2secret", out)


if __name__ == "__main__":
    unittest.main()
