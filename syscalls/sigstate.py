"""A guest process's signal state: actions, mask, and what could not be delivered.

Owns: the per-process table that sigaction and sigprocmask change, and the
question "what does signal N do to this process now?".  It lives in the
emulating process's memory, so a fork copies it, as a Mac's fork does.
Guest handlers are recorded here but never entered (see table.py's notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syscalls.consts import SIG_DEFAULT_IGNORE, SIG_DEFAULT_STOP, SIG_DFL, SIG_IGN


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
    mask: int = 0                                   # Darwin sigset_t: bit n-1 = signal n
    pending: set[int] = field(default_factory=set)  # raised while blocked
    undelivered: list[int] = field(default_factory=list)  # raised with a guest handler installed

    def action(self, sig: int) -> Action:
        return self.actions.get(sig, Action())

    def effect(self, sig: int) -> str:
        """What raising ``sig`` does now: "blocked", "ignore", "handler", "stop" or "kill"."""
        if self.mask & (1 << (sig - 1)):
            return "blocked"
        handler = self.action(sig).handler
        if handler == SIG_IGN or (handler == SIG_DFL and sig in SIG_DEFAULT_IGNORE):
            return "ignore"
        if handler != SIG_DFL:
            return "handler"
        return "stop" if sig in SIG_DEFAULT_STOP else "kill"
