"""The README's Troubleshooting table: each row's message is what a presenter really sees."""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maintainers.harness import (
    HELLO_DIR,
    REPO,
    free_port,
    internet,
    port_open,
    python_script,
    wait_for,
)
from presenter import preflight, stage
from readme_script import powershell_table
from terminals import PROMPT, TMUX, Terminals, clean_env

README = (REPO / "README.md").read_text()
TABLE = README[README.index("## Troubleshooting") :]


def row(starting: str) -> str:
    """The message of the row that starts with this text, up to its `...`."""
    found = re.search(r"^\| (.*?) \| .* \|$", TABLE[TABLE.index(f"| {starting}") :], re.M)
    assert found, f"no Troubleshooting row starts with {starting!r}"
    return found[1]


no_internet = pytest.mark.skipif(
    internet(), reason="this machine reaches icanhazip.com: the row is about having no internet"
)


def test_a_second_app_says_the_port_is_taken_in_one_line(tmp_path):
    port = free_port()
    first = python_script(HELLO_DIR / "app.py", "--port", port, name="app-1")
    try:
        first.wait_for_line("^The app is at")
        second = python_script(HELLO_DIR / "app.py", "--port", port, name="app-2")
        second.wait(15)
    finally:
        first.stop()
    message = row("`Cannot serve on").strip("`").removesuffix(" ...")
    assert second.stderr.strip().splitlines() == [
        f"{message.replace('8000', str(port))} Pick another port with --port."
    ], second.stderr
    assert second.stdout == "" and second.popen.returncode == 1


@no_internet
def test_no_internet_the_page_names_get_ip_and_the_dns_error(temporal_server, scenario):
    """The worker, online (the real services), on a machine with no internet."""
    env = {k: v for k, v in scenario.env.items() if not k.endswith("SERVICE_URL")}
    worker = python_script(HELLO_DIR / "worker.py", env=env, name="worker-online")
    scenario.procs.append(worker)
    worker.wait_for_line("^Starting the worker")
    scenario.start_app()
    run_id = scenario.post("Ada")
    status = scenario.wait_progress(run_id, lambda p: p.get("last_error"), timeout=30)
    progress = status["progress"]
    said = row("The page says `get_ip failed`")
    expected_start = re.search(r"`Last error: ([^`]*?) \.\.\.`", said)[1]
    assert progress["message"].startswith("get_ip failed"), progress
    assert progress["last_error"].startswith(expected_start), progress
    assert "ssl:" not in progress["last_error"], "the transport's noise is gone"


def test_an_error_over_the_servers_4_kb_still_reaches_the_page(scenario):
    """The server keeps a failed attempt's error up to 4 KB: over it, it says "Failure exceeds
    size limit." and keeps a shortened copy as the cause. Python 3.13's tracebacks put
    aiohttp's DNS error (the row above) over it; here a 404 whose message holds a 5 KB URL,
    on any Python. The page and its timeline show the error, not the server's wrapper."""
    scenario.start_standin()
    long_url = f"http://127.0.0.1:{scenario.standin_port}/{'x' * 5000}"  # the stand-in: 404
    env = {**scenario.env, "IP_SERVICE_URL": long_url}
    worker = python_script(HELLO_DIR / "worker.py", env=env, name="worker-long-url")
    scenario.procs.append(worker)
    worker.wait_for_line("^Starting the worker")
    scenario.start_app()
    run_id = scenario.post("Ada")
    status = scenario.wait_progress(run_id, lambda p: p.get("last_error"), timeout=30)
    assert status["progress"]["last_error"].startswith("ClientResponseError: 404"), status
    retried = [row for row in status["timeline"] if row.get("last_failure")]
    assert retried and retried[0]["last_failure"].startswith("ClientResponseError: 404"), retried


