/* The hot Darwin syscalls, answered in C on the guest's own thread.
 *
 * Unicorn calls fc_hook at every CPU exception of a guest process.  For the
 * calls a web server makes per request (read, write, poll, sendfile,
 * gettimeofday, fstat64, a file's close) it does the host call here and writes x0, x1 and the
 * carry back, without Python and so without the GIL, which every guest
 * process's thread would otherwise queue for.  Everything else, and every
 * case these handlers do not fully own, goes to the Python hook (`python`),
 * which answers exactly as before: this file is a shortcut, and
 * syscalls/ stays the reference (tests/test_fastcalls.py runs the same guests
 * both ways and compares).
 *
 * The rule for handing a call over: only before it has an effect (nothing
 * read, nothing sent), so that Python doing it again is doing it once.
 *
 * Nothing Darwin- or Unicorn-specific is typed here: syscall numbers, kind
 * bits, the carry bit, the stat64 field offsets, the clock ratio and the sizes Python
 * shares with us (FC_RANGES, FC_CLOSED) come as
 * -D definitions, and the errno and poll-bit tables and register ids at
 * fc_cpu_new, all from the Python declarations (emu/native/fastcalls.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FC_BUF (256 * 1024) /* the largest read or write answered here */
#define FC_POLL 16          /* the most pollfds answered here */
#define FC_ERRNOS 256

/* ------------------------------------------------------------ state */

/* One open file (emu/host/descriptors.py's OpenFile), shared by its dups. */
struct fc_file {
    int32_t host;       /* host descriptor */
    int32_t kind;       /* FC_* bits; 0: every call on it goes to Python */
    int32_t nonblock;   /* the guest's O_NONBLOCK */
    int32_t nosigpipe;  /* SO_NOSIGPIPE / F_SETNOSIGPIPE */
};

/* One process's descriptor table: guest number -> open file (NULL: closed).  A regular
 * file's close is answered here and noted in `closed`; Python takes the list before it
 * answers any call of this process (Descriptors.settle), and only then closes the file
 * on the host and frees the number, so it never sees a number C has closed as open. */
struct fc_table {
    int32_t size;
    int32_t nclosed;
    int32_t closed[FC_CLOSED];
    struct fc_file *fd[];
};

typedef int (*batch_fn)(void *uc, int *ids, void **vals, int count);
typedef int (*mem_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);
typedef void (*intr_fn)(void *uc, uint32_t intno, void *data);

/* One Unicorn instance and whichever process owns it now. */
struct fc_cpu {
    struct fc_table *table;     /* the owner's descriptors */
    volatile int32_t sticky;    /* nonzero: every call goes to Python (tracing, handlers, a debugger) */
    volatile int32_t kicked;    /* a signal or the end of the run came (any thread sets it) */
    int32_t wake_r;             /* the owner's wake pipe: a signal ends our waits */
    int32_t nranges;
    uint64_t range[FC_RANGES][2]; /* writable guest memory [lo, hi) */
    intr_fn python;             /* the Python hook */
    void *python_data;
    batch_fn reg_read, reg_write;
    mem_fn mem_read, mem_write;
    int in_ids[10];             /* x0..x7, x16, nzcv */
    int out_ids[3];             /* x0, x1, nzcv */
    uint8_t errno_map[FC_ERRNOS]; /* host errno -> Darwin errno (0: hand to Python) */
    uint32_t poll_to_host[16], poll_to_darwin[16]; /* bit i of one side -> bits of the other */
    uint64_t answered, handed;  /* calls answered here / handed to Python */
    uint64_t pipe_fd;           /* for the SIGPIPE upcall: the descriptor */
    char *buf;
};

/* ------------------------------------------------------------ set-up (from Python) */

struct fc_cpu *fc_cpu_new(void) {
    struct fc_cpu *c = calloc(1, sizeof *c);
    if (c != NULL && (c->buf = malloc(FC_BUF)) == NULL) {
        free(c);
        return NULL;
    }
    if (c != NULL)
        c->sticky = 1, c->wake_r = -1;
    return c;
}

