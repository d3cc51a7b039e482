/*
 * receipts_bench: receipt throughput under load. Marks per second accepted,
 * receipt events emitted, and the lag from a mark to the receipt event that
 * covers it, at an open-loop target rate of marks.
 *
 *   receipts_bench --url http://127.0.0.1:PORT [--rate R] [--duration S] [--warmup S]
 *                  [--clients N] [--users U] [--groups G] [--group-size K]
 *                  [--messages M] [--drain S] [--watch NAME=PID]...
 *   receipts_bench --free-ports N      print N free loopback TCP ports and exit
 *
 * Setup: U users plus one observer sign up and sign in. The observer creates G
 * groups; group g holds the observer and K users (g*stride + j) % U, stride =
 * max(1, U/G), so with 50/10/10 every user is in 2 groups. The observer sends M
 * messages into each group (one thread per group) so seqs 1..M exist; M
 * defaults to what the run needs for every mark to move forward.
 *
 * Load: a "pair" is one (group, member). Mark number i (i = 0, 1, ...) is due
 * at start + i/R and belongs to pair p = i % P; it is that pair's k-th mark,
 * k = i / P, which is POST .../delivered {"seq":k/2+1} for even k and
 * POST .../read {"seq":k/2+1} for odd k: every mark moves its pair forward.
 * N client threads (one keep-alive connection each) take the next due mark,
 * sleep until it is due (open loop: a late mark goes at once), and send it as
 * the pair's member.
 *
 * Observer: one thread polls GET /v1/events?cursor=C&limit=1000 as the observer
 * (a member of every group) every 20 ms (at once again when the page was full)
 * and reads `receipt` events. An event for (conversation, user) with
 * delivered_seq D and read_seq R covers every delivered mark of that pair with
 * seq <= D and every read mark with seq <= R not yet covered; a mark's lag is
 * the time the poll answer holding the first covering event was read minus the
 * time the mark's request was started. So the lag includes the 20 ms poll
 * interval (10 ms on average). After the load ends the observer keeps polling
 * up to --drain seconds until every measured mark is covered.
 *
 * Output (stdout):
 *   receipts target=5000/s marks=.. unsent=.. accepted=.. rate=../s sent_in=..s errors=.. late_p99=..ms
 *     req_p50=..ms req_p99=..ms events=.. events_rate=../s marks_per_event=..
 *     lag_p50=..ms lag_p90=..ms lag_p99=..ms lag_max=..ms uncovered=.. tool_cpu=..s
 *   cpu cores=2.0 tool=.. nginx=.. api=.. ...      (with --watch, as send_bench)
 * marks, accepted, errors, req_, late_ and lag_ fields: the marks due inside the measured
 * window (after --warmup). Client threads stop at the window's end, so when the
 * server cannot keep up the marks still queued then are `unsent` (sent_in:
 * seconds from the window's start until the last answer). rate: 204 answers completed inside the window (wall clock)
 * per second, the accepted throughput; events: receipt events the observer read
 * inside the window; marks_per_event = rate / events_rate. late_p99: how far behind schedule the
 * client threads started marks (open-loop health: large means the tool or the
 * server could not keep up with the target).
 *
 * Only loopback addresses are accepted as targets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"


struct user {
    long long id;
    char name[40];
    char token[1024];
};

static struct user *g_users; /* g_nusers members, then the observer */
static struct user *g_obs;
static long long *g_convs;
static int g_nusers, g_ngroups, g_gsize, g_nmsgs;
/* pairs: pair p = group p / g_gsize, member slot p % g_gsize */
static int *g_pair_user; /* user index of pair p */
static int g_npairs;

static void setup_call(struct conn *c, const char *what, const char *method, const char *path,
                       const char *token, const char *body, int want, struct response *r,
                       struct buf *scratch)
{
    if (http_do(c, method, path, token, body, r, scratch) != 0)
        die("setup: %s: %s", what, r->err);
    if (r->status != want)
        die("setup: %s: HTTP %d (expected %d): %.500s", what, r->status, want, r->body);
}