@no_internet
def test_no_internet_make_check_warns(tmp_path):
    ports = [str(free_port()) for _ in range(4)]
    flags = ["--server-port", "--ui-port", "--app-port", "--standin-port"]
    args = [x for pair in zip(flags, ports, strict=True) for x in pair]
    out = subprocess.run(
        [sys.executable, "-m", "presenter.preflight", *args, "--net-timeout", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    shown = row("`make check` says").split("`")[3].removesuffix(" ...")
    lines = [line for line in out.stdout.splitlines() if line.startswith(shown)]
    assert len(lines) == 1, out.stdout
    assert out.returncode == 0, "a warning, not a failure: the offline mode exists"
    assert lines[0].split(" -> fix: ")[1] == preflight.offline_fix(), lines[0]


def what_to_do(starting: str) -> list[str]:
    """The commands (code spans) of the Do column of the row that starts with this text."""
    line = next(x for x in TABLE.splitlines() if x.startswith(f"| {starting}"))
    return re.findall(r"`([^`]+)`", line.rsplit(" | ", 1)[1])


def test_make_checks_offline_fix_is_the_readmes_offline_mode():
    """What the [WARN] internet line says to do is what the README's row says, in bash and
    zsh, and in PowerShell with the forms of the README's table."""
    commands = what_to_do("`make check` says `[WARN] internet")
    assert {"source offline.sh", "make demo OFFLINE=1"} <= set(commands), commands
    table = powershell_table()
    for command in commands:
        assert command in preflight.offline_fix(windows=False), command
        forms = table.get(command, [command])  # python standin.py is typed as it is
        assert all(form in preflight.offline_fix(windows=True) for form in forms), forms
    assert "IP_SERVICE_URL" not in preflight.offline_fix(), "the README's way, not a variable"


def test_make_reset_answered_no_changes_nothing_and_is_no_error(tmp_path):
    """`make reset`, answered n at its question: no `make: *** Error 1` under it."""
    import os
    import pty

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "temporal.db").write_bytes(b"")  # something to reset
    # reset.py in a terminal, as make runs it. Not pty.fork(): a fork of this multi-threaded
    # process may deadlock in the child (Python 3.12 and newer warn of it); subprocess does not.
    fd, terminal = pty.openpty()
    reset = [sys.executable, "-m", "presenter.reset", "--repo", str(repo)]
    with subprocess.Popen(
        reset, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True
    ) as child:
        os.close(terminal)
        output = b""

        def asks():
            nonlocal output
            output += os.read(fd, 4096)
            return b"[y/N]" in output

        wait_for(asks, 20, 0.05, "the question")
        os.write(fd, b"n\n")
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the terminal's last process has left
                break
            if not chunk:
                break
            output += chunk
    os.close(fd)
    assert child.returncode == 0, output.decode()
    assert b"Nothing changed." in output
    assert (repo / "temporal.db").exists()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/run installs it)")
