/*
 * missive-worker: background jobs, as a daemon or once from cron.
 *
 *   missive-worker [-c FILE] [--once] [all|receipts|sweep|push|thumbs]
 *
 * The daemon LISTENs on the channels of its jobs and runs a job when its channel
 * is notified, when a timer it asked for (next_ms) is due, and at the latest every
 * worker_poll_interval seconds, so a lost notification costs latency, never
 * work. Signals are read from a signalfd in the same poll() as the database
 * socket: no code runs in signal context, and SIGTERM ends the loop between
 * passes (a pass is one transaction at a time, so nothing is left half done).
 */
#include "cli.h"
#include "db.h"
#include "job.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const struct job jobs[] = {
    {"receipts", "missive_receipts", 100, receipts_pass, NULL, NULL, NULL},
    {"sweep", NULL, 0, sweep_pass, NULL, NULL, NULL},
    /* Woken by every committed event (each send batch): at most four passes a
     * second, so one pass reads many batches' events; pushes wait for their own
     * gathering window (push_gather_ms) anyway. */
    {"push", "missive_events", 250, push_pass, push_init, push_fini, push_next_ms},
    /* Woken when an image becomes ready (a trigger of db/migrations/0010_thumbs.sql). */
    {"thumbs", "missive_thumbs", 0, thumbs_pass, thumbs_init, thumbs_fini, thumbs_next_ms},
};
#define NJOBS (sizeof jobs / sizeof jobs[0])

/* LISTENs for the selected jobs. 0, or -1 if the database is unreachable. */
static int listen_all(struct db *db, const int *selected)
{
    for (size_t i = 0; i < NJOBS; i++) {
        if (!selected[i] || !jobs[i].channel)
            continue;
        char *sql = NULL;
        if (asprintf(&sql, "LISTEN %s", jobs[i].channel) < 0)
            return -1;
        enum db_status st = db_exec(db, NULL, sql, 0, NULL);
        free(sql);
        if (st != DB_OK)
            return -1;
    }
    return 0;
}

static long long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* When job i runs next if nothing wakes it: after the poll interval, or sooner if
 * the job asks for it. */
static long long next_due(const struct config *cfg, size_t i)
{
    long long now = mono_ms(), due = now + (long long)cfg->worker_poll_interval * 1000;
    if (jobs[i].next_ms) {
        long n = jobs[i].next_ms();
        if (n >= 0 && now + n < due)
            due = now + n;
    }
    return due;
}

/* Marks the jobs whose channel has a notification waiting in libpq. Queries run
 * by the passes read notifications off the socket along with their results, so
 * they can sit here while the socket itself has nothing more to read. */
static int take_notifies(PGconn *conn, const int *selected, int *woken)
{
    PGnotify *note;
    int any = 0;
    while ((note = PQnotifies(conn)) != NULL) {
        for (size_t j = 0; j < NJOBS; j++)
            if (selected[j] && jobs[j].channel && strcmp(note->relname, jobs[j].channel) == 0)
                woken[j] = any = 1;
        PQfreemem(note);
    }
    return any;
}

static void run_job(const struct config *cfg, struct db *db, size_t i, int woken,
                    long long *due, long long *last)
{
    *last = mono_ms();
    jobs[i].pass(cfg, db);
    *due = next_due(cfg, i);
    /* Wakers may skip their NOTIFY for a while after sending one (api/h_receipts.c
     * does, for half of receipts' gather_ms), trusting that work gathers: so a
     * woken pass is followed by one more at the end of its window, which takes
     * what came after it without a NOTIFY of its own. */
    if (woken && jobs[i].gather_ms && *last + jobs[i].gather_ms < *due)
        *due = *last + jobs[i].gather_ms;
}

/* A wake-up runs job i now, unless it ran less than gather_ms ago: then its
 * next run moves up to the end of that window, and whatever else arrives
 * meanwhile is taken by that one pass. The loop never sleeps for it, so the
 * other jobs and the signals are served in the meantime. */
