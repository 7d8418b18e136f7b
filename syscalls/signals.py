"""Signal syscalls: sigaction, sigprocmask, and SIGPIPE on a broken pipe or socket.

Owns: the guest's signal actions and mask (kept in ``Kernel.signals``, the
process's own state: the host process's dispositions and mask are never
touched).  Handlers are entered by the Machine as XNU's sendsig does
(emu/sigdeliver.py, syscalls/sigframe.py); SIGCHLD ignored or SA_NOCLDWAIT
reaps children (syscalls/procs.py).  SIGPIPE is decided here per write,
as Darwin does: the Host sends with MSG_NOSIGNAL.
"""

from __future__ import annotations

import struct

from syscalls.consts import (
    NSIG,
    SA_USERSPACE_MASK,
    SIG_CANT_CATCH,
    SIG_DFL,
    SIG_IGN,
    SIGNAL_NUMBER,
    SIGPROCMASK_HOW,
)
from syscalls.errno import DarwinError
from syscalls.kernel import Kernel, Ret
from syscalls.sigstate import Action
from syscalls.structs import SIGACTION_IN, SIGACTION_OUT

SIGPIPE = SIGNAL_NUMBER["SIGPIPE"]
SIGCHLD = SIGNAL_NUMBER["SIGCHLD"]
CANT_MASK = sum(1 << (s - 1) for s in SIG_CANT_CATCH)
ALL_SIGNALS = (1 << (NSIG - 1)) - 1


def sys_sigaction(k: Kernel, sig: int, nsa: int, osa: int) -> Ret:
    if sig <= 0 or sig >= NSIG or sig in SIG_CANT_CATCH:
        raise DarwinError("EINVAL", f"signal {sig}")
    new = None
    if nsa:
        handler, tramp, mask, flags = SIGACTION_IN.unpack(k.mem.read(nsa, SIGACTION_IN.size))
        new = Action(handler, tramp, mask & ~CANT_MASK & ALL_SIGNALS, flags & SA_USERSPACE_MASK)
    old = k.signals.action(sig)
    if new is not None:  # XNU sets the new action before it copies the old one out
        k.signals.set_action(sig, new)
    writes = []
    if osa:
        k.probe_writable(osa, SIGACTION_OUT.size)
        writes.append((osa, SIGACTION_OUT.pack(old.handler, old.mask, old.flags)))
    return Ret(0, writes=writes)


def sys_sigprocmask(k: Kernel, how: int, set_ptr: int, oset_ptr: int) -> Ret:
    new = None
    if set_ptr:
        bits = struct.unpack("<I", k.mem.read(set_ptr, 4))[0]  # copied in before `how` is looked at
        if how not in SIGPROCMASK_HOW:
            raise DarwinError("EINVAL", f"how {how}")
        name = SIGPROCMASK_HOW[how][0]
        cur = k.signals.mask
        new = {"SIG_BLOCK": cur | bits, "SIG_UNBLOCK": cur & ~bits, "SIG_SETMASK": bits}[name]
        new &= ~CANT_MASK & ALL_SIGNALS
    writes = []
    if oset_ptr:
        k.probe_writable(oset_ptr, 4)
        writes.append((oset_ptr, struct.pack("<I", k.signals.mask)))
    if new is not None:
        with k.signals.lock:
            k.signals.mask = new  # what it unblocks is delivered as the call returns
    return Ret(0, writes=writes)


def broken_pipe(k: Kernel, fd: int, nosignal: bool = False) -> DarwinError:
    """A write met a closed pipe or socket: SIGPIPE unless the socket or call says not, then EPIPE.

    Darwin: SO_NOSIGPIPE (or F_SETNOSIGPIPE) on the descriptor, or MSG_NOSIGNAL
    on the call, gives plain EPIPE; otherwise SIGPIPE is sent to the writer,
    and its default action ends the process (which never sees the EPIPE).
    """
    if not nosignal and not (k.host.is_open(fd) and k.host.nosigpipe(fd)):
        k.raise_signal(SIGPIPE)
    return DarwinError("EPIPE", f"fd {fd}")


def describe_handler(handler: int) -> str:
    return {SIG_DFL: "SIG_DFL", SIG_IGN: "SIG_IGN"}.get(handler, hex(handler))
