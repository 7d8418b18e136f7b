"""Interval timers: setitimer (83) and getitimer (86), as bsd/kern/kern_time.c has them.

Owns: a process's ITIMER_REAL (``RealTimer``: a deadline on a monotonic
clock, one daemon thread that calls ``fire`` when it passes, reloading
from the interval) and the two handlers with their struct itimerval.
ITIMER_VIRTUAL and ITIMER_PROF are accepted, kept and reported back, but
never count down or fire: this emulator keeps no per-process CPU clock.

Does not own: what firing means (``fire`` posts SIGALRM to the owning
process; the machine supplies it) or the clock (the caller passes one).

XNU's rules kept here: a value or interval is EINVAL if tv_sec is
negative or above 100,000,000, or tv_usec is outside 0..999,999
(itimerfix; it does not round small values up to a tick).  A value of 0
disarms and keeps the interval.  An interval timer re-arms from its
previous deadline, not from when it fired, and ticks missed while late
are folded into one SIGALRM (realitexpire).  A fork's child starts with
no timers; cancel() is for process exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from syscalls.errno import DarwinError
from syscalls.kernel import Ret
from syscalls.structs import TIMEVAL

if TYPE_CHECKING:
    from syscalls.kernel import Kernel

# bsd/sys/time.h
ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
ITIMER_NAMES = {ITIMER_REAL: "ITIMER_REAL", ITIMER_VIRTUAL: "ITIMER_VIRTUAL", ITIMER_PROF: "ITIMER_PROF"}

USEC = 1_000_000
ITIMER_MAX_SEC = 100_000_000  # itimerfix's upper bound on tv_sec

# struct itimerval: it_interval, then it_value, each a Darwin timeval
ITIMERVAL_SIZE = 2 * TIMEVAL.size
assert ITIMERVAL_SIZE == 32


def itimerfix(sec: int, usec: int) -> int:
    """Microseconds of one (tv_sec, tv_usec), or EINVAL as XNU's itimerfix."""
    if not (0 <= sec <= ITIMER_MAX_SEC and 0 <= usec < USEC):
        raise DarwinError("EINVAL", f"itimer timeval {{{sec}, {usec}}}")
    return sec * USEC + usec


def _check_us(us: int) -> None:
    if not 0 <= us < (ITIMER_MAX_SEC + 1) * USEC:
        raise DarwinError("EINVAL", f"itimer value of {us} us")


