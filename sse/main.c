/*
 * missive-sse: live delivery over Server-Sent Events and long-poll.
 *
 * main() starts the server (server.c: libmicrohttpd's epoll thread, database
 * threads, the LISTEN thread) and presence (presence.c), then ticks once a second
 * for heartbeats and long-poll deadlines until SIGTERM or SIGINT, taken with
 * sigtimedwait so no code runs in signal context. On SIGTERM every stream is told
 * to reconnect ("retry:") before the process ends.
 */
#include "cli.h"
#include "log.h"
#include "presence.h"
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

/* Streams are file descriptors: take as many as the hard limit allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "missive-sse", "The Missive live-delivery server (Server-Sent Events, long-poll).", NULL};
    struct config cfg;
    struct server *srv = NULL;
    struct presence *pres = NULL;
    sigset_t sigs;
    int rc = 1;

    argc = cli_start(&prog, argc, argv, &cfg);
    if (argc > 1) {
        fprintf(stderr, "missive-sse: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    raise_nofile();

    srv = server_new(&cfg);
    if (!srv)
        goto out;
    pres = presence_new(&cfg, server_hub(srv));
    for (;;) {
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &second);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("stop", "signal %d: closing streams", sig);
            break;
        }
        server_tick(srv);
    }
    rc = 0;
out:
    presence_free(pres); /* first: it reads the hub */
    server_free(srv);
    config_release(&cfg);
    log_info("stopped", "missive-sse stopped");
    return rc;
}