static void *fill_group(void *arg)
{
    int g = (int)(intptr_t)arg;
    struct conn c = {.fd = -1};
    struct response r;
    struct buf body = {0}, scratch = {0};
    struct rng rng;
    char path[64], uuid[37];
    rng_seed(&rng);
    snprintf(path, sizeof path, "/v1/conversations/%lld/messages", g_convs[g]);
    for (int m = 0; m < g_nmsgs; m++) {
        uuid_v4(&rng, uuid);
        body.len = 0;
        buf_printf(&body, "{\"client_msg_id\":\"%s\",\"body\":\"x\"}", uuid);
        setup_call(&c, "send message", "POST", path, g_obs->token, body.p, 201, &r, &scratch);
    }
    conn_close(&c);
    free(c.in.p);
    free(c.out.p);
    free(body.p);
    free(scratch.p);
    return NULL;
}

static void setup(void)
{
    struct conn c = {.fd = -1};
    struct response r;
    struct buf body = {0}, scratch = {0};
    struct rng rng;
    char suffix[9];
    const char *password = "bench-password-1";
    int64_t t0 = now_ns();

    rng_seed(&rng);
    snprintf(suffix, sizeof suffix, "%08" PRIx32, (uint32_t)rng_next(&rng));
    g_users = xmalloc(sizeof *g_users * (size_t)(g_nusers + 1));
    g_obs = &g_users[g_nusers];
    g_convs = xmalloc(sizeof *g_convs * (size_t)g_ngroups);

    for (int i = 0; i <= g_nusers; i++) {
        struct user *u = &g_users[i];
        if (i == g_nusers)
            snprintf(u->name, sizeof u->name, "rb%s_obs", suffix);
        else
            snprintf(u->name, sizeof u->name, "rb%s_%d", suffix, i);
        body.len = 0;
        buf_printf(&body, "{\"username\":\"%s\",\"password\":\"%s\"}", u->name, password);
        setup_call(&c, "sign up", "POST", "/v1/accounts", NULL, body.p, 201, &r, &scratch);
        u->id = json_id(r.body, "id");
        if (u->id <= 0)
            die("setup: no id in the sign-up answer: %.300s", r.body);
        setup_call(&c, "sign in", "POST", "/v1/sessions", NULL, body.p, 201, &r, &scratch);
        if (json_plain_string(r.body, "access_token", u->token, sizeof u->token) != 0)
            die("setup: no access_token in the sign-in answer: %.300s", r.body);
    }
    int stride = g_nusers / g_ngroups > 0 ? g_nusers / g_ngroups : 1;
    g_npairs = g_ngroups * g_gsize;
    g_pair_user = xmalloc(sizeof *g_pair_user * (size_t)g_npairs);
    for (int g = 0; g < g_ngroups; g++) {
        body.len = 0;
        buf_printf(&body, "{\"kind\":\"group\",\"title\":\"rb %s #%d\",\"member_ids\":[", suffix, g);
        for (int j = 0; j < g_gsize; j++) {
            int ui = (g * stride + j) % g_nusers;
            g_pair_user[g * g_gsize + j] = ui;
            buf_printf(&body, "%s%lld", j ? "," : "", g_users[ui].id);
        }
        buf_printf(&body, "]}");
        setup_call(&c, "create group", "POST", "/v1/conversations", g_obs->token, body.p, 201, &r,
                   &scratch);
        g_convs[g] = json_id(r.body, "id");
        if (g_convs[g] <= 0)
            die("setup: no id in the create-group answer: %.300s", r.body);
    }
    conn_close(&c);
    free(c.in.p);
    free(c.out.p);
    free(body.p);
    free(scratch.p);

    int64_t t1 = now_ns();
    pthread_t *th = xmalloc(sizeof *th * (size_t)g_ngroups);
    for (int g = 0; g < g_ngroups; g++)
        if (pthread_create(&th[g], NULL, fill_group, (void *)(intptr_t)g) != 0)
            die("pthread_create failed");
    for (int g = 0; g < g_ngroups; g++)
        pthread_join(th[g], NULL);
    free(th);
    note("setup: %d users + observer (rb%s_*), %d groups of %d + observer, %d messages each, "
         "in %.2f s (messages %.2f s)",
         g_nusers, suffix, g_ngroups, g_gsize, g_nmsgs, (double)(now_ns() - t0) / 1e9,
         (double)(now_ns() - t1) / 1e9);
}

/* ------------------------------------------------------------------ load */

