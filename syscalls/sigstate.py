"""A guest process's signal state: actions, mask, and the pending set.

Owns: the per-process table that sigaction and sigprocmask change, the
pending set that kill, timers and the process's own calls add to (from any
thread: one lock), and the question "what does signal N do to this process
now?".  A fork copies the actions and the mask, and starts with nothing
pending, as a Mac's fork does.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from syscalls.consts import SIG_CANT_CATCH, SIG_DEFAULT_IGNORE, SIG_DEFAULT_STOP, SIG_DFL, SIG_IGN


@dataclass
class Action:
    """One signal's struct __sigaction as the guest last set it."""

    handler: int = SIG_DFL
    tramp: int = 0
    mask: int = 0
    flags: int = 0


@dataclass
class SignalState:
    actions: dict[int, Action] = field(default_factory=dict)
    mask: int = 0  # Darwin sigset_t: bit n-1 = signal n
    pending: set[int] = field(default_factory=set)  # sent, not yet delivered
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    catching: bool = False  # some signal has a guest handler (set_action keeps it)
    # the per-process secret sigreturn tokens are made with (x5 = &ucontext ^ token_key);
    # XNU keeps one per thread (uu_sigreturn_token), and a fork's child starts with a new one.
    # Drawn when first needed: most processes never take a signal
    _token_key: int = field(default=0, repr=False, compare=False)

    @property
    def token_key(self) -> int:
        if not self._token_key:
            self._token_key = secrets.randbits(64) or 1
        return self._token_key

    def action(self, sig: int) -> Action:
        return self.actions.get(sig, Action())

    def forked(self) -> SignalState:
        """The child's state after fork: the same actions and mask, nothing pending."""
        with self.lock:
            return SignalState(
                {n: Action(a.handler, a.tramp, a.mask, a.flags) for n, a in self.actions.items()},
                self.mask,
                catching=self.catching,
            )

    def disposition(self, sig: int) -> str:
        """What delivering ``sig`` does now, whatever the mask: "handler", "kill" or "ignore"
        (SIG_IGN, a default that does nothing, and the job-control stops, not emulated)."""
        handler = SIG_DFL if sig in SIG_CANT_CATCH else self.action(sig).handler
        if handler == SIG_IGN:
            return "ignore"
        if handler != SIG_DFL:
            return "handler"
        return "ignore" if sig in SIG_DEFAULT_IGNORE or sig in SIG_DEFAULT_STOP else "kill"

    def post(self, sig: int) -> bool:
        """``sig`` is sent to this process: True when it must act now (a handler or death).

        As XNU's psignal: a signal the process ignores is dropped even while
        blocked, and one whose default is to do nothing is dropped unless it
        is blocked (then it waits, and is looked at again when unblocked);
        SIGKILL always gets through.
        """
        with self.lock:
            if sig not in SIG_CANT_CATCH and self.action(sig).handler == SIG_IGN:
                return False
            if self.disposition(sig) == "ignore" and not self._blocked(sig):
                return False
            self.pending.add(sig)
            return self._urgent() is not None

    def _blocked(self, sig: int) -> bool:
        return sig not in SIG_CANT_CATCH and bool(self.mask & (1 << (sig - 1)))

    def _urgent(self) -> int | None:
        """The lowest deliverable signal that does something (a handler or the default death)."""
        return next((s for s in sorted(self.pending) if not self._blocked(s) and self.disposition(s) != "ignore"), None)

    def urgent(self) -> bool:
        """A pending signal would enter a handler or end the process now."""
        if not self.pending:
            return False
        with self.lock:
            return self._urgent() is not None

    def set_action(self, sig: int, act: Action) -> None:
        with self.lock:
            self.actions[sig] = act
            self.catching = any(a.handler not in (SIG_DFL, SIG_IGN) for a in self.actions.values())

    def _ready(self) -> int | None:
        """The lowest pending signal that is not blocked (XNU's ffs over the pending set)."""
        return min((s for s in self.pending if not self._blocked(s)), default=None)

    def deliverable(self) -> bool:
        """Something pending that is not blocked (asked at every syscall: the common answer is quick)."""
        if not self.pending:
            return False
        with self.lock:
            return self._ready() is not None

    def peek(self) -> int | None:
        """The signal ``take`` would give, left pending."""
        with self.lock:
            return self._ready()

    def take(self) -> int | None:
        """The next signal to deliver, taken off the pending set."""
        with self.lock:
            sig = self._ready()
            self.pending.discard(sig)
            return sig