class RealTimer:
    """One process's ITIMER_REAL (p_realtimer and p_rtime in XNU's proc).

    ``fire`` is called from the timer's own thread, never with the lock
    held, so it may call back into set() or get().  A fire already under
    way when set() or cancel() returns may still finish (XNU has the same
    window: "send one last SIGALRM"); none is started after.
    """

    def __init__(self, fire: Callable[[], None], clock: Callable[[], int]) -> None:
        self._fire = fire
        self._clock = clock  # monotonic ns
        self._cond = threading.Condition()
        self._deadline: int | None = None  # p_rtime in whole us on the clock; None = disarmed
        self._interval = 0  # it_interval in us, kept while disarmed
        self._closed = False
        self._thread: threading.Thread | None = None
        # ITIMER_VIRTUAL / ITIMER_PROF as last set: (value us, interval us); only the
        # guest's own syscalls touch these, so they need no lock
        self.untimed: dict[int, tuple[int, int]] = {}

    def _now(self) -> int:
        return self._clock() // 1000  # microuptime: whole microseconds

    def set(self, value_us: int, interval_us: int) -> tuple[int, int]:
        """Arm for ``value_us`` then every ``interval_us`` (0: once); value 0 disarms. Returns the old get()."""
        _check_us(value_us)
        _check_us(interval_us)
        with self._cond:
            old = self._get_locked()
            self._interval = interval_us
            if value_us and not self._closed:
                self._deadline = self._now() + value_us
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="itimer-real", daemon=True)
                    self._thread.start()
            else:
                self._deadline = None
            self._cond.notify_all()
        return old

    def get(self) -> tuple[int, int]:
        """(microseconds until it fires, 0 if disarmed or due; interval in microseconds)."""
        with self._cond:
            return self._get_locked()

    def _get_locked(self) -> tuple[int, int]:
        if self._deadline is None:
            return 0, self._interval
        return max(0, self._deadline - self._now()), self._interval

    def cancel(self) -> None:
        """Disarm for good and let the thread end (proc_free_realitimer, at exit)."""
        with self._cond:
            self._closed = True
            self._deadline = None
            self._interval = 0
            self._cond.notify_all()

    def copy_for_fork(self, fire: Callable[[], None] | None = None) -> RealTimer:
        """The child's timer after fork: disarmed, with nothing kept.

        Takes no lock: in a forked child the parent's timer thread is gone
        and may have died holding it.  ``fire`` rebinds the child's SIGALRM.
        """
        return RealTimer(fire or self._fire, self._clock)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                now = self._now()
                if now < self._deadline:
                    self._cond.wait((self._deadline - now) / USEC)
                    continue
                self._deadline = self._next_deadline(self._deadline, now) if self._interval else None
                self._cond.release()
                try:
                    self._fire()
                finally:
                    self._cond.acquire()

    def _next_deadline(self, rtime: int, now: int) -> int:
        """realitexpire: one interval on from the last deadline; if that is past, catch up.

        Within 2 s of late, step by whole intervals to the first deadline
        after now; later than that, start over one interval from now.
        """
        rtime += self._interval
        if rtime <= now:
            if rtime // USEC + 2 >= now // USEC:
                rtime += ((now - rtime) // self._interval + 1) * self._interval
            else:
                rtime = now + self._interval
        return rtime


# ----------------------------------------------------------------- handlers
def _check_which(which: int) -> None:
    if not ITIMER_REAL <= which <= ITIMER_PROF:  # which is a u_int: a negative one is huge
        raise DarwinError("EINVAL", f"itimer {which}")


def _timer(k: Kernel) -> RealTimer:
    if k.itimer is None:  # the host-fork process model has no timer thread to deliver SIGALRM
        raise DarwinError("ENOSYS", "setitimer needs guest processes inside the emulator")
    return k.itimer


def _get(t: RealTimer, which: int) -> tuple[int, int]:
    if which == ITIMER_REAL:
        return t.get()
    return t.untimed.get(which, (0, 0))


def _set(t: RealTimer, which: int, value_us: int, interval_us: int) -> tuple[int, int]:
    if which == ITIMER_REAL:
        return t.set(value_us, interval_us)
    old = t.untimed.get(which, (0, 0))
    t.untimed[which] = (value_us, interval_us)  # XNU starts a CPU-time count here; we never do
    return old


def pack_itimerval(value_us: int, interval_us: int) -> bytes:
    return TIMEVAL.pack(*divmod(interval_us, USEC)) + TIMEVAL.pack(*divmod(value_us, USEC))


def unpack_itimerval(raw: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """((value tv_sec, tv_usec), (interval tv_sec, tv_usec)), unchecked."""
    interval = TIMEVAL.unpack_from(raw, 0)
    value = TIMEVAL.unpack_from(raw, TIMEVAL.size)
    return (value[0], value[1]), (interval[0], interval[1])


def sys_getitimer(k: Kernel, which: int, ptr: int) -> Ret:
    _check_which(which)
    return Ret(0, writes=[(ptr, pack_itimerval(*_get(_timer(k), which)))])


def sys_setitimer(k: Kernel, which: int, new_ptr: int, old_ptr: int) -> Ret:
    """In XNU's order: which, copy in the new value, copy out the old, check the new, set it.

    So a bad old pointer is EFAULT with the timer untouched, and an invalid
    new value is EINVAL after the old one has been copied out.
    """
    _check_which(which)
    new = unpack_itimerval(k.mem.read(new_ptr, ITIMERVAL_SIZE)) if new_ptr else None
    if old_ptr:
        k.probe_writable(old_ptr, ITIMERVAL_SIZE)
    if new is None:
        return Ret(0, writes=[(old_ptr, pack_itimerval(*_get(_timer(k), which)))] if old_ptr else [])
    try:
        value_us, interval_us = itimerfix(*new[0]), itimerfix(*new[1])
    except DarwinError:
        if old_ptr:
            k.mem.write(old_ptr, pack_itimerval(*_get(_timer(k), which)))
        raise
    old = _set(_timer(k), which, value_us, interval_us)
    return Ret(0, writes=[(old_ptr, pack_itimerval(*old))] if old_ptr else [])