static void defer_wake(size_t i, long long now, long long last, long long *due)
{
    long long at = last + jobs[i].gather_ms;
    if (at > now && at < *due)
        *due = at;
    else if (at <= now)
        *due = now;
}

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "missive-worker", "Missive background jobs: receipts, sweep, push, thumbs.",
        "[--once] [all|receipts|sweep|push|thumbs]"};
    struct config cfg;
    struct db *db = NULL;
    sigset_t sigs;
    int once = 0, rc = 1, sfd = -1, any = 0;
    int selected[NJOBS] = {0};

    argc = cli_start(&prog, argc, argv, &cfg);
    for (int i = 1; i < argc; i++) {
        int known = 0;
        if (strcmp(argv[i], "--once") == 0) {
            once = known = 1;
        } else if (strcmp(argv[i], "all") == 0) {
            for (size_t j = 0; j < NJOBS; j++)
                selected[j] = 1;
            known = any = 1;
        } else {
            for (size_t j = 0; j < NJOBS; j++)
                if (strcmp(argv[i], jobs[j].name) == 0)
                    selected[j] = known = any = 1;
        }
        if (!known) {
            fprintf(stderr, "missive-worker: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!any)
        for (size_t j = 0; j < NJOBS; j++)
            selected[j] = 1;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

    /* Jobs with set-up (keys, HTTP clients) that fails are left out, not fatal
     * to the others; with nothing left to run the worker fails. */
    int inited[NJOBS] = {0}, left = 0;
    for (size_t j = 0; j < NJOBS; j++) {
        if (selected[j] && jobs[j].init && jobs[j].init(&cfg) != 0) {
            log_error("job_disabled", "job %s could not start; running without it", jobs[j].name);
            selected[j] = 0;
        } else if (selected[j]) {
            inited[j] = jobs[j].init != NULL;
        }
        left += selected[j];
    }
    if (!left)
        goto out;

    long long due[NJOBS] = {0}, last[NJOBS] = {0};
    int pending[NJOBS] = {0}; /* woken, and not run since */
    db = db_new(cfg.db_url);
    for (size_t j = 0; j < NJOBS; j++) /* what piled up while no worker ran */
        if (selected[j])
            run_job(&cfg, db, j, 0, &due[j], &last[j]);
    if (once) {
        rc = 0;
        goto out;
    }
    log_info("ready", "jobs running; polling every %d s", cfg.worker_poll_interval);
    /* Which connection LISTEN ran on: db.c may reconnect behind our back, and a
     * new connection listens to nothing until told again. */
    unsigned long listened_gen = 0;
    for (;;) {
        PGconn *conn = db_conn(db);
        int woken[NJOBS] = {0};
        long long now = mono_ms(), first = now + (long long)cfg.worker_poll_interval * 1000;
        if (conn && db_generation(db) != listened_gen)
            listened_gen = listen_all(db, selected) == 0 ? db_generation(db) : 0;
        if (!listened_gen || db_generation(db) != listened_gen)
            conn = NULL;
        for (size_t j = 0; j < NJOBS; j++)
            if (selected[j] && due[j] < first)
                first = due[j];
        if (conn && take_notifies(conn, selected, woken))
            first = now; /* already woken: only look for signals */
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {conn ? PQsocket(conn) : -1, POLLIN, 0}};
        int n = poll(fds, 2, first > now ? (int)(first - now) : 0);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) > 0)
                log_info("stop", "signal %u: stopping", si.ssi_signo);
            break;
        }
        if (conn && fds[1].revents) {
            if (!PQconsumeInput(conn)) {
                log_warn("db_lost", "%s", PQerrorMessage(conn));
                listened_gen = 0;
            }
            take_notifies(conn, selected, woken);
        }
        now = mono_ms();
        for (size_t j = 0; j < NJOBS; j++) {
            if (!selected[j])
                continue;
            if (woken[j]) {
                pending[j] = 1;
                defer_wake(j, now, last[j], &due[j]);
            }
            if (now >= due[j]) {
                run_job(&cfg, db, j, pending[j], &due[j], &last[j]);
                pending[j] = 0;
            }
        }
    }
    rc = 0;
out:
    for (size_t j = 0; j < NJOBS; j++)
        if (inited[j])
            jobs[j].fini();
    if (sfd >= 0)
        close(sfd);
    db_free(db);
    config_release(&cfg);
    return rc;
}
