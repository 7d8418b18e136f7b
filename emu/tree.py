"""Every guest process of one run, inside this one emulator process.

Owns: the process table (syscalls/procs.py) of the run, one host thread
per guest process, fork's bookkeeping (the child Machine joins the table,
its observers are forked from the parent's, its thread starts), each
process's end (observers finished, descriptors closed, the parent told),
and the supervisor: the caller's thread waits for every process, takes
Ctrl-C and SIGTERM (Python delivers them to the main thread only), then
stops every process so that each trace and log ends complete.

Unicorn releases the GIL while it runs translated code, so processes
compute in parallel; a blocking syscall blocks only its own thread.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING

from unicorn import UC_PROT_WRITE

from emu.machine import EXIT_INTERNAL, interrupt_status
from syscalls.consts import SIGNAL_NUMBER
from syscalls.itimer import RealTimer
from syscalls.procs import Proc, ProcessTable, cpu_usage

if TYPE_CHECKING:
    from emu.gdb.target import Debugger
    from emu.machine import Cpu, Machine

KICK_S = 0.05  # how often the supervisor stops again a process a signal is waiting for
SIGALRM = SIGNAL_NUMBER["SIGALRM"]
THREAD_POOL = 32  # idle threads kept for the next processes
IDLE_S = 5.0  # how long an idle thread waits for one before it ends
CPU_POOL = 32  # Unicorn instances kept for the next forks (each holds its translated code)
HALT_WAIT_S = 10.0  # after Ctrl-C: how long every process gets to write its last lines


def _nothing() -> None:
    pass


class _Idle:
    """A thread between two processes: ``job`` is set, then ``ready``."""

    def __init__(self) -> None:
        self.job: Machine | None = None
        self.ready = threading.Event()


class ProcessTree:
    """The processes of a run, first created by ``ProcessTree(first_machine)``."""

    def __init__(self, first: Machine) -> None:
        self.procs = ProcessTable(os.getpid(), os.getppid(), os.getpgrp())
        self.first = first
        self.running: set[Machine] = set()  # processes not yet ended
        self.ended = threading.Event()  # the last has ended: the supervisor looks again
        self.idle: list[_Idle] = []  # threads waiting for their next process
        self.over = False  # the run has ended: no thread waits any more
        self.spare_ready = threading.Event()  # prepare_spare's Cpu is in the pool
        self.spare_thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.cpus: list[Cpu] = []  # Unicorn instances finished processes left, code translated
        self.halted = False
        self.halt_status = 0
        self.failure: BaseException | None = None  # an emulator bug in the first process
        self.first_status: int | None = None
        self.debug: Debugger | None = None  # a debugger holds the processes (emu/gdb/target.py)
        self._join(first, self.procs.first)

    def _join(self, m: Machine, proc: Proc) -> None:
        m.tree, m.proc = self, proc
        k = m.kernel
        k.procs, k.proc, k.signals = self.procs, proc, proc.signals
        k.fork, k.interrupted = lambda: self.fork(m), m._wants_cpu
        # a timer of its own, disarmed (a forked child's timers are cleared, as on a Mac)
        k.itimer = RealTimer(lambda: self.procs.post(proc, SIGALRM), lambda: m.host.monotonic_ns())
        proc.wake = m.wake
        with self.lock:
            self.running.add(m)
        if self.debug is not None:
            self.debug.join(m)

    # ------------------------------------------------------------ fork and exit
    def fork(self, parent: Machine) -> int:
        """sys_fork, inside ``parent``'s trap: the child's pid (EAGAIN at the cap)."""
        proc = self.procs.fork(parent.proc)
        with self.lock:
            cpu = self.cpus.pop() if self.cpus else None
        try:
            child = parent.forked(proc, parent.host.fork(), cpu)
            self._join(child, proc)
            if parent.tracer is not None:
                child.tracer = parent.tracer.fork(child)
            if parent.log is not None:
                child.log = parent.log.fork(child)
        except BaseException:
            self.procs.exit(proc, EXIT_INTERNAL << 8)
            raise
        self._start(child)
        return proc.pid

    def prepare_spare(self) -> None:
        """Start translating a spare Cpu for the first fork (Machine.warm calls this);
        ``spare_ready`` is set when it is in the pool."""
        self.spare_thread = threading.Thread(target=self._spare, name="spare cpu", daemon=True)
        self.spare_thread.start()
        # Unicorn must not be torn down under it at exit, whenever the exit comes (even a Ctrl-C
        # before the run starts): atexit runs this before the finalizers that close Unicorn
        atexit.register(self.join_spare)

    def join_spare(self) -> None:
        """Wait for prepare_spare's translation (tens of milliseconds) to end."""
        if self.spare_thread is not None:
            self.spare_thread.join()

    def _spare(self) -> None:
        """A Cpu for the first fork, its code mapped and translated (what a finished process
        leaves behind), so that even the first child starts on compiled code."""
        from emu.machine import Cpu

        cpu = Cpu()
        first = self.first.uc
        for lo, hi, perms in first.mem_regions():
            if not perms & UC_PROT_WRITE:  # code (and the return sentinel): what a fork keeps as is
                cpu.uc.mem_map(lo, hi + 1 - lo, perms)
                cpu.uc.mem_write(lo, bytes(first.mem_read(lo, hi + 1 - lo)))
        self.first.warm(cpu.uc)
        with self.lock:
            self.cpus.append(cpu)
        self.spare_ready.set()

    def _start(self, m: Machine) -> None:
        """Run ``m`` on an idle thread of the run, or a new one (starting a thread costs more
        than handing work to one that waits)."""
        with self.lock:
            worker = self.idle.pop() if self.idle else None
            if worker is not None:
                worker.job = m
        if worker is not None:
            worker.ready.set()
        else:
            threading.Thread(target=self._worker, args=(m,), name="guest", daemon=True).start()

    def _worker(self, m: Machine | None) -> None:
        """Run processes one after another; an idle thread waits a while for the next, then ends."""
        me = _Idle()
        while m is not None:
            self._life(m)
            with self.lock:
                if len(self.idle) >= THREAD_POOL or self.over:
                    return
                me.job = None
                me.ready.clear()
                self.idle.append(me)
            if not me.ready.wait(IDLE_S):
                with self.lock:
                    if me in self.idle:  # nobody took it meanwhile: end
                        self.idle.remove(me)
                        return
            me.ready.wait()  # taken: its job is set (or None: the run is over)
            m = me.job

    def _life(self, m: Machine) -> None:
        """One process's thread: run it, then end it as the kernel would."""
        try:
            if m is not self.first and m.tracer is not None:
                m.tracer.started(m.proc.pid, 1)
            status = m.run_process()
        except BaseException as e:  # noqa: BLE001 - our bug: this process ends, the others go on
            status = EXIT_INTERNAL
            if m is self.first:
                self.failure = e
            else:
                print(
                    f"{m.name}: internal error in process {m.proc.pid} ({m.proc.path}) at "
                    f"{m._where_pc()}:\n{traceback.format_exc()}",
                    file=sys.stderr,
                    flush=True,
                )
        for observer in (m.tracer, m.log):
            if observer is not None:
                try:
                    observer.finish(status)
                except BaseException as e:  # noqa: BLE001 - one observer's failure must not lose the others
                    if m is self.first and self.failure is None:
                        self.failure = e  # the caller's to see (a replay's divergence at the end)
                    else:
                        traceback.print_exc()
        if self.debug is not None:
            self.debug.ended(m, status)  # its hooks go before its Unicorn may be handed on
        if m.kernel.itimer is not None:
            m.kernel.itimer.cancel()
        m.host.close_all()
        sig = m.end_signal
        if m is self.first:
            self.first_status = status
        else:
            cpu = m.give_cpu()
            with self.lock:
                if cpu is not None and len(self.cpus) < CPU_POOL:
                    self.cpus.append(cpu)
        m.proc.wake = _nothing
        self.procs.exit(m.proc, sig if sig is not None else (status & 0xFF) << 8, cpu_usage())
        with self.lock:
            self.running.discard(m)
            last = not self.running
        if last:
            self.ended.set()  # the supervisor's wait ends with the run (not at every exit)

    # ------------------------------------------------------------ the supervisor
    def run(self) -> int:
        """Run every process to its end; the first one's status (130/143 after Ctrl-C/SIGTERM)."""
        self._start(self.first)
        try:
            self._supervise()
        except KeyboardInterrupt as why:
            self.halt(interrupt_status(why))
            self._drain()
            return self.halt_status
        finally:
            log = self.first.log
            if log is not None:
                log.finish_tree(self.procs.history)
            if self.first.tracer is not None:
                self.first.tracer.finish_tree()  # one timeline and profile for every process
            with self.lock:
                idle, self.idle, self.over = self.idle, [], True
            for worker in idle:
                worker.ready.set()  # the idle threads end with the run (job None)
            self.join_spare()
        if self.failure is not None:
            raise self.failure
        assert self.first_status is not None
        return self.first_status

    def _supervise(self, deadline: float = float("inf")) -> None:
        while time.monotonic() < deadline:
            self.ended.clear()  # before looking: an end after this wakes the wait below
            with self.lock:
                alive = list(self.running)
            if not alive:
                return
            for m in alive:
                if self.halted or m.proc.signals.urgent():
                    m.wake()  # a stop request that came between two runs is lost: ask again
            if self.failure is not None and not self.halted:
                self.halt(EXIT_INTERNAL)
            self.ended.wait(KICK_S)  # Ctrl-C reaches this thread here

    def halt(self, status: int) -> None:
        """Stop every process where it is (each one finishes its observers)."""
        self.halted, self.halt_status = True, status
        with self.lock:
            machines = list(self.running)
        for m in machines:
            m.wake()

    def _drain(self) -> None:
        """After a halt: wait (a bounded time, a second Ctrl-C included) for every thread to end."""
        deadline = time.monotonic() + HALT_WAIT_S
        while True:
            try:
                self._supervise(deadline)
                return
            except KeyboardInterrupt:
                continue
