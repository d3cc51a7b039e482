/*
 * missive-worker: background jobs (push notifications, read receipts, sweeping).
 *
 * This first version starts, reads the configuration, keeps a PostgreSQL
 * connection alive and idles until SIGTERM; the jobs arrive with their issues.
 * `--once` runs one pass and exits, for cron.
 */
#include "cli.h"
#include "db.h"
#include "log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "missive-worker", "Missive background jobs: push, receipts, sweep.",
        "[--once] [all|push|receipts|sweep]"};
    struct config cfg;
    struct db *db = NULL;
    sigset_t sigs;
    int once = 0, rc = 1;
    const char *job = "all";

    argc = cli_start(&prog, argc, argv, &cfg);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            once = 1;
        else if (strcmp(argv[i], "all") == 0 || strcmp(argv[i], "push") == 0 ||
                 strcmp(argv[i], "receipts") == 0 || strcmp(argv[i], "sweep") == 0)
            job = argv[i];
        else {
            fprintf(stderr, "missive-worker: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    db = db_new(cfg.db_url);
    log_info("ready", "job %s%s", job, once ? " (once)" : "");
    for (;;) {
        struct timespec wait = {cfg.worker_poll_interval, 0};
        if (db_exec(db, NULL, "SELECT 1", 0, NULL) != DB_OK)
            log_warn("db_unavailable", "%s", db_last_error(db));
        if (once)
            break;
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("stop", "signal %d: stopping", sig);
            break;
        }
    }
    rc = 0;
    db_free(db);
    config_release(&cfg);
    return rc;
}
