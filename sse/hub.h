/*
 * hub: every live connection of this missive-sse process, by user.
 *
 * A stream is one client's SSE connection or one held long-poll. Events reach
 * it from three threads: the replay workers (catch-up from PostgreSQL), the
 * listener (live events after NOTIFY) and the ticker (heartbeats, expiry). They
 * are written into the stream's buffer; libmicrohttpd's thread drains the buffer
 * through hub_read(), suspending the connection when it runs dry and being
 * resumed by whoever appends next. One mutex guards the whole hub: every hold is
 * a few pointer moves and a memcpy.
 *
 * Replay and live meet without gap or duplicate: a stream is registered before
 * its catch-up query runs ("subscribe first"), live events that arrive meanwhile
 * are held back, and when the catch-up ends the held events after its last pos
 * are appended in order. Every event carries its pos; a stream never writes a
 * pos at or below the last one it wrote.
 *
 * A buffer grows only while its client is slower than its events; an idle stream
 * holds no buffer at all. A client that falls more than max_buffer behind is
 * told why and disconnected, and resumes by cursor.
 */
#ifndef MISSIVE_HUB_H
#define MISSIVE_HUB_H

#include <stddef.h>
#include <sys/types.h>

struct MHD_Connection;
struct hub;
struct stream;

enum stream_kind { STREAM_SSE = 0, STREAM_LONGPOLL };

struct hub *hub_new(size_t max_buffer, int retry_ms);
void hub_free(struct hub *h);

/*
 * Registers a stream for user/session, in the catch-up state (live events are
 * held back). The caller holds one reference, dropped by hub_release().
 */
struct stream *hub_open(struct hub *h, enum stream_kind kind, long long user, long long session);
/* Takes another reference (for a replay job). */
void hub_retain(struct hub *h, struct stream *s);
/* Drops a reference; the stream is freed with the last one. */
void hub_release(struct hub *h, struct stream *s);

/* The connection to resume when data arrives (set once the response is queued). */
void hub_attach(struct hub *h, struct stream *s, struct MHD_Connection *c);

/* Appends one catch-up event (pos ascending). */
void hub_replay_event(struct hub *h, struct stream *s, long long pos, const char *type,
                      const char *json, size_t len);
/* Ends catch-up at last_pos: held live events after it follow, then live. */
void hub_replay_done(struct hub *h, struct stream *s, long long last_pos);
/* Fails the stream (catch-up impossible): the client is told why and disconnected. */
void hub_fail(struct hub *h, struct stream *s, const char *reason);

/* A committed event, visible to users[0..n): written to each one's streams. */
void hub_deliver(struct hub *h, long long pos, const char *type, const char *json, size_t len,
                 const long long *users, size_t n);
/* An ephemeral event (typing, presence): no id, never replayed. */
void hub_deliver_ephemeral(struct hub *h, const char *type, const char *json, size_t len,
                           const long long *users, size_t n);

/*
 * libmicrohttpd's content reader for an SSE stream: copies up to max bytes.
 * Returns the count; 0 after suspending the connection (nothing to send yet);
 * -1 when the stream is over (the connection is then closed).
 */
ssize_t hub_read(struct hub *h, struct stream *s, char *buf, size_t max);

/* The connection is gone: stop writing to it. Drops the connection's reference. */
void hub_close(struct hub *h, struct stream *s);

/* For a long-poll: the JSON array text of the events gathered so far ("" if none)
 * and the last pos, or 0 if none. The text stays valid until hub_release. */
const char *hub_longpoll_events(struct hub *h, struct stream *s, long long *last_pos);
/* 1 if a long-poll has something to answer with. */
int hub_longpoll_ready(struct hub *h, struct stream *s);
/*
 * Suspends a long-poll's connection until an event arrives or its deadline
 * (CLOCK_MONOTONIC ms) passes. Returns 0 if there is already something to answer
 * (nothing suspended), 1 if parked.
 */
int hub_park(struct hub *h, struct stream *s, struct MHD_Connection *c, long long deadline_ms);
/* Wakes the long-polls whose deadline has passed. */
void hub_expire(struct hub *h, long long now_ms);

/* Ends the suspended streams whose client has hung up. */
void hub_probe(struct hub *h);
/*
 * Writes a heartbeat comment to every live SSE stream that has been quiet for
 * about interval_ms: each stream between half and all of it, fixed per stream,
 * so that streams opened together do not all beat in the same tick (a beat is a
 * socket write, made with the hub locked). Call it often (every second).
 */
void hub_heartbeat(struct hub *h, long long now_ms, long long interval_ms);
/* Ends every stream of a session that was closed or revoked. */
void hub_end_session(struct hub *h, long long session);
/* Ends every stream, telling SSE clients to reconnect in retry_ms (shutdown). */
void hub_shutdown(struct hub *h);

/* Users with at least one stream here, into a heap array; returns the count. */
size_t hub_users(struct hub *h, long long **out);
/* Streams ended so far because their client fell max_buffer behind. */
unsigned long long hub_slow_readers(struct hub *h);
/* Number of streams, and of distinct users. */
void hub_counts(struct hub *h, size_t *streams, size_t *users);
/* 1 if user has any stream here. */
int hub_user_connected(struct hub *h, long long user);

#endif
