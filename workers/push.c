/*
 * push: Web Push deliveries for users who are not connected (docs/push.md).
 *
 * One pass:
 *   1. enqueue: read the event stream after the push cursor and queue a push per
 *      (subscription, conversation) for each offline recipient of each new
 *      message (missive_push_enqueue, one transaction per 1000 events);
 *   2. deliver: claim due pushes (SKIP LOCKED, with a lease), build each
 *      payload, encrypt it for its subscription (RFC 8291), sign a VAPID header
 *      (RFC 8292) and POST them with libcurl's multi interface, up to
 *      push_max_in_flight at once; record each outcome (missive_push_result);
 *   3. tell the main loop when the next queued push falls due (push_next_ms),
 *      so a burst's gathering window or a retry's backoff ends on time.
 *
 * Endpoints are URLs that clients chose: libcurl may speak https only, follows
 * no redirects, has connect and total timeouts, keeps at most 64 KiB of any
 * answer, uses no proxy from the environment, and refuses (opensocket callback)
 * to connect to any non-public address unless push_allow_private is set, so DNS
 * that changed since the subscription was vetted cannot reach our network.
 *
 * Single-threaded, like the rest of missive-worker; several workers may run at
 * once (the cursor row and the claims are taken with SKIP LOCKED).
 */
#include "job.h"

#include "crypto.h"
#include "log.h"
#include "netguard.h"
#include "vapidkey.h"
#include "webpush.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ENQUEUE_EVENTS      "1000" /* events read per transaction */
#define ENQUEUE_MAX_ROUNDS  100    /* per pass, so other jobs get their turn */
#define DELIVER_MAX_ROUNDS  50
#define VAPID_JWT_TTL       (12 * 3600) /* exp of the VAPID JWT: well inside 24 h */
#define RESPONSE_KEEP       200         /* bytes of an answer kept for the logs */
#define RESPONSE_MAX        65536       /* a longer answer aborts the transfer */
#define RETRY_CAP_MS        (3600 * 1000LL)
#define RETRY_AFTER_CAP_S   86400
#define DEAD_KEEP           "7 days"
#define USER_AGENT          "missive-push/0.1"

static struct {
    struct webpush_vapid *vapid;
    CURLM *multi;
    long next_ms;        /* -1: nothing queued */
    time_t last_cleanup;
} P = {NULL, NULL, -1, 0};

struct push_req {
    CURL *easy;
    struct curl_slist *headers;
    unsigned char *body;
    size_t body_len;
    char *auth_header;
    char *origin; /* for logs: the endpoint itself is a capability, never logged */
    long long sub, conv;
    int version, attempts;
    int allow_private;
    char refused[64];       /* set by the opensocket callback */
    char resp[RESPONSE_KEEP + 1];
    size_t resp_len, resp_total;
    /* outcome */
    int done;
    CURLcode cc;
    long status;
    long retry_after_s; /* -1: none */
    const char *outcome; /* sent | gone | retry | fail | drop */
    char reason[256];
};

int push_init(const struct config *cfg)
{
    char err[512];
    int created = 0;

    if (vapidkey_load_or_create(cfg->vapid_key_file, &P.vapid, &created, err, sizeof err) != 0) {
        log_error("push", "%s", err);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("push", "libcurl initialisation failed");
        goto fail;
    }
    P.multi = curl_multi_init();
    if (!P.multi) {
        curl_global_cleanup();
        log_error("push", "libcurl multi handle failed");
        goto fail;
    }
    curl_multi_setopt(P.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->push_max_in_flight);
    curl_multi_setopt(P.multi, CURLMOPT_MAXCONNECTS, (long)cfg->push_max_in_flight);
    log_info("push", "VAPID public key %s (%s); subject %s%s", webpush_vapid_public(P.vapid),
             cfg->vapid_key_file, cfg->vapid_subject,
             cfg->push_allow_private ? "; private endpoints ALLOWED (push_allow_private)" : "");
    return 0;
fail:
    webpush_vapid_free(P.vapid);
    P.vapid = NULL;
    return -1;
}

