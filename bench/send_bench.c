/*
 * send_bench: load benchmark for POST /v1/conversations/{id}/messages.
 *
 *   send_bench --url http://127.0.0.1:PORT [--clients N] [--duration S] [--warmup S]
 *              [--users U] [--conversations C] [--watch NAME=PID]...
 *   send_bench --free-ports N      print N free loopback TCP ports and exit
 *
 * Setup (one thread, blocking): U users with random-suffixed names sign up and
 * sign in; user 0 creates C groups that hold every user. Then N client threads
 * start together; thread i is user i % U, keeps one HTTP/1.1 keep-alive
 * connection to nginx (reconnecting when nginx closes it) and sends one message
 * at a time into conversation (i + k) % C for its k-th message, each with a
 * fresh UUIDv4 client_msg_id. Requests answered during the first --warmup
 * seconds are not counted; the next --duration seconds are measured; then the
 * threads stop (a request in flight at the end is finished but not counted).
 *
 * Output (stdout), one line:
 *   clients=64 sends=123456 errors=0 rate=10234.5/s p50=4.10ms p90=.. p99=..
 *   p999=.. max=..ms mean=..ms reconnects=N tool_cpu=..s
 * sends counts 201 answers completed inside the measured window; errors counts
 * every other outcome there (other statuses and transport failures); the
 * latencies are those of the 201 answers, from writing the request to reading
 * the whole answer (connect time included when the request had to reconnect).
 * With --watch, a second line tells how the machine's CPUs were used during the
 * measured window, in cores (CPU seconds per second) for: this tool, each
 * watched process together with its direct children, everything else, idle,
 * and the busiest other process still alive at the end of the window:
 *   cpu cores=2.0 tool=0.04 api=0.24 ... other=0.10 idle=0.57 top_other=comm[pid]:0.02
 *
 * Only loopback addresses are accepted as targets. Every socket operation has a
 * timeout, so the tool always ends shortly after warmup + duration.
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

static struct user *g_users;
static long long *g_convs;
static int g_nusers, g_nconvs;

static void setup_call(struct conn *c, const char *what, const char *method, const char *path,
                       const char *token, const char *body, int want, struct response *r,
                       struct buf *scratch)
{
    if (http_do(c, method, path, token, body, r, scratch) != 0)
        die("setup: %s: %s", what, r->err);
    if (r->status != want)
        die("setup: %s: HTTP %d (expected %d): %.500s", what, r->status, want, r->body);
}

static void setup(int nusers, int nconvs)
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
    g_nusers = nusers;
    g_nconvs = nconvs;
    g_users = xmalloc(sizeof *g_users * (size_t)nusers);
    g_convs = xmalloc(sizeof *g_convs * (size_t)nconvs);

    for (int i = 0; i < nusers; i++) {
        struct user *u = &g_users[i];
        snprintf(u->name, sizeof u->name, "sb%s_%d", suffix, i);
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
    for (int k = 0; k < nconvs; k++) {
        body.len = 0;
        buf_printf(&body, "{\"kind\":\"group\",\"title\":\"bench %s #%d\",\"member_ids\":[", suffix,
                   k);
        for (int i = 1; i < nusers; i++)
            buf_printf(&body, "%s%lld", i > 1 ? "," : "", g_users[i].id);
        buf_printf(&body, "]}");
        setup_call(&c, "create group", "POST", "/v1/conversations", g_users[0].token, body.p, 201,
                   &r, &scratch);
        g_convs[k] = json_id(r.body, "id");
        if (g_convs[k] <= 0)
            die("setup: no id in the create-group answer: %.300s", r.body);
    }
    conn_close(&c);
    free(c.in.p);
    free(c.out.p);
    free(body.p);
    free(scratch.p);
    note("setup: %d users (sb%s_*), %d groups, in %.2f s", nusers, suffix, nconvs,
         (double)(now_ns() - t0) / 1e9);
}

/* ------------------------------------------------------------------ load */

struct client {
    pthread_t tid;
    int index;
    /* results */
    uint32_t *lat_us; /* 201 latencies in the window, microseconds */
    size_t nlat, caplat;
    long errors;        /* non-201 answers and failures in the window */
    long errors_warmup; /* same, during warmup */
    long reconnects;
};

