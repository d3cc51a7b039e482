/*
 * db: one lazily (re)connected PostgreSQL connection with classified results.
 *
 * Owns the PGconn and a copy of the conninfo; results handed out by db_exec()
 * belong to the caller. Remembers whether a transaction is open so that a broken
 * connection is retried only when no transaction state would be lost. The last
 * error text and SQLSTATE live in fixed buffers (truncated) for logging.
 * Not thread-safe: each thread owns its own struct db.
 */
#include "db.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    char *conninfo;
    PGconn *conn;
    int in_tx;  /* between a successful BEGIN and COMMIT/ROLLBACK */
    int broken; /* the connection failed; reconnect before the next use */
    char last_error[512];
    char sqlstate[6];
    unsigned long generation; /* successful connects so far */
    /* Statements prepared on the connection of generation prepared_gen. */
    const struct db_stmt *prepared[DB_PREPARED_MAX];
    int nprepared;
    unsigned long prepared_gen;
    int generic_plans; /* db_set_generic_plans */
};

static void set_error(struct db *db, const char *msg)
{
    snprintf(db->last_error, sizeof db->last_error, "%s", msg ? msg : "");
    /* libpq messages span lines with tab indents; one line reads better in logs. */
    char *e = db->last_error;
    size_t o = 0;
    for (size_t i = 0; e[i]; i++) {
        int space = e[i] == '\n' || e[i] == '\r' || e[i] == '\t' || e[i] == ' ';
        if (space && (o == 0 || e[o - 1] == ' '))
            continue;
        e[o++] = space ? ' ' : e[i];
    }
    while (o > 0 && e[o - 1] == ' ')
        o--;
    e[o] = '\0';
}

static void set_sqlstate(struct db *db, const char *s)
{
    snprintf(db->sqlstate, sizeof db->sqlstate, "%.5s", s ? s : "");
}

/* libpq prints notices to stderr by default, which would break the JSON log. */
static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    enum log_level lvl = (sev && strcmp(sev, "WARNING") == 0) ? LOG_WARN : LOG_DEBUG;
    if (log_enabled(lvl))
        log_msg(lvl, "db_notice", "%s", msg ? msg : "");
}

struct db *db_new(const char *conninfo)
{
    struct db *db = xcalloc(1, sizeof *db);
    db->conninfo = xstrdup(conninfo ? conninfo : "");
    return db;
}

void db_set_generic_plans(struct db *db)
{
    db->generic_plans = 1;
    if (db->conn)
        db->broken = 1; /* takes effect on a fresh connection */
}

void db_free(struct db *db)
{
    if (!db)
        return;
    if (db->conn)
        PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

static void drop_conn(struct db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    db->broken = 0;
    db->in_tx = 0;
}

enum db_status db_connect(struct db *db)
{
    if (db->conn && !db->broken && PQstatus(db->conn) == CONNECTION_OK)
        return DB_OK;

    int was_connected = db->conn != NULL;
    drop_conn(db);
    db->conn = PQconnectdb(db->conninfo);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        set_error(db, db->conn ? PQerrorMessage(db->conn) : "out of memory in libpq");
        set_sqlstate(db, "");
        log_warn("db_connect_failed", "%s", db->last_error);
        drop_conn(db);
        return DB_UNAVAILABLE;
    }
    PQsetNoticeReceiver(db->conn, notice_receiver, NULL);
    if (db->generic_plans) {
        /* enable_seqscan = off: a generic plan is made once, from the statistics of
         * that moment; made on a young database (tables nearly empty) it would scan
         * whole tables for ever after. Every statement meant for this is a key
         * lookup, so an index path is always right. */
        PGresult *r = PQexec(db->conn, DB_GENERIC_PLANS_SQL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            set_error(db, PQerrorMessage(db->conn));
            set_sqlstate(db, "");
            log_warn("db_connect_failed", "%s", db->last_error);
            drop_conn(db);
            return DB_UNAVAILABLE;
        }
    }
    db->generation++;
    if (was_connected)
        log_info("db_reconnected", "database connection re-established");
    return DB_OK;
}

unsigned long db_generation(const struct db *db)
{
    return db->generation;
}

PGconn *db_conn(struct db *db)
{
    return db_connect(db) == DB_OK ? db->conn : NULL;
}

enum db_status db_classify_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return DB_ERROR;
    if (strcmp(s, "23505") == 0)
        return DB_CONFLICT;
    if (strncmp(s, "23", 2) == 0)
        return DB_CONSTRAINT;
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
        return DB_RETRY;
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 || strcmp(s, "57P01") == 0 ||
        strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0)
        return DB_UNAVAILABLE;
    return DB_ERROR;
}

static int conn_in_tx(PGconn *conn)
{
    PGTransactionStatusType ts = conn ? PQtransactionStatus(conn) : PQTRANS_UNKNOWN;
    return ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE;
}

/* Whether stmt is prepared on the current connection; prepares it if there is
 * room. Returns 1 (prepared), 0 (run it unprepared), or -1 with the failed
 * result in *res. */