static int64_t g_t_start, g_t_measure, g_t_end;
static double g_rate;
static long g_nmarks;           /* marks scheduled in warmup + duration */
static _Atomic int64_t *g_sent; /* per mark: request start (ns), 0 = not sent */
static _Atomic int64_t *g_seen; /* per mark: observer saw a covering event (ns) */
static unsigned char *g_ok;     /* per mark: answered 204 */
static atomic_long g_next;
static atomic_int g_load_done;
static pthread_barrier_t g_barrier;
static atomic_int g_samples_printed;

struct client {
    pthread_t tid;
    int index;
    uint32_t *lat_us, *late_us; /* of marks due in the window */
    size_t nlat, caplat, nlate, caplate;
    long errors, errors_warmup, reconnects;
    long done_window; /* 204 answers completed inside the measured window (wall clock) */
};

static void push_u32(uint32_t **v, size_t *n, size_t *cap, int64_t ns)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    int64_t us = ns < 0 ? 0 : (ns + 500) / 1000;
    (*v)[(*n)++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void sample_error(int idx, int status, const char *detail, size_t len)
{
    if (atomic_fetch_add(&g_samples_printed, 1) >= ERROR_SAMPLES)
        return;
    if (status) {
        char flat[401];
        size_t n = len < sizeof flat - 1 ? len : sizeof flat - 1, o = 0;
        for (size_t i = 0; i < n; i++)
            if (!isspace((unsigned char)detail[i]))
                flat[o++] = detail[i];
            else if (o > 0 && flat[o - 1] != ' ')
                flat[o++] = ' ';
        flat[o] = '\0';
        note("client %d: HTTP %d: %s", idx, status, flat);
    } else
        note("client %d: %s", idx, detail);
}

static void sleep_until(int64_t t)
{
    int64_t d = t - now_ns();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t due_of(long i)
{
    return g_t_start + (int64_t)((double)i * 1e9 / g_rate);
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct conn c = {.fd = -1};
    struct response r;
    struct buf scratch = {0};
    char path[96], body[64];

    pthread_barrier_wait(&g_barrier);
    for (;;) {
        long i = atomic_fetch_add(&g_next, 1);
        if (i >= g_nmarks)
            break;
        int64_t due = due_of(i);
        sleep_until(due);
        if (now_ns() >= g_t_end)
            break; /* bounded run: marks not started by the end stay unsent */
        int p = (int)(i % g_npairs);
        long k = i / g_npairs;
        const struct user *u = &g_users[g_pair_user[p]];
        snprintf(path, sizeof path, "/v1/conversations/%lld/%s", g_convs[p / g_gsize],
                 k % 2 ? "read" : "delivered");
        snprintf(body, sizeof body, "{\"seq\":%ld}", k / 2 + 1);
        int64_t t0 = now_ns();
        atomic_store(&g_sent[i], t0);
        int rc = http_do(&c, "POST", path, u->token, body, &r, &scratch);
        int64_t t1 = now_ns();
        int ok = rc == 0 && r.status == 204;
        g_ok[i] = (unsigned char)ok;
        if (ok && t1 >= g_t_measure && t1 < g_t_end)
            cl->done_window++;
        if (!ok) {
            if (rc != 0)
                sample_error(cl->index, 0, r.err, strlen(r.err));
            else
                sample_error(cl->index, r.status, r.body, r.body_len);
        }
        if (due < g_t_measure) {
            if (!ok)
                cl->errors_warmup++;
        } else if (ok) {
            push_u32(&cl->lat_us, &cl->nlat, &cl->caplat, t1 - t0);
            push_u32(&cl->late_us, &cl->nlate, &cl->caplate, t0 - due);
        } else {
            cl->errors++;
        }
        if (rc != 0 || r.status >= 500)
            sleep_until(now_ns() + 10 * 1000 * 1000);
    }
    conn_close(&c);
    cl->reconnects = c.connects > 1 ? c.connects - 1 : 0;
    free(c.in.p);
    free(c.out.p);
    free(scratch.p);
    return NULL;
}

/* ------------------------------------------------------------------ observer */

static long long g_cursor0;
static double g_drain = 10;
static long g_events_window, g_events_total, g_polls, g_poll_errors, g_early;
static int64_t g_last_event_ns;

/* Index of the pair (conversation, user), or -1. Linear: a few hundred pairs. */
static int pair_of(long long conv, long long user)
{
    for (int g = 0; g < g_ngroups; g++) {
        if (g_convs[g] != conv)
            continue;
        for (int j = 0; j < g_gsize; j++)
            if (g_users[g_pair_user[g * g_gsize + j]].id == user)
                return g * g_gsize + j;
        return -1;
    }
    return -1;
}

/* Covers marks of pair p with seq <= upto of kind (0 delivered, 1 read). */
static void cover(long *next_seq, int p, int kind, long long upto, int64_t now)
{
    while (next_seq[2 * p + kind] <= upto) {
        long seq = next_seq[2 * p + kind]++;
        long i = (2 * (seq - 1) + kind) * (long)g_npairs + p;
        if (i >= g_nmarks)
            break;
        if (atomic_load(&g_sent[i]) == 0)
            g_early++; /* covered by a later mark sent before this one */
        atomic_store(&g_seen[i], now);
    }
}

/* One poll; returns the number of events in the page, -1 on failure. */
static int poll_once(struct conn *c, long long *cursor, long *next_seq, struct buf *scratch)
{
    struct response r;
    char path[128];
    snprintf(path, sizeof path, "/v1/events?cursor=%lld&limit=1000&timeout=0", *cursor);
    g_polls++;
    if (http_do(c, "GET", path, g_obs->token, NULL, &r, scratch) != 0 || r.status != 200) {
        if (g_poll_errors++ < ERROR_SAMPLES)
            note("observer: poll failed: %s %.200s", r.status ? "HTTP" : r.err,
                 r.status ? r.body : "");
        return -1;
    }
    int64_t now = now_ns();
    long long nc = json_id(r.body, "cursor");
    const char *ev = json_member(r.body, "events");
    if (nc < 0 || !ev || *ev != '[')
        die("observer: unexpected poll answer: %.300s", r.body);
    int n = 0;
    const char *p = jws(ev + 1);
    while (*p == '{') {
        const char *end = jvalue_end(p);
        if (!end)
            die("observer: malformed event list");
        n++;
        const char *type = json_member(p, "type");
        if (type && strncmp(type, "\"receipt\"", 9) == 0) {
            const char *data = json_member(p, "data");
            if (!data)
                die("observer: receipt without data");
            int pi = pair_of(json_id(data, "conversation_id"), json_id(data, "user_id"));
            if (pi >= 0) {
                g_events_total++;
                if (now >= g_t_measure && now < g_t_end)
                    g_events_window++;
                g_last_event_ns = now;
                cover(next_seq, pi, 0, json_id(data, "delivered_seq"), now);
                cover(next_seq, pi, 1, json_id(data, "read_seq"), now);
            }
        }
        p = jws(end);
        if (*p == ',')
            p = jws(p + 1);
    }
    *cursor = nc;
    return n;
}

/* Reads to the end of the event stream: the cursor the observer starts from. */
static long long current_cursor(void)
{
    struct conn c = {.fd = -1};
    struct buf scratch = {0};
    long long cur = 0;
    long *dummy = calloc((size_t)g_npairs * 2, sizeof *dummy);
    for (int i = 0; i < g_npairs * 2; i++)
        dummy[i] = 1L << 40; /* cover nothing */
    int n;
    while ((n = poll_once(&c, &cur, dummy, &scratch)) == 1000) {
    }
    if (n < 0)
        die("observer: cannot read the event stream");
    conn_close(&c);
    free(c.in.p);
    free(c.out.p);
    free(scratch.p);
    free(dummy);
    g_events_total = g_events_window = g_polls = 0;
    return cur;
}

/* Are all marks due in the window that were accepted covered? */
static int all_covered(void)
{
    for (long i = 0; i < g_nmarks; i++)
        if (g_ok[i] && due_of(i) >= g_t_measure && !atomic_load(&g_seen[i]))
            return 0;
    return 1;
}

static void *observer_main(void *arg)
{
    (void)arg;
    struct conn c = {.fd = -1};
    struct buf scratch = {0};
    long long cur = g_cursor0;
    long *next_seq = xmalloc(sizeof *next_seq * (size_t)g_npairs * 2);
    for (int i = 0; i < g_npairs * 2; i++)
        next_seq[i] = 1;
    pthread_barrier_wait(&g_barrier);
    int64_t checked = 0;
    for (;;) {
        int n = poll_once(&c, &cur, next_seq, &scratch);
        int64_t now = now_ns();
        if (atomic_load(&g_load_done)) {
            if (now >= g_t_end + (int64_t)(g_drain * 1e9))
                break;
            if (n >= 0 && n < 1000 && now - checked > 200 * 1000000LL) {
                checked = now;
                if (all_covered())
                    break;
            }
        }
        if (n != 1000)
            sleep_until(now + 20 * 1000000LL);
    }
    conn_close(&c);
    free(c.in.p);
    free(c.out.p);
    free(scratch.p);
    free(next_seq);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n), in milliseconds. */
static double pct_ms(const uint32_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1] / 1000.0;
}

/* ------------------------------------------------------------------ CPU accounting */

struct watch {
    char name[32];
    int pid;
    unsigned long long t0, t1; /* clock ticks */
};

static struct watch g_watch[MAX_WATCH];
static int g_nwatch;

/* One process as /proc/PID/stat shows it. */
struct pstat {
    int pid, ppid;
    unsigned long long self;     /* utime + stime of all its threads, clock ticks */
    unsigned long long children; /* cutime + cstime: children it has reaped */
    char comm[20];
};

struct snapshot {
    struct pstat *p;
    size_t n, cap;
};

static int read_pstat(int pid, struct pstat *ps)
{
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *open = strchr(text, '('), *close = strrchr(text, ')'); /* comm may hold parens */
    if (!open || !close || close < open)
        return -1;
    size_t cl = (size_t)(close - open - 1);
    if (cl >= sizeof ps->comm)
        cl = sizeof ps->comm - 1;
    memcpy(ps->comm, open + 1, cl);
    ps->comm[cl] = '\0';
    /* fields after comm: 3 state, 4 ppid, ... 14 utime, 15 stime, 16 cutime, 17 cstime */
    char state;
    unsigned long long ut, st;
    long long cut, cst;
    if (sscanf(close + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &state,
               &ps->ppid, &ut, &st, &cut, &cst) != 6)
        return -1;
    ps->pid = pid;
    ps->self = ut + st;
    ps->children = (unsigned long long)(cut + cst);
    return 0;
}

static int cmp_pid(const void *a, const void *b)
{
    int x = ((const struct pstat *)a)->pid, y = ((const struct pstat *)b)->pid;
    return x < y ? -1 : x > y;
}

/* Every process on the machine, sorted by pid. */
static void snapshot_take(struct snapshot *s)
{
    s->n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 512;
            s->p = xrealloc(s->p, s->cap * sizeof *s->p);
        }
        if (read_pstat(atoi(e->d_name), &s->p[s->n]) == 0)
            s->n++;
    }
    closedir(d);
    qsort(s->p, s->n, sizeof *s->p, cmp_pid);
}