@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_ctrl_z_then_bg_takes_the_dev_server_out_of_ctrl_cs_reach_and_fg_brings_it_back(
    tmp_path, shell
):
    """The row, done in a real terminal (tmux): Ctrl-Z, `bg`, a Ctrl-C that stops nothing,
    `fg`, a Ctrl-C that stops the server; then Up to its command starts it again."""
    import psutil

    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (zsh is macOS's default shell: apt-get install zsh)")
    folder = tmp_path / "terminal"
    folder.mkdir()
    terminals = Terminals(folder, clean_env(Path(sys.prefix)))
    if shell == "zsh":
        (tmp_path / ".zshrc").write_text(f"PS1='{PROMPT}'\n")
        terminals.shell = f"env ZDOTDIR={shlex.quote(str(tmp_path))} zsh -i"
    port, ui = free_port(), free_port()
    command = f"temporal server start-dev --ui-port {ui} --db-filename temporal.db --port {port}"
    said = row("`[1]+  Stopped")
    paused = {"bash": said.split("`")[1], "zsh": said.split("`")[3]}[shell]
    paused = r"\s+".join(map(re.escape, paused.removesuffix(" ...").split()))  # spaced as shown
    found: list[psutil.Process] = []
    try:
        terminals.type("1", f"source {shlex.quote(sys.prefix)}/bin/activate")
        terminals.type("1", command)
        terminals.wait_for("1", "^Temporal Metrics:", 30, what="the dev server's banner")
        wait_for(lambda: stage.is_temporal_server(port), 30, 0.5, "the dev server")
        shell_pid = int(terminals.tmux("display", "-p", "-t", terminals.target("1"), "#{pane_pid}"))
        found = [p for p in psutil.Process(shell_pid).children() if "start-dev" in p.cmdline()]
        (server,) = found

        terminals.keys("1", "C-z")  # the mistake: paused, not ended
        terminals.wait_for("1", paused, what="the row's words")
        assert server.status() == psutil.STATUS_STOPPED
        assert not stage.is_temporal_server(port), "a paused server answers nothing"

        terminals.type("1", "bg")  # runs on, in the background
        wait_for(lambda: stage.is_temporal_server(port), 15, 0.5, "the server to answer again")
        terminals.ctrl_c("1")  # reaches the shell, not the server
        time.sleep(2)
        assert server.is_running() and stage.is_temporal_server(port), "Ctrl-C stopped it"

        terminals.type("1", "fg")  # the row's fix: in front again, and Ctrl-C stops it
        time.sleep(0.5)
        terminals.ctrl_c("1")
        server.wait(20)
        terminals.wait_idle("1")
        assert not port_open(port)

        # Up until its command shows (the last lines typed are fg and bg), then Enter.
        terminals.keys("1", "Up", "Up", "Up")
        terminals.wait_for("1", re.escape(command) + "$", 5, what="the command, recalled")
        terminals.keys("1", "Enter")
        wait_for(lambda: stage.is_temporal_server(port), 30, 0.5, "the dev server, again")
        terminals.ctrl_c("1")
        wait_for(lambda: not port_open(port), 20, 0.2, "the dev server to stop")
    finally:
        terminals.close()
        for process in found:
            if process.is_running():
                process.kill()


# --- Room mode's rows --------------------------------------------------------------------


def room_row(starting: str) -> str:
    """A room row's message: its first code span."""
    return row(starting).split("`")[1]


@pytest.mark.skipif(sys.platform != "linux" or not shutil.which("unshare"), reason="Linux netns")
@pytest.mark.skipif(shutil.which("ip") is None, reason="no ip (iproute2): a Debian root has none")
@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root")
def test_room_mode_on_no_network_says_so_in_one_line():
    """`python app.py --room` on a laptop on no network (a namespace with only the loopback)."""
    command = [sys.executable, "app.py", "--room", "--port", str(free_port())]
    out = subprocess.run(
        ["unshare", "--net", "sh", "-c", f"ip link set lo up && exec {shlex.join(command)}"],
        cwd=HELLO_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.strip().splitlines() == [room_row("`Room mode: this laptop has no")]
    assert "Traceback" not in out.stdout + out.stderr


def test_room_mode_on_a_port_taken_on_the_network_address_says_so_in_one_line():
    from demo_support.page.room import network_address

    address = network_address()
    if address is None:
        pytest.skip("this machine has no network address")
    with socket.socket() as squatter:  # on the network address only: 127.0.0.1 stays free
        squatter.bind((address, 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        app = python_script(HELLO_DIR / "app.py", "--room", "--port", port, name="room-app")
        code = app.wait(30)
    message = room_row("`Room mode: cannot serve on")
    expected = message.replace("192.0.2.2:8000", f"{address}:{port}")
    assert app.stderr.strip().splitlines() == [expected], app.stderr
    assert code == 1 and "Traceback" not in app.stdout + app.stderr


def test_room_mode_a_phones_refusals_are_the_readmes():
    """The two limits' words on the phone (the refusals themselves, from other hosts, are
    tests/test_room.py's)."""
    from werkzeug.exceptions import TooManyRequests

    from demo_support.page import room

    per_phone, full = re.findall(r"`([^`]+)`", row("A phone says `You started"))[:2]
    lobby = room.Room.__new__(room.Room)
    lobby.phones, lobby.starting, lobby.runs = {}, 0, {}
    lobby.phones["192.0.2.7"] = room.deque([time.monotonic() - 18] * room.PER_MINUTE)
    with pytest.raises(TooManyRequests) as refused:
        lobby.check_limits("192.0.2.7")
    assert re.sub(r"\d+ s\.$", "N s.", refused.value.description) == re.sub(
        r"\d+ s\.$", "N s.", per_phone
    )
    lobby.in_flight = lambda: room.IN_FLIGHT
    with pytest.raises(TooManyRequests) as refused:
        lobby.check_limits("192.0.2.8")
    assert refused.value.description == full


def test_make_checks_room_row_is_the_line_it_prints():
    shown = row("`make check` says `[WARN] room mode").split("`")[3].removesuffix(" ...")
    assert shown == f"[WARN] {preflight.ROOM}:"
