"""The syscall table, errno and Darwin constants, checked against XNU itself.

The oracles are excerpts of apple-oss-distributions/xnu pasted below (runs of
whitespace shortened, nothing else changed), each with the commit it was read
at.  syscalls.master was read at xnu-11417.101.15 (commit e3723e1f, the tag
darwin-abi.md is checked against); headers that the index holds only at other
commits say which.  A row of our table, an errno or a flag that disagrees with
these lines fails here, whatever the rest of the code believes.

The end of the file checks what a guest sees for a number the table lacks:
ENOSYS with the carry set, one report line per number, and --strict.
"""

from __future__ import annotations

import errno as host_errno
import os
import re
import signal
import socket as host_socket
from pathlib import Path

import pytest
from guest import run_guest
from syscalls_master import SYSCALLS_MASTER, master_rows, user_name

from syscalls import consts
from syscalls.errno import DARWIN_ERRNO, from_host
from syscalls.kernel import Syscall
from syscalls.kinds import MASK32, MASK64, CStr, InBuf, Int, Long, Off, Ptr, Size, UInt, ULong
from syscalls.table import NOCANCEL, SYSCALLS

# --- bsd/sys/errno.h (the index holds one version, commit 94d3b452): the #define lines of 1..ELAST
ERRNO_H = """
#define EPERM 1 /* Operation not permitted */
#define ENOENT 2 /* No such file or directory */
#define ESRCH 3 /* No such process */
#define EINTR 4 /* Interrupted system call */
#define EIO 5 /* Input/output error */
#define ENXIO 6 /* Device not configured */
#define E2BIG 7 /* Argument list too long */
#define ENOEXEC 8 /* Exec format error */
#define EBADF 9 /* Bad file descriptor */
#define ECHILD 10 /* No child processes */
#define EDEADLK 11 /* Resource deadlock avoided */
#define ENOMEM 12 /* Cannot allocate memory */
#define EACCES 13 /* Permission denied */
#define EFAULT 14 /* Bad address */
#define ENOTBLK 15 /* Block device required */
#define EBUSY 16 /* Device / Resource busy */
#define EEXIST 17 /* File exists */
#define EXDEV 18 /* Cross-device link */
#define ENODEV 19 /* Operation not supported by device */
#define ENOTDIR 20 /* Not a directory */
#define EISDIR 21 /* Is a directory */
#define EINVAL 22 /* Invalid argument */
#define ENFILE 23 /* Too many open files in system */
#define EMFILE 24 /* Too many open files */
#define ENOTTY 25 /* Inappropriate ioctl for device */
#define ETXTBSY 26 /* Text file busy */
#define EFBIG 27 /* File too large */
#define ENOSPC 28 /* No space left on device */
#define ESPIPE 29 /* Illegal seek */
#define EROFS 30 /* Read-only file system */
#define EMLINK 31 /* Too many links */
#define EPIPE 32 /* Broken pipe */
#define EDOM 33 /* Numerical argument out of domain */
#define ERANGE 34 /* Result too large */
#define EAGAIN 35 /* Resource temporarily unavailable */
#define EWOULDBLOCK EAGAIN /* Operation would block */
#define EINPROGRESS 36 /* Operation now in progress */
#define EALREADY 37 /* Operation already in progress */
#define ENOTSOCK 38 /* Socket operation on non-socket */
#define EDESTADDRREQ 39 /* Destination address required */
#define EMSGSIZE 40 /* Message too long */
#define EPROTOTYPE 41 /* Protocol wrong type for socket */
#define ENOPROTOOPT 42 /* Protocol not available */
#define EPROTONOSUPPORT 43 /* Protocol not supported */
#define ESOCKTNOSUPPORT 44 /* Socket type not supported */
#define ENOTSUP 45 /* Operation not supported */
#define EPFNOSUPPORT 46 /* Protocol family not supported */
#define EAFNOSUPPORT 47 /* Address family not supported by protocol family */
#define EADDRINUSE 48 /* Address already in use */
#define EADDRNOTAVAIL 49 /* Can't assign requested address */
#define ENETDOWN 50 /* Network is down */
#define ENETUNREACH 51 /* Network is unreachable */
#define ENETRESET 52 /* Network dropped connection on reset */
#define ECONNABORTED 53 /* Software caused connection abort */
#define ECONNRESET 54 /* Connection reset by peer */
#define ENOBUFS 55 /* No buffer space available */
#define EISCONN 56 /* Socket is already connected */
#define ENOTCONN 57 /* Socket is not connected */
#define ESHUTDOWN 58 /* Can't send after socket shutdown */
#define ETOOMANYREFS 59 /* Too many references: can't splice */
#define ETIMEDOUT 60 /* Operation timed out */
#define ECONNREFUSED 61 /* Connection refused */
#define ELOOP 62 /* Too many levels of symbolic links */
#define ENAMETOOLONG 63 /* File name too long */
#define EHOSTDOWN 64 /* Host is down */
#define EHOSTUNREACH 65 /* No route to host */
#define ENOTEMPTY 66 /* Directory not empty */
#define EPROCLIM 67 /* Too many processes */
#define EUSERS 68 /* Too many users */
#define EDQUOT 69 /* Disc quota exceeded */
#define ESTALE 70 /* Stale NFS file handle */
#define EREMOTE 71 /* Too many levels of remote in path */
#define EBADRPC 72 /* RPC struct is bad */
#define ERPCMISMATCH 73 /* RPC version wrong */
#define EPROGUNAVAIL 74 /* RPC prog. not avail */
#define EPROGMISMATCH 75 /* Program version wrong */
#define EPROCUNAVAIL 76 /* Bad procedure for program */
#define ENOLCK 77 /* No locks available */
#define ENOSYS 78 /* Function not implemented */
#define EFTYPE 79 /* Inappropriate file type or format */
#define EAUTH 80 /* Authentication error */
#define ENEEDAUTH 81 /* Need authenticator */
#define EPWROFF 82 /* Device power is off */
#define EDEVERR 83 /* Device error, e.g. paper out */
#define EOVERFLOW 84 /* Value too large to be stored in data type */
#define EBADEXEC 85 /* Bad executable */
#define EBADARCH 86 /* Bad CPU type in executable */
#define ESHLIBVERS 87 /* Shared library version mismatch */
#define EBADMACHO 88 /* Malformed Macho file */
#define ECANCELED 89 /* Operation canceled */
#define EIDRM 90 /* Identifier removed */
#define ENOMSG 91 /* No message of desired type */
#define EILSEQ 92 /* Illegal byte sequence */
#define ENOATTR 93 /* Attribute not found */
#define EBADMSG 94 /* Bad message */
#define EMULTIHOP 95 /* Reserved */
#define ENODATA 96 /* No message available on STREAM */
#define ENOLINK 97 /* Reserved */
#define ENOSR 98 /* No STREAM resources */
#define ENOSTR 99 /* Not a STREAM */
#define EPROTO 100 /* Protocol error */
#define ETIME 101 /* STREAM ioctl timeout */
#define EOPNOTSUPP 102 /* Operation not supported on socket */
#define ENOPOLICY 103 /* No such policy registered */
#define ENOTRECOVERABLE 104 /* State not recoverable */
#define EOWNERDEAD 105 /* Previous owner died */
#define EQFULL 106 /* Interface output queue is full */
#define ELAST 106 /* Must be equal largest errno */
"""

