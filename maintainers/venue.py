"""Phones on the venue's network, made of Linux network namespaces (room mode's tests and
benchmark): hosts that are really other hosts, with their own addresses, not 127.0.0.1.

    with Venue(phones=8, hosts=2) as venue:          # needs root and `ip netns`
        app = stage.start_app("--room", "--room-host", venue.laptop)
        phone = venue.phones[0]
        status, body = phone.json("POST", f"{url}/runs", {"name": "Ada"})

Each host is a namespace joined to this one (the laptop's) by a veth pair on a /24 of its own,
picked at random in 10.0.0.0/8 and not already routed here: 10.A.B.1 on the laptop's side,
10.A.B.2, .3... (its phones) on the host's, a default route via 10.A.B.1. The laptop's address
(`venue.laptop`, what the app binds) is host 0's 10.A.B.1; the other hosts reach it through this
namespace's routing, as phones reach a laptop through the venue's router. Nothing routes beyond:
this namespace's 127.0.0.1 (Temporal, the presenter's page) is another address on another host.

Requests come from this process, no subprocess each: a thread of each host lives in its
namespace (it calls setns(2) once, when it starts) and makes that host's sockets; a socket
belongs to the namespace it was made in, whichever thread uses it afterwards. Any thread can then
bind a phone's address, connect and talk. The system call goes through ctypes (os.setns is
Python 3.12's only). A thread that never leaves its namespace is safer than switching the
caller's thread in and back out: the test's own threads stay in the laptop's namespace whatever
fails.

Names carry the process id and a counter (``venue-<pid>-<n>-<host>``, links ``ve<pid>-<n>-<host>``
in hex), so that processes working at once never collide; subnets are picked under a lock file.
Everything is removed on exit, on failure and on Ctrl-C (and at interpreter exit if a venue was
left open); namespaces left behind by a process that is gone are removed by the next venue.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import fcntl
import http.client
import ipaddress
import itertools
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

IP = shutil.which("ip") or "/usr/sbin/ip"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
PREFIX = "venue-"
LOCK = Path("/tmp/venue-subnets.lock")  # one for every process, whatever its TMPDIR
CLONE_NEWNET = 0x40000000
_counter = itertools.count()
_open: set[Venue] = set()


class VenueUnavailable(RuntimeError):
    """This machine cannot make network namespaces (not root, no `ip`, no CAP_NET_ADMIN...)."""


def _ip(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run([IP, *args], input=stdin, capture_output=True, text=True)
    if done.returncode:
        what = " ".join(args) if stdin is None else f"{' '.join(args)} <<{stdin!r}"
        raise VenueUnavailable(f"ip {what}: {done.stderr.strip() or done.returncode}")


def unavailable() -> str | None:
    """Why no venue can be made here (None: it can)."""
    if not Path("/proc/self/ns/net").exists():
        return "no network namespaces on this system (Linux only)"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN): run as root"
    if not Path(IP).exists():
        return "no `ip` command (apt-get install iproute2)"
    return None


def require() -> None:
    """pytest.skip, with the reason, where no venue can be made."""
    if reason := unavailable():
        import pytest

        pytest.skip(f"no venue: {reason}")


@contextlib.contextmanager
def or_skip(phones: int = 1, hosts: int | None = None):
    """A Venue for a test, or pytest.skip with the reason where none can be made."""
    try:
        venue = Venue(phones, hosts).__enter__()
    except VenueUnavailable as why:
        import pytest

        pytest.skip(f"no venue: {why}")
    try:
        yield venue
    finally:
        venue.close()


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns: {os.strerror(code)}")


def _enter(namespace: str) -> None:
    """Move the calling thread (only it) into the named namespace, for good."""
    fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


def _sweep() -> None:
    """Remove namespaces (and their links) of venues whose process is gone."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/run/netns"):
            parts = name.split("-")
            ours = len(parts) == 4 and parts[0] == PREFIX[:-1]
            if (
                ours
                and all(p.isdigit() for p in parts[1:])
                and not Path(f"/proc/{parts[1]}").exists()
            ):
                link = f"ve{int(parts[1]):x}-{int(parts[2]):x}-{int(parts[3]):x}"
                subprocess.run([IP, "link", "del", link], capture_output=True)
                subprocess.run([IP, "netns", "del", name], capture_output=True)


