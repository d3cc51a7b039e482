/*
 * missive-sse: the live-delivery server (libmicrohttpd, epoll).
 *
 * This first version starts, reads the configuration, connects to PostgreSQL and
 * answers GET /healthz; the event stream itself (GET /v1/stream) arrives with the
 * live-delivery work. Everything runs on libmicrohttpd's single internal epoll
 * thread, which also owns the database connection; main() only waits for SIGTERM.
 */
#include "cli.h"
#include "db.h"
#include "log.h"
#include "problem.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sse {
    struct db *db; /* touched only by the MHD thread */
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct MHD_Response *resp;
    enum MHD_Result rc;

    json_decref(body);
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **ctx)
{
    struct sse *s = cls;
    (void)version;
    (void)upload;

    if (*ctx == NULL) { /* first call: headers only */
        *ctx = s;
        return MHD_YES;
    }
    if (*upload_size) { /* we take no bodies */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return answer(c, 405, PROBLEM_CONTENT_TYPE,
                          problem_new(PROB_METHOD, "Only GET is allowed here.", NULL));
        int ok = db_exec(s->db, NULL, "SELECT 1", 0, NULL) == DB_OK;
        return answer(c, ok ? 200 : 503, "application/json",
                      json_pack("{s:s,s:{s:s}}", "status", ok ? "ok" : "unavailable", "checks",
                                "database", ok ? "ok" : "unavailable"));
    }
    return answer(c, 404, PROBLEM_CONTENT_TYPE,
                  problem_new(PROB_NOT_FOUND, "There is no resource at this path.", NULL));
}

/* Parses "host:port" (IPv4) into sa. -1 if malformed. */
static int parse_listen(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    long port;
    char *end;

    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "missive-sse", "The Missive live-delivery server (Server-Sent Events, long-poll).", NULL};
    struct config cfg;
    struct sse s = {0};
    struct MHD_Daemon *d = NULL;
    struct sockaddr_in sa;
    sigset_t sigs;
    int sig = 0, rc = 1;

    argc = cli_start(&prog, argc, argv, &cfg);
    if (argc > 1) {
        fprintf(stderr, "missive-sse: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    if (parse_listen(cfg.sse_listen, &sa) != 0) {
        log_error("config", "sse_listen must be IPv4 host:port, got '%s'", cfg.sse_listen);
        goto out;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    s.db = db_new(cfg.db_url);
    if (db_connect(s.db) != DB_OK)
        log_warn("db_connect", "database not reachable yet: %s", db_last_error(s.db));

    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         on_request, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg.sse_max_connections,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)4096,
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!d) {
        log_error("listen", "cannot listen on %s", cfg.sse_listen);
        goto out;
    }
    log_info("ready", "listening on %s", cfg.sse_listen);
    do {
        sigwait(&sigs, &sig);
    } while (sig == SIGPIPE);
    log_info("stop", "signal %d: shutting down", sig);
    rc = 0;
out:
    if (d)
        MHD_stop_daemon(d);
    db_free(s.db);
    config_release(&cfg);
    return rc;
}
