"""The optional ZeroMQ ingest endpoint (zmq.ingest): a producer sends generic
alert JSON over a REQ socket and gets "OK <changed>" once the alerts are
committed, or "ERR 400 <reason>" for a bad message; the daemon keeps serving."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DaemonCase, build_dir, wait_until  # noqa: E402


def zmq_send(endpoint, message, timeout_ms=5000):
    tool = os.path.join(build_dir(), "tests", "tools", "zmq_send")
    p = subprocess.run([tool, endpoint, str(timeout_ms)], input=message.encode(), capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode().strip(), p.stderr.decode().strip()


class ZmqIngest(DaemonCase):
    def test_generic_alerts_over_zmq(self):
        tmp = self.tmpdir()
        endpoint = "ipc://%s/ingest.sock" % tmp
        d = self.start_crierd(files={"zmq.json": {"zmq": {"ingest": endpoint}}})

        rc, out, err = zmq_send(endpoint, '{"key": "zq-1", "labels": {"service": "queue", "severity": "major"},'
                                          ' "annotations": {"summary": "queue backlog"}}')
        self.assertEqual((rc, out), (0, "OK 1"), err)
        # Answered after commit: the incident is there at once.
        inc = d.incident("service=queue")
        self.assertEqual(inc["state"], "investigating")
        self.assertEqual(inc["severity"], "major")

        # The same alert again changes nothing.
        rc, out, _ = zmq_send(endpoint, '{"key": "zq-1", "labels": {"service": "queue"}}')
        self.assertEqual(out, "OK 0")

        # Bad messages get a reason; the endpoint and HTTP keep working.
        rc, out, _ = zmq_send(endpoint, '{"key": "zq-2", "labels": ')
        self.assertTrue(out.startswith("ERR 400 "), out)
        rc, out, _ = zmq_send(endpoint, '{"key": "zq-2", "colour": "red"}')
        self.assertTrue(out.startswith("ERR 400 ") and "colour" in out, out)
        rc, out, _ = zmq_send(endpoint, '{"alerts": [{"key": "zq-2", "status": "resolved"}]}')
        self.assertEqual(out, "OK 0")  # resolved, never seen firing: nothing to tell
        self.assertTrue(d.healthy())

        rc, out, _ = zmq_send(endpoint, '{"alerts": [{"key": "zq-1", "status": "resolved"}]}')
        self.assertEqual(out, "OK 1")
        wait_until(lambda: d.incident("service=queue")["state"] == "monitoring", 10, what="monitoring")
        types = [e["type"] for e in d.events_of("service=queue")]
        self.assertEqual(types[:2], ["opened", "state_changed"])


if __name__ == "__main__":
    unittest.main()
