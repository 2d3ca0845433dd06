"""One real Temporal dev server per test process, on free ports, in a temp dir."""

import os
from pathlib import Path

import pytest

from maintainers import harness
from maintainers.harness import SCENARIO_NAMESPACES, DevServer, HelloStage, LocalServer


@pytest.fixture(scope="session", autouse=True)
def process_output(tmp_path_factory):
    """Every process's output in pytest's temporary folder, not in the system's."""
    harness.OUTPUT_ROOT = tmp_path_factory.mktemp("processes")


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory):
    """The SDK's dev server (WorkflowEnvironment.start_local), its database in a folder of
    pytest's: make reset's test proves that a dev server outside the repository is not ours."""
    server = LocalServer(tmp_path_factory.mktemp("temporal")).start()
    yield server
    server.stop()


_free_namespaces = list(SCENARIO_NAMESPACES)


@pytest.fixture
def scenario_namespace():
    """A namespace of the session server that no other test uses."""
    assert _free_namespaces, "add more SCENARIO_NAMESPACES in maintainers/harness.py"
    return _free_namespaces.pop(0)


@pytest.fixture(scope="session")
def hello(temporal_server):
    """A running hello-ip stage (stand-in, worker, app) shared by the API tests."""
    stage = HelloStage(temporal_server).start_all()
    yield stage
    stage.stop()


@pytest.fixture
def scenario(temporal_server, scenario_namespace):
    """A hello-ip stage of its own for a failure scenario; the test starts its pieces."""
    stage = HelloStage(temporal_server, scenario_namespace)
    yield stage
    stage.stop()


@pytest.fixture
def restartable(tmp_path):
    """A hello-ip stage on a dev server of its own, which the test stops and starts again
    (stage.server: demo 4); the test starts its pieces."""
    server = DevServer(tmp_path, namespaces=("restartable",)).start()
    stage = HelloStage(server, "restartable")
    yield stage
    stage.stop()
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Chromium, for a module of page tests (each skips itself without one)."""
    from browser import launched

    with launched() as browser:
        yield browser


@pytest.fixture
def shots(request, tmp_path):
    """Where a test's screenshots go: the folder in the environment variable its module names
    in SCREENSHOTS ($TIMELINE_SCREENSHOTS unless it names another) when set, else tmp_path."""
    variable = getattr(request.module, "SCREENSHOTS", "TIMELINE_SCREENSHOTS")
    folder = Path(os.environ.get(variable) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
