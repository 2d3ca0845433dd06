"""`make benchmark`: the demos' speed, printed as figures.

Starts its own dev server (free ports, temp dir), and measures:

0. the teaser: from restarting the counter's worker (after Ctrl-C mid-count)
   to the next number on screen, median of 5;

then with the stand-in services, a hello-ip worker and the app:

1. greeting latency with sleep 0 through the JSON API (POST, then GET with
   ?wait=1 as the page does, until COMPLETED), against a bare
   client.execute_workflow of the same workflow, interleaved in the same run;
2. 100 greetings submitted at once through the API: all must complete, with
   distinct workflow ids; prints the throughput;
3. the page's refresh cost: the status endpoint's p50 and p95 (GET
   /api/greetings/<id>, the timeline included) with 1 page polling, then with
   20 pages polling at once, and /api/lights with 20 at once;
4. the app's memory (resident set size) after 1,000 greetings through the API,
   each polled to the end as the page does: it must not grow more than
   MEMORY_BOUND_MB past its size after the first 100.
"""

from __future__ import annotations

import argparse
import asyncio
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
from maintainers.harness import (
    COUNTER_DIR,
    TEST_NAMESPACE,
    DevServer,
    HelloStage,
    expected_greeting,
    python_script,
    terminate,
)

try:  # a .venv made before requirements.txt pinned it: one line, not a traceback
    import psutil
