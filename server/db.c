/* SPDX-License-Identifier: Apache-2.0 */
/* db.h: the driver is chosen by the target's form; the rest dispatches. */
#include "db_impl.h"

#include <string.h>

int db_open(const char *target, db_t **out)
{
    if (!strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11))
        return db_pg_open(target, out);
    return db_sqlite_open(target, out);
}

void db_close(db_t *db)
{
    if (!db)
        return;
    for (int i = 0; i < DB_SLOTS; i++)
        if (db->slot[i])
            db->ops->free(db->slot[i]);
    db->ops->close(db);
}

bool db_is_pg(const db_t *db) { return db->pg; }
int db_exec(db_t *db, const char *sql) { return db->ops->exec(db, sql); }
int db_begin(db_t *db) { return db->ops->begin(db); }
db_stmt_t *db_prepare(db_t *db, const char *sql) { return db->ops->prepare(db, sql, false); }

db_stmt_t *db_cached(db_t *db, int slot, const char *sql)
{
    if (!db->slot[slot]) {
        if (!(db->slot[slot] = db->ops->prepare(db, sql, true)))
            return NULL;
        db->slot[slot]->cached = true;
    }
    db->ops->clear(db->slot[slot]);
    return db->slot[slot];
}

void db_bind_text(db_stmt_t *s, int i, const char *v) { s->db->ops->bind_text(s, i, v); }
void db_bind_int64(db_stmt_t *s, int i, int64_t v) { s->db->ops->bind_int64(s, i, v); }
int db_step(db_stmt_t *s) { return s->db->ops->step(s); }
int64_t db_col_int64(db_stmt_t *s, int i) { return s->db->ops->col_int64(s, i); }
const char *db_col_text(db_stmt_t *s, int i) { return s->db->ops->col_text(s, i); }
void db_reset(db_stmt_t *s) { s->db->ops->reset(s); }
int64_t db_changes(const db_t *db) { return db->changes; }
bool db_failed(const db_t *db) { return db->ops->failed && db->ops->failed(db); }

void db_finalize(db_stmt_t *s)
{
    if (!s)
        return;
    if (s->cached)
        s->db->ops->reset(s);
    else
        s->db->ops->free(s);
}

void db_observe(db_t *db, void (*observe)(void *ctx, uint64_t ns), void *ctx)
{
    db->observe = observe;
    db->observe_ctx = ctx;
    db->ops->observe(db);
}
