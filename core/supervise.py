"""Child processes that do a command's work beside it: started together, restarted when one dies, stopped
together, and never left running once their parent is gone.

`eventkit enrich --workers N` and `eventkit up` (enrich workers, the continuous loader) run their
stages as spawned processes, so each has its own interpreter lock and the machine's cores all work.
A `Supervisor` starts one process per `ChildSpec` and watches them:

* a child that exits while nobody asked it to (killed, crashed) is started again after a pause and
  one line on stderr says so; what it had pulled and not acknowledged comes back after its lease.
  A child that keeps dying soon after it starts (a crash loop: a broken setting, a full disk) waits
  twice as long each time, up to `max_restart_delay_s`, as systemd and Kubernetes back off, instead
  of being started, and saying so, every second; once one runs `stable_after_s` the pause is reset;
* `stopping` set (the command's SIGTERM/SIGINT): each child gets SIGTERM once (it commits what it
  holds, acks it and exits), and SIGKILL if it is still running `stop_timeout_s` later;
* the parent killed outright (kill -9, OOM killer): each child has the kernel send it SIGTERM when
  its parent dies (Linux `PR_SET_PDEATHSIG`), and watches the pipe its parent holds as well (any
  POSIX, and a parent that died before the child could ask the kernel); if it has not exited
  `orphan_grace_s` after that, it exits at once, its un-acked messages coming back after their lease.

Children are named (`ps -o comm`, `top`) after their spec (`enrich-0`, `loader`), and tell the
supervisor once they are ready (`child_ready()`), so a command can announce itself only then.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["ChildSpec", "Supervisor", "child_ready"]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
ORPHAN_GRACE_S = 20.0


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One supervised process: its name (15 characters are shown by `ps`) and the module-level function it runs.

    The target and its arguments are pickled to a spawned interpreter, so the target must be importable
    by name and the arguments picklable.
    """

    name: str
    target: Callable[..., None]
    args: tuple[Any, ...] = ()


_ready_pipe: Connection | None = None


def child_ready() -> None:
    """Tell the supervisor this child is ready for work (once; nothing outside a supervised child)."""
    global _ready_pipe  # one pipe per process, handed over by _child_main
    pipe, _ready_pipe = _ready_pipe, None
    if pipe is None:
        return
    try:
        pipe.send_bytes(b"ready")
        pipe.close()
    except OSError:  # the parent is gone: the parent watch ends this process
        pass


def _child_main(spec: ChildSpec, parent_pid: int, ready: Connection, orphan_grace_s: float) -> None:
    """The first function of every supervised process: name it, tie its life to the parent's, run the target."""
    global _ready_pipe
    _ready_pipe = ready
    # Ctrl-C reaches the whole process group: until the target installs its own handler, leave stopping to
    # the supervisor's SIGTERM rather than die of a KeyboardInterrupt half-way through starting.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _name_process(spec.name)
    _die_with_parent(parent_pid, orphan_grace_s)
    spec.target(*spec.args)


def _prctl(option: int, value: int | bytes) -> None:
    """Linux prctl(2) through libc; nothing elsewhere (the parent watch covers other systems)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _name_process(name: str) -> None:
    _prctl(_PR_SET_NAME, name.encode()[:15])


def _die_with_parent(parent_pid: int, grace_s: float) -> None:
    """SIGTERM this process when the parent dies (kernel first, a watch thread as the fallback), and end it
    for good `grace_s` seconds later if its own shutdown has not."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    sentinel = parent.sentinel if parent is not None else None

    def watch() -> None:
        if sentinel is not None:
            wait([sentinel])  # the pipe's write end closes when the parent exits, however it exits
        else:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os.write(2, f"eventkit: {multiprocessing.current_process().name}: parent gone; exiting now\n".encode())
        os._exit(70)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the kernel was asked to tell us
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class _Child:
    spec: ChildSpec
    process: BaseProcess
    ready: Connection | None  # our end of the child's ready pipe until it said so (or died)
    started: float  # time.monotonic() when it was started
    terminated: bool = False


