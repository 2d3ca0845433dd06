"""Waiting, ports and JSON over HTTP for the presenter's tools and the tests (stdlib only)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request


def waited(predicate, timeout: float, interval: float = 0.1):
    """predicate()'s first true value within `timeout` seconds, else its last one."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def wait_for(predicate, timeout: float, interval: float = 0.1, what="condition"):
    """waited(), or TimeoutError naming `what` (or saying what what() says)."""
    if value := waited(predicate, timeout, interval):
        return value
    raise TimeoutError(
        what() if callable(what) else f"timed out after {timeout}s waiting for {what}"
    )


def port_in_use(port: int) -> bool:
    """Something listens on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def can_bind(port: int, reuse: bool = False) -> bool:
    """A server could listen on 127.0.0.1:port now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse))
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def http_json(method: str, url: str, body=None, timeout: float = 30, headers=None):
    """(status, parsed answer) of a request with a JSON body (if any), an HTTP error's too; the
    answer's text when it is not JSON; OSError when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**({} if data is None else {"Content-Type": "application/json"}), **(headers or {})}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data, headers, method=method), timeout=timeout
        ) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text.decode(errors="replace")
