/*
 * log: structured logging, one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-30T12:00:00.123Z","level":"info","prog":"missive-api",
 *    "event":"request","req":"5f2c...","msg":"..."}
 *
 * "event" is a stable machine-readable name; "msg" is for people. The request id
 * is per thread (log_set_request_id) so handlers never pass it around. Extra fields
 * are added with log_kv(), which takes pairs of key and already-formatted values.
 * Never log tokens, passwords or secrets.
 */
#ifndef MISSIVE_LOG_H
#define MISSIVE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *prog, enum log_level min);
/* "debug" | "info" | "warn" | "error"; returns -1 if unknown. */
int log_level_parse(const char *s, enum log_level *out);
int log_enabled(enum log_level lvl);

/* The request id for this thread's following lines; NULL clears it. Copied. */
void log_set_request_id(const char *id);
const char *log_request_id(void);

void log_msg(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * One line with extra string fields: keys[i] = vals[i] for i < n. Values are
 * JSON-escaped. Used for access logs (method, path, status, duration).
 */
void log_fields(enum log_level lvl, const char *event, int n, const char *const keys[],
                const char *const vals[]);

#define log_debug(ev, ...)                                                                        \
    do {                                                                                          \
        if (log_enabled(LOG_DEBUG))                                                               \
            log_msg(LOG_DEBUG, ev, __VA_ARGS__);                                                  \
    } while (0)
#define log_info(ev, ...)  log_msg(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_msg(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_msg(LOG_ERROR, ev, __VA_ARGS__)

#endif
