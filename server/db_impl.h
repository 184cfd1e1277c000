/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a driver of db.h provides (db_sqlite.c, db_pg.c); db.c dispatches.
 * Not for the store: it sees db.h only.
 */
#ifndef SRV_DB_IMPL_H
#define SRV_DB_IMPL_H

#include "db.h"

#include <stddef.h>

typedef struct {
    void (*close)(db_t *db);
    int (*exec)(db_t *db, const char *sql);
    int (*begin)(db_t *db);
    db_stmt_t *(*prepare)(db_t *db, const char *sql, bool persistent);
    void (*clear)(db_stmt_t *s); /* reset and unbind */
    void (*bind_text)(db_stmt_t *s, int i, const char *v);
    void (*bind_int64)(db_stmt_t *s, int i, int64_t v);
    int (*step)(db_stmt_t *s);
    int64_t (*col_int64)(db_stmt_t *s, int i);
    const char *(*col_text)(db_stmt_t *s, int i);
    void (*reset)(db_stmt_t *s);
    void (*free)(db_stmt_t *s);
    void (*observe)(db_t *db); /* observe/observe_ctx changed */
    bool (*failed)(const db_t *db);
} db_ops_t;

struct db {
    const db_ops_t *ops;
    bool pg;
    int64_t changes;
    void (*observe)(void *ctx, uint64_t ns);
    void *observe_ctx;
    db_stmt_t *slot[DB_SLOTS];
};

struct db_stmt {
    db_t *db;
    bool cached;
};

int db_sqlite_open(const char *path, db_t **out);
int db_pg_open(const char *uri, db_t **out);

#endif
