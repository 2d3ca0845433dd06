"""Local stand-ins for icanhazip.com and ip-api.com, for a talk with no internet.

`python standin.py` serves them on http://127.0.0.1:9000; `source offline.sh` in the worker's
terminal points the worker at them. They answer in the real services' shapes, with fixed answers
(GET /calls: how many calls each answered). Ctrl-C here is the bonus demo's network outage.
"""

import argparse
import ipaddress
import signal
import sys
import time

from aiohttp import web

DEFAULT_IP = "203.0.113.42"  # TEST-NET-3: a documentation address, nobody's real IP
# Addresses ip-api.com has no place for: it answers "fail" with "private range".
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7"]
PRIVATE_RANGES = [ipaddress.ip_network(net) for net in PRIVATE]
PLACE = {"city": "Toronto", "regionName": "Ontario", "region": "ON", "country": "Canada"}
PLACE |= {"countryCode": "CA", "lat": 43.6532, "lon": -79.3832, "timezone": "America/Toronto"}


def make_app(ip: str = DEFAULT_IP) -> web.Application:
    calls = {"get_ip": 0, "get_location_info": 0, "started": time.time()}  # GET /calls

    async def what_is_my_ip(request: web.Request) -> web.Response:
        calls["get_ip"] += 1
        return web.Response(text=ip + "\n")  # as icanhazip.com: the IP and a newline

    async def geolocate(request: web.Request) -> web.Response:
        # As http://ip-api.com/json/{ip}: "success" with the place, or "fail" with why.
        query = request.match_info["ip"]
        calls["get_location_info"] += 1
        try:
            address = ipaddress.ip_address(query)
        except ValueError:
            return web.json_response({"status": "fail", "message": "invalid query", "query": query})
        if any(address in net for net in PRIVATE_RANGES):
            return web.json_response({"status": "fail", "message": "private range", "query": query})
        return web.json_response({"status": "success", **PLACE, "query": query})

    app = web.Application()
    app.router.add_get("/", what_is_my_ip)
    app.router.add_get("/json/{ip}", geolocate)
    app.router.add_get("/calls", lambda request: web.json_response(calls))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--ip", default=DEFAULT_IP, help="the IP address to answer with")
    args = parser.parse_args()
    # In a terminal of its own, Ctrl-C here is the bonus demo's network outage.
    hint = " Ctrl-C cuts the network." if sys.stdin.isatty() else ""
    if hasattr(signal, "SIGBREAK"):  # Windows: make demo's Ctrl-C to it is a Ctrl-Break
        signal.signal(signal.SIGBREAK, signal.default_int_handler)
    print(
        f"Stand-in services on http://{args.host}:{args.port} "
        f"(IP {args.ip}, geolocation {args.host}:{args.port}/json/<ip>).{hint}",
        flush=True,
    )
    try:
        web.run_app(make_app(args.ip), host=args.host, port=args.port, print=None)
    except OSError as err:
        sys.exit(f"Cannot serve on {args.host}:{args.port}: {err.strerror}")
    except KeyboardInterrupt:
        pass
    print("Stand-in services stopped: the network is down.", flush=True)


if __name__ == "__main__":
    main()
