/*
 * missive-migrate: applies db/migrations/NNNN_name.sql in order, once each.
 *
 * Safe to run twice (applied versions are recorded in schema_migrations) and
 * concurrently (a session advisory lock serialises runners; the second one finds
 * the work done). Each migration runs in its own transaction with its record, so
 * a failing migration leaves the schema at the previous version.
 */
#include "cli.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An arbitrary constant naming "the migration lock" among advisory locks. */
#define MIGRATE_LOCK_KEY "7283450012"

struct migration {
    int version;
    char *name; /* file name */
};

static int is_migration_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 10 || strcmp(n + len - 4, ".sql") != 0 || n[4] != '_')
        return 0;
    for (int i = 0; i < 4; i++)
        if (n[i] < '0' || n[i] > '9')
            return 0;
    return 1;
}

static int by_version(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Lists migrations in dir sorted by version; -1 on error or duplicate versions. */
static int list_migrations(const char *dir, struct migration **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct migration *v = NULL;
    size_t cnt = 0, cap = 0;

    if (!d) {
        log_error("migrate_dir", "cannot open %s", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (!is_migration_name(e->d_name))
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[cnt].version = atoi(e->d_name);
        v[cnt].name = xstrdup(e->d_name);
        cnt++;
    }
    closedir(d);
    qsort(v, cnt, sizeof *v, by_version);
    for (size_t i = 1; i < cnt; i++) {
        if (v[i].version == v[i - 1].version) {
            log_error("migrate_dup", "two migrations with version %04d", v[i].version);
            for (size_t j = 0; j < cnt; j++)
                free(v[j].name);
            free(v);
            return -1;
        }
    }
    *out = v;
    *n = cnt;
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = xmalloc((size_t)len + 1);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[len] = '\0';
out:
    fclose(f);
    return buf;
}

static int already_applied(struct db *db, int version, int *applied)
{
    char vbuf[16];
    const char *p[1] = {vbuf};
    PGresult *r = NULL;

    snprintf(vbuf, sizeof vbuf, "%d", version);
    if (db_exec(db, &r, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p) != DB_OK)
        return -1;
    *applied = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

static int apply(struct db *db, const char *dir, const struct migration *m)
{
    char *path = xasprintf("%s/%s", dir, m->name);
    char *sql = read_file(path);
    char vbuf[16];
    const char *p[2] = {vbuf, m->name};
    PGresult *r = NULL;
    int rc = -1;

    snprintf(vbuf, sizeof vbuf, "%d", m->version);
    if (!sql) {
        log_error("migrate_read", "cannot read %s", path);
        goto out;
    }
    if (db_begin(db) != DB_OK)
        goto out;
    /* Our own trusted file with several statements: the one place PQexec is right. */
    r = PQexec(db_conn(db), sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_error("migrate_failed", "%s: %s", m->name, PQresultErrorMessage(r));
        db_rollback(db);
        goto out;
    }
    if (db_exec(db, NULL, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                p) != DB_OK ||
        db_commit(db) != DB_OK) {
        log_error("migrate_record", "%s: %s", m->name, db_last_error(db));
        db_rollback(db);
        goto out;
    }
    log_info("migrate_applied", "applied %s", m->name);
    rc = 0;
out:
    PQclear(r);
    free(sql);
    free(path);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "missive-migrate", "Applies the numbered SQL migrations to the Missive database.",
        "[-d DIR]  (DIR defaults to db/migrations)"};
    struct config cfg;
    const char *dir = "db/migrations";
    struct migration *ms = NULL;
    size_t n = 0, done = 0;
    struct db *db = NULL;
    int rc = 1;

    argc = cli_start(&prog, argc, argv, &cfg);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "missive-migrate: unknown argument '%s' (see --help)\n", argv[i]);
            goto out;
        }
    }
    if (list_migrations(dir, &ms, &n) != 0)
        goto out;

    db = db_new(cfg.db_url);
    if (db_connect(db) != DB_OK) {
        log_error("db_connect", "cannot connect: %s", db_last_error(db));
        goto out;
    }
    if (db_exec(db, NULL, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL) != DB_OK ||
        db_exec(db, NULL,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                0, NULL) != DB_OK) {
        log_error("migrate_lock", "%s", db_last_error(db));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int applied = 0;
        if (already_applied(db, ms[i].version, &applied) != 0)
            goto out;
        if (applied)
            continue;
        if (apply(db, dir, &ms[i]) != 0)
            goto out;
        done++;
    }
    log_info("migrate_done", "%zu applied, %zu already present", done, n - done);
    rc = 0;
out:
    if (db)
        db_exec(db, NULL, "SELECT pg_advisory_unlock_all()", 0, NULL);
    db_free(db);
    for (size_t i = 0; i < n; i++)
        free(ms[i].name);
    free(ms);
    config_release(&cfg);
    return rc;
}
