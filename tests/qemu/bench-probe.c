/* tests/qemu/bench-probe.c: the guest half of the boot benchmark
 * (tests/qemu/bench), built static for the board and put into the benchmark
 * images as /usr/libexec/bench/probe.
 *
 *   probe [-s SERVICES] NAME...
 *
 * Started early by the init under test (iocinit: an object of start priority
 * 1; BusyBox init: /etc/init.d/S01bench-probe), it waits until the console of
 * every IOC NAME (/run/procserv/NAME/control) accepts a connection and greets
 * it with procServ's banner; then, every 20 ms, until every IOC answers
 * Channel Access: a caget of NAME:ai1 on each, spoken here (the board's EPICS
 * build has no caget): a UDP search, then over TCP the channel's creation and
 * a READ_NOTIFY that must return a value. Each milestone is written to
 * /dev/kmsg, so the kernel stamps it with the same clock as its own "Run
 * /sbin/init as init process" (the hand-off to init). Once every IOC answers,
 * it reads PID 1's memory from /proc/1/smaps_rollup (whichever init PID 1
 * is); with -s, first it waits until PID 1 has SERVICES children running
 * `sleep` (the benchmark's plain services, tests/qemu/bench -s), checked
 * every 20 ms for at most SERVICES_WAIT_MS, so the figure is taken with all of
 * them running. At the end the probe reads the kernel's log back and prints
 * one line on its standard output (the serial console):
 *
 *   BENCH n=N handoff=S first-console=S consoles=S ca=S pid1-rss=K pid1-pss=K
 *         pid1-private=K pid1-anon=K services=C console-refusals=R
 *         console-retries=T
 *
 * (one line) with the printk times in seconds (-1: not found), PID 1's Rss,
 * Pss, Private_Clean + Private_Dirty and Anonymous in KB (-1: not read), how
 * many of PID 1's children ran `sleep` when its memory was read, how many
 * connections an existing console socket refused, and how many of the
 * connections were the fallback's retries (below).
 *
 * The consoles are waited for with inotify, not polled on a grid: a console's
 * directory is watched for its socket (procServ binds it in place:
 * IN_CREATE; IN_MOVED_TO for one renamed into place), /run/procserv for the
 * consoles' directories (both inits make them just before they start
 * procServ), and /run for /run/procserv while it does not exist. The probe
 * sleeps in ppoll(2) between events, so it takes the IOCs' CPU only when
 * something happened in those directories (about six events per console:
 * its directory, procServ's info file, the socket, its chmod, chown and
 * chmod), and connects to a console as soon as its socket appears.
 * procServ binds, then listens: a socket found in between refuses
 * (ECONNREFUSED). Right after listen(2) procServ chmods and chowns its socket
 * (acceptItemUNIX::remakeConnection, procServ 2.7.0 as on the board), so the
 * socket's IN_ATTRIB says when to connect again, with no clock. A refused
 * socket is also tried again every RETRY_US, for a server that listens
 * without touching its socket afterwards: on the board BusyBox's boots never
 * get there (console-retries=0), iocinit's a few times a boot (16 procServs
 * start at once on the one CPU, and one can wait more than RETRY_US between
 * its bind and its listen). A directory that predates its watch is scanned
 * once the watch is set, and every console again when the kernel's event
 * queue overflowed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_IOCS 64
/* Where the consoles are: CONSOLE_ROOT/NAME/CONSOLE_SOCKET. */
#define CONSOLE_PARENT "/run"
#define CONSOLE_ROOT_NAME "procserv"
#define CONSOLE_ROOT CONSOLE_PARENT "/" CONSOLE_ROOT_NAME
#define CONSOLE_SOCKET "control"
/* How long a console whose socket refused waits for another try when no
 * IN_ATTRIB of its socket comes first. */
#define RETRY_US 10000
/* How long -s waits for PID 1's services, in the guest's clock. */
#define SERVICES_WAIT_MS 30000

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* Writes a milestone to the kernel's log (retried until /dev/kmsg exists:
 * the init under test mounts devtmpfs). */
static void milestone(const char *what)
{
    char line[128];
    int n = snprintf(line, sizeof line, "bench-probe: %s\n", what);
    for (;;) {
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, line, (size_t)n) < 0)
                perror("bench-probe: /dev/kmsg");
            close(fd);
            return;
        }
        sleep_ms(10);
    }
}

/* What connecting to a console found. */
enum console_state { CONSOLE_ABSENT, CONSOLE_NOT_YET, CONSOLE_ACCEPTS };

