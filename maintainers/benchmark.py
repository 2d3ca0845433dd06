"""`make benchmark`: the demos' speed, printed as figures (its own dev server, free ports).

The teaser's worker restarted after Ctrl-C, until its next number; then, with the stand-in
services, a hello-ip worker and the app: a greeting through the JSON API (POST, then GET ?wait=1
as the page does) against a bare client.execute_workflow; the page's refresh cost (with 1 and
20 pages polling); 100 greetings at once; the app's memory over 1,000 greetings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client

from demo_support import missing_package
from maintainers import harness
from maintainers.harness import COUNTER_DIR, DevServer, HelloStage, python_script, terminate

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    import psutil
except ImportError as err:
    missing_package(err, "make benchmark")

MEMORY_BOUND_MB = 30  # the app's growth from greeting 100 to the last, at most


def p50_p95(seconds: list[float] | tuple[float, ...]) -> str:
    cuts = statistics.quantiles(seconds, n=20, method="inclusive")  # 5%, 10%, ... 95%
    return f"p50 {cuts[9] * 1000:7.1f} ms   p95 {cuts[18] * 1000:7.1f} ms"


def via_api(stage: HelloStage) -> float:
    started = time.perf_counter()
    done = stage.wait_done(stage.post("Bench", 0), timeout=30)
    assert done["result"]["greeting"] == harness.expected_greeting("Bench"), done
    return time.perf_counter() - started


async def bare(client: Client) -> float:
    started = time.perf_counter()
    result = await client.execute_workflow(
        "GreetingWorkflow",  # by name: the workflow's code lives in hello-ip/, the worker's folder
        {"name": "Bench", "sleep_seconds": 0},
        id=f"bench-bare-{uuid.uuid4().hex}",
        task_queue="hello-ip",
    )
    assert result["location"] == harness.EXPECTED_LOCATION, result  # by name: a dict
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="latency samples of each kind")
    parser.add_argument("--pollers", type=int, default=20, help="pages polling at once")
    parser.add_argument("--greetings", type=int, default=1000, help="for the memory figure")
    parser.add_argument("--only-refresh", action="store_true", help="no teaser, no latency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stop:
        harness.OUTPUT_ROOT = Path(tmp)  # the processes' output goes with it
        server = DevServer(Path(tmp)).start()
        stop.callback(server.stop)
        if not args.only_refresh:
            counter_restarts(server)
        stage = HelloStage(server).start_all()
        stop.callback(stage.stop)
        if not args.only_refresh:
            latency(stage, server, args.runs)
        refresh_cost(stage, args.pollers)
        if not throughput_and_memory(stage, args.greetings):
            sys.exit("FAILED: the app's memory grew past its bound")


def counter_restarts(server: DevServer, times: int = 5) -> None:
    durable, env, seconds = COUNTER_DIR / "durable", server.env(), []
    for _ in range(times):
        worker = python_script(durable / "worker.py", env=env)
        worker.wait_for_line("^Starting the worker")
        python_script(durable / "starter.py", env=env).wait(15)
        worker.wait_for_line(r"^3$", timeout=20)
        worker.interrupt()
        started = time.perf_counter()
        worker = python_script(durable / "worker.py", env=env)
        worker.wait_for_line(r"^4$", timeout=30)
        seconds.append(time.perf_counter() - started)
        worker.interrupt()
        terminate(server, "durable-counter")
    print("Teaser: worker restarted after Ctrl-C at 3, until it prints 4 (Python start-up too):")
    print(
        f"  {', '.join(f'{s:.2f}' for s in seconds)} s; median {statistics.median(seconds):.2f} s"
    )


def latency(stage: HelloStage, server: DevServer, runs: int) -> None:
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(Client.connect(server.address, namespace=stage.namespace))
    took = [(via_api(stage), loop.run_until_complete(bare(client))) for _ in range(5 + runs)]
    print(f"\nThe first greeting through the app, just started: {took[0][0] * 1000:.0f} ms")
    api, direct = zip(*took[5:], strict=True)  # interleaved; the first 5 warm up
    print(f"\nGreeting latency, sleep 0, {runs} runs each (2 cores, local dev server):")
    print(f"  via the JSON API (POST + GET ?wait=1): {p50_p95(api)}")
    print(f"  bare client.execute_workflow:          {p50_p95(direct)}")
    ratio = statistics.median(api) / statistics.median(direct)
    print(f"  ratio of p50s (API / bare): {ratio:.2f}  (goal: <= 1.15)")


def greet(stage: HelloStage, names: range, at_once: int) -> float:
    """Greetings through the API, each polled to its end: the seconds all took."""
    started = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        ids = list(pool.map(lambda i: stage.post(f"Guest {i}", 0), names))
        done = list(pool.map(lambda wid: stage.wait_done(wid, timeout=120)["status"], ids))
    if done != ["COMPLETED"] * len(names) or len(set(ids)) != len(names):
        sys.exit(f"FAILED: not every greeting completed with its own id: {done}")
    return time.perf_counter() - started


def poll(url: str, pages: int, seconds: float = 10) -> list[float]:
    """`pages` threads each GET url in a loop, as many pages polling at once; each latency."""
    deadline = time.perf_counter() + seconds

    def one_page(_) -> list[float]:
        took = []
        while (started := time.perf_counter()) < deadline:
            code, body = harness.http("GET", url)
            assert code == 200, body
            took.append(time.perf_counter() - started)
        return took

    with ThreadPoolExecutor(pages) as pool:
        return [t for page in pool.map(one_page, range(pages)) for t in page]


def refresh_cost(stage: HelloStage, pages: int) -> None:
    """The status endpoint while a run waits on its timer (the timeline's busiest moment)."""
    workflow_id = stage.post("Poll", 60)
    stage.wait_for_event(workflow_id, "TIMER_STARTED")
    status = f"{stage.url}/api/greetings/{workflow_id}"
    figures = {
        "status, 1 page": poll(status, 1, 5),
        f"status, {pages} pages at once": poll(status, pages),
        f"lights, {pages} pages at once": poll(f"{stage.url}/api/lights", pages),
    }
    terminate(stage.server, workflow_id, stage.namespace)
    print("\nThe page's refresh cost (a run on its timer; timeline included):")
    for label, took in figures.items():
        print(f"  {label:<26} {p50_p95(took)}   ({len(took)} requests)")
    print(f"  (goal: the status's p95 under 100 ms with {pages} pages at once)")


def throughput_and_memory(stage: HelloStage, greetings: int) -> bool:
    """The first 100 greetings submitted at once, then the rest 20 at a time; the app's
    resident set size (psutil) before, after the first 100 and after all."""
    app = psutil.Process(next(p for p in stage.procs if p.name == "app.py").popen.pid)
    first, sizes = min(100, greetings), {0: app.memory_info().rss / 2**20}
    wall = greet(stage, range(first), first)
    sizes[first] = app.memory_info().rss / 2**20
    print(f"\n{first} greetings submitted at once through the API: all completed, distinct ids")
    print(f"  wall time {wall:.2f} s, throughput {first / wall:.1f} greetings/s")
    greet(stage, range(first, greetings), 20)
    sizes[greetings] = app.memory_info().rss / 2**20
    growth = sizes[greetings] - sizes[first]
    print(f"\nThe app's memory over {greetings} greetings (RSS):")
    print("  " + ", ".join(f"after {n}: {mb:.1f} MB" for n, mb in sizes.items()))
    print(f"  growth after the first 100: {growth:+.1f} MB (bound: {MEMORY_BOUND_MB} MB)")
    return growth <= MEMORY_BOUND_MB


if __name__ == "__main__":
    main()