void push_fini(void)
{
    if (P.multi) {
        curl_multi_cleanup(P.multi);
        curl_global_cleanup();
    }
    P.multi = NULL;
    webpush_vapid_free(P.vapid);
    P.vapid = NULL;
}

long push_next_ms(void)
{
    return P.next_ms;
}

/* ------------------------------------------------------------------ libcurl */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct push_req *q = arg;
    size_t len = size * n;
    if (q->resp_len < RESPONSE_KEEP) {
        size_t take = len < RESPONSE_KEEP - q->resp_len ? len : RESPONSE_KEEP - q->resp_len;
        memcpy(q->resp + q->resp_len, data, take);
        q->resp_len += take;
        q->resp[q->resp_len] = '\0';
    }
    q->resp_total += len;
    return q->resp_total > RESPONSE_MAX ? 0 : len; /* 0 aborts the transfer */
}

/* Every connection libcurl opens passes here: the SSRF check at connect time. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct push_req *q = arg;
    if (purpose != CURLSOCKTYPE_IPCXN) {
        snprintf(q->refused, sizeof q->refused, "unexpected socket purpose");
        return CURL_SOCKET_BAD;
    }
    if (!q->allow_private) {
        const char *c = netguard_classify(&a->addr, a->addrlen);
        if (c) {
            snprintf(q->refused, sizeof q->refused, "%s address", c);
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void req_free(struct push_req *q)
{
    if (q->easy)
        curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->headers);
    free(q->body);
    free(q->auth_header);
    free(q->origin);
    memset(q, 0, sizeof *q);
}

static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* Topic: at most 32 characters of the base64url alphabet, the same for every push
 * about one conversation to one subscription (so a newer push replaces an older
 * one still waiting at the push service), and meaningless to the push service:
 * an HMAC keyed with the subscription's auth secret, which only the browser and
 * we know. */
static void topic_of(const unsigned char auth[WEBPUSH_AUTH_LEN], long long conv, char out[25])
{
    unsigned char mac[32];
    char msg[48];
    int n = snprintf(msg, sizeof msg, "missive-topic:%lld", conv);
    crypto_hmac_sha256(auth, WEBPUSH_AUTH_LEN, msg, (size_t)n, mac);
    char *b = crypto_b64url_encode(mac, 18); /* 24 characters */
    snprintf(out, 25, "%s", b);
    free(b);
}

static void add_header(struct push_req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_header(struct push_req *q, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    q->headers = curl_slist_append(q->headers, line);
}

static void set_outcome(struct push_req *q, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_outcome(struct push_req *q, const char *outcome, const char *fmt, ...)
{
    va_list ap;
    q->outcome = outcome;
    va_start(ap, fmt);
    vsnprintf(q->reason, sizeof q->reason, fmt, ap);
    va_end(ap);
    q->done = 1;
}

/*
 * Prepares one claimed row (columns of missive_push_claim) for sending. On a
 * problem that sending cannot fix, q->done is set with the outcome instead.
 */
static void req_prepare(const struct config *cfg, struct push_req *q, const PGresult *r, int i)
{
    const char *endpoint = PQgetvalue(r, i, 4);
    unsigned char ua_public[WEBPUSH_PUBLIC_LEN], auth[WEBPUSH_AUTH_LEN];
    char topic[25];

    memset(q, 0, sizeof *q);
    q->sub = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    q->conv = strtoll(PQgetvalue(r, i, 1), NULL, 10);
    q->version = atoi(PQgetvalue(r, i, 2));
    q->attempts = atoi(PQgetvalue(r, i, 3));
    q->allow_private = cfg->push_allow_private;
    q->retry_after_s = -1;
    if (webpush_origin(endpoint, 0, &q->origin) != 0) {
        q->origin = xstrdup("(invalid)");
        set_outcome(q, "fail", "the endpoint is not a valid https URL");
        return;
    }
    if (PQgetisnull(r, i, 7)) {
        set_outcome(q, "drop", "the message or membership is gone");
        return;
    }
    const char *payload = PQgetvalue(r, i, 7);
    size_t plen = (size_t)PQgetlength(r, i, 7);
    if (plen > WEBPUSH_MAX_PLAINTEXT) {
        set_outcome(q, "fail", "payload of %zu bytes is over %d", plen, WEBPUSH_MAX_PLAINTEXT);
        return;
    }
    if (hex_decode(PQgetvalue(r, i, 5), ua_public, sizeof ua_public) != 0 ||
        hex_decode(PQgetvalue(r, i, 6), auth, sizeof auth) != 0 ||
        webpush_encrypt(ua_public, auth, (const unsigned char *)payload, plen, &q->body,
                        &q->body_len) != 0) {
        set_outcome(q, "fail", "the payload could not be encrypted for the subscription's keys");
        return;
    }
    q->auth_header =
        webpush_vapid_header(P.vapid, endpoint, cfg->vapid_subject, time(NULL), VAPID_JWT_TTL);
    if (!q->auth_header) {
        set_outcome(q, "fail", "no VAPID header could be made for the endpoint");
        return;
    }
    topic_of(auth, q->conv, topic);
    explicit_bzero(auth, sizeof auth);

    add_header(q, "TTL: %d", cfg->push_ttl);
    add_header(q, "Urgency: %s", PQgetvalue(r, i, 8));
    add_header(q, "Topic: %s", topic);
    add_header(q, "Content-Encoding: aes128gcm");
    add_header(q, "Content-Type: application/octet-stream");
    add_header(q, "Authorization: %s", q->auth_header);
    add_header(q, "Expect:"); /* no 100-continue round trip */

    CURL *e = q->easy = curl_easy_init();
    if (!e || !q->headers) {
        set_outcome(q, "retry", "libcurl could not make a request");
        q->status = 0;
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, endpoint);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never one from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->push_timeout * 1000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)q->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)q->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, q);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->push_ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->push_ca_file);
}

