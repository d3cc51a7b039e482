/*
 * missive-api: the REST application, served over FastCGI behind nginx.
 *
 * main() loads the configuration, starts the request threads (server.c) and then
 * only waits for SIGTERM or SIGINT, which it takes synchronously with sigwait so
 * no handler code runs in signal context. Shutdown stops accepting and lets the
 * requests in flight finish.
 */
#include "app.h"
#include "cli.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "ratelimit.h"
#include "sendq.h"
#include "server.h"
#include "storage.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "missive-api", "The Missive REST API (FastCGI application; run behind nginx).", NULL};
    struct config cfg;
    struct app app;
    struct server *srv = NULL;
    sigset_t sigs;
    int sig = 0, rc = 1;

    argc = cli_start(&prog, argc, argv, &cfg);
    if (argc > 1) {
        fprintf(stderr, "missive-api: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }

    /* Block the signals before any thread starts, so every thread inherits the mask
     * and only sigwait below receives them. SIGPIPE: a client gone mid-answer. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    memset(&app, 0, sizeof app);
    app.cfg = &cfg;
    app.metrics = metrics_new(routes_count);
    app.token_key = (const unsigned char *)cfg.token_secret;
    app.token_keylen = strlen(cfg.token_secret);
    app.pw.memory_kib = (unsigned)cfg.argon2_memory_kib;
    app.pw.iterations = (unsigned)cfg.argon2_iterations;

    char err[256];
    app.storage = storage_new(&cfg, err, sizeof err);
    if (!app.storage) {
        log_error("storage", "%s", err);
        goto out;
    }
    app.sendq = sendq_new(cfg.db_url, cfg.send_batching, cfg.send_max_batch);
    app.limits = ratelimit_new(1 << 16);
    srv = server_new(&app);
    if (!srv || server_start(srv) != 0)
        goto out;

    do {
        sigwait(&sigs, &sig);
    } while (sig == SIGPIPE);
    log_info("stop", "signal %d: finishing requests in flight", sig);
    rc = 0;
out:
    server_free(srv); /* first: requests in flight may still be waiting on sendq */
    sendq_free(app.sendq);
    ratelimit_free(app.limits);
    storage_free(app.storage);
    metrics_free(app.metrics);
    config_release(&cfg);
    log_info("stopped", "missive-api stopped");
    return rc;
}