# --- bsd/sys/fcntl.h @ e3723e1f: the open(2) flags
FCNTL_H = """
#define O_RDONLY 0x0000 /* open for reading only */
#define O_WRONLY 0x0001 /* open for writing only */
#define O_RDWR 0x0002 /* open for reading and writing */
#define O_ACCMODE 0x0003 /* mask for above modes */
#define O_NONBLOCK 0x00000004 /* no delay */
#define O_APPEND 0x00000008 /* set append mode */
#define O_SHLOCK 0x00000010 /* open with shared file lock */
#define O_EXLOCK 0x00000020 /* open with exclusive file lock */
#define O_ASYNC 0x00000040 /* signal pgrp when data ready */
#define O_NOFOLLOW 0x00000100 /* don't follow symlinks */
#define O_CREAT 0x00000200 /* create if nonexistant */
#define O_TRUNC 0x00000400 /* truncate to zero length */
#define O_EXCL 0x00000800 /* error if already exists */
#define O_RESOLVE_BENEATH 0x00001000 /* only for open(2), same value as FMARK */
#define O_EVTONLY 0x00008000 /* descriptor requested for event notifications only */
#define O_NOCTTY 0x00020000 /* don't assign controlling terminal */
#define O_DIRECTORY 0x00100000
#define O_SYMLINK 0x00200000 /* allow open of a symlink */
// O_DSYNC 0x00400000 /* synch I/O data integrity */
#define O_CLOEXEC 0x01000000 /* implicitly set FD_CLOEXEC */
#define O_NOFOLLOW_ANY 0x20000000 /* no symlinks allowed in path */
#define O_EXEC 0x40000000 /* open file for execute only */
"""
# O_SYNC (0x80) lives in bsd/sys/_types/_o_sync.h, which the index does not hold.
NOT_IN_FCNTL_H = {"O_SYNC"}

