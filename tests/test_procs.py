"""The guest process table (syscalls/procs.py) on its own: pids, zombies, wait, kill, signals."""

from __future__ import annotations

import threading

import pytest

from syscalls.consts import SA_NOCLDWAIT, SIG_IGN, SIGNAL_NUMBER
from syscalls.errno import DarwinError
from syscalls.procs import LAUNCHD, PID_MAX, PID_WRAP, ProcessTable
from syscalls.sigstate import Action

SIGCHLD, SIGUSR1, SIGTERM, SIGKILL = (SIGNAL_NUMBER[n] for n in ("SIGCHLD", "SIGUSR1", "SIGTERM", "SIGKILL"))


def table(**kw: int) -> ProcessTable:
    return ProcessTable(first_pid=500, first_ppid=400, pgid=450, **kw)


def never() -> bool:
    return False


def test_pids_count_up_from_the_first_and_paths_name_the_fork_tree() -> None:
    t = table()
    a = t.fork(t.first)
    b = t.fork(t.first)
    c = t.fork(a)
    assert (a.pid, b.pid, c.pid) == (501, 502, 503)
    assert (a.path, b.path, c.path) == ("0.1", "0.2", "0.1.1")
    assert (a.ppid, c.ppid) == (500, 501)


def test_a_child_starts_with_its_parents_umask() -> None:
    t = table()
    assert t.first.umask == 0o022  # launchd's
    t.first.umask = 0o077
    child = t.fork(t.first)
    t.first.umask = 0o002  # later changes are the parent's own
    assert child.umask == 0o077


def test_pids_wrap_at_pid_max_and_skip_those_in_use() -> None:
    t = table()
    t.last_pid = PID_MAX - 1
    a = t.fork(t.first)
    assert a.pid == PID_MAX
    t.procs[PID_WRAP] = t.first  # taken: the next one is skipped over
    b = t.fork(t.first)
    assert b.pid == PID_WRAP + 1


def test_the_cap_counts_zombies_and_fork_then_fails_with_eagain() -> None:
    t = table(max_procs=3)
    a = t.fork(t.first)
    t.fork(t.first)
    with pytest.raises(DarwinError) as e:
        t.fork(t.first)
    assert e.value.errno == 35  # EAGAIN on Darwin
    t.exit(a, 0)  # a zombie still counts
    with pytest.raises(DarwinError):
        t.fork(t.first)
    assert t.wait(t.first, a.pid, False, never)[0] == a.pid
    t.fork(t.first)  # reaped: room again


def test_a_child_is_a_zombie_until_waited_for_and_wait_reports_its_status() -> None:
    t = table()
    a = t.fork(t.first)
    b = t.fork(t.first)
    assert t.wait(t.first, -1, True, never) == (0, 0, None)  # WNOHANG, nobody has exited
    t.exit(b, 3 << 8)
    assert a.pid in t.procs and b.pid in t.procs  # the zombie stays
    got, status, _ = t.wait(t.first, -1, False, never)
    assert (got, status) == (b.pid, 3 << 8)
    assert b.pid not in t.procs
    with pytest.raises(DarwinError) as e:
        t.wait(t.first, b.pid, False, never)  # already reaped
    assert e.value.errno == 10  # ECHILD
    t.exit(a, SIGTERM)
    assert t.wait(t.first, a.pid, False, never)[:2] == (a.pid, SIGTERM)
    with pytest.raises(DarwinError):
        t.wait(t.first, -1, False, never)  # no children at all


def test_wait_blocks_until_a_child_exits_on_another_thread() -> None:
    t = table()
    a = t.fork(t.first)
    threading.Timer(0.05, t.exit, (a, 7 << 8)).start()
    assert t.wait(t.first, 0, False, never)[:2] == (a.pid, 7 << 8)


def test_wait_ends_with_eintr_when_a_signal_comes() -> None:
    t = table()
    t.fork(t.first)
    t.first.signals.actions[SIGUSR1] = Action(handler=0x1000, tramp=0x2000)
    threading.Timer(0.05, t.post, (t.first, SIGUSR1)).start()
    with pytest.raises(DarwinError) as e:
        t.wait(t.first, -1, False, t.first.signals.deliverable)
    assert e.value.errno == 4  # EINTR


