"""tmux by its command line, for make present, make reset and the tests.

Not libtmux: it cannot start the tests' tmux server with an environment of its own."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path


class TmuxError(Exception):
    """A tmux command failed; the message is tmux's own."""


class Tmux:
    """The default tmux server or a private one (-L NAME), started with `env` (its shells too)."""

    def __init__(self, socket_name: str | None = None, env: dict[str, str] | None = None):
        self.prefix = ["tmux"] + (["-L", socket_name] if socket_name else [])
        self.socket_name, self.env = socket_name, env

    def __call__(self, *args, check: bool = True) -> str:
        """tmux's output, less its last newline; TmuxError when it fails (with check)."""
        command = [*self.prefix, *map(str, args)]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=15, env=self.env)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TmuxError(str(err)) from None
        if out.returncode != 0 and check:
            raise TmuxError(out.stderr.strip() or f"tmux {args[0]} failed ({out.returncode})")
        return out.stdout.removesuffix("\n")

    def has_session(self, name: str) -> bool:
        try:
            self("has-session", "-t", f"={name}")
        except TmuxError:
            return False
        return True

    def send_line(self, target: str, line: str) -> None:
        """Type a line as it is (not as key names), then press Enter."""
        self("send-keys", "-t", target, "-l", line)
        self("send-keys", "-t", target, "Enter")

    def capture(self, target: str, history: int = 0) -> list[str]:
        """The pane's lines and up to `history` lines of scrollback, wrapped lines joined."""
        text = self("capture-pane", "-p", "-J", "-S", -history, "-t", target)
        return text.rstrip("\n").splitlines()

    def kill_server(self) -> None:
        """This server and everything in it; a private server's socket file too."""
        socket = self("display-message", "-p", "#{socket_path}", check=False).strip()
        self("kill-server", check=False)
        if socket and self.socket_name:
            Path(socket).unlink(missing_ok=True)

    def shown(self, *args: str) -> str:
        return shlex.join([*self.prefix, *args])