static int64_t g_t_start, g_t_measure, g_t_end;
static pthread_barrier_t g_barrier;
static atomic_int g_samples_printed;

static void sample_error(int idx, int status, const char *detail, size_t len)
{
    if (atomic_fetch_add(&g_samples_printed, 1) >= ERROR_SAMPLES)
        return;
    /* the first ERROR_SAMPLES failures only, whichever clients hit them */
    if (status) {
        char flat[401];
        size_t n = len < sizeof flat - 1 ? len : sizeof flat - 1, o = 0;
        for (size_t i = 0; i < n; i++) /* one line: newlines and runs of blanks become a space */
            if (!isspace((unsigned char)detail[i]))
                flat[o++] = detail[i];
            else if (o > 0 && flat[o - 1] != ' ')
                flat[o++] = ' ';
        flat[o] = '\0';
        note("client %d: HTTP %d: %s", idx, status, flat);
    } else
        note("client %d: %s", idx, detail);
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    const struct user *u = &g_users[cl->index % g_nusers];
    struct conn c = {.fd = -1};
    struct response r;
    struct buf scratch = {0}, body = {0};
    struct rng rng;
    char path[64], uuid[37];
    long k = 0;

    rng_seed(&rng);
    pthread_barrier_wait(&g_barrier);
    for (;;) {
        int64_t t0 = now_ns();
        if (t0 >= g_t_end)
            break;
        long long conv = g_convs[(cl->index + k) % g_nconvs];
        snprintf(path, sizeof path, "/v1/conversations/%lld/messages", conv);
        uuid_v4(&rng, uuid);
        body.len = 0;
        buf_printf(&body,
                   "{\"client_msg_id\":\"%s\",\"body\":\"bench message %ld from client %d\"}", uuid,
                   k, cl->index);
        k++;
        int rc = http_do(&c, "POST", path, u->token, body.p, &r, &scratch);
        int64_t t1 = now_ns();
        int ok = rc == 0 && r.status == 201;
        if (!ok) {
            if (rc != 0)
                sample_error(cl->index, 0, r.err, strlen(r.err));
            else
                sample_error(cl->index, r.status, r.body, r.body_len);
        }
        if (t1 < g_t_measure || t1 >= g_t_end) {
            if (!ok && t1 < g_t_measure)
                cl->errors_warmup++;
        } else if (ok) {
            if (cl->nlat == cl->caplat) {
                cl->caplat = cl->caplat ? cl->caplat * 2 : 4096;
                cl->lat_us = xrealloc(cl->lat_us, cl->caplat * sizeof *cl->lat_us);
            }
            int64_t us = (t1 - t0 + 500) / 1000;
            cl->lat_us[cl->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        } else {
            cl->errors++;
        }
        if (rc != 0 || r.status >= 500) {
            /* Do not spin on a failing server: a short pause before the next try. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    conn_close(&c);
    cl->reconnects = c.connects > 1 ? c.connects - 1 : 0; /* the first is not a reconnect */
    free(c.in.p);
    free(c.out.p);
    free(scratch.p);
    free(body.p);
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

static void usage(FILE *f)
{
    fputs("usage: send_bench --url http://127.0.0.1:PORT [--clients N] [--duration S]\n"
          "                  [--warmup S] [--users U] [--conversations C] [--watch NAME=PID]...\n"
          "       send_bench --free-ports N\n"
          "Loads POST /v1/conversations/{id}/messages through nginx; see bench/README.md.\n"
          "  --clients N        concurrent keep-alive connections, one thread each (16)\n"
          "  --duration S       measured seconds (10)\n"
          "  --warmup S         seconds run before measuring (2)\n"
          "  --users U          users created for the run (16)\n"
          "  --conversations C  groups created, every user in each (4)\n"
          "  --watch NAME=PID   report the CPU used by PID and its children (repeatable)\n",
          f);
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

int main(int argc, char **argv)
{
    bench_name = "send_bench";
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},      {"clients", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
        {"users", required_argument, NULL, 'U'},    {"conversations", required_argument, NULL, 'C'},
        {"watch", required_argument, NULL, 'W'},    {"free-ports", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *url = NULL;
    int nclients = 16, nusers = 16, nconvs = 4, opt;
    double duration = 10, warmup = 2;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'u':
            url = optarg;
            break;
        case 'c':
            nclients = (int)parse_num("--clients", optarg, 1, MAX_CLIENTS);
            break;
        case 'd':
            duration = parse_num("--duration", optarg, 0.1, 3600);
            break;
        case 'w':
            warmup = parse_num("--warmup", optarg, 0, 600);
            break;
        case 'U':
            nusers = (int)parse_num("--users", optarg, 1, 10000);
            break;
        case 'C':
            nconvs = (int)parse_num("--conversations", optarg, 1, 10000);
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
    parse_url(url);
    setup(nusers, nconvs);

    struct client *cls = calloc((size_t)nclients, sizeof *cls);
    if (!cls)
        die("out of memory");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_barrier_init(&g_barrier, NULL, (unsigned)nclients + 1) != 0)
        die("pthread_barrier_init failed");
    int64_t now = now_ns();
    g_t_start = g_t_measure = g_t_end = now + (int64_t)3600 * 1000000000; /* set below */
    for (int i = 0; i < nclients; i++) {
        cls[i].index = i;
        int rc = pthread_create(&cls[i].tid, &attr, client_main, &cls[i]);
        if (rc != 0)
            die("pthread_create: %s", strerror(rc));
    }
    pthread_attr_destroy(&attr);
    g_t_start = now_ns();
    g_t_measure = g_t_start + (int64_t)(warmup * 1e9);
    g_t_end = g_t_measure + (int64_t)(duration * 1e9);
    pthread_barrier_wait(&g_barrier); /* publishes the times to every client */

    /* CPU snapshot at the start of the measured window. */
    unsigned long long mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
    double tool0 = 0, tool1 = 0;
    int64_t w0 = 0, w1 = 0;
    struct snapshot snap0 = {0}, snap1 = {0};
    if (g_nwatch) {
        int64_t t = g_t_measure - now_ns();
        if (t > 0) {
            struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        w0 = now_ns();
        tool0 = self_cpu_s();
        machine_ticks(&mb0, &mt0);
        snapshot_take(&snap0);
        snapshot_watch(&snap0, 0);
        t = g_t_end - now_ns();
        if (t > 0) {
            struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        w1 = now_ns();
        tool1 = self_cpu_s();
        machine_ticks(&mb1, &mt1);
        snapshot_take(&snap1);
        snapshot_watch(&snap1, 1);
    }

    size_t total = 0;
    long errors = 0, errors_warmup = 0, reconnects = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(cls[i].tid, NULL);
        total += cls[i].nlat;
        errors += cls[i].errors;
        errors_warmup += cls[i].errors_warmup;
        reconnects += cls[i].reconnects;
    }
    uint32_t *all = xmalloc((total ? total : 1) * sizeof *all);
    size_t o = 0;
    double sum_ms = 0;
    for (int i = 0; i < nclients; i++) {
        memcpy(all + o, cls[i].lat_us, cls[i].nlat * sizeof *all);
        o += cls[i].nlat;
        free(cls[i].lat_us);
    }
    qsort(all, total, sizeof *all, cmp_u32);
    for (size_t i = 0; i < total; i++)
        sum_ms += all[i] / 1000.0;

    if (errors_warmup)
        note("%ld errors during warmup (not counted)", errors_warmup);
    printf("clients=%d sends=%zu errors=%ld rate=%.1f/s p50=%.2fms p90=%.2fms p99=%.2fms "
           "p999=%.2fms max=%.2fms mean=%.2fms reconnects=%ld tool_cpu=%.2fs\n",
           nclients, total, errors, (double)total / duration, pct_ms(all, total, 0.50),
           pct_ms(all, total, 0.90), pct_ms(all, total, 0.99), pct_ms(all, total, 0.999),
           total ? all[total - 1] / 1000.0 : 0.0, total ? sum_ms / (double)total : 0.0, reconnects,
           self_cpu_s());
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
            for (char *q = comm; *q; q++) /* keep the line one token per field */
                if (isspace((unsigned char)*q) || *q == '=')
                    *q = '_';
            printf(" top_other=%s[%d]:%.2f", comm, top->pid, (double)tt / hz / wall);
        }
        printf("\n");
    }
    free(snap0.p);
    free(snap1.p);
    free(all);
    free(cls);
    return 0;
}