def test_exit_posts_sigchld_to_the_parent_and_wakes_it() -> None:
    t = table()
    woken: list[int] = []
    t.first.wake = lambda: woken.append(1)
    t.first.signals.actions[SIGCHLD] = Action(handler=0x1000, tramp=0x2000)
    a = t.fork(t.first)
    t.exit(a, 0)
    assert t.first.signals.take() == SIGCHLD
    assert woken == [1]


@pytest.mark.parametrize("action", [Action(handler=SIG_IGN), Action(handler=0x1000, flags=SA_NOCLDWAIT)])
def test_sigchld_ignored_or_nocldwait_reaps_children_at_once(action: Action) -> None:
    t = table()
    t.first.signals.actions[SIGCHLD] = action
    a = t.fork(t.first)
    t.exit(a, 0)
    assert a.pid not in t.procs
    with pytest.raises(DarwinError):
        t.wait(t.first, -1, False, never)  # ECHILD, as on a Mac


def test_orphans_go_to_launchd_and_an_orphan_zombie_is_reaped() -> None:
    t = table()
    a = t.fork(t.first)
    b = t.fork(a)
    c = t.fork(a)
    t.exit(c, 0)
    t.exit(a, 0)
    assert b.ppid == LAUNCHD and b.parent is None
    assert c.pid not in t.procs
    t.exit(b, 0)
    assert b.pid not in t.procs  # nobody to wait for it


def test_kill_reaches_guest_processes_only() -> None:
    t = table()
    a = t.fork(t.first)
    t.kill(t.first, a.pid, SIGTERM)
    assert a.signals.take() == SIGTERM
    for pid in (1, 400, 12345):
        with pytest.raises(DarwinError) as e:
            t.kill(t.first, pid, SIGTERM)
        assert e.value.errno == 3  # ESRCH
    t.exit(a, 0)
    with pytest.raises(DarwinError):
        t.kill(t.first, a.pid, 0)  # a zombie cannot be signalled
    with pytest.raises(DarwinError):
        t.kill(t.first, -999, SIGTERM)  # another process group


def test_kill_minus_one_is_everyone_but_the_sender_and_zero_the_whole_group() -> None:
    t = table()
    a = t.fork(t.first)
    t.kill(a, -1, SIGUSR1)
    assert t.first.signals.pending == {SIGUSR1} and a.signals.pending == set()
    t.kill(a, 0, SIGTERM)
    assert SIGTERM in t.first.signals.pending and a.signals.pending == {SIGTERM}


def test_blocked_signals_wait_ignored_ones_are_dropped_and_sigkill_always_gets_through() -> None:
    t = table()
    woken: list[int] = []
    p = t.fork(t.first)
    p.wake = lambda: woken.append(1)
    p.signals.mask = (1 << (SIGUSR1 - 1)) | (1 << (SIGKILL - 1))
    t.post(p, SIGUSR1)
    assert woken == [] and p.signals.take() is None and p.signals.pending == {SIGUSR1}
    p.signals.mask = 0
    assert p.signals.take() == SIGUSR1
    p.signals.actions[SIGTERM] = Action(handler=SIG_IGN)
    t.post(p, SIGTERM)
    assert p.signals.pending == set() and woken == []
    p.signals.mask = -1 & 0xFFFFFFFF
    t.post(p, SIGKILL)
    assert woken == [1] and p.signals.take() == SIGKILL


def test_a_forked_child_keeps_actions_and_mask_but_nothing_pending() -> None:
    t = table()
    t.first.signals.actions[SIGUSR1] = Action(handler=0x1000, tramp=0x2000, mask=4, flags=2)
    t.first.signals.mask = 8
    t.first.signals.pending.add(SIGTERM)
    child = t.fork(t.first)
    assert child.signals.action(SIGUSR1) == Action(0x1000, 0x2000, 4, 2)
    assert child.signals.mask == 8 and child.signals.pending == set()
    child.signals.actions[SIGUSR1].handler = SIG_IGN
    assert t.first.signals.action(SIGUSR1).handler == 0x1000  # a copy, not shared


def test_history_keeps_the_order_of_forks_exits_and_reaps() -> None:
    t = table()
    a = t.fork(t.first)
    t.exit(a, 0)
    t.wait(t.first, -1, False, never)
    assert t.history == [("start", "0"), ("fork", "0.1"), ("exit", "0.1"), ("reap", "0.1")]