except ImportError as err:
    missing_package(err, "make benchmark")


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile, interpolated between the samples (statistics.quantiles)."""
    if len(values) < 2:  # quantiles wants two, before Python 3.13
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def via_api(stage: HelloStage) -> float:
    started = time.perf_counter()
    workflow_id = stage.post("Bench", 0)
    done = stage.wait_done(workflow_id, timeout=30)
    elapsed = time.perf_counter() - started
    assert done["result"]["greeting"] == expected_greeting("Bench"), done
    return elapsed


async def bare(client: Client) -> float:
    started = time.perf_counter()
    result = await client.execute_workflow(
        "GreetingWorkflow",  # by name: the workflow's code lives in hello-ip/, the worker's folder
        {"name": "Bench", "sleep_seconds": 0},
        id=f"bench-bare-{uuid.uuid4().hex}",
        task_queue="hello-ip",
    )
    elapsed = time.perf_counter() - started
    assert result["location"] == "Toronto, Ontario, Canada"  # by name: a dict
    return elapsed


MEMORY_BOUND_MB = 30  # the app's growth from greeting 100 to greeting 1,000, at most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="latency samples of each kind")
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--pollers", type=int, default=20, help="pages polling at once")
    parser.add_argument("--greetings", type=int, default=1000, help="for the memory figure")
    parser.add_argument(
        "--only-refresh", action="store_true", help="only the page's refresh cost and memory"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        harness.OUTPUT_ROOT = Path(tmp)  # the processes' output goes with it
        server = DevServer(Path(tmp)).start()
        try:
            if not args.only_refresh:
                counter_restarts(server)
            stage = HelloStage(server).start_all()
            try:
                if not args.only_refresh:
                    measure(stage, server, args.runs, args.concurrent)
                refresh_cost(stage, args.pollers)
                if not app_memory(stage, args.greetings):
                    sys.exit("FAILED: the app's memory grew past its bound")
            finally:
                stage.stop()
        finally:
            server.stop()


def counter_restarts(server: DevServer, times: int = 5) -> None:
    durable = COUNTER_DIR / "durable"
    env = server.env()
    seconds = []
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
        terminate(server, "durable-counter", TEST_NAMESPACE)
    print(
        "Teaser: worker restarted after Ctrl-C at 3, until it prints 4 (includes Python start-up):"
    )
    print(
        f"  {', '.join(f'{s:.2f}' for s in seconds)} s; median {statistics.median(seconds):.2f} s"
    )


def measure(stage: HelloStage, server: DevServer, runs: int, concurrent: int) -> None:
    first = via_api(stage)  # the app has just started: its client connected meanwhile
    print(f"\nThe first greeting through the app, just started: {first * 1000:.0f} ms")
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(Client.connect(server.address, namespace=stage.namespace))
    for _ in range(5):  # warm up both paths
        via_api(stage)
        loop.run_until_complete(bare(client))
    api, direct = [], []
    for _ in range(runs):  # interleaved, so both see the same machine
        api.append(via_api(stage))
        direct.append(loop.run_until_complete(bare(client)))

    def ms(values, p):
        return f"{percentile(values, p) * 1000:7.1f} ms"

    print(f"\nGreeting latency, sleep 0, {runs} runs each (2 cores, local dev server):")
    print(f"  via the JSON API (POST + GET ?wait=1): p50 {ms(api, 50)}   p95 {ms(api, 95)}")
    print(f"  bare client.execute_workflow:          p50 {ms(direct, 50)}   p95 {ms(direct, 95)}")
    ratio = statistics.median(api) / statistics.median(direct)
    print(f"  ratio of p50s (API / bare): {ratio:.2f}  (goal: <= 1.15)")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrent) as pool:
        ids = list(pool.map(lambda i: stage.post(f"Guest {i}", 0), range(concurrent)))
        results = list(pool.map(lambda wid: stage.wait_done(wid, timeout=120), ids))
    wall = time.perf_counter() - started
    completed = sum(r["status"] == "COMPLETED" for r in results)
    print(f"\n{concurrent} concurrent greetings through the API:")
    print(
        f"  completed {completed}/{concurrent}, distinct workflow ids {len(set(ids))}/{concurrent}"
    )
    print(f"  wall time {wall:.2f} s, throughput {concurrent / wall:.1f} greetings/s")
    if completed != concurrent or len(set(ids)) != concurrent:
        sys.exit("FAILED: not every greeting completed with its own id")


def poll_latencies(url: str, pages: int, seconds: float = 10) -> list[float]:
    """`pages` threads each GET url in a loop, as many pages polling at once; each latency."""
    deadline = time.perf_counter() + seconds

    def one_page(_) -> list[float]:
        took = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            code, _body = harness.http("GET", url)
            assert code == 200, _body
            took.append(time.perf_counter() - started)
        return took

    with ThreadPoolExecutor(pages) as pool:
        return [t for page in pool.map(one_page, range(pages)) for t in page]


def refresh_cost(stage: HelloStage, pages: int) -> dict:
    """The status endpoint while a run waits on its timer (the timeline's busiest moment)."""
    workflow_id = stage.post("Poll", 60)
    stage.wait_for_event(workflow_id, "TIMER_STARTED")
    status_url = f"{stage.url}/api/greetings/{workflow_id}"
    figures = {
        "status, 1 page": poll_latencies(status_url, 1, 5),
        f"status, {pages} pages at once": poll_latencies(status_url, pages),
        f"lights, {pages} pages at once": poll_latencies(f"{stage.url}/api/lights", pages),
    }
    terminate(stage.server, workflow_id, stage.namespace)
    print("\nThe page's refresh cost (a run on its timer; timeline included):")
    for label, took in figures.items():
        p50, p95 = percentile(took, 50) * 1000, percentile(took, 95) * 1000
        print(f"  {label:<26} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(took)} requests)")
    print(f"  (goal: the status's p95 under 100 ms with {pages} pages at once)")
    return figures


def rss_mb(pid: int) -> float:
    """A process's resident set size, in MiB (psutil: Linux, macOS and Windows alike)."""
    return psutil.Process(pid).memory_info().rss / 2**20


def app_memory(stage: HelloStage, greetings: int, bound: float = MEMORY_BOUND_MB) -> bool:
    """The app's RSS after the first 100 greetings and after all of them."""
    app = next(p for p in stage.procs if p.name == "app.py")
    pid = app.popen.pid
    sizes = {0: rss_mb(pid)}
    done = 0
    with ThreadPoolExecutor(20) as pool:
        for upto in sorted({min(100, greetings), greetings // 2, greetings}):
            batch = upto - done

            def greet(i):
                workflow_id = stage.post(f"Guest {i}", 0)
                return stage.wait_done(workflow_id, timeout=120)["status"]

            statuses = list(pool.map(greet, range(done, done + batch)))
            assert statuses == ["COMPLETED"] * batch, statuses
            done = upto
            sizes[done] = rss_mb(pid)
    first = sizes[min(100, greetings)]
    growth = sizes[greetings] - first
    print(f"\nThe app's memory over {greetings} greetings (RSS):")
    print("  " + ", ".join(f"after {n}: {mb:.1f} MB" for n, mb in sizes.items()))
    print(f"  growth after the first 100: {growth:+.1f} MB (bound: {bound} MB)")
    return growth <= bound


if __name__ == "__main__":
    main()