/* Whether the console of IOC `name` accepts a connection and procServ greets
 * it (its banner starts "@@@ Welcome to procServ"); CONSOLE_ABSENT while it
 * has no socket (nothing to do until one appears), CONSOLE_NOT_YET for a
 * socket that refused or gave no banner. */
static enum console_state console_try(const char *name)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char buf[512];
    size_t have = 0;
    enum console_state state = CONSOLE_NOT_YET;
    snprintf(addr.sun_path, sizeof addr.sun_path, CONSOLE_ROOT "/%s/" CONSOLE_SOCKET, name);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CONSOLE_NOT_YET;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        /* procServ sends telnet negotiation, then the banner. */
        while (state != CONSOLE_ACCEPTS && have < sizeof buf - 1 && poll(&p, 1, 5000) == 1) {
            ssize_t got = read(fd, buf + have, sizeof buf - 1 - have);
            if (got <= 0)
                break;
            have += (size_t)got;
            buf[have] = '\0';
            if (memmem(buf, have, "procServ", 8) != NULL)
                state = CONSOLE_ACCEPTS;
        }
    } else if (errno == ENOENT || errno == ENOTDIR) {
        state = CONSOLE_ABSENT;
    }
    close(fd);
    return state;
}

/* --- Waiting for the consoles: one inotify descriptor, a watch per level
 * (CONSOLE_PARENT while CONSOLE_ROOT is missing, CONSOLE_ROOT, each IOC's
 * directory). */
struct console {
    const char *name;
    int wd;                     /* its directory's watch, -1 before */
    char accepted, retry;       /* retry: its socket refused */
};

struct consoles {
    struct console c[MAX_IOCS];
    int n, left, inotify, root_wd, parent_wd;
    long long retry_at;         /* when refused sockets are tried again, 0: none */
    long refusals, retries;     /* connections refused; made by the fallback */
};

static long long monotonic_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Connects to console `i` and marks what it found. */
static void console_check(struct consoles *cs, int i)
{
    struct console *c = &cs->c[i];
    enum console_state state = console_try(c->name);
    c->retry = state == CONSOLE_NOT_YET;
    cs->refusals += c->retry;
    if (c->retry && cs->retry_at == 0)
        cs->retry_at = monotonic_us() + RETRY_US;
    if (state == CONSOLE_ACCEPTS) {
        c->accepted = 1;
        if (cs->left-- == cs->n)
            milestone("first console accepts");
        /* Here, not after the wait: closing the inotify descriptor waits
         * for the kernel's SRCU grace period, 4-8 ms of the guest's clock. */
        if (cs->left == 0)
            milestone("every console accepts");
    }
}

/* Watches console `i`'s directory if it exists by now, then checks the
 * console (its socket may predate the watch). */
static void console_watch(struct consoles *cs, int i)
{
    struct console *c = &cs->c[i];
    if (c->accepted)
        return;
    if (c->wd < 0) {
        char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
        snprintf(dir, sizeof dir, CONSOLE_ROOT "/%s", c->name);
        c->wd = inotify_add_watch(cs->inotify, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR);
    }
    if (c->wd >= 0)
        console_check(cs, i);
}

/* Watches CONSOLE_ROOT (or, while it is missing, CONSOLE_PARENT for it), then
 * every console's directory: at the start, when CONSOLE_ROOT appears, and
 * after the event queue overflowed. */
static void consoles_scan(struct consoles *cs)
{
    int mask = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR;
    if (cs->root_wd < 0)
        cs->root_wd = inotify_add_watch(cs->inotify, CONSOLE_ROOT, mask);
    if (cs->root_wd < 0) {
        if (cs->parent_wd < 0)
            cs->parent_wd = inotify_add_watch(cs->inotify, CONSOLE_PARENT, mask);
        if (cs->parent_wd < 0) {
            perror("bench-probe: " CONSOLE_PARENT);
            exit(1);
        }
        /* Made between the two watches: look again. */
        cs->root_wd = inotify_add_watch(cs->inotify, CONSOLE_ROOT, mask);
        if (cs->root_wd < 0)
            return;
    }
    for (int i = 0; i < cs->n; i++)
        console_watch(cs, i);
}