static int ensure_prepared(struct db *db, const struct db_stmt *stmt, int n, PGresult **res)
{
    if (db->prepared_gen != db->generation) {
        db->nprepared = 0;
        db->prepared_gen = db->generation;
    }
    for (int i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == stmt)
            return 1;
    if (db->nprepared == DB_PREPARED_MAX)
        return 0;
    PGresult *r = PQprepare(db->conn, stmt->name, stmt->sql, n, NULL);
    if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        db->prepared[db->nprepared++] = stmt;
        return 1;
    }
    *res = r;
    return -1;
}

/* One attempt. Sets db->broken when the connection is the problem. */
static enum db_status exec_once(struct db *db, PGresult **out, const struct db_stmt *stmt,
                                const char *sql, int n, const char *const *params)
{
    enum db_status st;
    PGresult *res = NULL;
    int prepared = stmt ? ensure_prepared(db, stmt, n, &res) : 0;

    if (prepared == 1)
        res = PQexecPrepared(db->conn, stmt->name, n, params, NULL, NULL, 0);
    else if (prepared == 0)
        res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);

    if (!res) {
        set_error(db, PQerrorMessage(db->conn));
        db->broken = 1;
        return DB_UNAVAILABLE;
    }
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        st = DB_OK;
        break;
    case PGRES_FATAL_ERROR:
        set_sqlstate(db, PQresultErrorField(res, PG_DIAG_SQLSTATE));
        /* The primary message only: DETAIL can quote row values (e-mail
         * addresses in a unique violation) that have no place in logs. */
        set_error(db, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                          ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                          : PQresultErrorMessage(res));
        st = db_classify_sqlstate(db->sqlstate);
        break;
    default:
        /* COPY, empty query, ...: not something callers of db_exec expect. */
        set_error(db, PQresStatus(PQresultStatus(res)));
        st = DB_ERROR;
        break;
    }
    /* Every error the server sends has a SQLSTATE; one without is libpq's own
     * ("server closed the connection unexpectedly"): the connection is gone. */
    if (st == DB_ERROR && db->sqlstate[0] == '\0' && PQresultStatus(res) == PGRES_FATAL_ERROR) {
        db->broken = 1;
        st = DB_UNAVAILABLE;
    }
    /* 08xxx and 57P0x end the session even if libpq has not noticed yet. */
    if (st == DB_UNAVAILABLE && strncmp(db->sqlstate, "53", 2) != 0)
        db->broken = 1;
    if (st != DB_OK && PQstatus(db->conn) == CONNECTION_BAD) {
        db->broken = 1;
        st = DB_UNAVAILABLE;
    }
    if (st == DB_OK && out)
        *out = res;
    else
        PQclear(res);
    if (!db->broken)
        db->in_tx = conn_in_tx(db->conn);
    return st;
}

static enum db_status exec_retry(struct db *db, PGresult **out, const struct db_stmt *stmt,
                                 const char *sql, int n, const char *const *params)
{
    enum db_status st = DB_UNAVAILABLE;
    if (out)
        *out = NULL;
    db->last_error[0] = '\0';
    db->sqlstate[0] = '\0';

    for (int attempt = 0; attempt < 2; attempt++) {
        if (db->in_tx && (db->broken || !db->conn)) {
            /* Reconnecting would silently run the rest of the transaction in
             * autocommit mode; the caller must roll back and start over. */
            set_error(db, "connection lost inside a transaction");
            return DB_UNAVAILABLE;
        }
        if (db_connect(db) != DB_OK)
            return DB_UNAVAILABLE;

        int in_tx = db->in_tx || conn_in_tx(db->conn);
        st = exec_once(db, out, stmt, sql, n, params);
        if (st != DB_UNAVAILABLE || !db->broken || in_tx)
            break;
        log_warn("db_retry", "connection broken (%s); reconnecting once", db->last_error);
    }
    return st;
}

enum db_status db_exec(struct db *db, PGresult **out, const char *sql, int n,
                       const char *const *params)
{
    return exec_retry(db, out, NULL, sql, n, params);
}

enum db_status db_exec_stmt(struct db *db, PGresult **out, const struct db_stmt *stmt, int n,
                            const char *const *params)
{
    return exec_retry(db, out, stmt, stmt->sql, n, params);
}

enum db_status db_begin(struct db *db)
{
    if (db->in_tx) {
        set_error(db, "BEGIN inside a transaction");
        return DB_ERROR;
    }
    enum db_status st = db_exec(db, NULL, "BEGIN", 0, NULL);
    if (st == DB_OK)
        db->in_tx = 1;
    return st;
}

enum db_status db_commit(struct db *db)
{
    PGresult *res = NULL;
    enum db_status st = db_exec(db, &res, "COMMIT", 0, NULL);
    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
    if (st == DB_OK && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        set_error(db, "transaction was aborted; COMMIT rolled back");
        st = DB_ERROR;
    }
    PQclear(res);
    /* Whatever happened, the server has ended the transaction (or the session). */
    db->in_tx = 0;
    return st;
}

void db_rollback(struct db *db)
{
    if (db->conn && !db->broken && PQstatus(db->conn) == CONNECTION_OK) {
        PGresult *res = PQexec(db->conn, "ROLLBACK");
        PQclear(res);
        if (PQstatus(db->conn) == CONNECTION_BAD)
            db->broken = 1;
    }
    db->in_tx = 0;
}

const char *db_last_error(const struct db *db)
{
    return db->last_error;
}

const char *db_last_sqlstate(const struct db *db)
{
    return db->sqlstate;
}