void fc_cpu_setup(struct fc_cpu *c, intr_fn python, void *python_data, batch_fn rr, batch_fn rw,
                  mem_fn mr, mem_fn mw, const int *in_ids, const int *out_ids,
                  const uint8_t *errno_map, const uint32_t *to_host, const uint32_t *to_darwin) {
    c->python = python, c->python_data = python_data;
    c->reg_read = rr, c->reg_write = rw, c->mem_read = mr, c->mem_write = mw;
    memcpy(c->in_ids, in_ids, sizeof c->in_ids);
    memcpy(c->out_ids, out_ids, sizeof c->out_ids);
    memcpy(c->errno_map, errno_map, sizeof c->errno_map);
    memcpy(c->poll_to_host, to_host, sizeof c->poll_to_host);
    memcpy(c->poll_to_darwin, to_darwin, sizeof c->poll_to_darwin);
}

void fc_cpu_own(struct fc_cpu *c, struct fc_table *t, int wake_r) { c->table = t, c->wake_r = wake_r; }
void fc_cpu_sticky(struct fc_cpu *c, int on) { c->sticky = on; }
void fc_cpu_kick(struct fc_cpu *c) { __atomic_store_n(&c->kicked, 1, __ATOMIC_SEQ_CST); }
uint64_t fc_cpu_count(struct fc_cpu *c, int handed) { return handed ? c->handed : c->answered; }
uint64_t fc_cpu_pipe_fd(struct fc_cpu *c) { return c->pipe_fd; }

void fc_cpu_ranges(struct fc_cpu *c, const uint64_t *pairs, int n) {
    if (n > FC_RANGES)
        n = 0; /* more than we hold: no range is known, every buffer goes to Python */
    memcpy(c->range, pairs, sizeof(uint64_t) * 2 * n);
    c->nranges = n;
}

struct fc_table *fc_table_new(int size) {
    struct fc_table *t = calloc(1, sizeof *t + sizeof(struct fc_file *) * size);
    if (t != NULL)
        t->size = size;
    return t;
}
void fc_table_free(struct fc_table *t) { free(t); }
void fc_table_set(struct fc_table *t, int n, struct fc_file *f) {
    if (n >= 0 && n < t->size)
        t->fd[n] = f;
}

/* Where the count of closes lies in a table: Python reads it in place before each call. */
int fc_table_nclosed_offset(void) { return (int)offsetof(struct fc_table, nclosed); }

/* The numbers C closed since the last call (at most FC_CLOSED), into out; their count. */
int fc_table_take_closed(struct fc_table *t, int32_t *out) {
    int n = t->nclosed;
    memcpy(out, t->closed, sizeof(int32_t) * (size_t)n);
    t->nclosed = 0;
    return n;
}

int fc_file_size(void) { return sizeof(struct fc_file); }
void fc_file_init(struct fc_file *f, int host, int kind, int nonblock, int nosigpipe) {
    f->host = host, f->kind = kind, f->nonblock = nonblock, f->nosigpipe = nosigpipe;
}

/* fork's copy of memory (emu/machine.py's Machine.forked): from one Unicorn to another,
 * a page at a time, writing only the pages that differ.  A reused Unicorn already holds
 * most of the parent's pages, and a new mapping is zeros, as most of a bss is.  Called
 * without the GIL.  0, or -1 when a page could not be read or written. */
int fc_copy(struct fc_cpu *c, void *from, void *to, uint64_t lo, uint64_t size) {
    static __thread char mine[FC_PAGE], theirs[FC_PAGE];
    for (uint64_t at = lo; at < lo + size; at += FC_PAGE) {
        uint64_t n = lo + size - at < FC_PAGE ? lo + size - at : FC_PAGE;
        if (c->mem_read(from, at, mine, n) != 0 || c->mem_read(to, at, theirs, n) != 0)
            return -1;
        if (memcmp(mine, theirs, n) != 0 && c->mem_write(to, at, mine, n) != 0)
            return -1;
    }
    return 0;
}