# --- bsd/sys/socket.h (commit 1031c584): socket types, SO_* options, SOL_SOCKET, families
SOCKET_H = """
#define SOCK_STREAM 1 /* stream socket */
#define SOCK_DGRAM 2 /* datagram socket */
#define SOCK_RAW 3 /* raw-protocol interface */
#define SOCK_SEQPACKET 5 /* sequenced packet stream */
#define SO_DEBUG 0x0001 /* turn on debugging info recording */
#define SO_ACCEPTCONN 0x0002 /* socket has had listen() */
#define SO_REUSEADDR 0x0004 /* allow local address reuse */
#define SO_KEEPALIVE 0x0008 /* keep connections alive */
#define SO_DONTROUTE 0x0010 /* just use interface addresses */
#define SO_BROADCAST 0x0020 /* permit sending of broadcast msgs */
#define SO_LINGER 0x0080 /* linger on close if data present (in ticks) */
#define SO_OOBINLINE 0x0100 /* leave received OOB data in line */
#define SO_REUSEPORT 0x0200 /* allow local address & port reuse */
#define SO_SNDBUF 0x1001 /* send buffer size */
#define SO_RCVBUF 0x1002 /* receive buffer size */
#define SO_SNDLOWAT 0x1003 /* send low-water mark */
#define SO_RCVLOWAT 0x1004 /* receive low-water mark */
#define SO_SNDTIMEO 0x1005 /* send timeout */
#define SO_RCVTIMEO 0x1006 /* receive timeout */
#define SO_ERROR 0x1007 /* get error status and clear */
#define SO_TYPE 0x1008 /* get socket type */
#define SO_NREAD 0x1020 /* APPLE: get 1st-packet byte count */
#define SO_NOSIGPIPE 0x1022 /* APPLE: No SIGPIPE on EPIPE */
#define SO_NWRITE 0x1024 /* APPLE: Get number of bytes currently in send socket buffer */
#define SO_LINGER_SEC 0x1080 /* linger on close if data present (in seconds) */
#define SOL_SOCKET 0xffff /* options for socket level */
#define AF_UNSPEC 0 /* unspecified */
#define AF_UNIX 1 /* local to host (pipes) */
#define AF_INET 2 /* internetwork: UDP, TCP, etc. */
#define AF_INET6 30 /* IPv6 */
"""

# --- bsd/netinet/in.h (commit 5c2921b0) and bsd/netinet/tcp.h (commit 4f1223e8)
NETINET_H = """
#define IPPROTO_IP 0 /* dummy for IP */
#define IPPROTO_TCP 6 /* tcp */
#define IPPROTO_UDP 17 /* user datagram protocol */
#define IPPROTO_IPV6 41 /* IP6 header */
#define TCP_NODELAY 0x01 /* don't delay send to coalesce packets */
#define TCP_MAXSEG 0x02 /* set maximum segment size */
#define TCP_KEEPALIVE 0x10 /* idle time used when SO_KEEPALIVE is enabled */
#define TCP_KEEPINTVL 0x101 /* interval between keepalives */
#define TCP_KEEPCNT 0x102 /* number of keepalives before close */
#define IPV6_V6ONLY 27 /* bool; only bind INET6 at wildcard bind */
"""
# TCP_KEEP* and IPV6_V6ONLY: darwin-abi.md 4.4 (checked there against bsd/netinet/tcp.h and in6.h)

# --- bsd/sys/socket.h: MSG_* flags (index id 63189503679 holds these lines as XNU writes them)
MSG_H = """
#define MSG_OOB 0x1 /* process out-of-band data */
#define MSG_PEEK 0x2 /* peek at incoming message */
#define MSG_DONTROUTE 0x4 /* send without using routing tables */
#define MSG_EOR 0x8 /* data completes record */
#define MSG_TRUNC 0x10 /* data discarded before delivery */
#define MSG_CTRUNC 0x20 /* control data lost before delivery */
#define MSG_WAITALL 0x40 /* wait for full request or error */
#define MSG_DONTWAIT 0x80 /* this message should be nonblocking */
#define MSG_EOF 0x100 /* data completes connection */
#define MSG_NOSIGNAL 0x80000 /* do not generate SIGPIPE on EOF */
#define SHUT_RD 0 /* shut down the reading side */
#define SHUT_WR 1 /* shut down the writing side */
#define SHUT_RDWR 2 /* shut down both sides */
"""