/* Acts on the events read from the inotify descriptor. */
static void consoles_events(struct consoles *cs)
{
    union {
        struct inotify_event event;
        char bytes[4096];
    } buf;
    int rescan = 0;
    for (;;) {
        ssize_t got = read(cs->inotify, buf.bytes, sizeof buf.bytes);
        if (got <= 0)
            break;
        for (char *at = buf.bytes; at < buf.bytes + got;) {
            const struct inotify_event *e = (const struct inotify_event *)at;
            at += sizeof *e + e->len;
            if (e->mask & IN_Q_OVERFLOW) {
                rescan = 1;
                continue;
            }
            if (e->len == 0)
                continue;
            if (e->wd == cs->parent_wd) {
                rescan |= strcmp(e->name, CONSOLE_ROOT_NAME) == 0;
                continue;
            }
            for (int i = 0; i < cs->n; i++) {
                if (cs->c[i].accepted)
                    continue;
                if (e->wd == cs->root_wd && strcmp(e->name, cs->c[i].name) == 0)
                    console_watch(cs, i);
                else if (e->wd == cs->c[i].wd && strcmp(e->name, CONSOLE_SOCKET) == 0)
                    console_check(cs, i);
            }
        }
    }
    if (rescan)
        consoles_scan(cs);
}

/* Waits until every console accepts; counts in `refusals` the connections a
 * console socket refused (or greeted with no banner) on the way, in `retries`
 * those made by the fallback. */
static void consoles_wait(char **names, int n, long *refusals, long *retries)
{
    static struct consoles cs;
    cs.n = cs.left = n;
    cs.root_wd = cs.parent_wd = -1;
    for (int i = 0; i < n; i++)
        cs.c[i] = (struct console){ .name = names[i], .wd = -1 };
    cs.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (cs.inotify < 0) {
        perror("bench-probe: inotify_init1");
        exit(1);
    }
    consoles_scan(&cs);
    while (cs.left > 0) {
        struct pollfd p = { .fd = cs.inotify, .events = POLLIN };
        struct timespec wait, *timeout = NULL;
        /* No timer once the refused consoles accepted through their events. */
        int refused = 0;
        for (int i = 0; i < n; i++)
            refused |= !cs.c[i].accepted && cs.c[i].retry;
        if (!refused)
            cs.retry_at = 0;
        if (cs.retry_at != 0) {
            long long left = cs.retry_at - monotonic_us();
            if (left < 0)
                left = 0;
            wait = (struct timespec){ left / 1000000, (left % 1000000) * 1000 };
            timeout = &wait;
        }
        int ready = ppoll(&p, 1, timeout, NULL);
        if (ready < 0 && errno != EINTR) {
            perror("bench-probe: ppoll");
            exit(1);
        }
        if (ready > 0)
            consoles_events(&cs);
        if (cs.retry_at != 0 && monotonic_us() >= cs.retry_at) {
            cs.retry_at = 0;
            for (int i = 0; i < n; i++)
                if (!cs.c[i].accepted && cs.c[i].retry) {
                    cs.retries++;
                    console_check(&cs, i);
                }
        }
    }
    close(cs.inotify);
    *refusals = cs.refusals;
    *retries = cs.retries;
}

/* --- Channel Access, as caget speaks it (the protocol of EPICS base's
 * ca/client: every message a 16-byte big-endian header, payloads padded to
 * 8 bytes, minor protocol version 13). */
enum {
    CA_VERSION = 0, CA_READ_NOTIFY = 15, CA_SEARCH = 6, CA_ERROR = 11, CA_CREATE_CHAN = 18,
    CA_CREATE_CH_FAIL = 26, CA_MINOR = 13, CA_DONT_REPLY = 5, DBR_DOUBLE = 6, ECA_NORMAL = 1,
};
#define CA_PORT 5064
#define CA_HEADER 16

struct ca_header {
    unsigned cmd, size, type, count;
    uint32_t p1, p2;
};

static size_t ca_put(unsigned char *out, unsigned cmd, const char *payload, unsigned type, unsigned count,
                     uint32_t p1, uint32_t p2)
{
    size_t len = payload ? strlen(payload) + 1 : 0, padded = (len + 7) & ~(size_t)7;
    uint16_t h16[4] = { htons(cmd), htons((uint16_t)padded), htons(type), htons(count) };
    uint32_t h32[2] = { htonl(p1), htonl(p2) };
    memcpy(out, h16, 8);
    memcpy(out + 8, h32, 8);
    memset(out + CA_HEADER, 0, padded);
    if (payload)
        memcpy(out + CA_HEADER, payload, len);
    return CA_HEADER + padded;
}

static void ca_get_header(const unsigned char *in, struct ca_header *h)
{
    uint16_t h16[4];
    uint32_t h32[2];
    memcpy(h16, in, 8);
    memcpy(h32, in + 8, 8);
    h->cmd = ntohs(h16[0]), h->size = ntohs(h16[1]), h->type = ntohs(h16[2]), h->count = ntohs(h16[3]);
    h->p1 = ntohl(h32[0]), h->p2 = ntohl(h32[1]);
}

