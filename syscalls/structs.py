"""Darwin struct layouts (arm64, LP64, little-endian), each declared once.

Owns: packing host values into the bytes Darwin's kernel would copy out
(struct stat64, sockaddr_in/in6 with sin_len, timeval) and unpacking the
bytes a guest passes in.  Offsets follow darwin-abi.md section 3.
"""

from __future__ import annotations

import os
import socket
import struct

from syscalls.consts import AF_FROM_HOST
from syscalls.errno import DarwinError


class Layout(struct.Struct):
    """A Darwin struct, little-endian, declared once with its field names: ``(name, format)``
    pairs, where padding is a field without a name (``("", "4x")``).  Packs and unpacks as
    struct.Struct does; ``fields`` maps the unpacked values to their names."""

    def __init__(self, *fields: tuple[str, str]) -> None:
        super().__init__("<" + "".join(fmt for _, fmt in fields))
        self._fields = fields
        self.names = tuple(name for name, _ in fields if name)

    def fields(self, raw: bytes) -> dict[str, int]:
        return dict(zip(self.names, self.unpack(raw), strict=True))

    def offsets(self) -> dict[str, int]:
        """Each named field's byte offset (for emu/native/fastcalls.c)."""
        out, fmt = {}, "<"
        for name, f in self._fields:
            if name:
                out[name] = struct.calcsize(fmt)
            fmt += f
        return out