# --- bsd/sys/poll.h (index id 573829376)
POLL_H = """
#define POLLIN 0x0001 /* any readable data available */
#define POLLPRI 0x0002 /* OOB/Urgent readable data */
#define POLLOUT 0x0004 /* file descriptor is writeable */
#define POLLRDNORM 0x0040 /* non-OOB/URG data available */
#define POLLRDBAND 0x0080 /* OOB/Urgent readable data */
#define POLLWRBAND 0x0100 /* OOB/Urgent data can be written */
#define POLLEXTEND 0x0200 /* file may have been extended */
#define POLLATTRIB 0x0400 /* file attributes may have changed */
#define POLLNLINK 0x0800 /* (un)link/rename may have happened */
#define POLLWRITE 0x1000 /* file's contents may have changed */
#define POLLERR 0x0008 /* some poll error occurred */
#define POLLHUP 0x0010 /* file descriptor was "hung up" */
#define POLLNVAL 0x0020 /* requested events "invalid" */
"""

# --- bsd/sys/fcntl.h (index id 5407123): fcntl commands and the *at() flags
FCNTL_CMDS_H = """
#define F_DUPFD 0 /* duplicate file descriptor */
#define F_GETFD 1 /* get file descriptor flags */
#define F_SETFD 2 /* set file descriptor flags */
#define F_GETFL 3 /* get file status flags */
#define F_SETFL 4 /* set file status flags */
#define F_GETOWN 5 /* get SIGIO/SIGURG proc/pgrp */
#define F_SETOWN 6 /* set SIGIO/SIGURG proc/pgrp */
#define F_GETLK 7 /* get record locking information */
#define F_SETLK 8 /* set record locking information */
#define F_SETLKW 9 /* F_SETLK; wait if blocked */
#define F_NOCACHE 48 /* turn data caching off/on for this fd */
#define F_GETPATH 50 /* return the full path of the fd */
#define F_FULLFSYNC 51 /* fsync + ask the drive to flush to the media */
#define F_SETNOSIGPIPE 73 /* No SIGPIPE generated on EPIPE */
#define F_GETNOSIGPIPE 74 /* Status of SIGPIPE for this fd */
#define F_DUPFD_CLOEXEC 67 /* mark the dup with FD_CLOEXEC */
#define FD_CLOEXEC 1 /* close-on-exec flag */
#define AT_EACCESS 0x0010 /* Use effective ids in access check */
#define AT_SYMLINK_NOFOLLOW 0x0020 /* Act on the symlink itself not the target */
#define AT_SYMLINK_FOLLOW 0x0040 /* Act on target of symlink */
#define AT_REMOVEDIR 0x0080 /* Path refers to directory */
#define AT_REALDEV 0x0200 /* Return real device inodes resides on for fstatat(2) */
#define AT_FDONLY 0x0400 /* Use only the fd and Ignore the path for fstatat(2) */
#define AT_SYMLINK_NOFOLLOW_ANY 0x0800 /* Path should not contain any symlinks */
"""
# AT_FDCWD is "#define AT_FDCWD -2" in the same lines (a negative number: checked apart)
AT_FDCWD = -2
# AT_REMOVEDIR_DATALESS (0x100) is not in that version of the header: darwin-abi.md 4.8
NOT_IN_FCNTL_CMDS_H = {"AT_REMOVEDIR_DATALESS"}

# darwin-abi.md 4.5/4.10/4.11/4.12 (each checked there against XNU): values the index holds no
# copy of the header for.  Listed here, once, as the Darwin numbers the tables must match.
ABI_NOTES = {
    "SA": {
        "SA_ONSTACK": 0x1,
        "SA_RESTART": 0x2,
        "SA_RESETHAND": 0x4,
        "SA_NOCLDSTOP": 0x8,
        "SA_NODEFER": 0x10,
        "SA_NOCLDWAIT": 0x20,
        "SA_SIGINFO": 0x40,
    },
    "HOW": {"SIG_BLOCK": 1, "SIG_UNBLOCK": 2, "SIG_SETMASK": 3},
    "MAP": {
        "MAP_SHARED": 0x1,
        "MAP_PRIVATE": 0x2,
        "MAP_FIXED": 0x10,
        "MAP_NORESERVE": 0x40,
        "MAP_NOCACHE": 0x400,
        "MAP_JIT": 0x800,
        "MAP_ANON": 0x1000,
        "MAP_32BIT": 0x8000,
    },
    "IOCTL": {
        "FIOCLEX": 0x20006601,
        "FIONCLEX": 0x20006602,
        "FIONBIO": 0x8004667E,
        "FIONREAD": 0x4004667F,
        "TIOCGWINSZ": 0x40087468,
        "TIOCGETA": 0x40487413,
    },
    "RLIMIT": {
        "RLIMIT_CPU": 0,
        "RLIMIT_FSIZE": 1,
        "RLIMIT_DATA": 2,
        "RLIMIT_STACK": 3,
        "RLIMIT_CORE": 4,
        "RLIMIT_AS": 5,
        "RLIMIT_MEMLOCK": 6,
        "RLIMIT_NPROC": 7,
        "RLIMIT_NOFILE": 8,
    },
    "KERN": {"ostype": 1, "osrelease": 2, "version": 4, "argmax": 8, "hostname": 10, "osversion": 65},
    "HW": {"machine": 1, "ncpu": 3, "pagesize": 7, "memsize": 24},
}

