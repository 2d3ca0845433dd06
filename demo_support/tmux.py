"""tmux by its command line: the one wrapper make present, make reset and the tests use.

Not libtmux: its commands run with this process's environment (the tests start a tmux
server with a clean one: no venv, no test settings), and these tools need eight tmux
commands, whose command line is tmux's stable interface.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path


class TmuxError(Exception):
    """A tmux command failed; the message is tmux's own."""


class Tmux:
    """One tmux server: the presenter's default one, or a private one (tmux -L NAME).

    With ``env``, each command runs with that environment, and so does the server the
    first command starts (and every shell in it).
    """

    def __init__(self, socket_name: str | None = None, env: dict[str, str] | None = None):
        self.prefix = ["tmux"] + (["-L", socket_name] if socket_name else [])
        self.socket_name = socket_name
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> str:
        """tmux's output, without its last newline; TmuxError when it fails (with check)."""
        try:
            out = subprocess.run(
                [*self.prefix, *map(str, args)],
                capture_output=True,
                text=True,
                timeout=15,
                env=self.env,
            )
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
        """Type a line as is (not as key names), then press Enter."""
        self("send-keys", "-t", target, "-l", line)
        self("send-keys", "-t", target, "Enter")

    def capture(self, target: str, history: int = 0) -> list[str]:
        """The pane's lines (and up to `history` lines of scrollback), wrapped lines joined,
        without the empty rows below the last line."""
        text = self("capture-pane", "-p", "-J", "-S", str(-history), "-t", target)
        return text.rstrip("\n").splitlines()

    def kill_server(self) -> None:
        """Stop this tmux server and everything in it; its socket file goes too."""
        socket = self("display-message", "-p", "#{socket_path}", check=False).strip()
        self("kill-server", check=False)
        if socket and self.socket_name:  # a private server's (tmux may leave it behind)
            Path(socket).unlink(missing_ok=True)

    def shown(self, *args: str) -> str:
        return shlex.join([*self.prefix, *args])
