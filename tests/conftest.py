"""One real Temporal dev server per test process, on free ports, in a temp dir."""

import pytest
from helpers import DevServer


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory):
    server = DevServer(tmp_path_factory.mktemp("temporal")).start()
    yield server
    server.stop()