/* Retry-After: delay-seconds or an HTTP-date; -1 if absent or unreadable. */
static long retry_after(CURL *e)
{
    struct curl_header *h = NULL;
    if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
        return -1;
    const char *v = h->value;
    char *end = NULL;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0' && s >= 0)
        return s < RETRY_AFTER_CAP_S ? s : RETRY_AFTER_CAP_S;
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1)
        return -1;
    long d = (long)(t - time(NULL));
    return d < 0 ? 0 : (d < RETRY_AFTER_CAP_S ? d : RETRY_AFTER_CAP_S);
}

/* Classifies a finished transfer. */
static void req_finish(struct push_req *q, CURLcode cc)
{
    q->cc = cc;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
    if (cc != CURLE_OK) {
        q->status = 0;
        if (q->refused[0])
            set_outcome(q, "fail", "refused to connect to a %s (push_allow_private is off)",
                        q->refused);
        else
            set_outcome(q, "retry", "%s", curl_easy_strerror(cc));
        return;
    }
    long st = q->status;
    if (st >= 200 && st < 300)
        set_outcome(q, "sent", "%ld", st);
    else if (st == 404 || st == 410)
        set_outcome(q, "gone", "HTTP %ld: the subscription expired or was removed", st);
    else if (st == 429 || st >= 500) {
        q->retry_after_s = retry_after(q->easy);
        set_outcome(q, "retry", "HTTP %ld %.*s", st, (int)q->resp_len, q->resp);
    } else
        set_outcome(q, "fail", "HTTP %ld %.*s", st, (int)q->resp_len, q->resp);
}

/* Sends the prepared requests together; returns when all have finished. */
static void run_all(struct push_req *qs, int n)
{
    int running = 0, added = 0;

    for (int i = 0; i < n; i++)
        if (!qs[i].done && qs[i].easy && curl_multi_add_handle(P.multi, qs[i].easy) == CURLM_OK)
            added++;
        else if (!qs[i].done)
            set_outcome(&qs[i], "retry", "libcurl could not start the request");
    if (!added)
        return;
    do {
        CURLMcode mc = curl_multi_perform(P.multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(P.multi, &left)) != NULL) {
            struct push_req *q = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(P.multi, m->easy_handle);
            if (q)
                req_finish(q, cc);
        }
        if (mc != CURLM_OK) {
            log_error("push", "libcurl: %s", curl_multi_strerror(mc));
            break;
        }
        if (running)
            curl_multi_poll(P.multi, NULL, 0, 1000, NULL);
    } while (running);
    /* Anything still attached after a multi error is abandoned and retried later. */
    for (int i = 0; i < n; i++)
        if (!qs[i].done && qs[i].easy) {
            curl_multi_remove_handle(P.multi, qs[i].easy);
            set_outcome(&qs[i], "retry", "the transfer did not finish");
        }
}