# --- bsd/sys/signal.h (commit 1031c584, the one version held)
SIGNAL_H = """
#define SIGHUP 1 /* hangup */
#define SIGINT 2 /* interrupt */
#define SIGQUIT 3 /* quit */
#define SIGILL 4 /* illegal instruction (not reset when caught) */
#define SIGTRAP 5 /* trace trap (not reset when caught) */
#define SIGABRT 6 /* abort() */
#define SIGEMT 7 /* EMT instruction */
#define SIGFPE 8 /* floating point exception */
#define SIGKILL 9 /* kill (cannot be caught or ignored) */
#define SIGBUS 10 /* bus error */
#define SIGSEGV 11 /* segmentation violation */
#define SIGSYS 12 /* bad argument to system call */
#define SIGPIPE 13 /* write on a pipe with no one to read it */
#define SIGALRM 14 /* alarm clock */
#define SIGTERM 15 /* software termination signal from kill */
#define SIGURG 16 /* urgent condition on IO channel */
#define SIGSTOP 17 /* sendable stop signal not from tty */
#define SIGTSTP 18 /* stop signal from tty */
#define SIGCONT 19 /* continue a stopped process */
#define SIGCHLD 20 /* to parent on child stop or exit */
#define SIGTTIN 21 /* to readers pgrp upon background tty read */
#define SIGTTOU 22 /* like TTIN for output if (tp->t_local&LTOSTOP) */
#define SIGIO 23 /* input/output possible signal */
#define SIGXCPU 24 /* exceeded CPU time limit */
#define SIGXFSZ 25 /* exceeded file size limit */
#define SIGVTALRM 26 /* virtual time alarm */
#define SIGPROF 27 /* profiling time alarm */
#define SIGWINCH 28 /* window size changes */
#define SIGINFO 29 /* information request */
#define SIGUSR1 30 /* user defined signal 1 */
#define SIGUSR2 31 /* user defined signal 2 */
"""

# --- bsd/sys/wait.h @ e3723e1f
WAIT_H = """
#define WNOHANG 0x00000001 /* [XSI] no hang in wait/no child to reap */
#define WUNTRACED 0x00000002 /* [XSI] notify on stop, untraced child */
#define WCOREFLAG 0200
#define _WSTOPPED 0177 /* _WSTATUS if process is stopped */
#define WEXITED 0x00000004 /* [XSI] Processes which have exitted */
#define WCONTINUED 0x00000010 /* [XSI] Any child stopped then continued */
#define WNOWAIT 0x00000020 /* [XSI] Leave process returned waitable */
#define W_EXITCODE(ret, sig) ((ret) << 8 | (sig))
#define W_STOPCODE(sig) ((sig) << 8 | _WSTOPPED)
"""


def defines(text: str) -> dict[str, int]:
    """NAME -> value for every ``#define NAME <number>`` (C hex, octal or decimal) in ``text``."""
    out = {}
    for m in re.finditer(r"^(?://\s*|#define\s+)(\w+)\s+(0x[0-9a-fA-F]+|0[0-7]*|[1-9]\d*)\b", text, re.M):
        out[m.group(1)] = int(m.group(2), 0) if not re.fullmatch(r"0[0-7]+", m.group(2)) else int(m.group(2), 8)
    return out


RET = {"int": "int", "user_ssize_t": "ssize", "off_t": "ssize", "user_addr_t": "ssize", "void": "void"}
POINTERS = {"user_addr_t", "caddr_t", "caddr_ut"}


def kinds_for(c_type: str) -> tuple[type, ...]:
    """The argument kinds that decode a register of this C type correctly."""
    if "*" in c_type or c_type in POINTERS:
        return (Ptr, CStr, InBuf)
    return {
        "int": (Int,),
        "u_int": (UInt,),
        "socklen_t": (UInt,),
        "uint32_t": (UInt,),
        "user_size_t": (Size,),
        "size_t": (Size,),
        "size_ut": (Size,),
        "off_t": (Off,),
        "u_long": (ULong,),
        "long": (Long,),
    }[c_type]


# --------------------------------------------------------------------- the table


def test_the_pinned_excerpt_parses() -> None:
    rows = master_rows()
    assert len(rows) == SYSCALLS_MASTER.strip().count("\n") + 1
    assert rows[30] == ("int", "accept", ["int", "caddr_t", "socklen_t *"])
    assert rows[1] == ("void", "exit", ["int"])


