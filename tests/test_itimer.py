"""ITIMER_REAL and the setitimer/getitimer handlers, with XNU's kern_time.c rules.

Timer tests run on the real monotonic clock and wait on bounded Events;
the handler tests arm only long timers, so nothing fires while they run.
"""

from __future__ import annotations

import struct
import threading
import time
from types import SimpleNamespace

import pytest
from fakemem import FakeMem as Memory
from fakemem import Unmapped

from syscalls.errno import DarwinError
from syscalls.itimer import ITIMER_PROF, ITIMER_REAL, ITIMER_VIRTUAL, RealTimer, sys_getitimer, sys_setitimer

BASE, SIZE = 0x10000, 0x1000
NEW, OLD = BASE + 0x100, BASE + 0x200


class Counter:
    """A fire callback: counts calls and sets ``reached`` on the ``at``-th."""

    def __init__(self, at: int = 1) -> None:
        self.n, self.at = 0, at
        self.reached = threading.Event()

    def __call__(self) -> None:
        self.n += 1
        if self.n >= self.at:
            self.reached.set()


@pytest.fixture
def timers():
    made: list[RealTimer] = []

    def make(fire=lambda: None) -> RealTimer:
        made.append(RealTimer(fire, time.monotonic_ns))
        return made[-1]

    yield make
    for t in made:
        t.cancel()


def test_one_shot_fires_exactly_once(timers):
    fired = Counter()
    t = timers(fired)
    assert t.set(20_000, 0) == (0, 0)
    assert fired.reached.wait(1.0)
    time.sleep(0.05)
    assert fired.n == 1
    assert t.get() == (0, 0)


def test_interval_timer_fires_repeatedly_until_set_to_zero(timers):
    fired = Counter(at=3)
    t = timers(fired)
    t.set(10_000, 10_000)
    assert fired.reached.wait(1.0)
    value, interval = t.set(0, 0)
    assert 0 <= value <= 10_000 and interval == 10_000
    time.sleep(0.02)  # a fire already under way may finish
    settled = fired.n
    time.sleep(0.05)
    assert fired.n == settled
    assert t.get() == (0, 0)


def test_get_returns_no_more_than_was_set(timers):
    t = timers()
    t.set(500_000, 250_000)
    value, interval = t.get()
    assert 0 < value <= 500_000
    assert interval == 250_000


def test_set_returns_the_old_value_and_interval(timers):
    t = timers()
    assert t.set(300_000, 100_000) == (0, 0)
    value, interval = t.set(400_000, 0)
    assert 0 < value <= 300_000 and interval == 100_000


def test_value_zero_disarms_but_keeps_the_interval(timers):
    fired = Counter()
    t = timers(fired)
    t.set(0, 5_000)
    assert t.get() == (0, 5_000)
    assert not fired.reached.wait(0.03)


def test_cancel_stops_an_armed_timer(timers):
    fired = Counter()
    t = timers(fired)
    t.set(20_000, 20_000)
    t.cancel()
    assert not fired.reached.wait(0.06)
    t.set(10_000, 0)  # stays stopped
    assert not fired.reached.wait(0.03)


def test_fork_copy_is_disarmed(timers):
    t = timers()
    t.set(1_000_000, 1_000_000)
    t.untimed[ITIMER_VIRTUAL] = (5, 5)
    child = t.copy_for_fork()
    assert child.get() == (0, 0)
    assert child.untimed == {}
    assert t.get()[1] == 1_000_000


@pytest.mark.parametrize("us", [-1, 100_000_001 * 1_000_000])
def test_set_rejects_values_out_of_range(timers, us):
    with pytest.raises(DarwinError):
        timers().set(us, 0)


# ----------------------------------------------------------------- handlers
def FakeMem() -> Memory:  # noqa: N802 - the tests' name for a fresh one
    return Memory(BASE, SIZE)


def itimerval(value: tuple[int, int], interval: tuple[int, int] = (0, 0)) -> bytes:
    """struct itimerval by hand: it_interval {i64 sec, i32 usec, pad}, then it_value."""
    return struct.pack("<qi4xqi4x", *interval, *value)


@pytest.fixture
def k(timers):
    mem = FakeMem()
    return SimpleNamespace(mem=mem, itimer=timers(), probe_writable=lambda addr, n: mem.write(addr, mem.read(addr, n)))


