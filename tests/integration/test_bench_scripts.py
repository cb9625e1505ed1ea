"""The benchmark scripts (tests/bench/, run by `make bench`) must not rot
between benchmarks: each imports, with the names it takes from the others,
and rss_map.py measures a real crierd end to end. The figures themselves are
`make bench`'s business, never a test's (this machine is shared and noisy)."""

import importlib
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(os.path.dirname(HERE), "bench")
SCRIPTS = sorted(f[:-3] for f in os.listdir(BENCH) if f.endswith(".py"))


class BenchScripts(unittest.TestCase):
    def test_each_imports(self):
        self.assertIn("subscribers", SCRIPTS)
        sys.path.insert(0, BENCH)
        try:
            for name in SCRIPTS:
                with self.subTest(script=name):
                    mod = importlib.import_module(name)
                    if name != "procfs":  # a module of helpers; the rest are scripts
                        self.assertTrue(callable(getattr(mod, "main", None)), "%s has a main()" % name)
        finally:
            sys.path.remove(BENCH)

    def test_rss_map_measures_a_crierd(self):
        p = subprocess.run(
            [sys.executable, os.path.join(BENCH, "rss_map.py")], capture_output=True, text=True, timeout=120
        )
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"VmRSS [1-9][0-9]* KiB")
        self.assertRegex(p.stdout, r"(?m)^ +[1-9][0-9]* KiB  /.*/crierd$", "crierd's own mapping is listed")


if __name__ == "__main__":
    unittest.main()