class Supervisor:
    """Runs one spawned process per spec until `stopping` is set; see the module docstring for the rules.

    `run(stopping)` blocks (the caller's thread starts, restarts and watches the children: on Linux a
    child's death signal follows the thread that started it, so that thread must outlive them — `run`
    returns only once every child has exited). `label` prefixes the lines it prints.
    """

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        label: str,
        restart_delay_s: float = 1.0,
        max_restart_delay_s: float = 30.0,
        stable_after_s: float = 30.0,
        stop_timeout_s: float = 60.0,
        orphan_grace_s: float = ORPHAN_GRACE_S,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.specs = tuple(specs)
        self.label = label
        self.restart_delay_s = restart_delay_s
        self.max_restart_delay_s = max(restart_delay_s, max_restart_delay_s)
        self.stable_after_s = stable_after_s  # a child that ran this long before dying did not crash-loop
        self.stop_timeout_s = stop_timeout_s
        self.orphan_grace_s = orphan_grace_s
        self.echo = echo if echo is not None else _echo
        self.ready = threading.Event()  # set once every spec's process has said it is ready
        self._ctx = multiprocessing.get_context("spawn")
        self._children: dict[int, _Child] = {}
        self._unready = set(range(len(self.specs)))
        self._quick_deaths: dict[int, int] = {}  # per spec: deaths in a row, each within stable_after_s of its start

    def _start(self, index: int) -> None:
        spec = self.specs[index]
        ours, theirs = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_child_main, args=(spec, os.getpid(), theirs, self.orphan_grace_s), name=spec.name
        )
        process.start()
        theirs.close()  # the child holds the write end now: EOF here once it exits
        self._children[index] = _Child(spec, process, ours, time.monotonic())

    def _saw_ready(self, index: int, child: _Child) -> None:
        if child.ready is None:
            return
        try:
            said = child.ready.poll() and child.ready.recv_bytes() == b"ready"
        except (EOFError, OSError):
            said = False
        if said or not child.process.is_alive():
            child.ready.close()
            child.ready = None
        if said:
            self._unready.discard(index)
            if not self._unready:
                self.ready.set()

    def run(self, stopping: threading.Event) -> int:
        """Start every child, keep them running until `stopping` is set, then stop them; the worst exit code.

        A child that ends on the stop signal itself (e.g. stopped while still starting) counts as a clean stop.
        """
        for index in range(len(self.specs)):
            self._start(index)
        codes: list[int] = []
        # A child that ended, when it is due to start again, and how it ended. The line saying so is printed at
        # the restart: a stop signal sent to the whole process group ends the children a moment before
        # `stopping` is set here, and they were not to be restarted, nor said to be.
        restart_at: dict[int, tuple[float, int, int | None]] = {}
        stop_deadline: float | None = None
        while self._children or (restart_at and not stopping.is_set()):
            if stopping.is_set():
                codes += [_stop_code(code) for _, code, _ in restart_at.values()]
                restart_at.clear()
                if stop_deadline is None:
                    stop_deadline = time.monotonic() + self.stop_timeout_s
                self._terminate_all(kill=time.monotonic() > stop_deadline)
            waits: list[Any] = [c.process.sentinel for c in self._children.values()]
            waits += [c.ready for c in self._children.values() if c.ready is not None]
            wait(waits, timeout=0.2)
            for index, child in list(self._children.items()):
                self._saw_ready(index, child)
                if child.process.is_alive():
                    continue
                child.process.join()
                del self._children[index]
                code = child.process.exitcode or 0
                if stopping.is_set():
                    codes.append(_stop_code(code))
                    continue
                restart_at[index] = (time.monotonic() + self._restart_delay(index, child), code, child.process.pid)
            now = time.monotonic()
            for index, (due, code, pid) in list(restart_at.items()):
                if due <= now and not stopping.is_set():
                    del restart_at[index]
                    self.echo(self._restart_line(index, pid, code))
                    self._start(index)
        return max(codes, key=abs) if codes else 0

    def _restart_delay(self, index: int, child: _Child) -> float:
        """The pause before `child` (just dead) starts again: doubled for each death in a row soon after a start."""
        quick = time.monotonic() - child.started < self.stable_after_s
        self._quick_deaths[index] = self._quick_deaths.get(index, 0) + 1 if quick else 1
        return self._delay(self._quick_deaths[index])

    def _delay(self, deaths: int) -> float:
        return min(self.restart_delay_s * float(2 ** min(deaths - 1, 30)), self.max_restart_delay_s)

    def _restart_line(self, index: int, pid: int | None, code: int) -> str:
        line = f"{self.label}: {self.specs[index].name} (pid {pid}) exited with {code}; restarting it"
        deaths = self._quick_deaths.get(index, 1)
        if deaths < 2:
            return line
        return (
            f"{line} after {self._delay(deaths):g} s (it died {deaths} times in a row within"
            f" {self.stable_after_s:g} s of starting)"
        )

    def _terminate_all(self, *, kill: bool) -> None:
        for child in self._children.values():
            if not child.process.is_alive():
                continue
            if kill:
                child.process.kill()
            elif not child.terminated:
                child.terminated = True
                child.process.terminate()  # SIGTERM: the child commits and acks what it holds, then exits


def _stop_code(code: int) -> int:
    """A child's exit code as the stop reports it: ended by the stop signal itself counts as a clean stop."""
    return 0 if code in (-signal.SIGTERM, -signal.SIGINT) else code


def _echo(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except OSError:
        pass