/* open's common case in one host call, for emu/host/files.py (Files.open): a path with no
 * symlink allowed (O_NOFOLLOW_ANY) and no "..", looked up beneath the root's descriptor by
 * the host kernel (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), which refuses what the
 * walk in emu/paths.py would refuse.  The descriptor (and *is_dir), or -errno; on any error
 * Python walks the path itself for the errno a Mac gives. */
#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every Linux architecture */
#endif
struct fc_open_how {
    uint64_t flags, mode, resolve;
};
#define FC_RESOLVE_NO_MAGICLINKS 0x02
#define FC_RESOLVE_NO_SYMLINKS 0x04
#define FC_RESOLVE_BENEATH 0x08

int fc_open_beneath(int root, const char *path, int flags, int mode, int *is_dir) {
    struct fc_open_how how = {(uint64_t)(unsigned)flags, (uint64_t)(unsigned)mode,
                              FC_RESOLVE_BENEATH | FC_RESOLVE_NO_SYMLINKS | FC_RESOLVE_NO_MAGICLINKS};
    struct stat st;
    int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *is_dir = S_ISDIR(st.st_mode);
    return fd;
}

/* close(2) for Python with the GIL kept: a file's close is short */
int fc_close(int fd) { return close(fd) == 0 ? 0 : -errno; }

/* ------------------------------------------------------------ helpers */

struct call {
    struct fc_cpu *c;
    void *uc;
    uint64_t r[10];     /* x0..x7, x16, nzcv as read */
    uint64_t x0, x1;
    int carry;
};

/* The guest range [addr, addr+n) lies in one writable mapping (GuestMemory.probe). */
static int writable(const struct fc_cpu *c, uint64_t addr, uint64_t n) {
    uint64_t end = addr + n;
    if (end < addr)
        return 0;
    for (int i = 0; i < c->nranges; i++)
        if (c->range[i][0] <= addr && end <= c->range[i][1])
            return 1;
    return 0;
}

/* The open file behind guest descriptor x (NULL: not open here, or Python's to answer). */
static struct fc_file *file_of(const struct fc_cpu *c, uint64_t x, int need) {
    int32_t n = (int32_t)x;
    struct fc_file *f;
    if (n < 0 || n >= c->table->size || (f = c->table->fd[n]) == NULL)
        return NULL;
    return (f->kind & need) == need ? f : NULL;
}

static void ok(struct call *k, uint64_t x0) { k->x0 = x0, k->x1 = 0, k->carry = 0; }

