/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.h on SQLite: thin wrappers. WAL mode with synchronous=FULL: a
 * committed transaction is synced to disk before commit returns, so it
 * survives a power cut of the server, not just a crash of ottod.
 */
#include "db_impl.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct {
    db_t base;
    sqlite3 *db;
} lite_t;

typedef struct {
    db_stmt_t base;
    sqlite3_stmt *s;
} lite_stmt_t;

#define LITE(d)  ((lite_t *)(d))
#define LSTMT(s) ((lite_stmt_t *)(s))

/* Said plainly when the disk is full: nothing acknowledged is lost. */
static void lite_log(sqlite3 *db, int code, const char *what, const char *msg)
{
    if ((code & 0xff) == SQLITE_FULL)
        SRV_LOG_ERR("store: %s: the disk is full: nothing is committed and no device is told its report was"
                    " taken (devices repeat them) until space returns", what);
    else
        SRV_LOG_ERR("store: %s: %s", what, msg ? msg : sqlite3_errmsg(db));
}

static int lite_err(lite_t *l, const char *what)
{
    lite_log(l->db, sqlite3_errcode(l->db), what, NULL);
    return -1;
}

/* SQLite's profile trace: a statement ran for *ns nanoseconds. */
static int on_profile(unsigned type, void *ctx, void *stmt, void *ns)
{
    db_t *db = ctx;
    (void)stmt;
    if (type == SQLITE_TRACE_PROFILE && db->observe)
        db->observe(db->observe_ctx, (uint64_t)*(sqlite3_int64 *)ns);
    return 0;
}

static void lite_observe(db_t *db)
{
    sqlite3_trace_v2(LITE(db)->db, db->observe ? SQLITE_TRACE_PROFILE : 0, db->observe ? on_profile : NULL, db);
}

static int lite_exec(db_t *db, const char *sql)
{
    char *msg = NULL;
    if (!strcmp(sql, "ROLLBACK") && sqlite3_get_autocommit(LITE(db)->db))
        return 0; /* SQLite already rolled back (a COMMIT that met a full disk) */
    int rc = sqlite3_exec(LITE(db)->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        lite_log(LITE(db)->db, rc, sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int lite_begin(db_t *db)
{
    return lite_exec(db, "BEGIN IMMEDIATE");
}

static db_stmt_t *lite_prepare(db_t *db, const char *sql, bool persistent)
{
    lite_stmt_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (sqlite3_prepare_v3(LITE(db)->db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &s->s, NULL) !=
        SQLITE_OK) {
        lite_err(LITE(db), sql);
        free(s);
        return NULL;
    }
    s->base.db = db;
    return &s->base;
}

static void lite_clear(db_stmt_t *s)
{
    sqlite3_reset(LSTMT(s)->s);
    sqlite3_clear_bindings(LSTMT(s)->s);
}

static void lite_bind_text(db_stmt_t *s, int i, const char *v)
{
    sqlite3_bind_text(LSTMT(s)->s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static void lite_bind_int64(db_stmt_t *s, int i, int64_t v)
{
    sqlite3_bind_int64(LSTMT(s)->s, i, v);
}

static int lite_step(db_stmt_t *s)
{
    int rc = sqlite3_step(LSTMT(s)->s);
    if (rc == SQLITE_ROW)
        return DB_ROW;
    if (rc == SQLITE_DONE) {
        s->db->changes = sqlite3_changes(LITE(s->db)->db);
        return DB_DONE;
    }
    if (rc == SQLITE_CONSTRAINT)
        return DB_CONSTRAINT;
    lite_err(LITE(s->db), sqlite3_sql(LSTMT(s)->s));
    return DB_ERR;
}

static int64_t lite_col_int64(db_stmt_t *s, int i)
{
    return sqlite3_column_int64(LSTMT(s)->s, i);
}

static const char *lite_col_text(db_stmt_t *s, int i)
{
    const unsigned char *t = sqlite3_column_text(LSTMT(s)->s, i);
    return t ? (const char *)t : "";
}

static void lite_reset(db_stmt_t *s)
{
    sqlite3_reset(LSTMT(s)->s);
}

static void lite_free(db_stmt_t *s)
{
    sqlite3_finalize(LSTMT(s)->s);
    free(s);
}

static void lite_close(db_t *db)
{
    sqlite3_close(LITE(db)->db);
    free(db);
}

static const db_ops_t lite_ops = {
    .close = lite_close, .exec = lite_exec, .begin = lite_begin, .prepare = lite_prepare,
    .clear = lite_clear, .bind_text = lite_bind_text, .bind_int64 = lite_bind_int64, .step = lite_step,
    .col_int64 = lite_col_int64, .col_text = lite_col_text, .reset = lite_reset, .free = lite_free,
    .observe = lite_observe,
};

/* Before SQLite's first use: no memory statistics (they take a global
 * mutex on every allocation), and connections that are never used by two
 * threads at once (ottod's lock sees to it) need no mutex of their own. */
static void lite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
}

int db_sqlite_open(const char *path, db_t **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, lite_setup);
    lite_t *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    l->base.ops = &lite_ops;
    if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        SRV_LOG_ERR("store: cannot open %s: %s", path, l->db ? sqlite3_errmsg(l->db) : "no memory");
        lite_close(&l->base);
        return -1;
    }
    sqlite3_busy_timeout(l->db, 5000);
    if (lite_exec(&l->base, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                            " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;")) {
        lite_close(&l->base);
        return -1;
    }
    *out = &l->base;
    return 0;
}