def setitimer(k, which, value, interval=(0, 0), old=True):
    k.mem.write(NEW, itimerval(value, interval))
    ret = sys_setitimer(k, which, NEW, OLD if old else 0)
    for addr, data in ret.writes:
        k.mem.write(addr, data)
    return struct.unpack("<qi4xqi4x", k.mem.read(OLD, 32)) if old else None


def test_setitimer_arms_and_copies_out_the_old_value(k):
    assert setitimer(k, ITIMER_REAL, (10, 0), (2, 500_000)) == (0, 0, 0, 0)
    isec, iusec, vsec, vusec = setitimer(k, ITIMER_REAL, (0, 0))
    assert (isec, iusec) == (2, 500_000)
    assert 0 <= vsec * 1_000_000 + vusec <= 10_000_000 and vsec >= 9


def test_getitimer_writes_the_remaining_time(k):
    setitimer(k, ITIMER_REAL, (20, 0), (1, 0), old=False)
    ret = sys_getitimer(k, ITIMER_REAL, OLD)
    [(addr, data)] = ret.writes
    isec, iusec, vsec, vusec = struct.unpack("<qi4xqi4x", data)
    assert addr == OLD and (isec, iusec) == (1, 0)
    assert 19 <= vsec <= 20 and 0 <= vusec < 1_000_000


@pytest.mark.parametrize("value", [(0, 1_000_000), (0, -1), (-1, 0), (100_000_001, 0)])
def test_setitimer_rejects_a_bad_timeval(k, value):
    with pytest.raises(DarwinError) as e:
        setitimer(k, ITIMER_REAL, value)
    assert e.value.name == "EINVAL"
    assert k.itimer.get() == (0, 0)


def test_setitimer_rejects_a_bad_interval_too(k):
    with pytest.raises(DarwinError):
        setitimer(k, ITIMER_REAL, (1, 0), (0, 1_000_000))


def test_einval_still_copies_out_the_old_value(k):
    setitimer(k, ITIMER_REAL, (30, 0), (3, 0), old=False)
    k.mem.write(OLD, b"\xff" * 32)
    with pytest.raises(DarwinError):
        setitimer(k, ITIMER_REAL, (0, 2_000_000))
    isec, _, vsec, _ = struct.unpack("<qi4xqi4x", k.mem.read(OLD, 32))
    assert isec == 3 and 29 <= vsec <= 30
    assert k.itimer.get()[1] == 3_000_000  # and the timer is unchanged


@pytest.mark.parametrize("which", [3, -1, 0xFFFF_FFFF])
def test_which_above_itimer_prof_is_einval(k, which):
    with pytest.raises(DarwinError):
        sys_setitimer(k, which, 0, 0)
    with pytest.raises(DarwinError):
        sys_getitimer(k, which, OLD)


def test_bad_old_pointer_faults_before_the_timer_changes(k):
    k.mem.write(NEW, itimerval((5, 0)))
    with pytest.raises(Unmapped):
        sys_setitimer(k, ITIMER_REAL, NEW, 0x8)
    assert k.itimer.get() == (0, 0)


def test_no_new_value_only_reads_the_old(k):
    setitimer(k, ITIMER_REAL, (7, 0), old=False)
    ret = sys_setitimer(k, ITIMER_REAL, 0, OLD)
    [(_, data)] = ret.writes
    assert struct.unpack("<qi4xqi4x", data)[2] in (6, 7)
    assert k.itimer.get()[0] > 6_000_000


@pytest.mark.parametrize("which", [ITIMER_VIRTUAL, ITIMER_PROF])
def test_cpu_time_timers_are_kept_but_never_run(k, which):
    assert setitimer(k, which, (0, 1_000), (0, 2_000)) == (0, 0, 0, 0)
    assert setitimer(k, which, (0, 0)) == (0, 2_000, 0, 1_000)
    assert k.itimer.get() == (0, 0)


def test_a_late_interval_timer_catches_up_without_a_burst():
    """realitexpire: the next deadline is the first whole interval past now; beyond 2 s late, now + interval."""
    t = RealTimer(lambda: None, lambda: 0)
    t.set(0, 100_000)  # disarmed; only the interval matters here
    assert t._next_deadline(1_000_000, 1_000_000) == 1_100_000
    assert t._next_deadline(1_000_000, 1_350_000) == 1_400_000
    assert t._next_deadline(1_000_000, 9_050_000) == 9_150_000