/* A host error as the guest's: 0 when the table has no Darwin twin (Python answers). */
static int fail(struct call *k, int host_errno) {
    int e = host_errno > 0 && host_errno < FC_ERRNOS ? k->c->errno_map[host_errno] : 0;
    if (e == 0)
        return 0;
    k->x0 = (uint64_t)e, k->x1 = 0, k->carry = 1;
    return 1;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Descriptors._blocking's wait, for a guest-blocking stream part-way through a transfer:
 * 0 when host fd is ready, else the host errno (EINTR: woken by a signal; EAGAIN: the
 * socket's SO_SNDTIMEO passed). */
static int wait_ready(struct fc_cpu *c, const struct fc_file *f, short events, int64_t *deadline) {
    if (*deadline == 0) {
        struct timeval tv = {0, 0};
        socklen_t len = sizeof tv;
        int opt = events & POLLIN ? SO_RCVTIMEO : SO_SNDTIMEO;
        if ((f->kind & FC_SOCKET) && getsockopt(f->host, SOL_SOCKET, opt, &tv, &len) == 0 &&
            (tv.tv_sec || tv.tv_usec))
            *deadline = now_ms() + tv.tv_sec * 1000 + tv.tv_usec / 1000;
        else
            *deadline = -1;
    }
    for (;;) {
        int ms = -1;
        if (*deadline > 0) {
            int64_t left = *deadline - now_ms();
            if (left <= 0)
                return EAGAIN;
            ms = (int)left;
        }
        struct pollfd p[2] = {{f->host, events, 0}, {c->wake_r, POLLIN, 0}};
        int n = poll(p, 2, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (p[1].revents)
            return EINTR;
        if (n > 0)
            return 0;
    }
}

/* One send of a write: a socket's with MSG_NOSIGNAL (the host never raises SIGPIPE). */
static ssize_t put(const struct fc_file *f, const char *p, size_t n) {
    return (f->kind & FC_SOCKET) ? send(f->host, p, n, MSG_NOSIGNAL) : write(f->host, p, n);
}

/* A broken pipe after some bytes went: too late to hand the call over, so Python is asked
 * only for its SIGPIPE (signals.broken_pipe: unless SO_NOSIGPIPE), and the answer is EPIPE. */
static int broken_pipe(struct call *k, const struct fc_file *f, uint64_t gfd) {
    if (!f->nosigpipe) {
        k->c->pipe_fd = gfd;
        k->c->python(k->uc, FC_SIGPIPE_UPCALL, k->c->python_data);
    }
    return fail(k, EPIPE);
}

/* ------------------------------------------------------------ the calls
 * Each returns 1 with the answer in k, or 0: Python answers (nothing happened yet). */

/* read(fd, buf, n): fs.sys_read */
static int do_read(struct call *k) {
    struct fc_file *f = file_of(k->c, k->r[0], FC_RW);
    uint64_t buf = k->r[1], n = k->r[2];
    if (f == NULL || n > FC_BUF || !writable(k->c, buf, n))
        return 0;
    ssize_t got;
    int64_t deadline = 0;
    while ((got = read(f->host, k->c->buf, n)) < 0 && errno == EAGAIN && (f->kind & FC_STREAM) && !f->nonblock) {
        int why = wait_ready(k->c, f, POLLIN, &deadline); /* a guest-blocking read waits here */
        if (why == EINTR)
            return 0; /* a signal: nothing was read, and Python answers EINTR (or restarts) */
        if (why != 0)
            return fail(k, why); /* EAGAIN: SO_RCVTIMEO passed */
    }
    if (got < 0)
        return errno == EINTR ? 0 : fail(k, errno);
    if (got > 0 && k->c->mem_write(k->uc, buf, k->c->buf, (uint64_t)got) != 0) {
        if (f->kind & FC_REGULAR)
            lseek(f->host, -got, SEEK_CUR); /* the guest never got them: as sys_read */
        return fail(k, EFAULT);
    }
    ok(k, (uint64_t)got);
    return 1;
}

/* write(fd, buf, n): fs.sys_write and Descriptors._all */
static int do_write(struct call *k) {
    struct fc_file *f = file_of(k->c, k->r[0], FC_RW);
    uint64_t n = k->r[2];
    if (f == NULL || n > FC_BUF || k->c->mem_read(k->uc, k->r[1], k->c->buf, n) != 0)
        return 0;
    ssize_t sent = put(f, k->c->buf, n);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EPIPE || errno == EINTR)
            return 0; /* Python waits, or raises the guest's SIGPIPE */
        return fail(k, errno);
    }
    int64_t deadline = 0;
    while ((uint64_t)sent < n && (f->kind & FC_STREAM) && !f->nonblock) {
        int why = wait_ready(k->c, f, POLLOUT, &deadline);
        if (why == EINTR || why == EAGAIN)
            break; /* a signal, or SO_SNDTIMEO, after some went: the count so far */
        ssize_t more = why ? -1 : put(f, k->c->buf + sent, n - (uint64_t)sent);
        if (more < 0) {
            int e = why ? why : errno;
            if (e == EAGAIN || e == EINTR)
                continue;
            return e == EPIPE ? broken_pipe(k, f, k->r[0]) : fail(k, e);
        }
        sent += more;
        deadline = 0; /* as Descriptors._all: each send waits its own SO_SNDTIMEO */
    }
    ok(k, (uint64_t)sent);
    return 1;
}

/* Darwin's struct pollfd (structs.POLLFD) */
struct pfd {
    int32_t fd;
    int16_t events, revents;
};
_Static_assert(sizeof(struct pfd) == POLLFD_SIZE, "struct pollfd");

/* poll(fds, nfds, timeout): fds.sys_poll, when something is ready now or timeout is 0 */
static int do_poll(struct call *k) {
    struct fc_cpu *c = k->c;
    uint64_t ptr = k->r[0], nfds = k->r[1] & 0xFFFFFFFF;
    int32_t timeout = (int32_t)k->r[2];
    struct pfd in[FC_POLL];
    struct pollfd p[FC_POLL + 1];
    int idx[FC_POLL];
    if (nfds == 0 || nfds > FC_POLL || !writable(c, ptr, nfds * sizeof in[0]) ||
        c->mem_read(k->uc, ptr, in, nfds * sizeof in[0]) != 0)
        return 0;
    int np = 0;
    for (uint64_t i = 0; i < nfds; i++) {
        idx[i] = -1;
        if (in[i].fd < 0)
            continue;
        struct fc_file *f = in[i].fd < c->table->size ? c->table->fd[in[i].fd] : NULL;
        if (f == NULL)
            return 0; /* POLLNVAL: Python's to say */
        uint32_t ev = (uint16_t)in[i].events, host = 0;
        for (int b = 0; b < 16; b++)
            if (ev & (1u << b))
                host |= c->poll_to_host[b];
        idx[i] = np;
        p[np++] = (struct pollfd){f->host, (short)host, 0};
    }
    p[np] = (struct pollfd){c->wake_r, POLLIN, 0};
    int64_t until = timeout > 0 ? now_ms() + timeout : 0;
    int n;
    for (;;) {
        int64_t left = timeout > 0 ? until - now_ms() : timeout;
        n = poll(p, (nfds_t)np + 1, timeout > 0 && left < 0 ? 0 : (int)left);
        if (!(n < 0 && errno == EINTR))
            break;
    }
    if (n < 0 || p[np].revents)
        return 0; /* a signal came: poll has no effect, so Python does it again and answers EINTR */
    int count = 0;
    for (uint64_t i = 0; i < nfds; i++) {
        uint32_t rev = 0;
        if (idx[i] >= 0) {
            uint32_t host = (uint16_t)p[idx[i]].revents;
            for (int b = 0; b < 16; b++)
                if (host & (1u << b))
                    rev |= c->poll_to_darwin[b];
            rev &= (uint16_t)in[i].events | POLL_ALWAYS;
        }
        in[i].revents = (int16_t)rev;
        count += rev != 0;
    }
    if (c->mem_write(k->uc, ptr, in, nfds * sizeof in[0]) != 0)
        return fail(k, EFAULT);
    ok(k, (uint64_t)count);
    return 1;
}

/* sendfile(fd, s, offset, *len, hdtr, flags): net.sys_sendfile, without headers or trailers */
static int do_sendfile(struct call *k) {
    struct fc_cpu *c = k->c;
    struct fc_file *f = file_of(c, k->r[0], FC_REGULAR), *s = file_of(c, k->r[1], FC_SOCK_STREAM);
    int64_t offset = (int64_t)k->r[2], want;
    uint64_t len_ptr = k->r[3];
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    struct stat st;
    if (f == NULL || s == NULL || offset < 0 || len_ptr == 0 || k->r[4] != 0 || (int32_t)k->r[5] != 0 ||
        !writable(c, len_ptr, 8) || c->mem_read(k->uc, len_ptr, &want, 8) != 0 ||
        getpeername(s->host, (struct sockaddr *)&peer, &plen) != 0 || fstat(f->host, &st) != 0)
        return 0;
    int64_t sent = 0, pos = offset, deadline = 0;
    int err = 0;
    while (pos < st.st_size && (want == 0 || sent < want)) {
        int64_t left = st.st_size - pos;
        size_t count = (size_t)(want == 0 || want - sent > left ? left : want - sent);
        off_t at = pos;
        ssize_t n = sendfile(s->host, f->host, &at, count);
        if (n < 0 && errno == EAGAIN && !s->nonblock) {
            if (sent == 0)
                return 0; /* nothing went: Python waits for it */
            if ((err = wait_ready(c, s, POLLOUT, &deadline)) != 0)
                break; /* EINTR (a signal) or EAGAIN (SO_SNDTIMEO), as _blocking raises */
            continue;
        }
        if (n < 0) {
            if (sent == 0 && (errno == EPIPE || errno == EINTR))
                return 0; /* Python raises the guest's SIGPIPE */
            err = errno;
            break;
        }
        if (n == 0)
            break;
        sent += n, pos += n;
    }
    c->mem_write(k->uc, len_ptr, &sent, 8); /* *len is written back even when the call fails */
    if (err == EPIPE)
        return broken_pipe(k, s, k->r[1]);
    if (err)
        return fail(k, err);
    ok(k, 0);
    return 1;
}

/* gettimeofday(tp, tzp, mach_absolute_time): sysinfo.sys_gettimeofday */
static int do_gettimeofday(struct call *k) {
    uint64_t tp = k->r[0], tzp = k->r[1], mach = k->r[2];
    if ((tp && !writable(k->c, tp, 16)) || (tzp && !writable(k->c, tzp, 8)) || (mach && !writable(k->c, mach, 8)))
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (tp) {
        /* kern_time.c: tv_sec through uint32_t "to match arm64 commpage" */
        int64_t tv[2] = {(int64_t)(uint32_t)now.tv_sec, now.tv_nsec / 1000};
        tv[1] &= 0xFFFFFFFF; /* tv_usec is an int, then 4 bytes of padding */
        k->c->mem_write(k->uc, tp, tv, 16);
    }
    if (tzp) {
        int32_t tz[2] = {0, 0};
        k->c->mem_write(k->uc, tzp, tz, 8);
    }
    if (mach) {
        struct timespec m;
        clock_gettime(CLOCK_MONOTONIC, &m);
        unsigned __int128 ns = (unsigned __int128)m.tv_sec * 1000000000u + (uint64_t)m.tv_nsec;
        uint64_t ticks = (uint64_t)(ns * MACH_TICKS_NUM / MACH_TICKS_DEN);
        k->c->mem_write(k->uc, mach, &ticks, 8);
    }
    ok(k, 0);
    return 1;
}

/* fstat64(fd, buf): fs.sys_fstat64 through structs.pack_stat64 */
static void put32(char *b, int off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(char *b, int off, uint64_t v) { memcpy(b + off, &v, 8); }
static void put16(char *b, int off, uint16_t v) { memcpy(b + off, &v, 2); }
static uint32_t darwin_dev(dev_t d) { return (uint32_t)((major(d) & 0xFF) << 24 | (minor(d) & 0xFFFFFF)); }

static int do_fstat64(struct call *k) {
    struct fc_file *f = file_of(k->c, k->r[0], FC_STAT);
    uint64_t buf = k->r[1];
    struct stat st;
    char out[STAT64_SIZE];
    if (f == NULL || !writable(k->c, buf, STAT64_SIZE))
        return 0;
    if (fstat(f->host, &st) != 0)
        return fail(k, errno);
    memset(out, 0, sizeof out);
    put32(out, STAT64_ST_DEV, darwin_dev(st.st_dev));
    put16(out, STAT64_ST_MODE, (uint16_t)st.st_mode);
    put16(out, STAT64_ST_NLINK, st.st_nlink > 0xFFFF ? 0xFFFF : (uint16_t)st.st_nlink);
    put64(out, STAT64_ST_INO, st.st_ino);
    put32(out, STAT64_ST_UID, st.st_uid);
    put32(out, STAT64_ST_GID, st.st_gid);
    put32(out, STAT64_ST_RDEV, darwin_dev(st.st_rdev));
    put64(out, STAT64_ST_ATIME, (uint64_t)st.st_atim.tv_sec);
    put64(out, STAT64_ST_ATIME_NSEC, (uint64_t)st.st_atim.tv_nsec);
    put64(out, STAT64_ST_MTIME, (uint64_t)st.st_mtim.tv_sec);
    put64(out, STAT64_ST_MTIME_NSEC, (uint64_t)st.st_mtim.tv_nsec);
    put64(out, STAT64_ST_CTIME, (uint64_t)st.st_ctim.tv_sec);
    put64(out, STAT64_ST_CTIME_NSEC, (uint64_t)st.st_ctim.tv_nsec);
    put64(out, STAT64_ST_BIRTHTIME, (uint64_t)st.st_ctim.tv_sec); /* no birth time on the host */
    put64(out, STAT64_ST_BIRTHTIME_NSEC, (uint64_t)st.st_ctim.tv_nsec);
    put64(out, STAT64_ST_SIZE, (uint64_t)st.st_size);
    put64(out, STAT64_ST_BLOCKS, (uint64_t)st.st_blocks);
    put32(out, STAT64_ST_BLKSIZE, (uint32_t)st.st_blksize);
    if (k->c->mem_write(k->uc, buf, out, STAT64_SIZE) != 0)
        return fail(k, EFAULT);
    ok(k, 0);
    return 1;
}

/* close(fd) of a regular file: fs.sys_close, the host side left to Python (see fc_table) */
static int do_close(struct call *k) {
    struct fc_table *t = k->c->table;
    struct fc_file *f = file_of(k->c, k->r[0], FC_REGULAR);
    if (f == NULL || t->nclosed >= FC_CLOSED)
        return 0;
    t->fd[(int32_t)k->r[0]] = NULL;
    t->closed[t->nclosed++] = (int32_t)k->r[0];
    ok(k, 0);
    return 1;
}

/* ------------------------------------------------------------ the trap */

static int fast_call(uint32_t x16) {
    switch (x16 & 0x8000FFFF) {
    case SYS_READ: case SYS_WRITE: case SYS_POLL: case SYS_SENDFILE:
    case SYS_GETTIMEOFDAY: case SYS_FSTAT64: case SYS_CLOSE: return 1;
    default: return 0;
    }
}

void fc_hook(void *uc, uint32_t intno, void *data) {
    struct fc_cpu *c = data;
    struct call k = {c, uc, {0}, 0, 0, 0};
    int handled = 0;
    if (intno == EXCP_SWI && !c->sticky && c->table != NULL &&
        !__atomic_exchange_n(&c->kicked, 0, __ATOMIC_SEQ_CST)) {
        void *ptrs[10];
        for (int i = 0; i < 10; i++)
            ptrs[i] = &k.r[i];
        /* x16 alone first: a call we leave to Python costs it only this one read */
        if (c->reg_read(uc, &c->in_ids[8], &ptrs[8], 1) == 0 && fast_call((uint32_t)k.r[8]) &&
            c->reg_read(uc, c->in_ids, ptrs, 10) == 0) {
            uint32_t x16 = (uint32_t)k.r[8];
            switch (x16 & 0x8000FFFF) { /* a Mach trap (negative) or syscall 0 reaches no case */
            case SYS_READ: handled = do_read(&k); break;
            case SYS_WRITE: handled = do_write(&k); break;
            case SYS_POLL: handled = do_poll(&k); break;
            case SYS_SENDFILE: handled = do_sendfile(&k); break;
            case SYS_GETTIMEOFDAY: handled = do_gettimeofday(&k); break;
            case SYS_FSTAT64: handled = do_fstat64(&k); break;
            case SYS_CLOSE: handled = do_close(&k); break;
            default: break;
            }
        }
    }
    if (!handled) {
        c->handed++;
        c->python(uc, intno, c->python_data);
        return;
    }
    c->answered++;
    /* only x0, x1 and the carry change (darwin-abi.md 1.1); a read returns 64 bits, the
     * others an int, which these calls never make negative */
    uint64_t out[3] = {k.x0, k.x1, k.carry ? (k.r[9] | FC_CARRY) : (k.r[9] & ~(uint64_t)FC_CARRY)};
    void *ptrs[3] = {&out[0], &out[1], &out[2]};
    c->reg_write(uc, c->out_ids, ptrs, 3);
}
