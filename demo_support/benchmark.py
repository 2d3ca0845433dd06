"""`make benchmark`: the demos' speed, printed as figures.

Starts its own dev server (free ports, temp dir), and measures:

0. the teaser: from restarting the counter's worker (after Ctrl-C mid-count)
   to the next number on screen, median of 5;

then with the stand-in services, a hello-ip worker and the app:

1. greeting latency with sleep 0 through the JSON API (POST, then GET with
   ?wait=1 as the page does, until COMPLETED), against a bare
   client.execute_workflow of the same workflow, interleaved in the same run;
2. 100 greetings submitted at once through the API: all must complete, with
   distinct workflow ids; prints the throughput.
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

from demo_support import harness
from demo_support.harness import (
    COUNTER_DIR,
    TEST_NAMESPACE,
    DevServer,
    HelloStage,
    expected_greeting,
    python_script,
    terminate,
)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


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
    assert result.location == "Toronto, Ontario, Canada"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="latency samples of each kind")
    parser.add_argument("--concurrent", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        harness.OUTPUT_ROOT = Path(tmp)  # the processes' output goes with it
        server = DevServer(Path(tmp)).start()
        try:
            counter_restarts(server)
            stage = HelloStage(server).start_all()
            try:
                measure(stage, server, args.runs, args.concurrent)
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
    print(f"  ratio of p50s (API / bare): {ratio:.2f}  (goal: <= 1.3)")

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


if __name__ == "__main__":
    main()
