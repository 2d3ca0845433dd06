"""The two calls to the outside world. Activities may fail; Temporal retries them."""

import os

import aiohttp
from temporalio import activity
from temporalio.exceptions import ApplicationError

# The base URL of a service that answers GET with the caller's IP as plain text.
IP_SERVICE_URL = os.environ.get("IP_SERVICE_URL", "https://icanhazip.com")
# The base URL of an ip-api.com-style JSON API: GET {GEO_SERVICE_URL}/{ip}.
GEO_SERVICE_URL = os.environ.get("GEO_SERVICE_URL", "http://ip-api.com/json")


class IpActivities:
    def __init__(self, session: aiohttp.ClientSession):
        # One HTTP session for the worker's lifetime, opened by worker.py:
        # it can't travel through Temporal, so the worker hands it in.
        self.session = session

    @activity.defn
    async def get_ip(self) -> str:
        async with self.session.get(IP_SERVICE_URL) as response:
            response.raise_for_status()  # a failed attempt raises; Temporal retries
            return (await response.text()).strip()

    @activity.defn
    async def get_location_info(self, ip: str) -> str:
        async with self.session.get(f"{GEO_SERVICE_URL}/{ip}") as response:
            response.raise_for_status()
            data = await response.json()
        if data.get("status") == "fail":
            # The service's final word (e.g. "private range"): retrying can't help.
            raise ApplicationError(
                f"No location for {ip}: {data.get('message')}", non_retryable=True
            )
        return f"{data['city']}, {data['regionName']}, {data['country']}"