static const struct pstat *snapshot_find(const struct snapshot *s, int pid)
{
    struct pstat key;
    key.pid = pid;
    return bsearch(&key, s->p, s->n, sizeof *s->p, cmp_pid);
}

/* Index of the watch that owns ps (a watched root, or a direct child of one), or -1. */
static int watch_of(const struct pstat *ps)
{
    for (int i = 0; i < g_nwatch; i++)
        if (ps->pid == g_watch[i].pid || ps->ppid == g_watch[i].pid)
            return i;
    return -1;
}

/* Per watch: ticks of the root (with the children it reaped) and its direct children. */
static void snapshot_watch(const struct snapshot *s, int end)
{
    for (int i = 0; i < g_nwatch; i++)
        *(end ? &g_watch[i].t1 : &g_watch[i].t0) = 0;
    for (size_t k = 0; k < s->n; k++) {
        int i = watch_of(&s->p[k]);
        if (i >= 0)
            *(end ? &g_watch[i].t1 : &g_watch[i].t0) += s->p[k].self + s->p[k].children;
    }
}

/* The process outside the watched ones and this tool that used the most CPU
 * between the two snapshots: its ticks, or 0. */
static unsigned long long top_other(const struct snapshot *a, const struct snapshot *b,
                                    const struct pstat **top)
{
    unsigned long long best = 0;
    int self = getpid();
    *top = NULL;
    for (size_t k = 0; k < b->n; k++) {
        const struct pstat *ps = &b->p[k], *was;
        if (ps->pid == self || watch_of(ps) >= 0)
            continue;
        was = snapshot_find(a, ps->pid);
        /* not there before (or its pid reused): it started during the window */
        unsigned long long d = was && was->self <= ps->self ? ps->self - was->self : ps->self;
        if (d > best) {
            best = d;
            *top = ps;
        }
    }
    return best;
}

