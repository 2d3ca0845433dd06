"""Small plumbing the presenter's tools and the tests share: waiting, ports, JSON over HTTP.

The standard library only (urllib, socket): the presenter's tools run after
`pip install -r requirements.txt` alone, and these few requests need no more.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request


def waited(predicate, timeout: float, interval: float = 0.1):
    """predicate()'s first true value, asked every `interval` seconds for at most `timeout`
    seconds; else its last (false) value. An exception in predicate goes through."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(interval)
    return value


def wait_for(predicate, timeout: float, interval: float = 0.1, what="condition"):
    """waited(), or TimeoutError naming `what` (a text, or a function that tells what
    was seen instead, asked only then)."""
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
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def http_json(
    method: str, url: str, body=None, timeout: float = 30, headers: dict | None = None
) -> tuple[int, object]:
    """A request with a JSON body (if any): (status, parsed answer), an error's too (its text
    when it is not JSON). OSError when there is no answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return err.code, json.loads(text or b"null")
        except ValueError:  # not JSON: an error page
            return err.code, text.decode(errors="replace")
