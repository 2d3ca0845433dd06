"""`make benchmark`'s page figures, small: they print, and the memory bound holds."""

import re
import sys

from maintainers.harness import REPO, Proc


def test_the_refresh_cost_and_memory_figures_print():
    args = [sys.executable, "-m", "maintainers.benchmark", "--only-refresh"]
    bench = Proc([*args, "--pollers", "3", "--greetings", "40"], cwd=REPO, name="benchmark")
    code = bench.wait(240)
    assert code == 0, bench.stdout + bench.stderr
    out = bench.stdout
    for label in ("status, 1 page", "status, 3 pages at once", "lights, 3 pages at once"):
        assert re.search(rf"{re.escape(label)} +p50 +\d+\.\d ms +p95 +\d+\.\d ms", out), out
    assert re.search(r"after 0: [\d.]+ MB, .*after 40: [\d.]+ MB", out), out
    assert re.search(r"growth after the first 100: [+-][\d.]+ MB \(bound: 30 MB\)", out), out
    assert "Traceback" not in out + bench.stderr