/* Milliseconds before attempt number attempts + 1: exponential with equal jitter
 * (half fixed, half random), and never sooner than the service's Retry-After. */
static long long backoff_ms(const struct config *cfg, int attempts, long retry_after_s)
{
    long long d = cfg->push_retry_base_ms;
    for (int i = 1; i < attempts && d < RETRY_CAP_MS; i++)
        d *= 2;
    if (d > RETRY_CAP_MS)
        d = RETRY_CAP_MS;
    uint32_t rnd;
    crypto_random(&rnd, sizeof rnd);
    d = d / 2 + (long long)(rnd % (uint32_t)(d / 2 + 1));
    if (retry_after_s >= 0 && retry_after_s * 1000LL > d)
        d = retry_after_s * 1000LL;
    return d;
}

/* Records one outcome. 0, or -1 on a database error. */
static int record(const struct config *cfg, struct db *db, struct push_req *q)
{
    char sub[24], conv[24], ver[16], status[24], label[24], delay[24], maxa[16], gather[16];
    PGresult *r = NULL;

    snprintf(sub, sizeof sub, "%lld", q->sub);
    snprintf(conv, sizeof conv, "%lld", q->conv);
    snprintf(ver, sizeof ver, "%d", q->version);
    snprintf(status, sizeof status, "%ld", q->status);
    if (q->status > 0)
        snprintf(label, sizeof label, "%ld", q->status);
    else
        snprintf(label, sizeof label, "%s",
                 q->refused[0] ? "refused" : q->cc != CURLE_OK ? "network" : "local");
    snprintf(delay, sizeof delay, "%lld",
             strcmp(q->outcome, "retry") == 0 ? backoff_ms(cfg, q->attempts, q->retry_after_s) : 0);
    snprintf(maxa, sizeof maxa, "%d", cfg->push_max_attempts);
    snprintf(gather, sizeof gather, "%d", cfg->push_gather_ms);
    const char *p[10] = {sub,   conv,      ver,   q->outcome, q->status > 0 ? status : NULL,
                         label, delay, q->reason, maxa,       gather};
    if (strcmp(q->outcome, "drop") == 0) {
        const char *d[2] = {sub, conv};
        if (db_exec(db, NULL,
                    "WITH gone AS (DELETE FROM push_outbox WHERE subscription_id = $1"
                    "  AND conversation_id = $2 RETURNING 1)"
                    " SELECT missive_push_count('skipped', '', (SELECT count(*) FROM gone))",
                    2, d) != DB_OK)
            goto dberr;
        return 0;
    }
    if (db_exec(db, &r,
                "SELECT missive_push_result($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10, p) !=
        DB_OK)
        goto dberr;
    const char *became = PQgetvalue(r, 0, 0);
    if (strcmp(became, "sent") == 0)
        log_debug("push_sent", "subscription %lld, conversation %lld: %s (HTTP %ld)", q->sub,
                  q->conv, q->origin, q->status);
    else if (strcmp(became, "retry") == 0)
        log_info("push_retry", "subscription %lld at %s, attempt %d: %s; retrying in %s ms", q->sub,
                 q->origin, q->attempts, q->reason, delay);
    else if (strcmp(became, "removed") == 0)
        log_info("push_subscription_gone", "subscription %lld at %s deleted: %s", q->sub,
                 q->origin, q->reason);
    else if (strcmp(became, "dead") == 0)
        log_warn("push_gave_up", "subscription %lld at %s, conversation %lld: %s", q->sub,
                 q->origin, q->conv, q->reason);
    PQclear(r);
    return 0;
dberr:
    log_warn("push", "recording a result failed: %s", db_last_error(db));
    return -1;
}

/* ------------------------------------------------------------------ the pass */

static int enqueue(const struct config *cfg, struct db *db)
{
    char timeout[16], gather[16], max_age[16];
    int total = 0;

    snprintf(timeout, sizeof timeout, "%d", cfg->presence_timeout);
    snprintf(gather, sizeof gather, "%d", cfg->push_gather_ms);
    /* Messages older than their push could live are not worth a push any more. */
    snprintf(max_age, sizeof max_age, "%d", cfg->push_ttl > 300 ? cfg->push_ttl : 300);
    const char *p[4] = {ENQUEUE_EVENTS, timeout, gather, max_age};
    for (int round = 0; round < ENQUEUE_MAX_ROUNDS; round++) {
        PGresult *r = NULL;
        if (db_exec(db, &r, "SELECT missive_push_enqueue($1, $2, $3, $4)", 4, p) != DB_OK) {
            log_warn("push", "enqueue failed: %s", db_last_error(db));
            return -1;
        }
        int n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (n == 0)
            break;
        total += n;
    }
    return total;
}

/* Claims and sends one batch. Returns the rows claimed, or -1. */
static int deliver_batch(const struct config *cfg, struct db *db)
{
    char limit[16], timeout[16], lease[16];
    PGresult *r = NULL;
    int n, failed = 0;

    snprintf(limit, sizeof limit, "%d", cfg->push_max_in_flight);
    snprintf(timeout, sizeof timeout, "%d", cfg->presence_timeout);
    snprintf(lease, sizeof lease, "%d", cfg->push_timeout + 30);
    const char *p[3] = {limit, timeout, lease};
    if (db_exec(db, &r, "SELECT * FROM missive_push_claim($1, $2, $3)", 3, p) != DB_OK) {
        log_warn("push", "claim failed: %s", db_last_error(db));
        return -1;
    }
    n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return 0;
    }
    struct push_req *qs = xcalloc((size_t)n, sizeof *qs);
    for (int i = 0; i < n; i++)
        req_prepare(cfg, &qs[i], r, i);
    PQclear(r);
    run_all(qs, n);
    for (int i = 0; i < n; i++) {
        /* A lost database leaves the rest to their lease: they are sent again. */
        if (!failed && record(cfg, db, &qs[i]) != 0)
            failed = 1;
        req_free(&qs[i]);
    }
    free(qs);
    return failed ? -1 : n;
}