def _taken() -> list[ipaddress.IPv4Network]:
    """The networks this namespace already has an address or a route in."""
    done = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True, text=True)
    nets = [ipaddress.ip_interface(f.split()[3]).network for f in done.stdout.splitlines()]
    done = subprocess.run([IP, "-4", "route"], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.ip_network(line.split()[0], strict=False))
    return nets


def _free_subnets(count: int) -> list[ipaddress.IPv4Network]:
    taken, picked = _taken(), []
    while len(picked) < count:
        net = ipaddress.ip_network(f"10.{random.randrange(1, 255)}.{random.randrange(256)}.0/24")
        if not any(net.overlaps(other) for other in taken + picked):
            picked.append(net)
    return picked


@dataclass
class Answer:
    """An HTTP answer: status, the body (parsed JSON, else text), headers (names lower-case)."""

    status: int
    body: object
    headers: dict[str, str]
    text: str


class _Connection(http.client.HTTPConnection):
    def __init__(self, phone: Phone, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.phone = phone

    def connect(self) -> None:
        self.sock = self.phone.connect(self.host, self.port, self.timeout)


@dataclass(eq=False)
class Host:
    """A namespace: one device on the venue's network with one or more phones' addresses."""

    index: int
    namespace: str
    link: str  # the veth's end in the laptop's namespace
    gateway: str  # the laptop's address on this host's /24
    addresses: list[str] = field(default_factory=list)
    _thread: ThreadPoolExecutor | None = None

    def socket(self, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket of this host's namespace (made by the host's thread, usable from any)."""
        if self._thread is None:
            raise RuntimeError(f"{self.namespace} is closed")
        return self._thread.submit(socket.socket, socket.AF_INET, kind).result()

    def command(self, *args: str) -> list[str]:
        """argv running a command inside this host (`ip netns exec`)."""
        return [IP, "netns", "exec", self.namespace, *map(str, args)]

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """subprocess.run inside this host (capture_output and text unless told)."""
        kwargs = {"capture_output": True, "text": True, **kwargs}
        return subprocess.run(self.command(*args), **kwargs)

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), **kwargs)


@dataclass(eq=False)
class Phone:
    """One attendee's phone: an address of a host, every request from it."""

    host: Host
    address: str

    def connect(self, host: str, port: int, timeout: float = 5) -> socket.socket:
        """A TCP connection from this phone's address (OSError as the network answers:
        ConnectionRefusedError, an unreachable network, TimeoutError)."""
        sock = self.host.socket()
        try:
            sock.settimeout(timeout)
            sock.bind((self.address, 0))
            sock.connect((host, port))
            return sock
        except BaseException:
            sock.close()
            raise

    def reach(self, host: str, port: int, timeout: float = 3) -> str:
        """What connecting gives: "connected", "refused", "unreachable" or "timeout"."""
        try:
            self.connect(host, port, timeout).close()
            return "connected"
        except ConnectionRefusedError:
            return "refused"
        except TimeoutError:
            return "timeout"
        except OSError as err:
            if err.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                return "unreachable"
            raise

    def request(self, method, url, body=None, headers=None, timeout=30, data=None) -> Answer:
        """An HTTP request from this phone: a JSON body (`body`) or raw bytes (`data`; an
        iterable of bytes with ``Transfer-Encoding: chunked`` is sent chunked)."""
        parts = urlsplit(url)
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = _Connection(self, parts.hostname, parts.port or 80, timeout)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            chunked = "chunked" in headers.get("Transfer-Encoding", "")
            conn.request(method, path or "/", data, headers, encode_chunked=chunked)
            response = conn.getresponse()
            raw = response.read()
            heads = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        text = raw.decode(errors="replace")
        try:
            parsed = json.loads(raw or b"null")
        except ValueError:
            parsed = text
        return Answer(response.status, parsed, heads, text)

    def json(self, method, url, body=None, timeout=30, headers=None) -> tuple[int, object]:
        """(status, parsed body), as maintainers.harness.http gives them from the laptop."""
        answer = self.request(method, url, body, headers, timeout)
        return answer.status, answer.body

    def get(self, url, timeout=30) -> Answer:
        return self.request("GET", url, timeout=timeout)

    def post(self, url, body=None, timeout=30, data=None, headers=None) -> Answer:
        return self.request("POST", url, body, headers, timeout, data)


class Venue:
    """`hosts` namespaces holding `phones` addresses between them (round robin), removed on
    exit. `laptop`: the address the app binds (--room-host)."""

    def __init__(self, phones: int = 1, hosts: int | None = None):
        hosts = phones if hosts is None else hosts
        if not 1 <= hosts <= min(phones, 255) or phones > 253 * hosts:
            raise ValueError(f"{phones} phones on {hosts} hosts: 1 <= hosts <= phones, 253 a host")
        self.count, self.host_count = phones, hosts
        self.number = next(_counter)
        self.hosts: list[Host] = []
        self.phones: list[Phone] = []
        self._dir: Path | None = None
        self._lock = threading.Lock()

    @property
    def laptop(self) -> str:
        return self.hosts[0].gateway

    def __enter__(self) -> Venue:
        if reason := unavailable():
            raise VenueUnavailable(reason)
        _open.add(self)
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create(self) -> None:
        pid = os.getpid()
        with open(LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # pick and take subnets, one process at a time
            _sweep()
            for i, net in enumerate(_free_subnets(self.host_count)):
                hosts = list(net.hosts())
                host = Host(
                    i,
                    f"{PREFIX}{pid}-{self.number}-{i}",
                    f"ve{pid:x}-{self.number:x}-{i:x}",
                    str(hosts[0]),
                )
                self.hosts.append(host)  # before it exists: close() removes what was made
                peer = f"vp{pid:x}-{self.number:x}-{i:x}"
                _ip("netns", "add", host.namespace)
                _ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
                _ip("link", "set", peer, "netns", host.namespace)
                _ip("addr", "add", f"{host.gateway}/24", "dev", host.link)
                _ip("link", "set", host.link, "up")
                count = len(range(i, self.count, self.host_count))
                host.addresses = [str(a) for a in hosts[1 : 1 + count]]
                inside = [f"link set {peer} name eth0", "link set lo up"]
                inside += [f"addr add {a}/24 dev eth0" for a in host.addresses]
                inside += ["link set eth0 up", f"route add default via {host.gateway}"]
                _ip("-n", host.namespace, "-batch", "-", stdin="\n".join(inside) + "\n")
                host._thread = ThreadPoolExecutor(1, f"venue-{i}", _enter, (host.namespace,))
        for n in range(self.count):  # phone n on host n % hosts
            host = self.hosts[n % self.host_count]
            self.phones.append(Phone(host, host.addresses[n // self.host_count]))

    def close(self) -> None:
        """Remove every namespace and link of this venue (and the processes in them)."""
        with self._lock:
            for host in self.hosts:
                if host._thread:
                    host._thread.shutdown(wait=False)
                    host._thread = None
                pids = subprocess.run(
                    [IP, "netns", "pids", host.namespace], capture_output=True, text=True
                ).stdout.split()
                for pid in pids:  # a browser this venue started in the host, say
                    with contextlib.suppress(OSError, ValueError):
                        if int(pid) != os.getpid():
                            os.kill(int(pid), 9)
                subprocess.run([IP, "link", "del", host.link], capture_output=True)
                subprocess.run([IP, "netns", "del", host.namespace], capture_output=True)
            self.hosts, self.phones = [], []
            if self._dir:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
            _open.discard(self)

    def chromium(self, host: Host | Phone | int = 0) -> str:
        """An executable that runs Debian's chromium inside a host (give Playwright's launch it as
        executable_path; Playwright talks to the browser over pipes, which `ip netns exec`
        passes on, not TCP). The browser's requests leave from the host's first address."""
        host = host.host if isinstance(host, Phone) else host
        host = self.hosts[host] if isinstance(host, int) else host
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix=f"venue-{os.getpid()}-"))
        wrapper = self._dir / f"chromium-{host.namespace}"
        wrapper.write_text(f'#!/bin/sh\nexec {IP} netns exec {host.namespace} {CHROMIUM} "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(wrapper)


@atexit.register
def _close_all() -> None:
    for venue in list(_open):
        venue.close()