def _timespec(name: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return (name, "q"), (name + "_nsec", "q")


# struct stat64 -- bsd/sys/stat.h (darwin-abi.md 3.1), 144 bytes
STAT64 = Layout(
    ("st_dev", "i"), ("st_mode", "H"), ("st_nlink", "H"), ("st_ino", "Q"), ("st_uid", "I"), ("st_gid", "I"),
    ("st_rdev", "i"), ("", "4x"),
    *_timespec("st_atime"), *_timespec("st_mtime"), *_timespec("st_ctime"), *_timespec("st_birthtime"),
    ("st_size", "q"), ("st_blocks", "q"), ("st_blksize", "i"), ("st_flags", "I"), ("st_gen", "I"),
    ("st_lspare", "i"), ("", "16x"),
)  # fmt: skip
assert STAT64.size == 144 and STAT64.format == "<iHHQIIi4xqqqqqqqqqqiIIi16x"


def _dev(d: int) -> int:
    """Darwin dev_t: major << 24 | minor, in 32 bits."""
    return ((os.major(d) & 0xFF) << 24 | (os.minor(d) & 0xFFFFFF)) & 0xFFFFFFFF


def _ts(ns: int) -> tuple[int, int]:
    return ns // 1_000_000_000, ns % 1_000_000_000


def pack_stat64(st: os.stat_result) -> bytes:
    birth = getattr(st, "st_birthtime_ns", None) or st.st_ctime_ns
    dev = _dev(st.st_dev)
    return STAT64.pack(
        dev - (1 << 32) if dev >= 1 << 31 else dev,
        st.st_mode & 0xFFFF,
        min(st.st_nlink, 0xFFFF),
        st.st_ino,
        st.st_uid,
        st.st_gid,
        _signed32(_dev(st.st_rdev)),
        *_ts(st.st_atime_ns),
        *_ts(st.st_mtime_ns),
        *_ts(st.st_ctime_ns),
        *_ts(birth),
        st.st_size,
        st.st_blocks,
        st.st_blksize,
        0,
        0,
        0,
    )


def _signed32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


# sockaddr -- bsd/sys/socket.h, bsd/netinet/in.h, bsd/netinet6/in6.h
SOCKADDR_IN_LEN = 16
SOCKADDR_IN6_LEN = 28
SOCKADDR_MAX = 255  # SOCK_MAXADDRLEN: the longest address bind/connect take
AF_INET_D = 2
AF_INET6_D = 30


def unpack_sockaddr(raw: bytes, sock_family: int | None = None) -> tuple[int, tuple]:
    """(host family, address tuple) from the bytes a guest passed to bind/connect.

    As on Darwin: sa_len is ignored (the kernel overwrites it with the length
    passed); a family other than the socket's own (``sock_family``, a host
    AF_*) or AF_UNSPEC is EAFNOSUPPORT (tcp_usr_bind, tcp6_usr_bind);
    AF_UNSPEC means the socket's family; an internet address of the wrong
    length is EINVAL (in_pcbbind, in6_pcbbind).
    """
    if len(raw) < 2:
        raise DarwinError("EINVAL", "sockaddr shorter than 2 bytes")
    family = raw[1]
    if sock_family is not None:
        own = AF_FROM_HOST.get(sock_family)
        if family == 0:
            family = own
        elif family != own:
            raise DarwinError("EAFNOSUPPORT", f"address family {family} on a family {own} socket")
    elif family == 0 and len(raw) == SOCKADDR_IN_LEN:
        family = AF_INET_D
    if family == AF_INET_D:
        if len(raw) != SOCKADDR_IN_LEN:
            raise DarwinError("EINVAL", f"sockaddr_in of {len(raw)} bytes")
        port = struct.unpack_from(">H", raw, 2)[0]
        return socket.AF_INET, (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
    if family == AF_INET6_D:
        if len(raw) != SOCKADDR_IN6_LEN:
            raise DarwinError("EINVAL", f"sockaddr_in6 of {len(raw)} bytes")
        port, flow = struct.unpack_from(">HI", raw, 2)
        scope = struct.unpack_from("<I", raw, 24)[0]
        return socket.AF_INET6, (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port, flow, scope)
    raise DarwinError("EAFNOSUPPORT", f"address family {family}")


def pack_sockaddr(family: int, addr: tuple) -> bytes:
    """The Darwin sockaddr bytes (sin_len filled in) for a host address."""
    if family == socket.AF_INET:
        return struct.pack(
            ">BBH4s8x", SOCKADDR_IN_LEN, AF_FROM_HOST[family], addr[1], socket.inet_pton(socket.AF_INET, addr[0])
        )
    if family == socket.AF_INET6:
        flow = addr[2] if len(addr) > 2 else 0
        scope = addr[3] if len(addr) > 3 else 0
        return struct.pack(
            ">BBHI16s",
            SOCKADDR_IN6_LEN,
            AF_FROM_HOST[family],
            addr[1],
            flow,
            socket.inet_pton(socket.AF_INET6, addr[0]),
        ) + struct.pack("<I", scope)
    raise DarwinError("EAFNOSUPPORT", f"host family {family}")


def describe_sockaddr(raw: bytes) -> str:
    try:
        fam, addr = unpack_sockaddr(raw)
    except DarwinError:
        return raw.hex()
    name = "AF_INET" if fam == socket.AF_INET else "AF_INET6"
    return f"{{sin_len={raw[0]}, {name}, {addr[0]}:{addr[1]}}}"


# struct timeval -- bsd/sys/_types/_timeval.h
TIMEVAL = Layout(("tv_sec", "q"), ("tv_usec", "i"), ("", "4x"))


def pack_timeval(sec: int, usec: int) -> bytes:
    return TIMEVAL.pack(sec, usec)


def unpack_timeval(raw: bytes) -> tuple[int, int]:
    """(tv_sec, tv_usec) of a Darwin timeval: int64 then int32 (darwin-abi.md 3.5)."""
    sec, usec = TIMEVAL.unpack(raw[:16].ljust(16, b"\0"))
    return sec, usec


# struct direntry -- bsd/sys/dirent.h (getdirentries64): 8 d_ino, 8 d_seekoff, 2 d_reclen,
# 2 d_namlen, 1 d_type, then the name and its NUL; records 8-byte rounded as DIRENT64_LEN
DIRENTRY_HEAD = struct.Struct("<QQHHB")


def direntry_len(namlen: int) -> int:
    """DIRENT64_LEN(n) = (sizeof(struct direntry) + n - 1023 + 7) & ~7 = (n + 32) & ~7."""
    return (namlen + 32) & ~7


def pack_direntry(ino: int, seekoff: int, name: bytes, dtype: int) -> bytes:
    reclen = direntry_len(len(name))
    rec = DIRENTRY_HEAD.pack(ino, seekoff, reclen, len(name), dtype) + name + b"\0"
    return rec.ljust(reclen, b"\0")


# struct pollfd -- bsd/sys/poll.h
POLLFD = Layout(("fd", "i"), ("events", "h"), ("revents", "h"))
# struct iovec -- bsd/sys/_types/_iovec_t.h
IOVEC = Layout(("iov_base", "Q"), ("iov_len", "Q"))
# struct __sigaction (in, 24 bytes) and struct sigaction (out, 16 bytes) -- bsd/sys/signal.h
SIGACTION_IN = Layout(("sa_handler", "Q"), ("sa_tramp", "Q"), ("sa_mask", "I"), ("sa_flags", "i"))
SIGACTION_OUT = Layout(("sa_handler", "Q"), ("sa_mask", "I"), ("sa_flags", "i"))
# struct rlimit -- bsd/sys/resource.h
RLIMIT = Layout(("rlim_cur", "Q"), ("rlim_max", "Q"))
# struct linger -- bsd/sys/socket.h
LINGER = Layout(("l_onoff", "i"), ("l_linger", "i"))
assert (TIMEVAL.size, POLLFD.size, IOVEC.size, SIGACTION_IN.size, SIGACTION_OUT.size) == (16, 8, 16, 24, 16)
# struct sf_hdtr -- bsd/sys/socket.h: headers, hdr_cnt, trailers, trl_cnt
SF_HDTR = struct.Struct("<Qi4xQi4x")
# struct timezone -- bsd/sys/time.h
TIMEZONE = struct.Struct("<ii")
