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


def test_the_rooms_figures_print_and_every_run_completes_once():
    """The room's benchmark, small: 3 phones from network namespaces, then 3 runs with the
    worker Ctrl-C'd on their timers and restarted. It exits 1 on a run lost or an activity run
    twice (from the histories and the stand-in's counts)."""
    from maintainers import venue

    if why := venue.unavailable():
        import pytest

        pytest.skip(why)
    args = [sys.executable, "-m", "maintainers.benchmark", "--only-room", "--phones", "3"]
    bench = Proc([*args, "--room-timer", "2", "--restart-phones", "3"], cwd=REPO, name="bench")
    code = bench.wait(300)
    out = bench.stdout
    assert code == 0, out + bench.stderr
    assert re.search(r"runs completed / started +3/3 +3/3 +3/3\n", out), out
    assert re.search(r"runs lost +0 +0 +0\n", out), out
    assert re.search(r"runs with an activity run twice +0 +0 +0\n", out), out
    assert re.search(r"status p95, ms \(goal < 300 at 100\) +\d+ ", out), out
    assert "Traceback" not in out + bench.stderr