/* Reads exactly `len` bytes within `ms` milliseconds in all. */
static int read_full(int fd, unsigned char *buf, size_t len, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    for (size_t have = 0; have < len;) {
        if (poll(&p, 1, ms) != 1)
            return 0;
        ssize_t got = read(fd, buf + have, len - have);
        if (got <= 0)
            return 0;
        have += (size_t)got;
    }
    return 1;
}

/* Reads messages until one with command `want` (or a failure) arrives. */
static int ca_expect(int fd, unsigned want, struct ca_header *h, unsigned char *payload, size_t cap)
{
    for (int messages = 0; messages < 16; messages++) {
        unsigned char head[CA_HEADER];
        if (!read_full(fd, head, CA_HEADER, 2000))
            return 0;
        ca_get_header(head, h);
        if (h->size > cap || !read_full(fd, payload, h->size, 2000))
            return 0;
        if (h->cmd == want)
            return 1;
        if (h->cmd == CA_CREATE_CH_FAIL || h->cmd == CA_ERROR)
            return 0;
    }
    return 0;
}

/* A CA read of `pv` (as a double) from the server at `server`: connect,
 * version, create the channel, READ_NOTIFY. */
static int ca_read(const struct sockaddr_in *server, const char *pv)
{
    unsigned char out[256], payload[512];
    struct ca_header h;
    int ok = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    if (connect(fd, (const struct sockaddr *)server, sizeof *server) == 0) {
        size_t len = ca_put(out, CA_VERSION, NULL, 0, CA_MINOR, 0, 0);
        len += ca_put(out + len, CA_CREATE_CHAN, pv, 0, 0, 1, CA_MINOR);
        if (write(fd, out, len) == (ssize_t)len && ca_expect(fd, CA_CREATE_CHAN, &h, payload, sizeof payload)) {
            len = ca_put(out, CA_READ_NOTIFY, NULL, DBR_DOUBLE, 1, h.p2, 1);
            ok = write(fd, out, len) == (ssize_t)len && ca_expect(fd, CA_READ_NOTIFY, &h, payload, sizeof payload)
                 && h.p1 == ECA_NORMAL && h.size >= 8;
        }
    }
    close(fd);
    return ok;
}

/* One caget-like round over every IOC's NAME:ai1: a UDP search by broadcast
 * on the loopback network (the IOCs share the CA server port, and a
 * broadcast reaches every IOC's UDP socket), then a CA read over TCP from the
 * server that answered for each. Whether every IOC answered both. */
static int all_answer_ca(char **names, int n)
{
    static char pvs[MAX_IOCS][80];
    struct sockaddr_in servers[MAX_IOCS];
    char found[MAX_IOCS] = { 0 };
    unsigned char out[CA_HEADER * (MAX_IOCS + 1) + 80 * MAX_IOCS], in[1024];
    int left = n, ok = 1;
    size_t len = ca_put(out, CA_VERSION, NULL, 0, CA_MINOR, 0, 0);
    for (int i = 0; i < n; i++) {
        snprintf(pvs[i], sizeof pvs[i], "%s:ai1", names[i]);
        len += ca_put(out + len, CA_SEARCH, pvs[i], CA_DONT_REPLY, CA_MINOR, (uint32_t)i, (uint32_t)i);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0)
        return 0;
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(CA_PORT) };
    to.sin_addr.s_addr = htonl(0x7fffffff); /* 127.255.255.255 */
    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
    if (sendto(fd, out, len, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)len) {
        close(fd);
        return 0;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (left > 0 && poll(&p, 1, 50) == 1) {
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        ssize_t got = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &from_len);
        for (ssize_t at = 0; got > 0 && at + CA_HEADER <= got;) {
            struct ca_header h;
            ca_get_header(in + at, &h);
            at += CA_HEADER + (ssize_t)h.size;
            if (h.cmd != CA_SEARCH || h.p2 >= (uint32_t)n || found[h.p2])
                continue;
            found[h.p2] = 1;
            left--;
            servers[h.p2] = from;
            servers[h.p2].sin_port = htons((uint16_t)h.type);
            if (h.p1 != 0xffffffffu)
                servers[h.p2].sin_addr.s_addr = htonl(h.p1);
        }
    }
    close(fd);
    for (int i = 0; ok && i < n; i++)
        ok = found[i] && ca_read(&servers[i], pvs[i]);
    return ok;
}

/* The printk time (seconds) of the first record in the kernel's log whose
 * text contains `a` and, if given, `b`; -1 if none. */
