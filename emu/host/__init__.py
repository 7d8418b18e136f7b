"""The Host: every effect the guest has on the outside world, one part per resource.

Owns, for one guest process: its descriptor table (guest numbers -> open
files, each shared, like a kernel's open-file description, by every dup
and every forked copy, and closed on the host when the last one goes),
files under the guest's root folder, sockets, and the clock.  Takes and
returns host values (os.O_*, socket.AF_*) and raises OSError with host
errno values; the syscall layer translates both ways.  Knows no Darwin
numbers.  ``fork`` gives a guest child its own Host sharing our open files
(guest processes live inside the emulator: emu/tree.py).

Blocking: host sockets and pipes are always non-blocking underneath; a
call the guest made blocking waits in ``_wait`` on its descriptor and on
this process's wake pipe, so that a signal (``interrupt``) ends the wait
with EINTR and one guest process never holds another's thread.

Security rule: no guest path reaches a host file outside ``root``.  Every
path goes through emu/paths.py, which resolves it one component at a time
with openat(O_NOFOLLOW) from a descriptor of the root.
"""

from emu.host.descriptors import DEFAULT_FD_LIMIT, DirState, OpenFile
from emu.host.live import Host

__all__ = ["DEFAULT_FD_LIMIT", "DirState", "Host", "OpenFile"]