@pytest.mark.parametrize("num", sorted(SYSCALLS))
def test_every_row_matches_syscalls_master(num: int) -> None:
    ret, name, args = master_rows()[num]
    row: Syscall = SYSCALLS[num]
    assert row.name == user_name(name)
    assert row.ret == RET[ret]  # decides how x0/x1 are written (int vs 64-bit)
    assert len(row.args) == len(args)
    for kind, c_type in zip(row.args, args, strict=True):
        assert isinstance(kind, kinds_for(c_type)), (row.name, c_type, kind)
        if isinstance(kind, InBuf):  # its length register has the right width
            len_type = args[kind.len_at]
            assert kind.len_mask == (MASK32 if len_type == "socklen_t" else MASK64), (row.name, len_type)
    # a row without a handler is a call we know and do not implement (ENOSYS), and says so
    assert (row.handler is None) == row.note.startswith("not implemented"), row.name


def test_nocancel_twins_are_their_base_calls() -> None:
    # the twins as XNU names them: every X_nocancel of the pinned excerpt and the row named X
    by_name = {user_name(name): num for num, (_, name, _) in master_rows().items()}
    twins = {n: by_name[name.removesuffix("_nocancel")] for name, n in by_name.items() if name.endswith("_nocancel")}
    assert twins == NOCANCEL
    for num, base in twins.items():
        assert SYSCALLS[num].name == SYSCALLS[base].name + "_nocancel"
        assert SYSCALLS[num].handler is SYSCALLS[base].handler
        assert SYSCALLS[num].args == SYSCALLS[base].args and SYSCALLS[num].ret == SYSCALLS[base].ret
        # and XNU agrees that the twin takes the same arguments
        assert master_rows()[num][2] == master_rows()[base][2]


def test_the_calls_ymawky_needs_all_have_handlers() -> None:
    needed = {1, 2, 3, 4, 5, 6, 7, 20, 30, 37, 39, 97, 104, 105, 106, 199, 338, 339, 340, 396, 397, 398, 399, 400, 404}
    assert needed <= {n for n, row in SYSCALLS.items() if row.handler is not None}


# issue 4: every one of these, by name, has a row and a handler (the _nocancel twins too)
REQUIRED = """exit fork read write open close wait4 link unlink chdir fchdir getpid getppid getuid geteuid
getgid accept getpeername getsockname recvfrom sendto access kill dup dup2 pipe sigaction sigprocmask ioctl
fcntl select poll fsync socket connect bind setsockopt getsockopt listen gettimeofday getrusage readv writev
rename shutdown mkdir rmdir pread pwrite mmap munmap mprotect lseek ftruncate getrlimit setrlimit sysctl
sendfile stat64 fstat64 lstat64 fstatat64 getdirentries64 openat renameat unlinkat mkdirat getentropy""".split()


def test_every_call_the_issue_requires_has_a_row_with_a_handler() -> None:
    by_name = {row.name: row for row in SYSCALLS.values()}
    missing = [n for n in REQUIRED if n not in by_name or by_name[n].handler is None]
    assert missing == []
    # every _nocancel row syscalls.master has for those calls is here too
    for num, (_, name, _) in master_rows().items():
        if name.endswith("_nocancel") and user_name(name).removesuffix("_nocancel") in REQUIRED:
            assert num in SYSCALLS, name


def test_the_markdown_table_lists_every_row_with_its_number() -> None:
    from syscalls.table import markdown

    text = markdown()
    for num, row in SYSCALLS.items():
        assert f"| {num} | {row.name} |" in text


# --------------------------------------------------------------------- errno


def test_errno_table_is_bsd_sys_errno_h() -> None:
    want = defines(ERRNO_H)
    elast = want.pop("ELAST")
    assert DARWIN_ERRNO == want
    assert max(DARWIN_ERRNO.values()) == elast == 106
    assert sorted(DARWIN_ERRNO.values()) == list(range(1, 107))  # no gaps, no duplicates


@pytest.mark.parametrize(
    ("host", "darwin"),
    [
        ("EADDRINUSE", 48),
        ("ELOOP", 62),
        ("EAGAIN", 35),
        ("ENOTEMPTY", 66),
        ("ENAMETOOLONG", 63),
        ("ECONNRESET", 54),
        ("ENOSYS", 78),
        ("EOVERFLOW", 84),
        ("EPIPE", 32),
        ("ENOENT", 2),
    ],
)
def test_host_errors_reach_the_guest_by_name(host: str, darwin: int) -> None:
    assert from_host(getattr(host_errno, host)) == darwin


def test_host_errors_without_a_darwin_twin_become_eio_and_enotsup_depends_on_the_call() -> None:
    assert from_host(getattr(host_errno, "ENOMEDIUM", 123)) == 5
    assert from_host(None) == 5
    assert from_host(host_errno.EOPNOTSUPP, socket=True) == 102
    assert from_host(host_errno.EOPNOTSUPP, socket=False) == 45