static double printk_time(const char *a, const char *b)
{
    char rec[2048];
    double found = -1;
    int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t got = read(fd, rec, sizeof rec - 1);
        if (got < 0 && errno == EPIPE)
            continue; /* overwritten records: go on with the next */
        if (got <= 0)
            break;
        rec[got] = '\0';
        /* "PRIO,SEQ,USEC,FLAGS;TEXT" */
        char *text = strchr(rec, ';');
        unsigned long long usec;
        if (!text || sscanf(rec, "%*u,%*u,%llu", &usec) != 1)
            continue;
        text++;
        if (strstr(text, a) && (!b || strstr(text, b))) {
            found = (double)usec / 1e6;
            break;
        }
    }
    close(fd);
    return found;
}

/* PID 1's memory, in KB, from the kernel's sums over its mappings. */
struct pid1_memory {
    long rss, pss, private, anon;
};

static struct pid1_memory pid1_memory(void)
{
    struct pid1_memory m = { -1, -1, -1, -1 };
    long private_clean = -1, private_dirty = -1;
    char line[256];
    FILE *f = fopen("/proc/1/smaps_rollup", "re");
    if (!f) {
        perror("bench-probe: /proc/1/smaps_rollup");
        return m;
    }
    while (fgets(line, sizeof line, f)) {
        char key[32];
        long kb;
        if (sscanf(line, "%31[^:]: %ld kB", key, &kb) != 2)
            continue;
        if (strcmp(key, "Rss") == 0)
            m.rss = kb;
        else if (strcmp(key, "Pss") == 0)
            m.pss = kb;
        else if (strcmp(key, "Private_Clean") == 0)
            private_clean = kb;
        else if (strcmp(key, "Private_Dirty") == 0)
            private_dirty = kb;
        else if (strcmp(key, "Anonymous") == 0)
            m.anon = kb;
    }
    fclose(f);
    if (private_clean >= 0 && private_dirty >= 0)
        m.private = private_clean + private_dirty;
    return m;
}

/* How many of PID 1's children run `sleep`: the processes whose
 * /proc/PID/stat names parent 1 and command sleep. */
static int pid1_sleeping_children(void)
{
    int found = 0;
    DIR *proc = opendir("/proc");
    if (!proc) {
        perror("bench-probe: /proc");
        return -1;
    }
    for (struct dirent *e; (e = readdir(proc)) != NULL;) {
        char path[sizeof e->d_name + 16], stat[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* ended since the listing */
        ssize_t got = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (got <= 0)
            continue;
        stat[got] = '\0';
        /* "PID (COMM) STATE PPID ...": COMM may hold blanks and ')'. */
        char *comm = strchr(stat, '('), *comm_end = strrchr(stat, ')');
        int ppid;
        if (comm && comm_end && sscanf(comm_end + 1, " %*c %d", &ppid) == 1 && ppid == 1
            && strncmp(comm + 1, "sleep)", 6) == 0)
            found++;
    }
    closedir(proc);
    return found;
}

int main(int argc, char **argv)
{
    int services = 0, first = 1;
    if (argc > 2 && strcmp(argv[1], "-s") == 0) {
        services = atoi(argv[2]);
        first = 3;
    }
    if (argc - first < 1 || argc - first > MAX_IOCS || services < 0) {
        fprintf(stderr, "usage: probe [-s SERVICES] NAME... (at most %d names)\n", MAX_IOCS);
        return 2;
    }
    char **names = argv + first;
    int n = argc - first;

    long refusals, retries;
    consoles_wait(names, n, &refusals, &retries);
    while (!all_answer_ca(names, n))
        sleep_ms(20);
    milestone("every IOC answers Channel Access");
    for (int waited = 0; waited < SERVICES_WAIT_MS && pid1_sleeping_children() < services; waited += 20)
        sleep_ms(20);
    int sleeping = pid1_sleeping_children();
    struct pid1_memory m = pid1_memory();

    printf("BENCH n=%d handoff=%.6f first-console=%.6f consoles=%.6f ca=%.6f pid1-rss=%ld pid1-pss=%ld "
           "pid1-private=%ld pid1-anon=%ld services=%d console-refusals=%ld console-retries=%ld\n",
           n, printk_time("Run ", " as init process"), printk_time("bench-probe: first console", NULL),
           printk_time("bench-probe: every console", NULL), printk_time("bench-probe: every IOC", NULL), m.rss,
           m.pss, m.private, m.anon, sleeping, refusals, retries);
    fflush(stdout);
    return 0;
}
