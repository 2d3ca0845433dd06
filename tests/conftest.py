"""One real Temporal dev server per test process, on free ports, in a temp dir."""

import pytest

from maintainers import harness
from maintainers.harness import SCENARIO_NAMESPACES, HelloStage, LocalServer


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