/* Machine-wide busy and total ticks from /proc/stat. */
static void machine_ticks(unsigned long long *busy, unsigned long long *total)
{
    unsigned long long v[10] = {0};
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return;
    /* user nice system idle iowait irq softirq steal (guest times are inside user) */
    for (int i = 0; i < 8 && i < n; i++)
        *total += v[i];
    *busy = *total - v[3] - (n > 4 ? v[4] : 0);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------ main */

static void free_ports(int n)
{
    int fds[64];
    if (n < 1 || n > 64)
        die("--free-ports takes 1..64");
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &al) != 0)
            die("cannot pick a free port: %s", strerror(errno));
        printf("%s%d", i ? " " : "", ntohs(a.sin_port));
    }
    printf("\n");
    for (int i = 0; i < n; i++)
        close(fds[i]);
}


static double parse_num(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi)
        die("%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, v);
    return d;
}


static void usage(FILE *f)
{
    fputs("usage: receipts_bench --url http://127.0.0.1:PORT [--rate R] [--duration S]\n"
          "          [--warmup S] [--clients N] [--users U] [--groups G] [--group-size K]\n"
          "          [--messages M] [--drain S] [--watch NAME=PID]...\n"
          "       receipts_bench --free-ports N\n"
          "Open-loop delivered/read marks through nginx; lag to the receipt event; see\n"
          "bench/README.md.\n"
          "  --rate R        target marks per second (5000)\n"
          "  --duration S    measured seconds (15)\n"
          "  --warmup S      seconds run before measuring (2)\n"
          "  --clients N     client threads, one keep-alive connection each (64)\n"
          "  --users U       members (50); --groups G (10); --group-size K members each (10)\n"
          "  --messages M    messages per group (default: enough for every mark to move forward)\n"
          "  --drain S       after the load, wait up to S seconds for the last receipts (10)\n"
          "  --watch NAME=PID  report the CPU used by PID and its children (repeatable)\n",
          f);
}