# --------------------------------------------------------------------- constants


def test_open_flags_are_bsd_sys_fcntl_h() -> None:
    want = defines(FCNTL_H)
    assert {name: want[name] for _, (name, _) in consts.O_ACCESS.items()} == {
        name: acc for acc, (name, _) in consts.O_ACCESS.items()
    }
    assert consts.O_ACCMODE == want["O_ACCMODE"]
    ours = {name: bit for name, bit, _ in consts.OPEN_FLAGS.rows}
    checked = {name: bit for name, bit in ours.items() if name not in NOT_IN_FCNTL_H}
    assert checked == {name: want[name] for name in checked}
    assert set(ours) - set(checked) == NOT_IN_FCNTL_H
    for name in ("O_NOFOLLOW", "O_CREAT", "O_DIRECTORY", "O_NOFOLLOW_ANY", "O_CLOEXEC"):
        assert getattr(consts, name) == want[name]


def test_socket_constants_are_bsd_sys_socket_h() -> None:
    want = defines(SOCKET_H) | defines(NETINET_H)
    assert consts.SOL_SOCKET == want["SOL_SOCKET"] == 0xFFFF
    assert {num: name for num, (name, _) in consts.AF.items()} == {
        want[n]: n for n in ("AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_INET6")
    }
    assert want["AF_INET6"] == 30
    assert {num: name for num, (name, _) in consts.SOCK_TYPE.items()} == {
        want[n]: n for n in ("SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_SEQPACKET")
    }
    assert {num: name for num, (name, _) in consts.LEVELS.items()} == {
        want[n]: n for n in ("SOL_SOCKET", "IPPROTO_IP", "IPPROTO_TCP", "IPPROTO_UDP", "IPPROTO_IPV6")
    }
    for (level, num), (name, _) in consts.SOCKOPTS.items():
        assert want[name] == num, name
        expect_level = {"SO": "SOL_SOCKET", "TC": "IPPROTO_TCP", "IP": "IPPROTO_IPV6"}[name[:2]]
        assert level == want[expect_level], name


def test_msg_flags_and_shutdown_are_bsd_sys_socket_h() -> None:
    want = defines(MSG_H)
    assert {name: bit for name, bit, _ in consts.MSG_FLAGS.rows} == {
        n: v for n, v in want.items() if n.startswith("MSG_")
    }
    assert {num: name for num, (name, _) in consts.SHUT.items()} == {
        want[n]: n for n in ("SHUT_RD", "SHUT_WR", "SHUT_RDWR")
    }
    assert consts.MSG_FLAGS.to_host(0x80) == host_socket.MSG_DONTWAIT  # 0x40 on Linux
    assert consts.MSG_FLAGS.to_darwin(host_socket.MSG_WAITALL) == 0x40


def test_poll_bits_are_bsd_sys_poll_h_and_translate_bit_by_bit() -> None:
    assert {name: bit for name, bit, _ in consts.POLL_BITS.rows} == defines(POLL_H)
    import select

    # Darwin POLLWRBAND 0x100 is Linux 0x200, which is Darwin's POLLEXTEND: never confused
    assert consts.POLL_BITS.to_host(0x100) == select.POLLWRBAND
    assert consts.POLL_BITS.to_darwin(select.POLLWRBAND) == 0x100
    assert consts.POLL_BITS.to_darwin(select.POLLWRNORM) == 0  # Linux-only 0x100


def test_fcntl_commands_and_at_flags_are_bsd_sys_fcntl_h() -> None:
    from syscalls import consts_sys

    want = defines(FCNTL_CMDS_H)
    assert {name: num for num, name in consts_sys.FCNTL_CMDS.items()} == {
        n: v for n, v in want.items() if n.startswith("F_") and n != "FD_CLOEXEC"
    }
    assert consts_sys.FD_CLOEXEC == want["FD_CLOEXEC"]
    ours = {name: bit for name, bit, _ in consts_sys.AT_FLAGS.rows}
    assert {n: v for n, v in ours.items() if n not in NOT_IN_FCNTL_CMDS_H} == {
        n: v for n, v in want.items() if n.startswith("AT_")
    }
    assert consts_sys.AT_FDCWD == AT_FDCWD


