"""Simulated phones for the room benchmark: each joins the room from an address of its own
(POST /j/<code>/runs, as the join page's button), then asks for its run's status once a second
(a plain GET, not the page's long poll: the issue's worst case) until the run has ended; or,
with ``--as-page``, as join.js asks: ``?wait=0.5&seen=<version>``, again as soon as each answer
comes (a request held half a second when nothing changed: about two a second).

asyncio and aiohttp: a hundred phones from one process, each bound to its own source address
(``TCPConnector(local_addr=...)``), so that the app sees a hundred hosts. The benchmark runs it
inside the phones' network namespace (``ip netns exec NS python -m maintainers.phones ...``):

    python -m maintainers.phones http://192.0.2.1:8000/j/Ab3xYz 10.1.0.2 10.1.0.3 ...

prints one JSON line per phone as it joins ({"joined": ...}: the benchmark learns the run's id
at once), then one line with every phone's figures ({"phones": [...]}). Times are wall-clock
(time.time(): the benchmark's clock too, on the same machine); latencies are perf_counter's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from demo_support import missing_package

try:
    import aiohttp
except ImportError as err:
    missing_package(err, "make benchmark")

REPO = Path(__file__).resolve().parents[1]

PERIOD = 1.0  # seconds between a phone's status requests (start to start)
REQUEST_TIMEOUT = 10.0  # seconds: a request slower than this counts as failed


def say(line: dict) -> None:
    print(json.dumps(line), flush=True)


async def request(session: aiohttp.ClientSession, method: str, url: str, **kwargs):
    """(status code, JSON body or None, seconds taken, wall time sent); code 0: no answer."""
    sent, began = time.time(), time.perf_counter()
    try:
        async with session.request(method, url, **kwargs) as response:
            text = await response.read()
            code = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
        return 0, {"error": f"{type(err).__name__}: {err}"}, time.perf_counter() - began, sent
    took = time.perf_counter() - began
    try:
        body = json.loads(text)
    except ValueError:
        body = {"error": text[:200].decode(errors="replace")}
    return code, body, took, sent


async def phone(
    number: int, room_url: str, source: str, give_up: float, go: float, as_page: bool = False
) -> dict:
    """One phone: join, then poll its run's status every PERIOD s until it has ended (or until
    ``give_up``, a wall time). ``go``: when all phones press the button (wall time)."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(room_url))
    name = f"Phone {number}"
    figures = {"phone": number, "source": source, "name": name, "polls": []}
    connector = aiohttp.TCPConnector(local_addr=(source, 0), limit=1, force_close=True)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.sleep(max(0.0, go - time.time()))
        code, body, took, sent = await request(
            session, "POST", f"{room_url}/runs", json={"name": name}
        )
        figures["join"] = {"code": code, "took": took, "at": sent, "body": body}
        if code != 202:
            say({"joined": figures["join"], "phone": number, "workflow_id": None})
            figures["error"] = body.get("error") if isinstance(body, dict) else str(body)
            return figures
        figures["workflow_id"] = body["workflow_id"]
        say({"joined": {"code": code, "took": took, "at": sent}, "phone": number,
             "workflow_id": body["workflow_id"]})  # fmt: skip
        status_url = origin + body["status_url"]
        # Phones do not press at the same instant's phase: spread their polls over a period.
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.random() * PERIOD
        states, query = [], ""
        while time.time() < give_up:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = loop.time() if as_page else next_at + PERIOD
            code, body, took, sent = await request(session, "GET", status_url + query)
            figures["polls"].append((sent, took, code))
            if code != 200:
                states.append(f"HTTP {code}")
                query = ""  # join.js: after a pause, a request not held
                next_at += (3.0 if code == 429 else 1.0) if as_page else 0
                continue
            if as_page:
                query = f"?wait=0.5&seen={body.get('version')}"
            progress = body.get("progress") or {}
            state = progress.get("step") or body.get("status")  # timer, waiting_for_worker...
            if not states or states[-1] != state:
                states.append(state)
            if body.get("status") != "RUNNING":
                figures.update(done_at=sent + took, status=body.get("status"))
                figures["greeting"] = (body.get("result") or {}).get("greeting")
                figures["error"] = body.get("error")
                break
        else:
            figures["error"] = "gave up: the run had not ended"
        figures["states"] = [str(s)[:80] for s in states]
        return figures


