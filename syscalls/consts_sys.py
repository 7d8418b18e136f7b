"""Darwin constants for descriptors, paths, memory and limits, one table per kind.

Owns: fcntl commands, AT_* flags, ioctl requests, RLIMIT_* resources,
sysctl MIB numbers, mmap/mprotect bits and access modes (bsd/sys/fcntl.h,
ioccom.h, filio.h, resource.h, sysctl.h, mman.h, unistd.h).  Sockets,
signals and open flags are in consts.py.
"""

from __future__ import annotations

import os
import resource

from syscalls.consts import Bits

# ----------------------------------------------------------------- fcntl -- bsd/sys/fcntl.h
FCNTL_CMDS: dict[int, str] = {
    0: "F_DUPFD",
    1: "F_GETFD",
    2: "F_SETFD",
    3: "F_GETFL",
    4: "F_SETFL",
    5: "F_GETOWN",
    6: "F_SETOWN",
    7: "F_GETLK",
    8: "F_SETLK",
    9: "F_SETLKW",
    48: "F_NOCACHE",
    50: "F_GETPATH",
    51: "F_FULLFSYNC",
    67: "F_DUPFD_CLOEXEC",
    73: "F_SETNOSIGPIPE",
    74: "F_GETNOSIGPIPE",
}
F_CMD = {name: num for num, name in FCNTL_CMDS.items()}
FD_CLOEXEC = 1
# the F_SETFL bits a process may change (kern_descrip.c: FCNTLFLAGS)
O_SETFL_MASK = 0x4 | 0x8 | 0x40  # O_NONBLOCK | O_APPEND | O_ASYNC

# ----------------------------------------------------------------- *at() -- bsd/sys/fcntl.h
AT_FDCWD = -2
AT_FLAGS = Bits(
    "AT flag",
    (
        ("AT_EACCESS", 0x10, None),
        ("AT_SYMLINK_NOFOLLOW", 0x20, None),
        ("AT_SYMLINK_FOLLOW", 0x40, None),
        ("AT_REMOVEDIR", 0x80, None),
        ("AT_REMOVEDIR_DATALESS", 0x100, None),
        ("AT_REALDEV", 0x200, None),
        ("AT_FDONLY", 0x400, None),
        ("AT_SYMLINK_NOFOLLOW_ANY", 0x800, None),
    ),
)
AT = AT_FLAGS.by_name()

# ----------------------------------------------------------------- renameatx_np -- bsd/sys/stdio.h
RENAME_FLAGS = Bits(
    "rename flag",
    (
        ("RENAME_SECLUDE", 0x1, None),
        ("RENAME_SWAP", 0x2, None),
        ("RENAME_EXCL", 0x4, None),
        ("RENAME_RESERVED1", 0x8, None),
        ("RENAME_NOFOLLOW_ANY", 0x10, None),
    ),
)
RENAME = RENAME_FLAGS.by_name()

# ----------------------------------------------------------------- access -- bsd/sys/unistd.h
ACCESS_MODES = Bits("access mode", (("X_OK", 1, os.X_OK), ("W_OK", 2, os.W_OK), ("R_OK", 4, os.R_OK)))

# ----------------------------------------------------------------- ioctl -- bsd/sys/filio.h, ttycom.h
IOCTLS: dict[int, str] = {
    0x20006601: "FIOCLEX",
    0x20006602: "FIONCLEX",
    0x8004667E: "FIONBIO",
    0x4004667F: "FIONREAD",
    0x40087468: "TIOCGWINSZ",
    0x40487413: "TIOCGETA",
}
IOCTL = {name: num for num, name in IOCTLS.items()}

# ----------------------------------------------------------------- rlimits -- bsd/sys/resource.h
RLIMITS: dict[int, tuple[str, int]] = {
    0: ("RLIMIT_CPU", resource.RLIMIT_CPU),
    1: ("RLIMIT_FSIZE", resource.RLIMIT_FSIZE),
    2: ("RLIMIT_DATA", resource.RLIMIT_DATA),
    3: ("RLIMIT_STACK", resource.RLIMIT_STACK),
    4: ("RLIMIT_CORE", resource.RLIMIT_CORE),
    5: ("RLIMIT_AS", resource.RLIMIT_AS),
    6: ("RLIMIT_MEMLOCK", resource.RLIMIT_MEMLOCK),
    7: ("RLIMIT_NPROC", resource.RLIMIT_NPROC),
    8: ("RLIMIT_NOFILE", resource.RLIMIT_NOFILE),
}
RLIMIT_NOFILE = 8
RLIMIT_POSIX_FLAG = 0x1000
RLIM_INFINITY = (1 << 63) - 1
OPEN_MAX = 10240  # kern.maxfilesperproc's cap for RLIMIT_NOFILE
RUSAGE_SELF, RUSAGE_CHILDREN = 0, -1

# ----------------------------------------------------------------- sysctl -- bsd/sys/sysctl.h
CTL_SYSCTL, CTL_KERN, CTL_HW = 0, 1, 6
SYSCTL_NAME2OID = 3
KERN = {
    "ostype": 1,
    "osrelease": 2,
    "osrevision": 3,
    "version": 4,
    "maxproc": 6,
    "maxfiles": 7,
    "argmax": 8,
    "hostname": 10,
    "osversion": 65,
    "maxfilesperproc": 29,
}
HW = {"machine": 1, "model": 2, "ncpu": 3, "byteorder": 4, "pagesize": 7, "memsize": 24}

# ----------------------------------------------------------------- mmap -- bsd/sys/mman.h
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
PROT_ALL = 7
MAP_FLAGS = Bits(
    "MAP flag",
    (
        ("MAP_SHARED", 0x1, None),
        ("MAP_PRIVATE", 0x2, None),
        ("MAP_FIXED", 0x10, None),
        ("MAP_RENAME", 0x20, None),
        ("MAP_NORESERVE", 0x40, None),
        ("MAP_NOEXTEND", 0x100, None),
        ("MAP_HASSEMAPHORE", 0x200, None),
        ("MAP_NOCACHE", 0x400, None),
        ("MAP_JIT", 0x800, None),
        ("MAP_ANON", 0x1000, None),
        ("MAP_RESILIENT_CODESIGN", 0x2000, None),
        ("MAP_RESILIENT_MEDIA", 0x4000, None),
        ("MAP_32BIT", 0x8000, None),
    ),
)
MAP = MAP_FLAGS.by_name()

# ----------------------------------------------------------------- d_type -- bsd/sys/dirent.h
DT_UNKNOWN, DT_DIR, DT_REG, DT_LNK = 0, 4, 8, 10
GETDIRENTRIES64_EXTENDED_BUFSIZE = 1024
GETDIRENTRIES64_EOF = 1


def iftodt(mode: int) -> int:
    """IFTODT: the d_type of a file mode (the S_IF* bits shifted down)."""
    return (mode & 0o170000) >> 12
