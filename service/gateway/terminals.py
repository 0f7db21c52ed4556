"""Terminals: a process on a TTY (docker exec -it) or a container's own TTY (docker attach),
as a socket that carries the terminal's bytes both ways, and its size set while it runs."""

import socket
from collections.abc import Callable
from dataclasses import dataclass

import docker.errors

from .containers import create_exec
from .streams import StreamError


@dataclass
class Terminal:
    # the daemon's connection, hijacked: what is written is the process's input, what is read
    # its output (one stream: a TTY merges stdout and stderr)
    sock: socket.socket
    resize: Callable[[int, int], None]
    # the process's exit code once it ended; None while it runs, or for an attach that the
    # client left while the container runs on
    exit_code: Callable[[], int | None]


class TerminalVerbs:
    def terminal_target(self, ref: str, mode: str) -> None:
        """Refuse (409) a terminal the container cannot give: it does not run, or, to attach,
        it has no TTY with an open stdin."""
        state = self.clients.control.inspect_container(ref)
        if not state["State"].get("Running") or state["State"].get("Paused"):
            raise StreamError(f"container {ref[:12]} is not running", "conflict")
        config = state["Config"]
        if mode == "attach" and not (config.get("Tty") and config.get("OpenStdin")):
            raise StreamError(
                f"container {ref[:12]} was not started with a TTY and an open stdin "
                "(`tty` and `stdin_open`): attach to it gives no terminal; exec a shell instead",
                "conflict",
            )

    def open_terminal(self, ref, mode, command, env, workdir, user, rows, cols) -> Terminal:
        api = self.clients.long
        if mode == "attach":
            self.terminal_target(ref, mode)
            sock = api.attach_socket(
                ref, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            terminal = Terminal(
                raw_socket(sock),
                lambda height, width: self.clients.control.resize(ref, height, width),
                lambda: _stopped(self.clients.control.inspect_container(ref)["State"]),
            )
        else:
            exec_id = create_exec(api, ref, command, env, workdir, user, stdin=True, tty=True)
            sock = api.exec_start(exec_id, tty=True, socket=True)
            terminal = Terminal(
                raw_socket(sock),
                lambda height, width: self.clients.control.exec_resize(exec_id, height, width),
                lambda: _stopped(self.clients.control.exec_inspect(exec_id)),
            )
        try:
            terminal.resize(rows, cols)
        except docker.errors.APIError:
            pass  # the process ended already: its end says the rest
        return terminal


def raw_socket(sock) -> socket.socket:
    """A hijacked daemon connection as a socket: docker-py answers the socket itself, or its
    SocketIO. No timeout: a terminal waits for a person (its session bounds it)."""
    sock = getattr(sock, "_sock", sock)
    sock.settimeout(None)
    return sock


def _stopped(state: dict) -> int | None:
    return None if state.get("Running") else state.get("ExitCode")