def test_signal_actions_masks_mmap_ioctl_rlimits_and_sysctl_are_darwins() -> None:
    from syscalls import consts_sys, sysinfo

    assert {name: bit for name, bit, _ in consts.SA_FLAGS.rows} == ABI_NOTES["SA"]
    assert {name: how for how, (name, _) in consts.SIGPROCMASK_HOW.items()} == ABI_NOTES["HOW"]
    assert {n: consts_sys.MAP[n] for n in ABI_NOTES["MAP"]} == ABI_NOTES["MAP"]
    assert {name: num for num, name in consts_sys.IOCTLS.items()} == ABI_NOTES["IOCTL"]
    assert {name: num for num, (name, _) in consts_sys.RLIMITS.items()} == ABI_NOTES["RLIMIT"]
    assert consts_sys.RLIM_INFINITY == (1 << 63) - 1
    assert {n: consts_sys.KERN[n] for n in ABI_NOTES["KERN"]} == ABI_NOTES["KERN"]
    assert {n: consts_sys.HW[n] for n in ABI_NOTES["HW"]} == ABI_NOTES["HW"]
    assert (consts_sys.CTL_KERN, consts_sys.CTL_HW) == (1, 6)
    assert sysinfo.OSTYPE == "Darwin" and sysinfo.PAGESIZE == 16384
    # the host side of each table is the host's own numbers (Linux differs for several)
    import resource

    assert consts_sys.RLIMITS[8][1] == resource.RLIMIT_NOFILE
    assert consts_sys.RLIMITS[5][1] == resource.RLIMIT_AS


def test_signals_are_bsd_sys_signal_h() -> None:
    want = defines(SIGNAL_H)
    assert consts.SIGNALS == {num: name for name, num in want.items()}


def test_wait_options_and_status_encoding_are_bsd_sys_wait_h() -> None:
    want = defines(WAIT_H)
    assert {name: bit for name, bit, _ in consts.WAIT_OPTIONS.rows} == {
        n: want[n] for n in ("WNOHANG", "WUNTRACED", "WCONTINUED")
    }
    assert consts.W_CORE == want["WCOREFLAG"] == 0o200
    # W_EXITCODE(ret, 0), WTERMSIG = the Darwin number, W_STOPCODE(sig): re-encoded from host words
    assert consts.wait_status_from_host(7 << 8) == 7 << 8
    assert consts.wait_status_from_host(int(signal.SIGUSR1)) == 30
    assert consts.wait_status_from_host(int(signal.SIGBUS) | 0x80) == 10 | 0o200
    stopped = (int(signal.SIGTSTP) << 8) | 0x7F
    assert os.WIFSTOPPED(stopped)
    assert consts.wait_status_from_host(stopped) == (18 << 8) | want["_WSTOPPED"]


# --------------------------------------------------------------------- a number the table lacks


def test_unimplemented_syscall_is_enosys_reported_once_per_number(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert SYSCALLS[58].handler is None and 501 not in SYSCALLS
    run = run_guest(
        """
        mov     x16, #58
    first_58:
        svc     #0x80
        RECORD
        mov     x16, #58
        svc     #0x80
        RECORD
        mov     x16, #501
    first_501:
        svc     #0x80
        RECORD
        mov     x16, #58
        svc     #0x80
        RECORD
    """,
        tmp=tmp_path,
    )
    assert run.status == 0
    assert run.results == [(78, 0, True)] * 4  # ENOSYS, carry set, x1 = 0
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 2
    for line, num, name, label in ((lines[0], 58, "readlink", "first_58"), (lines[1], 501, "unknown", "first_501")):
        svc = run.addr(label)
        assert f"{num} ({name})" in line
        assert f"{svc:#x}" in line or f"{svc + 4:#x}" in line  # the pc of the trap
        assert label in line


def test_strict_stops_at_the_first_unimplemented_syscall(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    run = run_guest(
        """
        mov     x16, #58
        svc     #0x80
        RECORD
    """,
        tmp=tmp_path,
        strict=True,
    )
    assert run.status == 128 + 12  # as if killed by SIGSYS
    assert run.results == []  # nothing ran after the trap
    err = capfd.readouterr().err
    assert "58" in err and "readlink" in err


def test_every_syscall_number_ymawky_s_declares_is_xnus() -> None:
    """ymawky.s spells its own numbers (.equ SYS_name, N): each must be that call's row in the
    pinned syscalls.master, so the server cannot drift from the kernel it is written for."""
    source = (Path(__file__).resolve().parent.parent / "ymawky.s").read_text()
    declared = {m.group(1): int(m.group(2), 0) for m in re.finditer(r"^\.equ\s+SYS_(\w+),\s*(\w+)", source, re.M)}
    assert len(declared) >= 20, declared
    by_name = {user_name(name): num for num, (_, name, _) in master_rows().items()}
    wrong = {name: (num, by_name.get(name)) for name, num in declared.items() if by_name.get(name) != num}
    assert not wrong, f"ymawky.s .equ SYS_* vs syscalls.master (ymawky.s, xnu): {wrong}"
