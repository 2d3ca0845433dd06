"""Real terminals for the rehearsal: tmux windows on a private server, driven with keys.

Each terminal is an interactive bash in a tmux window. The rehearsal types into it
(`send-keys`), presses Ctrl-C and Up, Enter as keys, and reads what the screen shows
(`capture-pane`), scrollback included.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

from demo_support.net import wait_for
from presenter.tmux import Tmux

PROMPT = "rehearsal$ "
# The prompt, with the virtual environment's name before it once activated.
PROMPT_RE = re.compile(r"^(?:\(\S+\) )?" + re.escape(PROMPT))
TMUX = shutil.which("tmux")


class Terminals:
    def __init__(self, cwd: Path, env: dict[str, str]):
        self.socket = f"rehearsal-{uuid.uuid4().hex[:8]}"
        self.session = "rehearsal"
        self.cwd = cwd
        self.env = env
        self.opened: set[str] = set()
        rc = cwd.parent / "bashrc"
        rc.write_text(f"PS1='{PROMPT}'\nunset PROMPT_COMMAND\n")
        self.shell = f"bash --noprofile --rcfile {rc} -i"
        self.tmux = Tmux(self.socket, env)  # the tmux server, and so every shell, gets env

    def open(self, name: str) -> None:
        """A new terminal (a tmux window) in the repository's folder, at its prompt."""
        where = ["-n", f"terminal-{name}", "-c", str(self.cwd), self.shell]
        if not self.opened:
            self.tmux("new-session", "-d", "-s", self.session, "-x", "220", "-y", "50", *where)
            self.tmux("set-option", "-g", "history-limit", "5000")
        else:
            self.tmux("new-window", "-d", "-t", self.session, *where)
        self.opened.add(name)
        self.wait_for(name, re.escape(PROMPT.strip()), what="its prompt")

    def target(self, name: str) -> str:
        return f"={self.session}:=terminal-{name}"  # not a bare number: tmux reads it as an index

    def wait_idle(self, name: str, timeout: float = 20) -> None:
        """Wait until the shell shows an empty prompt: what ran there has ended."""

        def idle():
            lines = [line for line in self.screen(name) if line.strip()]
            return lines and (m := PROMPT_RE.match(lines[-1])) and not lines[-1][m.end() :].strip()

        wait_for(idle, timeout, 0.05, lambda: f"terminal {name} is still busy:\n" + self.last(name))

    def type(self, name: str, line: str) -> None:
        """At the prompt, type a line and press Enter, as a presenter does."""
        if name not in self.opened:
            self.open(name)
        self.wait_idle(name)
        before = self._typed(name, line)
        self.tmux.send_line(self.target(name), line)
        # On a busy machine the echo comes later: what follows looks for the line on screen.
        wait_for(lambda: self._typed(name, line) > before, 10, 0.05, f"{line!r} on screen")

    def _typed(self, name: str, line: str) -> int:
        """How many times the screen shows `line` typed at a prompt."""
        return sum(
            1
            for shown in self.screen(name)
            if (m := PROMPT_RE.match(shown)) and shown[m.end() :] == line
        )

    def keys(self, name: str, *keys: str) -> None:
        """Keys by name: C-c for Ctrl-C, Up, Enter."""
        self.tmux("send-keys", "-t", self.target(name), *keys)

    def ctrl_c(self, name: str) -> None:
        self.keys(name, "C-c")

    def up_enter(self, name: str) -> None:
        """Up, Enter at the prompt: the last command again."""
        self.wait_idle(name)
        self.keys(name, "Up", "Enter")

    def screen(self, name: str) -> list[str]:
        """What the terminal shows, scrollback included, without trailing blank lines."""
        # The terminal echoes Ctrl-C as ^C, before whatever is printed next.
        return [line.removeprefix("^C") for line in self.tmux.capture(self.target(name), 5000)]

    def last(self, name: str, count: int = 20) -> str:
        return "\n".join(self.screen(name)[-count:])

    def wait_for(self, name: str, pattern: str, timeout: float = 20, after: int = 0, what=""):
        """Wait until a line at or after line `after` matches; return its index."""
        regex = re.compile(pattern)

        def found():
            lines = self.screen(name)
            return next(([i] for i in range(after, len(lines)) if regex.search(lines[i])), None)

        def seen() -> str:
            shown = what or pattern
            return f"terminal {name} never showed {shown!r} in {timeout} s:\n{self.last(name, 40)}"

        return wait_for(found, timeout, 0.1, seen)[0]

    def wait_prompt(self, name: str, after: int, timeout: float = 20) -> int:
        """Wait for the shell's prompt after line `after`: the command has ended."""
        return self.wait_for(name, PROMPT_RE.pattern, timeout, after + 1, "the prompt")

    def output_of(self, name: str, command_line: int) -> list[str]:
        """The lines a command printed: after its own line, up to the next prompt."""
        lines = self.screen(name)[command_line + 1 :]
        end = next((i for i, line in enumerate(lines) if PROMPT_RE.match(line)), len(lines))
        return [line for line in lines[:end] if line.strip() not in ("", "^C")]

    def last_command_line(self, name: str, command: str) -> int:
        """The screen line where `command` was last typed at the prompt."""
        lines = self.screen(name)
        for index in range(len(lines) - 1, -1, -1):
            prompt = PROMPT_RE.match(lines[index])
            if prompt and lines[index][prompt.end() :] == command:
                return index
        raise AssertionError(f"terminal {name} shows no {command!r}:\n" + "\n".join(lines[-20:]))

    def close(self) -> None:
        self.tmux.kill_server()


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a fresh terminal: no virtual environment active, no test settings."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != venv / "bin"]
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "IP_SERVICE_URL", "GEO_SERVICE_URL")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in drop and not key.startswith(("TEMPORAL_", "PYTEST", "TMUX"))
    }
    return {**env, "PATH": os.pathsep.join(path), "TERM": "xterm-256color"}
