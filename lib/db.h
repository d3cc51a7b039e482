/*
 * db: a PostgreSQL connection that heals itself.
 *
 * Each thread owns one struct db. Queries are always parameterized (text params).
 * When the connection is found broken, the next call reconnects once before
 * giving up, so a database restart costs the callers in flight a DB_UNAVAILABLE
 * (HTTP 503) and nothing more. Results are classified so that callers never parse
 * SQLSTATE themselves.
 */
#ifndef MISSIVE_DB_H
#define MISSIVE_DB_H

#include <libpq-fe.h>

enum db_status {
    DB_OK = 0,          /* command ok, or rows returned (maybe zero) */
    DB_CONFLICT,        /* unique violation (23505) */
    DB_CONSTRAINT,      /* other integrity violation (23xxx) */
    DB_RETRY,           /* serialization failure / deadlock (40001, 40P01) */
    DB_UNAVAILABLE,     /* cannot reach the server, or it is shutting down */
    DB_ERROR,           /* anything else: a bug or a bad query */
};

struct db;

/* Does not connect yet; the first query does. conninfo is copied. */
struct db *db_new(const char *conninfo);
void db_free(struct db *db);

/*
 * Every statement of this connection gets PostgreSQL's generic plan
 * (plan_cache_mode = force_generic_plan, and enable_seqscan = off so that a plan
 * made while the tables were small does not scan them whole later; set again
 * after each reconnect). For a
 * connection that runs only the hot prepared statements below: left to itself,
 * PostgreSQL may keep planning them per call ("custom plans") whenever it
 * estimates the generic plan dearer, which for our inlined SQL functions means
 * parsing the function again on every call (bench/README.md). Not for a
 * connection running ad-hoc queries, which do better with custom plans.
 */
void db_set_generic_plans(struct db *db);
/* The settings it makes, for a connection not held in a struct db (the listener). */
#define DB_GENERIC_PLANS_SQL "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off"


/* Connects now if not connected. Returns DB_OK or DB_UNAVAILABLE. */
enum db_status db_connect(struct db *db);
PGconn *db_conn(struct db *db);
/* Counts successful connects: a change means session state (LISTEN, SET) is gone. */
unsigned long db_generation(const struct db *db);

/*
 * Runs sql with n text params (NULL = SQL NULL). On DB_OK *out (if not NULL)
 * receives the result, which the caller PQclear()s; on any other status *out is
 * NULL. A broken connection outside a transaction is reconnected and the query
 * retried once; inside a transaction it is not (the transaction is gone).
 */
enum db_status db_exec(struct db *db, PGresult **out, const char *sql, int n,
                       const char *const *params);

/*
 * A hot query, prepared once per connection: its name must be unique in the
 * program and sql fixed (a static const struct db_stmt). For queries run far more
 * often than their plan changes, whose planning costs more than their execution
 * (missive-sse's fan-out and replay lookups).
 */
struct db_stmt {
    const char *name;
    const char *sql;
};
#define DB_PREPARED_MAX 16 /* statements one struct db keeps prepared */

/* As db_exec, for a prepared statement (prepared first when this connection has
 * not seen it; past DB_PREPARED_MAX statements it runs unprepared). */
enum db_status db_exec_stmt(struct db *db, PGresult **out, const struct db_stmt *stmt, int n,
                            const char *const *params);

/* BEGIN / COMMIT / ROLLBACK. rollback never fails loudly. */
enum db_status db_begin(struct db *db);
enum db_status db_commit(struct db *db);
void db_rollback(struct db *db);

/* The last error text for logs (never sent to clients). */
const char *db_last_error(const struct db *db);
/* The last SQLSTATE ("" if none). */
const char *db_last_sqlstate(const struct db *db);

/* Classifies a SQLSTATE string. */
enum db_status db_classify_sqlstate(const char *sqlstate);

#endif