/* When the next queued push is due, for the main loop's timer. */
static void plan_next(struct db *db)
{
    PGresult *r = NULL;
    P.next_ms = -1;
    if (db_exec(db, &r,
                /* greatest() skips NULLs: an empty queue must give NULL, not 0 */
                "SELECT CASE WHEN min(next_at) IS NOT NULL THEN"
                " greatest(0, ceil(extract(epoch FROM min(next_at) - now()) * 1000))::bigint END"
                " FROM push_outbox",
                0, NULL) != DB_OK)
        return;
    if (!PQgetisnull(r, 0, 0))
        P.next_ms = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
}

int push_pass(const struct config *cfg, struct db *db)
{
    int queued, sent = 0;

    if (!P.vapid || !P.multi)
        return -1;
    queued = enqueue(cfg, db);
    if (queued < 0) {
        P.next_ms = -1;
        return -1;
    }
    /* Most wake-ups only queue (the new rows wait for their gathering window):
     * claim only when something is due. */
    plan_next(db);
    int tried = P.next_ms == 0;
    for (int round = 0; tried && round < DELIVER_MAX_ROUNDS; round++) {
        int n = deliver_batch(cfg, db);
        if (n < 0) {
            P.next_ms = -1;
            return -1;
        }
        sent += n;
        if (n < cfg->push_max_in_flight)
            break;
    }
    if (time(NULL) - P.last_cleanup >= 600) {
        P.last_cleanup = time(NULL);
        if (db_exec(db, NULL, "DELETE FROM push_dead WHERE failed_at < now() - interval '" DEAD_KEEP "'",
                    0, NULL) != DB_OK)
            log_warn("push", "dead-letter cleanup failed: %s", db_last_error(db));
    }
    if (tried)
        plan_next(db);
    if (queued || sent)
        log_debug("push", "read %d events, handled %d pushes", queued, sent);
    return queued + sent;
}
