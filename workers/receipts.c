/*
 * receipts: applies pending delivered/read marks and emits coalesced receipt
 * events (db/migrations/0006_receipts.sql does the work in one transaction per
 * batch; any number of workers can run side by side thanks to SKIP LOCKED).
 */
#include "job.h"

#include "log.h"

#include <stdlib.h>

#define RECEIPTS_BATCH "2000"

int receipts_pass(const struct config *cfg, struct db *db)
{
    const char *p[1] = {RECEIPTS_BATCH};
    PGresult *r = NULL;
    int total = 0;
    (void)cfg;

    for (;;) {
        int n;
        if (db_exec(db, &r, "SELECT missive_apply_receipts($1)", 1, p) != DB_OK) {
            log_warn("receipts", "batch failed: %s", db_last_error(db));
            return -1;
        }
        n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (n == 0)
            break;
        total += n;
    }
    if (total)
        log_debug("receipts", "applied %d marks", total);
    return total;
}
