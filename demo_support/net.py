"""Waiting, ports and JSON over HTTP: the plumbing the presenter's tools and the tests share.

The standard library only: the presenter's tools run after `pip install -r requirements.txt`
alone, and these few local requests need no more than urllib.
"""

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
    """waited(), or TimeoutError naming `what` (or saying what what() says, for what was seen)."""
    value = waited(predicate, timeout, interval)
    if not value:
        said = what() if callable(what) else f"timed out after {timeout}s waiting for {what}"
        raise TimeoutError(said)
    return value


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
        except OSError:
            return False
    return True


def http_json(method: str, url: str, body=None, timeout: float = 30, headers=None):
    """(status, parsed answer) of a request with a JSON body (if any), an HTTP error's too;
    the answer's text when it is not JSON; OSError when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, headers or {}, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, text.decode(errors="replace")
