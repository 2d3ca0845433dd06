"""`make benchmark`: the demos' speed, printed as figures (its own dev server, free ports).

The teaser's worker restarted after Ctrl-C, until its next number; then, with the stand-in
services, a hello-ip worker and the app: a greeting through the JSON API (POST, then GET ?wait=1
as the page does) against a bare client.execute_workflow; the page's refresh cost (with 1 and
20 pages polling); 100 greetings at once; the app's memory over 1,000 greetings. And the room
(room mode; the phones: maintainers/phones.py): 25, 50 and 100 simulated phones from network
namespaces, each starting a run and polling its status (the biggest room again as join.js polls);
then 100 runs with the worker Ctrl-C'd and restarted while their timers wait. --kept N: N more
phones with the last wave's runs still listed (the room joins again without a Reset).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from demo_support import missing_package
from demo_support.net import waited
from maintainers import harness, phones
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
    parser.add_argument(
        "--only-refresh", action="store_true", help="no teaser, no latency, no room"
    )
    parser.add_argument("--only-room", action="store_true", help="the room's figures alone")
    parser.add_argument("--no-room", action="store_true", help="without the room's figures")
    parser.add_argument(
        "--phones", default="25,50,100", help="the room's sizes, comma-separated (25,50,100)"
    )
    parser.add_argument("--room-timer", type=int, default=30, help="the room's timer, seconds")
    parser.add_argument(
        "--restart-phones",
        type=int,
        default=100,
        help="phones in the worker-restart wave (0: none)",
    )
    parser.add_argument("--kept", type=int, default=0, help="N more phones, the last runs kept")
    args = parser.parse_args()
    sizes = [int(n) for n in args.phones.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stop:
        harness.OUTPUT_ROOT = Path(tmp)  # the processes' output goes with it
        server = DevServer(Path(tmp)).start()
        stop.callback(server.stop)
        failed = []
        if not args.only_room:
            if not args.only_refresh:
                counter_restarts(server)
            stage = HelloStage(server)
            stop.callback(stage.stop)  # on a failure too
            stage.start_all()
            if not args.only_refresh:
                latency(stage, server, args.runs)
            refresh_cost(stage, args.pollers)
            if not throughput_and_memory(stage, args.greetings):
                failed.append("the app's memory grew past its bound")
            stage.stop()  # before the room's pieces start
        if not (args.no_room or args.only_refresh):
            failed += room(server, sizes, args.room_timer, args.restart_phones, args.kept)
        if failed:
            sys.exit("FAILED: " + "; ".join(failed))


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


# --- the room (room mode): phones from other hosts -----------------------------------------------

ROOM_VIEW_PAUSE = 1.0  # s: the presenter's page asks for GET /api/room 1 s after each answer
STATUS_GOAL, STALE_GOAL = 0.300, 2.0  # s: a phone's status p95 at 100 phones; the room view's lag
STEPS = ("get_ip", "get_location_info")


class Sampler:
    """CPU (% of one core) and resident memory of named processes, every second (psutil);
    ``pids()`` gives the current {label: pid} (the worker's changes when it restarts)."""

    def __init__(self, pids) -> None:
        self.pids, self.samples, self._last = pids, [], {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            at, cpu, rss = time.time(), {}, {}
            for label, pid in self.pids().items():
                with contextlib.suppress(psutil.Error):
                    proc = psutil.Process(pid)
                    times = proc.cpu_times()
                    total = times.user + times.system
                    before = self._last.get(pid)
                    self._last[pid] = total
                    cpu[label] = cpu.get(label, 0) + (total - before if before is not None else 0)
                    rss[label] = proc.memory_info().rss / 2**20
            self.samples.append((at, cpu, rss))
            self._done.wait(1.0)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(5)

    def figures(self, label: str, start: float, end: float) -> tuple[float, float, float]:
        """(mean CPU %, the busiest second's CPU %, the largest RSS in MB) between start and end."""
        inside = [(at, cpu, rss) for at, cpu, rss in self.samples if start <= at <= end + 1]
        if len(inside) < 2:
            return 0.0, 0.0, 0.0
        seconds = inside[-1][0] - inside[0][0]
        used = sum(cpu.get(label, 0) for _, cpu, _ in inside[1:])
        gaps = [(b[1].get(label, 0), b[0] - a[0]) for a, b in zip(inside, inside[1:], strict=False)]
        peak = max(used / gap * 100 for used, gap in gaps if gap > 0)
        return used / seconds * 100, peak, max(rss.get(label, 0) for _, _, rss in inside)


class RoomView:
    """The presenter's page's room panel: GET /api/room on 127.0.0.1, 1 s after each answer;
    each answer's latency, its counts, and when each run first read "done"."""

    def __init__(self, url: str) -> None:
        self.url, self.took, self.first_done, self.counts = url, [], {}, []
        self.failures = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            began = time.perf_counter()
            try:
                code, body = harness.http("GET", f"{self.url}/api/room", timeout=30)
            except OSError:
                code, body = 0, None
            took, received = time.perf_counter() - began, time.time()
            self.took.append(took)
            if code != 200:
                self.failures += 1
            else:
                self.counts.append((received, body["counts"]))
                for run in body["runs"]:
                    if run["state"] == "done":
                        self.first_done.setdefault(run["workflow_id"], received)
            self._done.wait(ROOM_VIEW_PAUSE)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(35)

    def most(self, state: str) -> int:
        return max((counts.get(state, 0) for _, counts in self.counts), default=0)


async def run_histories(client: Client, workflow_ids: list[str]) -> dict[str, dict]:
    """Each run, from its history: closed (wall time) and how its activities ran."""

    async def one(workflow_id: str) -> dict:
        events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
        return read_history(events)

    found = await asyncio.gather(*map(one, workflow_ids), return_exceptions=True)
    return dict(zip(workflow_ids, found, strict=True))


def read_history(events) -> dict:
    """The run's end, when its timer started, and each activity's starts with their attempts
    (ActivityTaskStarted is written once an attempt ends: its attempt is the last one's)."""
    scheduled, started, timer_at, fired_at, closed = {}, [], None, None, None
    wall = lambda e: e.event_time.ToDatetime().replace(tzinfo=timezone.utc).timestamp()  # noqa: E731
    for e in events:
        name = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")
        if name == "ACTIVITY_TASK_SCHEDULED":
            scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif name == "ACTIVITY_TASK_STARTED":
            a = e.activity_task_started_event_attributes
            started.append((scheduled.get(a.scheduled_event_id, "?"), a.attempt))
        elif name == "TIMER_STARTED":
            timer_at = wall(e)
        elif name == "TIMER_FIRED":
            fired_at = wall(e)
        elif name.startswith("WORKFLOW_EXECUTION_") and name != "WORKFLOW_EXECUTION_STARTED":
            closed = (name.removeprefix("WORKFLOW_EXECUTION_"), wall(e))
    return {
        "status": closed[0] if closed else "RUNNING",
        "started_at": wall(events[0]) if events else None,
        "closed_at": closed and closed[1],
        "timer_at": timer_at,
        "fired_at": fired_at,
        "scheduled": sorted(scheduled.values()),
        "started": sorted(started),
        "once": sorted(scheduled.values()) == list(STEPS)
        and sorted(started) == [(step, 1) for step in STEPS],
    }


def room(server: DevServer, sizes: list[int], timer: int, restart=100, kept=0) -> list[str]:
    """The room's figures: a wave of phones for each size, the biggest again polling as join.js
    does, ``kept`` more with those runs still listed, then the worker-restart wave; the table;
    what failed (a run lost, an activity run twice), [] when nothing did."""
    namespace = harness.SCENARIO_NAMESPACES[0]  # a task queue of its own: its worker alone
    with contextlib.ExitStack() as stop:
        network = phones.network(stop, max([*sizes, restart, kept]))
        if isinstance(network, str):
            print(f"\nThe room: skipped ({network}).")
            return []
        laptop, groups, where = network
        stage = HelloStage(server, namespace)
        stop.callback(stage.stop)
        stage.start_standin()
        stage.start_worker()
        app = stage.start_app("--room", "--room-host", laptop)
        room_url = stage.room_url(app)
        code, body = harness.http("POST", f"{stage.url}/api/room", {"sleep_seconds": timer})
        assert code == 200, body
        loop = asyncio.new_event_loop()
        stop.callback(loop.close)
        client = loop.run_until_complete(Client.connect(server.address, namespace=namespace))
        print(f"\nThe room: {where}; the app's room at {room_url}; timer {timer} s;")
        print("  each phone: POST /runs, then GET its run's status every 1 s (no long poll);")
        print("  'as join.js': each GET ?wait=0.5&seen=<version>, the next as soon as it answers")
        waves = [wave(stage, loop, client, room_url, groups, n, timer) for n in sizes]
        if page_too := max(sizes, default=0):  # the biggest room again, as join.js polls
            waves.append(wave(stage, loop, client, room_url, groups, page_too, timer, as_page=True))
        if kept:  # the room joins again without a Reset: its last runs stay listed
            listed = waves[-1]["count"] if waves else 0
            waves.append(wave(stage, loop, client, room_url, groups, kept, timer, keep=True))
            waves[-1]["kind"] = f"{kept}, {listed} kept"
        if restart:
            waves.append(wave(stage, loop, client, room_url, groups, restart, timer, True))
    room_table(waves, sizes)
    return [problem for w in waves for problem in w["problems"]]


def wave(
    stage, loop, client, room_url, groups, count, timer, restart=False, as_page=False, keep=False
):
    """``count`` phones join at once and poll until their runs end (``restart``: the worker is
    Ctrl-C'd once every run waits on its timer, and started again once every timer has fired;
    ``as_page``: they poll as join.js does; ``keep``: the last waves' runs stay in the room)."""
    if not keep:
        code, body = harness.http("POST", f"{stage.url}/api/room/reset")  # the last wave's go
        assert code == 200 and body["counts"]["total"] == 0, body
    calls_before = harness.http("GET", f"http://127.0.0.1:{stage.standin_port}/calls")[1]
    app = next(p for p in stage.procs if p.name == "app.py")
    workers = lambda: [p for p in stage.procs if p.name == "worker.py"]  # noqa: E731
    pids = lambda: {  # noqa: E731
        "app": app.popen.pid,
        "temporal": stage.server.proc.popen.pid,
        "worker": workers()[-1].popen.pid,
        **{f"phones {i}": proc.pid for i, proc in enumerate(crowd.procs)},
    }
    crowd = phones.Crowd(room_url, groups, count, give_up=timer + 240, as_page=as_page)
    sampler, view = Sampler(pids), RoomView(stage.url)
    outage = None
    try:
        if restart:
            outage = restart_worker(stage, loop, client, crowd, count, timer, workers)
        results = crowd.wait(timeout=timer + 300)
        ended = {r.get("workflow_id") for r in results if r.get("status")}  # as the phones saw
        waited(lambda: ended <= set(view.first_done), 10, 0.2)  # the room's view too
    finally:
        crowd.stop()
        view.stop()
        sampler.stop()
    calls_after = harness.http("GET", f"http://127.0.0.1:{stage.standin_port}/calls")[1]
    ids = [r.get("workflow_id") for r in results if r.get("workflow_id")]
    runs = loop.run_until_complete(run_histories(client, ids))
    figures = wave_figures(count, results, runs, view, sampler, crowd, outage, calls_before,
                           calls_after, stage)  # fmt: skip
    if as_page:
        figures["kind"], figures["held"] = f"{count}, as join.js", True
    return figures


def restart_worker(stage, loop, client, crowd, count, timer, workers) -> dict:
    """Ctrl-C the worker once every run's history has its timer started; start it again once
    every timer has fired (the runs wait for a worker); (when, for how long)."""

    def all_on_timers():
        if len(crowd.joined) < count:
            return False
        runs = loop.run_until_complete(run_histories(client, crowd.workflow_ids()))
        timers = [r["timer_at"] for r in runs.values() if isinstance(r, dict)]
        return len(timers) == len(crowd.workflow_ids()) and None not in timers and max(timers)

    last_timer = harness.wait_for(all_on_timers, timer + 60, 0.5, "every run on its timer")
    stopped = time.time()
    workers()[-1].interrupt()
    harness.wait_for(lambda: time.time() > last_timer + timer + 3, timer + 10, 0.2)
    restarted = time.time()
    stage.start_worker()
    return {"stopped": stopped, "restarted": restarted}


def wave_figures(count, results, runs, view, sampler, crowd, outage, before, after, stage):
    polls = [took for r in results for (_, took, code) in r["polls"] if code == 200]
    bad_polls = sum(1 for r in results for (_, _, code) in r["polls"] if code != 200)
    joins = [r["join"]["took"] for r in results if r.get("join", {}).get("code") == 202]
    problems, lost, twice = [], [], []
    for r in results:
        run = runs.get(r.get("workflow_id"))
        greeting_ok = r.get("greeting") == harness.expected_greeting(r["name"])
        if not isinstance(run, dict) or run["status"] != "COMPLETED" or not greeting_ok:
            lost.append(f"{r['name']}: {r.get('error') or (run or {}).get('status')}")
        elif not run["once"]:
            twice.append(f"{r['name']}: {run['started']}")
    lost += [
        f"phone {n} never answered" for n in range(count) if n not in {r["phone"] for r in results}
    ]  # noqa: E501
    deltas = {step: after.get(step, 0) - before.get(step, 0) for step in STEPS}
    kind = "worker restart" if outage else f"{count} phones"
    if lost:
        problems.append(f"{kind}: {len(lost)} runs lost: {lost[:3]}")
    if twice:
        problems.append(f"{kind}: {len(twice)} runs with an activity run twice: {twice[:3]}")
    if any(d != count for d in deltas.values()):
        problems.append(f"{kind}: the stand-in's calls rose by {deltas}, not {count} each")
    problems += [f"{kind}: {e}" for e in crowd.errors]
    closed = {i: r["closed_at"] for i, r in runs.items() if isinstance(r, dict) and r["closed_at"]}
    stale = [view.first_done[i] - at for i, at in closed.items() if i in view.first_done]
    never_seen = len(closed) - len(stale)
    start = min((r["join"]["at"] for r in results if "join" in r), default=time.time())
    end = max((r.get("done_at") or 0 for r in results), default=start)
    usage = {label: sampler.figures(label, start, end) for label in ("app", "temporal", "worker")}
    phones_cpu = [sampler.figures(f"phones {i}", start, end) for i in range(len(crowd.procs))]
    ok = [r for r in runs.values() if isinstance(r, dict) and r["closed_at"] and r["fired_at"]]
    to_timer = [r["timer_at"] - r["started_at"] for r in ok]
    after_timer = [r["closed_at"] - r["fired_at"] for r in ok]
    seen = [r["done_at"] - closed[r["workflow_id"]] for r in results
            if r.get("done_at") and r.get("workflow_id") in closed]  # fmt: skip
    rates = [len(r["polls"]) / (r["polls"][-1][0] - r["join"]["at"]) for r in results
             if len(r["polls"]) > 1]  # fmt: skip
    figures = {
        "kind": kind,
        "phone_seen": seen,
        "to_timer": to_timer,
        "after_timer": after_timer,
        "rate": statistics.mean(rates) if rates else 0.0,
        "count": count,
        "completed": sum(
            1 for r in runs.values() if isinstance(r, dict) and r["status"] == "COMPLETED"
        ),  # noqa: E501
        "lost": len(lost),
        "twice": len(twice),
        "deltas": deltas,
        "join": joins,
        "polls": polls,
        "bad_polls": bad_polls,
        "view": view.took,
        "view_failures": view.failures,
        "stale": stale,
        "never_seen": never_seen,
        "usage": usage,
        "phones_cpu": sum(c[0] for c in phones_cpu),
        "seconds": end - start,
        "problems": problems,
    }
    if outage:
        waiting_seen = view.most("waiting")
        done_last = max(closed.values(), default=outage["restarted"])
        figures["outage"] = {
            **outage,
            "waiting_seen": waiting_seen,
            "recovered": done_last - outage["restarted"],
            "states": sorted({s for r in results for s in r.get("states", [])}),
        }
    return figures


def quantile(values: list[float], q: int) -> float | None:
    """The q-th percentile (inclusive method), None without values."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def room_table(waves: list[dict], sizes: list[int]) -> None:
    """The figures as a table: one column a wave."""
    rows = [
        ("runs completed / started", lambda w: f"{w['completed']}/{w['count']}"),
        ("runs lost", lambda w: str(w["lost"])),
        ("runs with an activity run twice", lambda w: str(w["twice"])),
        ("stand-in calls (get_ip, get_location_info)",
         lambda w: ", ".join(f"+{d}" for d in w["deltas"].values())),
        ("join (POST /runs) p50 / p95, ms", lambda w: f"{ms(quantile(w['join'], 50))} / {ms(quantile(w['join'], 95))}"),  # noqa: E501
        ("status (GET /runs/<id>) p50, ms", lambda w: held(w) or ms(quantile(w["polls"], 50))),
        ("status p95, ms (goal < 300 at 100)", lambda w: held(w) or ms(quantile(w["polls"], 95))),
        ("status p99 / max, ms", lambda w: held(w) or f"{ms(quantile(w['polls'], 99))} / {ms(max(w['polls'], default=None))}"),  # noqa: E501
        ("status requests (not 200)", lambda w: f"{len(w['polls'])} ({w['bad_polls']})"),
        ("status requests a phone a second", lambda w: f"{w['rate']:.2f}"),
        ("phone saw its greeting, after the close, p50 / max, s",
         lambda w: f"{quantile(w['phone_seen'], 50) or 0:.1f} / {max(w['phone_seen'], default=0):.1f}"),  # noqa: E501
        ("room view (GET /api/room) p50, ms", lambda w: ms(quantile(w["view"], 50))),
        ("room view p95 / max, ms", lambda w: f"{ms(quantile(w['view'], 95))} / {ms(max(w['view'], default=None))}"),  # noqa: E501
        ("room view stale p50 / max, s (goal < 2)", lambda w: stale(w)),
        ("run: its start to its timer, p50 / max, s", lambda w: spread(w["to_timer"])),
        ("run: its timer fired to its end, p50 / max, s", lambda w: spread(w["after_timer"])),
        ("app CPU mean / busiest s, % of a core", lambda w: cpu(w, "app")),
        ("app RSS max, MB", lambda w: f"{w['usage']['app'][2]:.0f}"),
        ("Temporal dev server CPU mean / busiest, %", lambda w: cpu(w, "temporal")),
        ("worker CPU mean / busiest, %", lambda w: cpu(w, "worker")),
        ("phones' processes CPU mean, %", lambda w: f"{w['phones_cpu']:.0f}"),
        ("wave (first join to last done), s", lambda w: f"{w['seconds']:.1f}"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows) + 2
    heads = [w["kind"] for w in waves]
    print(f"\nThe room on this machine ({psutil.cpu_count()} cores), each phone a run:")
    print(" " * width + "".join(f"{h:>17}" for h in heads))
    for label, cell in rows:
        print(f"{label:<{width}}" + "".join(f"{cell(w):>17}" for w in waves))
    for w in waves:
        if out := w.get("outage"):
            down = out["restarted"] - out["stopped"]
            print(f"\nWorker restart: Ctrl-C once all {w['count']} runs waited on their timers,")
            print(f"  started again {down:.0f} s later, once every timer had fired; the room view")
            print(f"  showed up to {out['waiting_seen']} runs waiting for a worker; the last run")
            print(f"  completed {out['recovered']:.1f} s after the restart.")
            print(f"  the phones read: {', '.join(out['states'])}")
    hundred = next((w for w in waves if w["count"] == 100 and w["kind"] == "100 phones"), None)
    if hundred:
        p95, worst = quantile(hundred["polls"], 95), max(hundred["stale"], default=None)
        print(f"\nGoal at 100 phones: status p95 {ms(p95)} ms (under {STATUS_GOAL * 1000:.0f}: "
              f"{'met' if p95 is not None and p95 < STATUS_GOAL else 'MISSED'}); room view stale "
              f"at most {worst if worst is None else round(worst, 1)} s (under {STALE_GOAL:.0f}: "
              f"{'met' if worst is not None and worst < STALE_GOAL else 'MISSED'})")  # fmt: skip
    for w in waves:
        for problem in w["problems"]:
            print(f"FAILED: {problem}")


def held(w: dict) -> str | None:
    """Latencies mean nothing for requests the app holds for news: say so."""
    return "(held 0.5 s)" if w.get("held") else None


def spread(values: list[float]) -> str:
    return f"{quantile(values, 50) or 0:.1f} / {max(values, default=0):.1f}"


def stale(w: dict) -> str:
    text = f"{quantile(w['stale'], 50) or 0:.1f} / {max(w['stale'], default=0):.1f}"
    return text + (f" ({w['never_seen']} unseen)" if w["never_seen"] else "")


def cpu(w: dict, label: str) -> str:
    mean, peak, _ = w["usage"][label]
    return f"{mean:.0f} / {peak:.0f}"


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # everything started is stopped by then (the ExitStacks)
        sys.exit("Benchmark interrupted.")