async def phones(room_url, sources, give_up_after: float, delay: float, first=0, as_page=False):
    go = time.time() + delay  # every phone's session is open by then
    give_up = go + give_up_after
    jobs = [phone(first + i, room_url, a, give_up, go, as_page) for i, a in enumerate(sources)]
    return await asyncio.gather(*jobs)


# --- the benchmark's side: phones started, their lines read ------------------------------------


def network(stop: contextlib.ExitStack, count: int) -> tuple[str, list, str] | str:
    """Where ``count`` phones live: (the laptop's address for --room-host, [(argv prefix that
    runs a command among them, their addresses)], what they are). Network namespaces (the venue:
    maintainers/venue.py) where this machine allows them; else, on Linux, loopback addresses,
    127.0.1.x (the same app, but not other hosts: the line says so); else why not (a str)."""
    try:
        from maintainers import venue  # fcntl: not on Windows
    except ImportError as err:
        why = f"no network namespaces here ({err})"
    else:
        if (why := venue.unavailable()) is None:
            hosts = max(1, min(4, count // 25))  # a few devices on the network, 25 phones each
            try:
                place = stop.enter_context(venue.Venue(phones=count, hosts=hosts))
            except venue.VenueUnavailable as err:  # root, but no CAP_NET_ADMIN (a container)
                why = str(err)
            else:
                groups = [(host.command(), host.addresses) for host in place.hosts]
                spaces = "namespace" if hosts == 1 else "namespaces"
                what = f"{count} phones on {hosts} network {spaces} (other hosts, 10.x.y.z)"
                return place.laptop, groups, what
    if not sys.platform.startswith("linux"):  # elsewhere only 127.0.0.1 is up by default
        return f"no phones here: {why}, and no 127.0.1.x addresses off Linux"
    addresses = [f"127.0.1.{i}" for i in range(1, count + 1)]
    return "127.0.0.2", [([], addresses)], f"{count} phones on 127.0.1.x (no venue: {why})"


class Crowd:
    """The phones of a wave, one process for each host (``ip netns exec``), read as they go."""

    def __init__(self, room_url: str, groups: list, count: int, give_up: float, as_page=False):
        self.joined: dict[int, dict] = {}  # phone number -> its join line
        self.results: list[dict] = []
        self.procs: list[subprocess.Popen] = []
        self.errors: list[str] = []
        self._threads = []
        first = 0
        for prefix, addresses in groups:
            mine = addresses[: max(0, count - first)]
            # phones of host k are numbered from `first`: distinct names across hosts
            if not mine:
                continue
            argv = [*prefix, sys.executable, "-m", "maintainers.phones", room_url, *mine]
            argv += ["--give-up", str(give_up), "--first", str(first)]
            argv += ["--as-page"] if as_page else []
            first += len(mine)
            proc = subprocess.Popen(
                argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self.procs.append(proc)
            thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                said = json.loads(line)
            except ValueError:
                self.errors.append(line.strip())
                continue
            if "joined" in said:
                self.joined[said["phone"]] = said
            elif "phones" in said:
                self.results += said["phones"]

    def workflow_ids(self) -> list[str]:
        return [j["workflow_id"] for j in self.joined.values() if j["workflow_id"]]

    def wait(self, timeout: float) -> list[dict]:
        """Every phone's figures, once each process has ended."""
        for proc in self.procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                self.errors.append("the phones did not end in time")
            if proc.returncode:
                self.errors.append(f"a phones process exited {proc.returncode}: "
                                   f"{proc.stderr.read()[-500:]}")  # fmt: skip
        for thread in self._threads:
            thread.join(5)
        return sorted(self.results, key=lambda r: r["phone"])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("room_url", help="the join URL the app printed: http://ADDR:PORT/j/CODE")
    parser.add_argument("sources", nargs="+", help="the phones' addresses, one phone each")
    parser.add_argument("--give-up", type=float, default=180, help="seconds, then a run is lost")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds before the first join")
    parser.add_argument("--first", type=int, default=0, help="the first phone's number")
    parser.add_argument("--as-page", action="store_true", help="poll as join.js: ?wait=0.5&seen=V")
    args = parser.parse_args()
    url = args.room_url.rstrip("/")
    results = asyncio.run(
        phones(url, args.sources, args.give_up, args.delay, args.first, args.as_page)
    )
    say({"phones": results})


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