int main(int argc, char **argv)
{
    bench_name = "receipts_bench";
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},   {"warmup", required_argument, NULL, 'w'},
        {"clients", required_argument, NULL, 'c'},    {"users", required_argument, NULL, 'U'},
        {"groups", required_argument, NULL, 'G'},     {"group-size", required_argument, NULL, 'K'},
        {"messages", required_argument, NULL, 'M'},   {"drain", required_argument, NULL, 'D'},
        {"watch", required_argument, NULL, 'W'},      {"free-ports", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
    };
    const char *url = NULL;
    int nclients = 64, opt;
    double duration = 15, warmup = 2;
    g_rate = 5000;
    g_nusers = 50;
    g_ngroups = 10;
    g_gsize = 10;
    g_nmsgs = 0;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'r':
            g_rate = parse_num("--rate", optarg, 1, 1e6);
            break;
        case 'd':
            duration = parse_num("--duration", optarg, 0.1, 3600);
            break;
        case 'w':
            warmup = parse_num("--warmup", optarg, 0, 600);
            break;
        case 'c':
            nclients = (int)parse_num("--clients", optarg, 1, MAX_CLIENTS);
            break;
        case 'U':
            g_nusers = (int)parse_num("--users", optarg, 1, 10000);
            break;
        case 'G':
            g_ngroups = (int)parse_num("--groups", optarg, 1, 1000);
            break;
        case 'K':
            g_gsize = (int)parse_num("--group-size", optarg, 1, 1000);
            break;
        case 'M':
            g_nmsgs = (int)parse_num("--messages", optarg, 1, 1000000);
            break;
        case 'D':
            g_drain = parse_num("--drain", optarg, 0, 600);
            break;
        case 'W': {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof g_watch[0].name ||
                g_nwatch == MAX_WATCH)
                die("--watch takes NAME=PID (at most %d)", MAX_WATCH);
            struct watch *w = &g_watch[g_nwatch++];
            memcpy(w->name, optarg, (size_t)(eq - optarg));
            w->name[eq - optarg] = '\0';
            w->pid = (int)parse_num("--watch", eq + 1, 1, 1 << 30);
            break;
        }
        case 'P':
            free_ports((int)parse_num("--free-ports", optarg, 1, 64));
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || !url) {
        usage(stderr);
        return 2;
    }
    if (g_gsize > g_nusers)
        die("--group-size %d is more than --users %d", g_gsize, g_nusers);
    parse_url(url);
    g_nmarks = (long)(g_rate * (warmup + duration));
    long per_pair = (g_nmarks + g_ngroups * g_gsize - 1) / (g_ngroups * g_gsize);
    long need = per_pair / 2 + 1;
    if (g_nmsgs == 0)
        g_nmsgs = (int)need;
    else if (g_nmsgs < need)
        note("--messages %d < %ld: later marks are past the last message (422)", g_nmsgs, need);
    setup();
    g_cursor0 = current_cursor();

    g_sent = calloc((size_t)g_nmarks, sizeof *g_sent);
    g_seen = calloc((size_t)g_nmarks, sizeof *g_seen);
    g_ok = calloc((size_t)g_nmarks, 1);
    struct client *cls = calloc((size_t)nclients, sizeof *cls);
    if (!g_sent || !g_seen || !g_ok || !cls)
        die("out of memory");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_barrier_init(&g_barrier, NULL, (unsigned)nclients + 2) != 0)
        die("pthread_barrier_init failed");
    g_t_start = g_t_measure = g_t_end = now_ns() + (int64_t)3600 * 1000000000;
    for (int i = 0; i < nclients; i++) {
        cls[i].index = i;
        int rc = pthread_create(&cls[i].tid, &attr, client_main, &cls[i]);
        if (rc != 0)
            die("pthread_create: %s", strerror(rc));
    }
    pthread_t obs;
    if (pthread_create(&obs, &attr, observer_main, NULL) != 0)
        die("pthread_create failed");
    pthread_attr_destroy(&attr);
    g_t_start = now_ns() + 50 * 1000000LL;
    g_t_measure = g_t_start + (int64_t)(warmup * 1e9);
    g_t_end = g_t_measure + (int64_t)(duration * 1e9);
    pthread_barrier_wait(&g_barrier);

    unsigned long long mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
    double tool0 = 0, tool1 = 0;
    int64_t w0 = 0, w1 = 0;
    struct snapshot snap0 = {0}, snap1 = {0};
    if (g_nwatch) {
        sleep_until(g_t_measure);
        w0 = now_ns();
        tool0 = self_cpu_s();
        machine_ticks(&mb0, &mt0);
        snapshot_take(&snap0);
        snapshot_watch(&snap0, 0);
        sleep_until(g_t_end);
        w1 = now_ns();
        tool1 = self_cpu_s();
        machine_ticks(&mb1, &mt1);
        snapshot_take(&snap1);
        snapshot_watch(&snap1, 1);
    }

    size_t nlat = 0, nlate = 0;
    long errors = 0, errors_warmup = 0, reconnects = 0, done_window = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(cls[i].tid, NULL);
        done_window += cls[i].done_window;
        nlat += cls[i].nlat;
        nlate += cls[i].nlate;
        errors += cls[i].errors;
        errors_warmup += cls[i].errors_warmup;
        reconnects += cls[i].reconnects;
    }
    int64_t load_end = now_ns();
    atomic_store(&g_load_done, 1);
    pthread_join(obs, NULL);

    uint32_t *lat = xmalloc((nlat + 1) * sizeof *lat), *late = xmalloc((nlate + 1) * sizeof *late);
    size_t o = 0, o2 = 0;
    for (int i = 0; i < nclients; i++) {
        memcpy(lat + o, cls[i].lat_us, cls[i].nlat * sizeof *lat);
        o += cls[i].nlat;
        memcpy(late + o2, cls[i].late_us, cls[i].nlate * sizeof *late);
        o2 += cls[i].nlate;
        free(cls[i].lat_us);
        free(cls[i].late_us);
    }
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    qsort(late, nlate, sizeof *late, cmp_u32);

    /* Lag of every accepted mark due in the window. */
    long window_marks = 0, uncovered = 0, unsent = 0;
    uint32_t *lag = xmalloc(((size_t)g_nmarks + 1) * sizeof *lag);
    size_t nlag = 0;
    for (long i = 0; i < g_nmarks; i++) {
        if (due_of(i) < g_t_measure)
            continue;
        window_marks++;
        if (!atomic_load(&g_sent[i]))
            unsent++;
        if (!g_ok[i])
            continue;
        int64_t seen = atomic_load(&g_seen[i]), sent = atomic_load(&g_sent[i]);
        if (!seen) {
            uncovered++;
            continue;
        }
        int64_t us = seen > sent ? (seen - sent + 500) / 1000 : 0;
        lag[nlag++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    qsort(lag, nlag, sizeof *lag, cmp_u32);

    if (errors_warmup)
        note("%ld errors during warmup (not counted)", errors_warmup);
    if (g_early)
        note("%ld marks were covered before they were sent (a later mark of the pair overtook "
             "them; lag 0)",
             g_early);
    note("load ended %.2f s after the window (late marks); observer: %ld polls, %ld failed, "
         "last receipt event %.2f s after the load",
         (double)(load_end - g_t_end) / 1e9, g_polls, g_poll_errors,
         g_last_event_ns ? (double)(g_last_event_ns - load_end) / 1e9 : 0.0);
    printf("receipts target=%.0f/s marks=%ld unsent=%ld accepted=%zu rate=%.1f/s sent_in=%.1fs errors=%ld "
           "late_p50=%.2fms "
           "late_p99=%.2fms req_p50=%.2fms req_p99=%.2fms req_max=%.2fms events=%ld "
           "events_rate=%.1f/s marks_per_event=%.2f lag_p50=%.2fms lag_p90=%.2fms "
           "lag_p99=%.2fms lag_max=%.2fms uncovered=%ld events_total=%ld clients=%d "
           "reconnects=%ld tool_cpu=%.2fs\n",
           g_rate, window_marks, unsent, nlat, (double)done_window / duration,
           (double)(load_end - g_t_measure) / 1e9, errors, pct_ms(late, nlate, 0.50),
           pct_ms(late, nlate, 0.99), pct_ms(lat, nlat, 0.50), pct_ms(lat, nlat, 0.99),
           nlat ? lat[nlat - 1] / 1000.0 : 0.0, g_events_window,
           (double)g_events_window / duration,
           g_events_window ? (double)done_window / (double)g_events_window : 0.0, pct_ms(lag, nlag, 0.50),
           pct_ms(lag, nlag, 0.90), pct_ms(lag, nlag, 0.99), nlag ? lag[nlag - 1] / 1000.0 : 0.0,
           uncovered, g_events_total, nclients, reconnects, self_cpu_s());
    if (g_nwatch) {
        double wall = (double)(w1 - w0) / 1e9, hz = (double)sysconf(_SC_CLK_TCK);
        double ncpu = mt1 > mt0 && wall > 0 ? (double)(mt1 - mt0) / hz / wall : 0;
        double busy = wall > 0 ? (double)(mb1 - mb0) / hz / wall : 0;
        double tool = wall > 0 ? (tool1 - tool0) / wall : 0, ours = tool;
        printf("cpu cores=%.1f tool=%.2f", ncpu, tool);
        for (int i = 0; i < g_nwatch; i++) {
            double v = g_watch[i].t1 >= g_watch[i].t0
                           ? (double)(g_watch[i].t1 - g_watch[i].t0) / hz / wall
                           : 0;
            ours += v;
            printf(" %s=%.2f", g_watch[i].name, v);
        }
        double other = busy - ours;
        printf(" other=%.2f idle=%.2f", other > 0 ? other : 0.0,
               ncpu - busy > 0 ? ncpu - busy : 0.0);
        const struct pstat *top;
        unsigned long long tt = top_other(&snap0, &snap1, &top);
        if (top && wall > 0) {
            char comm[sizeof top->comm];
            snprintf(comm, sizeof comm, "%s", top->comm);
            for (char *q = comm; *q; q++)
                if (isspace((unsigned char)*q) || *q == '=')
                    *q = '_';
            printf(" top_other=%s[%d]:%.2f", comm, top->pid, (double)tt / hz / wall);
        }
        printf("\n");
    }
    return 0;
}
