"""The guest's process table: the emulator's own small kernel of processes.

Owns: pids (allocated by us, Darwin-looking: the first process has the
emulator's own pid, children count up from it and wrap at PID_MAX as
XNU's forkproc does), parent and children, exit status, zombies until
reaped, wait4's choice of child, SIGCHLD to the parent, automatic reaping
(SIGCHLD ignored or SA_NOCLDWAIT: P_NOCLDWAIT), kill between guest
processes and only them, and the cap on live processes (fork: EAGAIN).

Every guest process runs on its own host thread, so the table is shared
and guarded by one lock; a condition wakes a parent blocked in wait4.
Knows no registers: the Machine gives each process a ``wake`` callback
that stops its emulation and ends its blocking wait when a signal comes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from syscalls.consts import SA_NOCLDWAIT, SIG_IGN, SIGNAL_NUMBER
from syscalls.errno import DarwinError
from syscalls.sigstate import SignalState

PID_MAX = 99999  # bsd/sys/proc_internal.h
PID_WRAP = 100  # forkproc starts again here after PID_MAX
LAUNCHD = 1  # an orphan's parent
DEFAULT_UMASK = 0o022  # launchd gives its children this file-creation mask
DEFAULT_MAX_PROCS = 256  # live guest processes, zombies included, as maxprocperuid counts them
SIGCHLD = SIGNAL_NUMBER["SIGCHLD"]
SIGKILL = SIGNAL_NUMBER["SIGKILL"]


@dataclass
class Usage:
    """What getrusage and wait4 report of a process: CPU seconds of its thread."""

    ru_utime: float = 0.0  # named as struct rusage's fields, for proc.pack_rusage
    ru_stime: float = 0.0


@dataclass(eq=False)
class Proc:
    """One guest process as the table knows it."""

    pid: int
    ppid: int
    path: str  # place in the fork tree: "0", "0.1", "0.1.2" ...
    parent: Proc | None = None
    children: list[Proc] = field(default_factory=list)
    forks: int = 0  # children made so far (names the next: path.N)
    status: int | None = None  # Darwin wait status once it has exited (a zombie)
    signals: SignalState = field(default_factory=SignalState)
    usage: Usage = field(default_factory=Usage)
    children_usage: Usage = field(default_factory=Usage)  # of reaped children (RUSAGE_CHILDREN)
    umask: int = DEFAULT_UMASK  # permission bits a new file or directory does not get
    wake: Callable[[], None] = lambda: None  # set by the Machine: a signal needs this process now

    @property
    def alive(self) -> bool:
        return self.status is None


class ProcessTable:
    """Every guest process of one emulator run."""

    def __init__(self, first_pid: int, first_ppid: int, pgid: int, max_procs: int = DEFAULT_MAX_PROCS) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # a child exited, or a signal came
        self.max_procs = max_procs
        self.pgid = pgid  # one process group: the emulator's
        self.procs: dict[int, Proc] = {}
        self.first = Proc(first_pid, first_ppid, "0")
        self.procs[first_pid] = self.first
        self.last_pid = first_pid
        self.history: list[tuple[str, str]] = [("start", "0")]  # ("fork"|"exit"|"reap", path) in order

    # ------------------------------------------------------------ life and death
    def fork(self, parent: Proc) -> Proc:
        """A new child of ``parent``, with a copy of its signal actions and mask (EAGAIN at the cap)."""
        with self.lock:
            if len(self.procs) >= self.max_procs:
                raise DarwinError("EAGAIN", f"{len(self.procs)} guest processes (the cap)")
            pid = self._next_pid()
            parent.forks += 1
            child = Proc(
                pid,
                parent.pid,
                f"{parent.path}.{parent.forks}",
                parent,
                signals=parent.signals.forked(),
                umask=parent.umask,
            )
            parent.children.append(child)
            self.procs[pid] = child
            self.history.append(("fork", child.path))
            return child

    def _next_pid(self) -> int:
        pid = self.last_pid
        while True:
            pid = PID_WRAP if pid >= PID_MAX else pid + 1
            if pid not in self.procs:
                self.last_pid = pid
                return pid

    def exit(self, proc: Proc, status: int, usage: Usage | None = None) -> None:
        """``proc`` ends with Darwin wait ``status``: a zombie for its parent, or reaped at once."""
        with self.lock:
            if proc.status is not None:
                return
            proc.status = status
            if usage is not None:
                proc.usage = usage
            self.history.append(("exit", proc.path))
            for child in proc.children:  # orphans: launchd adopts them, and reaps them
                child.parent, child.ppid = None, LAUNCHD
                if child.status is not None:
                    self._reap(child)
            proc.children = []
            parent = proc.parent
            if parent is None or self._auto_reaps(parent):
                self._reap(proc)
            if parent is not None:
                self._post(parent, SIGCHLD)
            self.changed.notify_all()

    @staticmethod
    def _auto_reaps(parent: Proc) -> bool:
        act = parent.signals.action(SIGCHLD)
        return act.handler == SIG_IGN or bool(act.flags & SA_NOCLDWAIT)

    def _reap(self, proc: Proc) -> None:
        self.procs.pop(proc.pid, None)
        if proc.parent is not None:
            proc.parent.children.remove(proc)
            cu = proc.parent.children_usage
            cu.ru_utime += proc.usage.ru_utime + proc.children_usage.ru_utime
            cu.ru_stime += proc.usage.ru_stime + proc.children_usage.ru_stime
        self.history.append(("reap", proc.path))

    def wait(
        self, proc: Proc, pid: int, nohang: bool, interrupted: Callable[[], bool]
    ) -> tuple[int, int, Usage | None]:
        """wait4's choice: (pid, Darwin status, usage) of a reaped child; (0, 0, None) under WNOHANG.

        ``pid`` > 0 one child; -1 any; 0 or -pgid our group (every guest process is
        in it).  ECHILD with no such child; EINTR when ``interrupted()`` says a signal came.
        """
        with self.lock:
            while True:
                mine = [c for c in proc.children if self._matches(c, pid)]
                if not mine:
                    raise DarwinError("ECHILD", f"pid {pid}")
                for child in mine:
                    if child.status is not None:
                        self._reap(child)
                        return child.pid, child.status, child.usage
                if nohang:
                    return 0, 0, None
                if interrupted():
                    raise DarwinError("EINTR", "wait4")
                self.changed.wait(0.5)

    def _matches(self, child: Proc, pid: int) -> bool:
        if pid > 0:
            return child.pid == pid
        return pid in (-1, 0) or -pid == self.pgid

    def all(self) -> list[Proc]:
        """Every process not yet reaped (zombies too), first created first."""
        with self.lock:
            return list(self.procs.values())

    # ------------------------------------------------------------ signals
    def kill(self, sender: Proc, pid: int, sig: int) -> None:
        """kill(2) from ``sender``: only guest processes can be reached (ESRCH otherwise)."""
        with self.lock:
            if pid > 0:
                target = self.procs.get(pid)
                if target is None or not target.alive:
                    raise DarwinError("ESRCH", f"pid {pid}")
                targets = [target]
            elif pid in (0, -1) or -pid == self.pgid:
                # the group, or everyone we may signal (-1 leaves the sender out, as killpg1 does)
                targets = [p for p in self.procs.values() if p.alive and not (pid == -1 and p is sender)]
                if not targets:
                    raise DarwinError("ESRCH", f"pid {pid}")
            else:
                raise DarwinError("ESRCH", f"process group {-pid}")
            if sig:
                for t in targets:
                    self._post(t, sig)
                self.changed.notify_all()

    def post(self, proc: Proc, sig: int) -> None:
        """Send ``sig`` to ``proc`` (a signal it raised itself, a timer's SIGALRM)."""
        with self.lock:
            self._post(proc, sig)
            self.changed.notify_all()

    @staticmethod
    def _post(proc: Proc, sig: int) -> None:
        if proc.alive and proc.signals.post(sig):
            proc.wake()


def cpu_usage() -> Usage:
    """The calling thread's CPU time: its guest process's, since each has its own thread."""
    return Usage(time.thread_time(), 0.0)


def peak_rss_kib() -> int:
    """The emulator's peak memory, which every guest process shares (ru_maxrss); 0 if unknown."""
    try:
        import resource
    except ImportError:  # not on this host (Windows)
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
