/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h over db.h: the same queries on SQLite (the default, one ottod)
 * and PostgreSQL (any number of ottod workers on one database).
 *
 * A committed transaction is durable before commit returns on both
 * (SQLite: WAL with synchronous=FULL; PostgreSQL: synchronous_commit), so
 * it survives a power cut of the server; device requests share one commit
 * per batch (batch.h), so the sync is paid once for many. Hot statements
 * are prepared once and cached. Several workers on PostgreSQL stay
 * consistent through srv_store_lock_thing() (a device's requests run one
 * at a time) and srv_store_lead() (once-only work on one worker).
 *
 * Schema: firmware, devices, device_groups, jobs, job_fw, executions, and
 * what the migrations added. Statuses are stored as their AWS names so the
 * database reads well in a SQL shell.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

static const char *const status_names[SRV_STATUS_COUNT] = {
    "QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED",
};
static const char *const job_status_names[] = {"IN_PROGRESS", "COMPLETED", "CANCELED"};

const char *srv_status_name(int s)
{
    return s >= 0 && s < SRV_STATUS_COUNT ? status_names[s] : "UNKNOWN";
}

int srv_status_parse(const char *s)
{
    for (int i = 0; i < SRV_STATUS_COUNT; i++)
        if (!strcmp(s, status_names[i]))
            return i;
    return -1;
}

const char *srv_job_status_name(int s)
{
    return s >= 0 && s <= SRV_JOB_CANCELED ? job_status_names[s] : "UNKNOWN";
}

static int job_status_parse(const char *s)
{
    for (int i = 0; i <= SRV_JOB_CANCELED; i++)
        if (!strcmp(s, job_status_names[i]))
            return i;
    return SRV_JOB_IN_PROGRESS;
}

#define STR_(x) #x
#define STR(x)  STR_(x)

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS firmware("
    " id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, md5 TEXT NOT NULL, size INTEGER NOT NULL,"
    " ota_type TEXT NOT NULL, product TEXT NOT NULL, grp TEXT NOT NULL, version TEXT NOT NULL,"
    " project TEXT NOT NULL, secure_version INTEGER NOT NULL, name TEXT NOT NULL,"
    " extra TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS devices("
    " thing TEXT PRIMARY KEY, product TEXT NOT NULL DEFAULT '', versions TEXT NOT NULL DEFAULT '{}',"
    " created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS device_groups("
    " grp TEXT NOT NULL, thing TEXT NOT NULL, PRIMARY KEY(grp, thing)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS device_groups_thing ON device_groups(thing);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, completed_at INTEGER NOT NULL DEFAULT 0,"
    " product TEXT NOT NULL, ota_types TEXT NOT NULL, timeout_min INTEGER NOT NULL,"
    " description TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', document TEXT NOT NULL,"
    " targets TEXT NOT NULL, fw_ids TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS job_fw(job_seq INTEGER NOT NULL, fw_id TEXT NOT NULL,"
    " PRIMARY KEY(fw_id, job_seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS executions("
    " job_seq INTEGER NOT NULL, thing TEXT NOT NULL, exec_no INTEGER NOT NULL,"
    " status TEXT NOT NULL, version INTEGER NOT NULL, queued_at INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,"
    " step_deadline INTEGER NOT NULL DEFAULT 0, deadline INTEGER NOT NULL DEFAULT 0,"
    " details TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(job_seq, thing, exec_no)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS executions_thing ON executions(thing, status, job_seq);"
    "CREATE INDEX IF NOT EXISTS executions_job_status ON executions(job_seq, status);"
    "CREATE INDEX IF NOT EXISTS executions_running ON executions(status, step_deadline, deadline)"
    " WHERE status = 'IN_PROGRESS';";

/* The schema's version, recorded in meta('schema'). Every change to the
 * schema from here on raises it and adds the step from the version before
 * to migrations[], which upgrades an older data directory in place at
 * start (tests/e2e/12-upgrade.sh opens one made by the previous release).
 * migrations[v] takes version v + 1 to v + 2; version 1 is the first. */
#define SCHEMA_VERSION 9
static const char *const migrations[] = {
    /* 1 -> 2: the public keys firmware signatures are checked against */
    "CREATE TABLE IF NOT EXISTS signing_keys(name TEXT PRIMARY KEY, pem TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);",
    /* 2 -> 3: operator tokens with roles (stored as SHA-256), and the audit log */
    "CREATE TABLE IF NOT EXISTS tokens(name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
    " who TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, status INTEGER NOT NULL);",
    /* 3 -> 4: a job's AWS configuration objects (rollout, abort); an execution
     * a paced rollout has not released yet has queued_at 0 */
    "ALTER TABLE jobs ADD COLUMN config TEXT NOT NULL DEFAULT '{}';",
    /* 4 -> 5: job templates (a job's fields, by name) */
    "CREATE TABLE IF NOT EXISTS job_templates(name TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);",
    /* 5 -> 6: the wave of a job's rolloutWaves an execution belongs to (0: none) */
    "ALTER TABLE executions ADD COLUMN wave INTEGER NOT NULL DEFAULT 0;",
    /* 6 -> 7: what each device runs, by SHA-256 (its hello), and the delta
     * patches made between firmware */
    "ALTER TABLE devices ADD COLUMN images TEXT NOT NULL DEFAULT '{}';"
    "CREATE TABLE IF NOT EXISTS deltas(id TEXT PRIMARY KEY, base_fw TEXT NOT NULL, target_fw TEXT NOT NULL,"
    " size INTEGER NOT NULL, created_at INTEGER NOT NULL, UNIQUE(base_fw, target_fw));",
    /* 7 -> 8: whether the device is connected (its birth and will on
     * otto/things/{thing}/status), for the console and /metrics */
    "ALTER TABLE devices ADD COLUMN online INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX IF NOT EXISTS devices_online ON devices(online) WHERE online = 1;",
    /* 8 -> 9: what the device is (its hello's hw: chip, flash, slot sizes,
     * MCU), for jobs aimed at hardware variants (server/hw.h) */
    "ALTER TABLE devices ADD COLUMN hw TEXT NOT NULL DEFAULT '{}';",
};


/* The same schema on PostgreSQL, as of version PG_FIRST_VERSION (a new
 * database starts there; later steps go to migrations_pg[]). Integers are
 * 64-bit; keys compare byte-wise (COLLATE "C") so pages and names sort as
 * on SQLite. SQLite's few functions the queries use are defined over text.
 * blobs holds artifact bytes (firmware, patches) so every worker, on any
 * host, can serve what another received: see srv_blob_put(). */
#define PG_FIRST_VERSION 8
#define PG_LOCK_OTTO     1869902959 /* advisory locks (key1, key2): "otto" in ASCII, then: */
#define PG_LOCK_SCHEMA   1          /* making or upgrading the schema */
#define PG_LOCK_LEADER   2          /* the worker doing once-only work */
#define PG_LOCK_PRESENT  3          /* shared by every live worker: their count */
#define PG_LOCK_PART     1000       /* + n: device request partition n */
#define K "TEXT COLLATE \"C\""
static const char schema_pg[] =
    "CREATE TABLE IF NOT EXISTS meta(key " K " PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS firmware("
    " id " K " PRIMARY KEY, sha256 TEXT NOT NULL, md5 TEXT NOT NULL, size BIGINT NOT NULL,"
    " ota_type TEXT NOT NULL, product TEXT NOT NULL, grp TEXT NOT NULL, version TEXT NOT NULL,"
    " project TEXT NOT NULL, secure_version BIGINT NOT NULL, name TEXT NOT NULL,"
    " extra TEXT NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS devices("
    " thing " K " PRIMARY KEY, product TEXT NOT NULL DEFAULT '', versions TEXT NOT NULL DEFAULT '{}',"
    " created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL DEFAULT 0, images TEXT NOT NULL DEFAULT '{}',"
    " online BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS devices_online ON devices(online) WHERE online = 1;"
    "CREATE TABLE IF NOT EXISTS device_groups(grp " K " NOT NULL, thing " K " NOT NULL, PRIMARY KEY(grp, thing));"
    "CREATE INDEX IF NOT EXISTS device_groups_thing ON device_groups(thing);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, id " K " NOT NULL UNIQUE, status TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, completed_at BIGINT NOT NULL DEFAULT 0,"
    " product TEXT NOT NULL, ota_types TEXT NOT NULL, timeout_min BIGINT NOT NULL,"
    " description TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', document TEXT NOT NULL,"
    " targets TEXT NOT NULL, fw_ids TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE IF NOT EXISTS job_fw(job_seq BIGINT NOT NULL, fw_id " K " NOT NULL, PRIMARY KEY(fw_id, job_seq));"
    "CREATE TABLE IF NOT EXISTS executions("
    " job_seq BIGINT NOT NULL, thing " K " NOT NULL, exec_no BIGINT NOT NULL,"
    " status TEXT NOT NULL, version BIGINT NOT NULL, queued_at BIGINT NOT NULL,"
    " started_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL,"
    " step_deadline BIGINT NOT NULL DEFAULT 0, deadline BIGINT NOT NULL DEFAULT 0,"
    " details TEXT NOT NULL DEFAULT '{}', wave BIGINT NOT NULL DEFAULT 0, PRIMARY KEY(job_seq, thing, exec_no));"
    "CREATE INDEX IF NOT EXISTS executions_thing ON executions(thing, status, job_seq);"
    "CREATE INDEX IF NOT EXISTS executions_job_status ON executions(job_seq, status);"
    "CREATE INDEX IF NOT EXISTS executions_running ON executions(status, step_deadline, deadline)"
    " WHERE status = 'IN_PROGRESS';"
    "CREATE TABLE IF NOT EXISTS signing_keys(name " K " PRIMARY KEY, pem TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS tokens(name " K " PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,"
    " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL DEFAULT 0, revoked_at BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS audit(seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL,"
    " who TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, status BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS job_templates(name " K " PRIMARY KEY, body TEXT NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deltas(id " K " PRIMARY KEY, base_fw TEXT NOT NULL, target_fw TEXT NOT NULL,"
    " size BIGINT NOT NULL, created_at BIGINT NOT NULL, UNIQUE(base_fw, target_fw));"
    "CREATE TABLE IF NOT EXISTS blobs(name " K " NOT NULL, part BIGINT NOT NULL, data BYTEA NOT NULL,"
    " PRIMARY KEY(name, part));"
    "CREATE OR REPLACE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE"
    " AS 'SELECT strpos($1, $2)';"
    "CREATE OR REPLACE FUNCTION json_extract(text, text) RETURNS text LANGUAGE sql IMMUTABLE"
    " AS $$SELECT ($1::jsonb) ->> trim(both '\"' from substr($2, 3))$$;" /* '$.key' or '$."key"' */
    "CREATE OR REPLACE FUNCTION json_patch(text, text) RETURNS text LANGUAGE sql IMMUTABLE"
    " AS $$SELECT (($1::jsonb) || ($2::jsonb))::text$$;" /* the store's maps are flat */
    "CREATE OR REPLACE FUNCTION json_each(text) RETURNS TABLE(key text, value text) LANGUAGE sql IMMUTABLE"
    " AS $$SELECT key, value FROM jsonb_each_text($1::jsonb)$$;";
#undef K
static const char *const migrations_pg[] = {
    /* 8 -> 9: as SQLite's */
    "ALTER TABLE devices ADD COLUMN IF NOT EXISTS hw TEXT NOT NULL DEFAULT '{}';",
};

/* Cached statements, one slot per hot query. */
#define FW_COLS "id, sha256, md5, size, ota_type, product, grp, version, project," \
                " secure_version, name, extra, created_at"

enum {
    Q_FW_GET, Q_EXEC_GET, Q_EXEC_GET_LATEST, Q_EXEC_UPDATE, Q_EXEC_NEXT, Q_EXEC_PUT, Q_EXEC_PENDING,
    Q_DEVICE_GET, Q_DEVICE_LAST_JOB, Q_DEVICE_GROUPS, Q_DEVICE_INSERT, Q_GROUP_ADD,
    Q_JOB_BY_ID, Q_JOB_BY_SEQ, Q_EXEC_COUNTS, Q_JOB_HAS_PENDING, Q_LOCK_THING, Q_DEVICE_KNOWN, Q_COUNT
};

#define JOB_COLS "seq, id, status, created_at, completed_at, product, ota_types, timeout_min," \
                 " description, reason"

#define EXEC_COLS                                                                          \
    "e.job_seq, j.id, e.thing, e.exec_no, e.status, e.version, e.queued_at, e.started_at," \
    " e.updated_at, e.step_deadline, e.deadline, e.details, e.wave"

static const char *const queries[Q_COUNT] = {
    [Q_FW_GET] = "SELECT " FW_COLS " FROM firmware WHERE id = ?", /* every download */
    [Q_EXEC_GET] = "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                   " WHERE e.job_seq = ? AND e.thing = ? AND e.exec_no = ?",
    [Q_EXEC_GET_LATEST] = "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                          " WHERE e.job_seq = ? AND e.thing = ? ORDER BY e.exec_no DESC LIMIT 1",
    [Q_EXEC_UPDATE] = "UPDATE executions SET status = ?, version = ?, started_at = ?,"
                      " updated_at = ?, step_deadline = ?, deadline = ?, details = ?"
                      " WHERE job_seq = ? AND thing = ? AND exec_no = ?",
    /* IN_PROGRESS first, then QUEUED, each in index order (no sort): two
     * lookups, the second only when the first finds nothing */
    [Q_EXEC_NEXT] = "SELECT * FROM (SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                    " WHERE e.thing = ?1 AND e.status = 'IN_PROGRESS' AND e.queued_at > 0"
                    " ORDER BY e.job_seq, e.exec_no LIMIT 1) a UNION ALL"
                    " SELECT * FROM (SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                    " WHERE e.thing = ?1 AND e.status = 'QUEUED' AND e.queued_at > 0"
                    " ORDER BY e.job_seq, e.exec_no LIMIT 1) b LIMIT 1",
    [Q_EXEC_PUT] = "INSERT INTO executions(job_seq, thing, exec_no, status, version, queued_at,"
                   " started_at, updated_at, step_deadline, deadline, details, wave)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
    [Q_EXEC_PENDING] = "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                       " WHERE e.thing = ? AND e.status IN ('IN_PROGRESS', 'QUEUED') AND e.queued_at > 0"
                       " ORDER BY e.status = 'IN_PROGRESS' DESC, e.job_seq, e.exec_no LIMIT ?",
    [Q_DEVICE_GET] = "SELECT thing, product, versions, created_at, last_seen, images, online, hw FROM devices"
                     " WHERE thing = ?",
    [Q_DEVICE_LAST_JOB] = "SELECT j.id, e.status FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                          " WHERE e.thing = ? ORDER BY e.job_seq DESC, e.exec_no DESC LIMIT 1",
    [Q_DEVICE_GROUPS] = "SELECT grp FROM device_groups WHERE thing = ? ORDER BY grp",
    [Q_DEVICE_INSERT] = "INSERT INTO devices(thing, product, created_at) VALUES(?,?,?)"
                        " ON CONFLICT(thing) DO UPDATE SET product ="
                        " CASE WHEN excluded.product = '' THEN devices.product ELSE excluded.product END",
    [Q_GROUP_ADD] = "INSERT INTO device_groups(grp, thing) VALUES(?,?) ON CONFLICT DO NOTHING",
    /* each device request reads its job, and each update may end one */
    [Q_JOB_BY_ID] = "SELECT " JOB_COLS ", document, targets, fw_ids, config FROM jobs WHERE id = ?",
    [Q_JOB_BY_SEQ] = "SELECT " JOB_COLS ", document, targets, fw_ids, config FROM jobs WHERE seq = ?",
    [Q_EXEC_COUNTS] = "SELECT status, count(*) FROM executions WHERE job_seq = ? GROUP BY status",
    [Q_JOB_HAS_PENDING] = "SELECT 1 FROM executions WHERE job_seq = ? AND status IN ('QUEUED', 'IN_PROGRESS') LIMIT 1",
    [Q_LOCK_THING] = "SELECT pg_advisory_xact_lock(hashtext(CAST(? AS TEXT)))", /* PostgreSQL only */
    [Q_DEVICE_KNOWN] = "SELECT 1 FROM devices WHERE thing = ?", /* every device request */
};
_Static_assert(Q_COUNT <= DB_SLOTS, "a db slot per cached query");

struct srv_store {
    db_t *db;
    int depth; /* transaction nesting */
};

/* The driver has logged what went wrong. */
static int db_err(srv_store_t *st, const char *what)
{
    (void)st;
    (void)what;
    return OTTO_E_IO;
}

static db_stmt_t *cached(srv_store_t *st, int i)
{
    return db_cached(st->db, i, queries[i]);
}

static db_stmt_t *prepare(srv_store_t *st, const char *sql)
{
    return db_prepare(st->db, sql);
}

static void bind_text(db_stmt_t *s, int i, const char *v)
{
    db_bind_text(s, i, v);
}

static void col_text(db_stmt_t *s, int i, char *dst, size_t cap)
{
    const char *t = db_col_text(s, i);
    size_t n = strlen(t);
    if (n >= cap)
        n = cap - 1; /* every field fits its column; cut, never overrun */
    memcpy(dst, t, n);
    dst[n] = 0;
}

static char *col_dup(db_stmt_t *s, int i)
{
    return strdup(db_col_text(s, i));
}

/* Run a statement that returns no rows; finalize it unless it is cached. */
static int run(srv_store_t *st, db_stmt_t *s, bool owned, const char *what)
{
    int rc = db_step(s);
    int err = OTTO_OK;
    if (rc == DB_CONSTRAINT)
        err = OTTO_E_EXISTS;
    else if (rc != DB_DONE)
        err = db_err(st, what);
    if (owned)
        db_finalize(s);
    else
        db_reset(s);
    return err;
}

/* The same for a statement that must change a row: OTTO_E_NOTFOUND if none. */
static int run_one(srv_store_t *st, db_stmt_t *s, bool owned, const char *what)
{
    int err = run(st, s, owned, what);
    return !err && db_changes(st->db) == 0 ? OTTO_E_NOTFOUND : err;
}

/* An INSERT ... ON CONFLICT DO NOTHING: OTTO_E_EXISTS when it added no
 * row. (A conflict that is not an error leaves a PostgreSQL transaction
 * usable; a failed statement would end it.) */
static int run_insert(srv_store_t *st, db_stmt_t *s, bool owned, const char *what)
{
    int err = run(st, s, owned, what);
    return !err && db_changes(st->db) == 0 ? OTTO_E_EXISTS : err;
}

static int exec_sql(srv_store_t *st, const char *sql)
{
    return db_exec(st->db, sql) ? OTTO_E_IO : OTTO_OK;
}

static int schema_version(srv_store_t *st, long *v)
{
    db_stmt_t *s = prepare(st, "SELECT value FROM meta WHERE key = 'schema'");
    *v = 0;
    if (!s)
        return OTTO_E_IO;
    if (db_step(s) == DB_ROW)
        *v = strtol(db_col_text(s, 0), NULL, 10);
    db_finalize(s);
    return OTTO_OK;
}

/* Bring the schema to SCHEMA_VERSION: a new database starts at the
 * backend's first version (`first`), then every step after it runs, each
 * in its own transaction with the version it reaches. */
static int migrate(srv_store_t *st, const char *where, long first, const char *const *steps)
{
    long v;
    char sql[96];
    if (schema_version(st, &v))
        return OTTO_E_IO;
    if (v == 0) { /* a new database: today's tables, then every step from the first version */
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('schema', '%ld')", first);
        if (exec_sql(st, sql))
            return OTTO_E_IO;
        v = first;
    }
    if (v > SCHEMA_VERSION) {
        SRV_LOG_ERR("store: %s has schema %ld, made by a newer ottod (this one knows %d); not touched", where, v,
                    SCHEMA_VERSION);
        return OTTO_E_VERSION;
    }
    for (; v < SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof sql, "UPDATE meta SET value = '%ld' WHERE key = 'schema'", v + 1);
        if (db_begin(st->db) || exec_sql(st, steps[v - first]) || exec_sql(st, sql) || exec_sql(st, "COMMIT")) {
            exec_sql(st, "ROLLBACK");
            return OTTO_E_IO;
        }
        SRV_LOG_INF("store: schema upgraded to version %ld", v + 1);
    }
    return OTTO_OK;
}

void srv_store_observe(srv_store_t *st, void (*observe)(void *ctx, uint64_t ns), void *ctx)
{
    db_observe(st->db, observe, ctx);
}

bool srv_store_shared(const srv_store_t *st)
{
    return db_is_pg(st->db);
}

int srv_store_open(const char *target, srv_store_t **out)
{
    srv_store_t *st = calloc(1, sizeof *st);
    int err = OTTO_E_IO;
    if (!st)
        return OTTO_E_NOSPC;
    if (db_open(target, &st->db)) {
        free(st);
        return OTTO_E_IO;
    }
    if (!db_is_pg(st->db)) {
        if (!exec_sql(st, schema))
            err = migrate(st, target, 1, migrations);
    } else {
        /* Workers starting together: one makes or upgrades the schema,
         * the others wait for it (the lock goes with the connection). */
        const char *where = "the PostgreSQL database";
        if (!exec_sql(st, "SELECT pg_advisory_lock(" STR(PG_LOCK_OTTO) ", " STR(PG_LOCK_SCHEMA) ")")) {
            if (!exec_sql(st, schema_pg))
                err = migrate(st, where, PG_FIRST_VERSION, migrations_pg);
            exec_sql(st, "SELECT pg_advisory_unlock(" STR(PG_LOCK_OTTO) ", " STR(PG_LOCK_SCHEMA) ")");
        }
    }
    if (err) {
        srv_store_close(st);
        return err;
    }
    *out = st;
    return OTTO_OK;
}

void srv_store_close(srv_store_t *st)
{
    if (!st)
        return;
    db_close(st->db);
    free(st);
}

/* Nested transactions are savepoints: an inner rollback undoes the inner
 * work alone (a batch of device requests is one transaction, batch.h, and
 * one request failing must not undo the others'). */
int srv_store_begin(srv_store_t *st)
{
    char sql[32];
    if (st->depth > 0) {
        snprintf(sql, sizeof sql, "SAVEPOINT sp%d", st->depth);
        int err = exec_sql(st, sql);
        st->depth += !err;
        return err;
    }
    int err = db_begin(st->db) ? OTTO_E_IO : OTTO_OK;
    st->depth = !err;
    return err;
}

int srv_store_commit(srv_store_t *st)
{
    char sql[32];
    if (st->depth == 0)
        return OTTO_OK;
    if (--st->depth > 0) {
        snprintf(sql, sizeof sql, "RELEASE sp%d", st->depth);
        return exec_sql(st, sql);
    }
    /* PostgreSQL answers COMMIT of a failed transaction with a rollback,
     * not an error: ask first, or the caller would believe it durable. */
    int err = db_failed(st->db) ? OTTO_E_IO : exec_sql(st, "COMMIT");
    if (err)
        exec_sql(st, "ROLLBACK");
    return err;
}

void srv_store_rollback(srv_store_t *st)
{
    char sql[64];
    if (st->depth == 0)
        return;
    if (--st->depth > 0) {
        snprintf(sql, sizeof sql, "ROLLBACK TO sp%d; RELEASE sp%d", st->depth, st->depth);
        exec_sql(st, sql);
        return;
    }
    exec_sql(st, "ROLLBACK");
}

/* ---- firmware ---------------------------------------------------------- */


static void fw_row(db_stmt_t *s, srv_fw_t *f)
{
    memset(f, 0, sizeof *f);
    col_text(s, 0, f->id, sizeof f->id);
    col_text(s, 1, f->sha256, sizeof f->sha256);
    col_text(s, 2, f->md5, sizeof f->md5);
    f->size = db_col_int64(s, 3);
    col_text(s, 4, f->ota_type, sizeof f->ota_type);
    col_text(s, 5, f->product, sizeof f->product);
    col_text(s, 6, f->group, sizeof f->group);
    col_text(s, 7, f->version, sizeof f->version);
    col_text(s, 8, f->project, sizeof f->project);
    f->secure_version = (uint32_t)db_col_int64(s, 9);
    col_text(s, 10, f->name, sizeof f->name);
    col_text(s, 11, f->extra, sizeof f->extra);
    f->created_at = db_col_int64(s, 12);
}

int srv_fw_put(srv_store_t *st, const srv_fw_t *f)
{
    db_stmt_t *s = prepare(st, "INSERT INTO firmware(" FW_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"
                                  " ON CONFLICT DO NOTHING");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, f->id);
    bind_text(s, 2, f->sha256);
    bind_text(s, 3, f->md5);
    db_bind_int64(s, 4, f->size);
    bind_text(s, 5, f->ota_type);
    bind_text(s, 6, f->product);
    bind_text(s, 7, f->group);
    bind_text(s, 8, f->version);
    bind_text(s, 9, f->project);
    db_bind_int64(s, 10, f->secure_version);
    bind_text(s, 11, f->name);
    bind_text(s, 12, f->extra[0] ? f->extra : "{}");
    db_bind_int64(s, 13, f->created_at);
    return run_insert(st, s, true, "insert firmware");
}

int srv_fw_get(srv_store_t *st, const char *id, srv_fw_t *out)
{
    db_stmt_t *s = cached(st, Q_FW_GET);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    int rc = db_step(s), err = OTTO_OK;
    if (rc == DB_ROW)
        fw_row(s, out);
    else
        err = rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "get firmware");
    db_reset(s);
    return err;
}

/* Each firmware row of s (prepared with FW_COLS; NULL: failed) to visit. */
static int walk_fw(srv_store_t *st, db_stmt_t *s, int (*visit)(void *, const srv_fw_t *), void *arg,
                   const char *what)
{
    srv_fw_t f;
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW) {
        fw_row(s, &f);
        if (visit(arg, &f))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, what);
}

/* DELETE ... WHERE id = ? of one row. */
static int delete_id(srv_store_t *st, const char *sql, const char *id, const char *what)
{
    db_stmt_t *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    return run_one(st, s, true, what);
}

int srv_fw_list(srv_store_t *st, int (*visit)(void *, const srv_fw_t *), void *arg)
{
    return walk_fw(st, prepare(st, "SELECT " FW_COLS " FROM firmware ORDER BY created_at, id"), visit, arg,
                   "list firmware");
}

int srv_fw_delete(srv_store_t *st, const char *id)
{
    return delete_id(st, "DELETE FROM firmware WHERE id = ?", id, "delete firmware");
}

int srv_fw_used_by(srv_store_t *st, const char *id, char job_id[SRV_JOBID_MAX + 1])
{
    /* In use while the job runs, or while any of its executions still
     * waits or downloads: a job canceled without force leaves its
     * IN_PROGRESS executions running, and they resume with Range. */
    db_stmt_t *s = prepare(st, "SELECT j.id FROM job_fw f JOIN jobs j ON j.seq = f.job_seq"
                                  " WHERE f.fw_id = ? AND (j.status = 'IN_PROGRESS' OR EXISTS("
                                  "SELECT 1 FROM executions e WHERE e.job_seq = j.seq"
                                  " AND e.status IN ('QUEUED', 'IN_PROGRESS'))) LIMIT 1");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    job_id[0] = 0;
    int rc = db_step(s);
    if (rc == DB_ROW)
        col_text(s, 0, job_id, SRV_JOBID_MAX + 1);
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "firmware in use");
}

/* ---- devices ----------------------------------------------------------- */

static void device_groups(srv_store_t *st, srv_device_t *d)
{
    db_stmt_t *s = cached(st, Q_DEVICE_GROUPS);
    size_t n = 0;
    d->groups[0] = 0;
    if (!s)
        return;
    bind_text(s, 1, d->thing);
    while (db_step(s) == DB_ROW) {
        const char *g = db_col_text(s, 0);
        int w = snprintf(d->groups + n, sizeof d->groups - n, "%s%s", n ? "," : "", g ? g : "");
        if (w < 0 || (size_t)w >= sizeof d->groups - n)
            break;
        n += (size_t)w;
    }
    db_reset(s);
}

static void device_row(db_stmt_t *s, srv_device_t *d)
{
    memset(d, 0, sizeof *d);
    col_text(s, 0, d->thing, sizeof d->thing);
    col_text(s, 1, d->product, sizeof d->product);
    col_text(s, 2, d->versions, sizeof d->versions);
    d->created_at = db_col_int64(s, 3);
    d->last_seen = db_col_int64(s, 4);
    col_text(s, 5, d->images, sizeof d->images);
    d->online = (int)db_col_int64(s, 6) != 0;
    col_text(s, 7, d->hw, sizeof d->hw);
}

int srv_device_upsert(srv_store_t *st, const char *thing, const char *product,
                      const char *const *groups, size_t ngroups, int64_t now)
{
    db_stmt_t *s = cached(st, Q_DEVICE_INSERT);
    int err;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    bind_text(s, 2, product);
    db_bind_int64(s, 3, now);
    if ((err = run(st, s, false, "upsert device")))
        return err;
    for (size_t i = 0; i < ngroups; i++) {
        if (!(s = cached(st, Q_GROUP_ADD)))
            return OTTO_E_IO;
        bind_text(s, 1, groups[i]);
        bind_text(s, 2, thing);
        if ((err = run(st, s, false, "add device to group")))
            return err;
    }
    return OTTO_OK;
}

int srv_device_known(srv_store_t *st, const char *thing, bool *yes)
{
    db_stmt_t *s = cached(st, Q_DEVICE_KNOWN);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    int rc = db_step(s);
    db_reset(s);
    *yes = rc == DB_ROW;
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "device known");
}

int srv_device_get(srv_store_t *st, const char *thing, srv_device_t *out)
{
    db_stmt_t *s = cached(st, Q_DEVICE_GET);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    int rc = db_step(s);
    if (rc == DB_ROW)
        device_row(s, out);
    db_reset(s);
    if (rc == DB_ROW) {
        device_groups(st, out);
        return OTTO_OK;
    }
    return rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "get device");
}

/* The WHERE clause of a device filter; its values bound from ?3 on. */
static void device_where(const srv_device_filter_t *f, char *sql, size_t cap)
{
    snprintf(sql, cap, "%s%s%s%s",
             f && f->group && *f->group ? " AND thing IN (SELECT thing FROM device_groups WHERE grp = ?3)" : "",
             f && f->search && *f->search ? " AND instr(thing, ?4) > 0" : "",
             f && f->version && *f->version
                 ? " AND EXISTS (SELECT 1 FROM json_each(devices.versions) WHERE json_each.value = ?5)" : "",
             !f || f->online < 0 ? "" : f->online ? " AND online = 1" : " AND online = 0");
}

static void device_bind(db_stmt_t *s, const srv_device_filter_t *f)
{
    if (f && f->group && *f->group)
        bind_text(s, 3, f->group);
    if (f && f->search && *f->search)
        bind_text(s, 4, f->search);
    if (f && f->version && *f->version)
        bind_text(s, 5, f->version);
}

int srv_device_list(srv_store_t *st, const srv_device_filter_t *f, const char *after, int limit, bool *more,
                    int (*visit)(void *, const srv_device_t *), void *arg)
{
    char where[400], sql[700];
    device_where(f, where, sizeof where);
    snprintf(sql, sizeof sql, "SELECT thing, product, versions, created_at, last_seen, images, online, hw FROM devices"
                              " WHERE thing > ?1%s ORDER BY thing LIMIT ?2", where);
    db_stmt_t *s = prepare(st, sql);
    srv_device_t d;
    int rc, n = 0;
    if (!s)
        return OTTO_E_IO;
    *more = false;
    bind_text(s, 1, after ? after : "");
    db_bind_int64(s, 2, limit + 1); /* one more says whether there is a next page */
    device_bind(s, f);
    while ((rc = db_step(s)) == DB_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        device_row(s, &d);
        device_groups(st, &d);
        if (visit(arg, &d))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "list devices");
}

int srv_device_count(srv_store_t *st, const srv_device_filter_t *f, int64_t *n)
{
    char where[400], sql[600];
    device_where(f, where, sizeof where);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM devices WHERE thing > ?1%s", where);
    db_stmt_t *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, "");
    device_bind(s, f);
    int rc = db_step(s);
    *n = rc == DB_ROW ? db_col_int64(s, 0) : 0;
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : db_err(st, "count devices");
}

int srv_device_last_job(srv_store_t *st, const char *thing, char *job_id, size_t cap, char *status, size_t scap)
{
    db_stmt_t *s = cached(st, Q_DEVICE_LAST_JOB);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    int rc = db_step(s);
    if (rc == DB_ROW) {
        col_text(s, 0, job_id, cap);
        col_text(s, 1, status, scap);
    }
    db_reset(s);
    return rc == DB_ROW ? OTTO_OK : rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "last job");
}

int srv_device_delete(srv_store_t *st, const char *thing)
{
    db_stmt_t *s = prepare(st, "DELETE FROM devices WHERE thing = ?");
    int err;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    if ((err = run(st, s, true, "delete device")))
        return err;
    if (db_changes(st->db) == 0)
        return OTTO_E_NOTFOUND;
    if (!(s = prepare(st, "DELETE FROM device_groups WHERE thing = ?")))
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    return run(st, s, true, "delete device groups");
}

int srv_device_seen(srv_store_t *st, const char *thing, const char *product,
                    const char *versions, const char *images, const char *hw, int64_t now)
{
    db_stmt_t *s = prepare(st,
        "UPDATE devices SET last_seen = ?,"
        " product = CASE WHEN ?2 = '' THEN product ELSE ?2 END,"
        " versions = CASE WHEN ?3 = '' THEN versions ELSE json_patch(versions, ?3) END,"
        " images = CASE WHEN ?5 = '' THEN images ELSE ?5 END," /* the whole map: a base no longer held goes */
        " hw = CASE WHEN ?6 = '' THEN hw ELSE ?6 END"
        " WHERE thing = ?4");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, now);
    bind_text(s, 2, product);
    bind_text(s, 3, versions);
    bind_text(s, 4, thing);
    bind_text(s, 5, images ? images : "");
    bind_text(s, 6, hw ? hw : "");
    return run_one(st, s, true, "device seen");
}

int srv_device_online(srv_store_t *st, const char *thing, bool online, int64_t now)
{
    db_stmt_t *s = prepare(st, "UPDATE devices SET online = ?1,"
                                  " last_seen = CASE WHEN CAST(?1 AS BIGINT) <> 0 THEN ?2 ELSE last_seen END WHERE thing = ?3");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, online);
    db_bind_int64(s, 2, now);
    bind_text(s, 3, thing);
    return run_one(st, s, true, "device online");
}

int srv_device_counts(srv_store_t *st, int64_t *total, int64_t *online)
{
    db_stmt_t *s = prepare(st, "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM devices WHERE online = 1)");
    if (!s)
        return OTTO_E_IO;
    int rc = db_step(s);
    *total = rc == DB_ROW ? db_col_int64(s, 0) : 0;
    *online = rc == DB_ROW ? db_col_int64(s, 1) : 0;
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : db_err(st, "count devices");
}

int srv_store_counts(srv_store_t *st, int64_t out[SRV_COUNTED])
{
    db_stmt_t *s = prepare(st, "SELECT (SELECT count(*) FROM firmware), (SELECT count(*) FROM devices),"
                                  " (SELECT count(*) FROM jobs), (SELECT count(*) FROM executions),"
                                  " (SELECT count(*) FROM signing_keys), (SELECT count(*) FROM tokens),"
                                  " (SELECT count(*) FROM deltas), (SELECT count(*) FROM audit)");
    if (!s)
        return OTTO_E_IO;
    int rc = db_step(s);
    for (int i = 0; i < SRV_COUNTED; i++)
        out[i] = rc == DB_ROW ? db_col_int64(s, i) : 0;
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : db_err(st, "count");
}

const char *const srv_counted_names[SRV_COUNTED] = {"firmware", "devices", "jobs", "executions",
                                                    "signingKeys", "tokens", "deltas", "audit"};

int srv_store_snapshot(srv_store_t *st, const char *path)
{
    if (db_is_pg(st->db))
        return OTTO_E_INVAL;
    db_stmt_t *s = prepare(st, "VACUUM INTO ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, path);
    int rc = db_step(s);
    db_finalize(s);
    return rc == DB_DONE ? OTTO_OK : db_err(st, "snapshot");
}

int srv_fleet_versions(srv_store_t *st, int (*visit)(void *, const char *, const char *, int64_t), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT v.key, v.value, count(*) FROM devices, json_each(devices.versions) v"
                                  " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 200");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_text(s, 0), db_col_text(s, 1),
                  db_col_int64(s, 2)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "fleet versions");
}

int srv_recent_failures(srv_store_t *st, int64_t since, int limit, int (*visit)(void *, const char *, int64_t),
                        void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT coalesce(json_extract(details, '$.reason'), status), count(*) FROM executions"
                                  " WHERE status IN ('FAILED', 'REJECTED', 'TIMED_OUT') AND updated_at >= ?1"
                                  " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?2");
    int rc;
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, since);
    db_bind_int64(s, 2, limit);
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_text(s, 0), db_col_int64(s, 1)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "recent failures");
}

int srv_exec_reasons(srv_store_t *st, int (*visit)(void *, const char *, const char *, int64_t), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT status, coalesce(json_extract(details, '$.reason'), ''), count(*)"
                                  " FROM executions GROUP BY 1, 2 ORDER BY 1, 2");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW) {
        const char *reason = db_col_text(s, 1);
        if (visit(arg, db_col_text(s, 0), reason,
                  db_col_int64(s, 2)))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "executions by reason");
}

int srv_group_list(srv_store_t *st, int (*visit)(void *, const char *, int64_t), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT grp, count(*) FROM device_groups GROUP BY grp ORDER BY grp");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_text(s, 0), db_col_int64(s, 1)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "list groups");
}

int srv_group_things(srv_store_t *st, const char *group,
                     int (*visit)(void *, const char *), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT thing FROM device_groups WHERE grp = ? ORDER BY thing");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, group);
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_text(s, 0)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "group members");
}

/* Each row of a query of two text columns, to visit (non-zero stops). */
static int each_pair(srv_store_t *st, const char *sql, int (*visit)(void *, const char *, const char *), void *arg,
                     const char *what)
{
    db_stmt_t *s = prepare(st, sql);
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_text(s, 0), db_col_text(s, 1)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, what);
}

int srv_device_hw_each(srv_store_t *st, int (*visit)(void *, const char *thing, const char *hw), void *arg)
{
    return each_pair(st, "SELECT thing, hw FROM devices WHERE hw <> '{}' ORDER BY thing", visit, arg, "device hw");
}

/* ---- jobs -------------------------------------------------------------- */


static void job_row(db_stmt_t *s, srv_job_t *j)
{
    char status[32];
    memset(j, 0, sizeof *j);
    j->seq = db_col_int64(s, 0);
    col_text(s, 1, j->id, sizeof j->id);
    col_text(s, 2, status, sizeof status);
    j->status = job_status_parse(status);
    j->created_at = db_col_int64(s, 3);
    j->completed_at = db_col_int64(s, 4);
    col_text(s, 5, j->product, sizeof j->product);
    col_text(s, 6, j->ota_types, sizeof j->ota_types);
    j->timeout_min = (int)db_col_int64(s, 7);
    col_text(s, 8, j->description, sizeof j->description);
    col_text(s, 9, j->reason, sizeof j->reason);
}

int srv_job_put(srv_store_t *st, srv_job_t *j, const char *const *fw_ids, size_t nfw)
{
    db_stmt_t *s = prepare(st,
        "INSERT INTO jobs(id, status, created_at, product, ota_types, timeout_min, description,"
        " document, targets, fw_ids, config) VALUES(?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT DO NOTHING RETURNING seq");
    int err;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, j->id);
    bind_text(s, 2, srv_job_status_name(j->status));
    db_bind_int64(s, 3, j->created_at);
    bind_text(s, 4, j->product);
    bind_text(s, 5, j->ota_types);
    db_bind_int64(s, 6, j->timeout_min);
    bind_text(s, 7, j->description);
    bind_text(s, 8, j->document);
    bind_text(s, 9, j->targets);
    bind_text(s, 10, j->fw_ids);
    bind_text(s, 11, j->config ? j->config : "{}");
    int rc = db_step(s);
    j->seq = rc == DB_ROW ? db_col_int64(s, 0) : 0;
    db_finalize(s);
    if (rc != DB_ROW) /* no row: the id is taken */
        return rc == DB_DONE || rc == DB_CONSTRAINT ? OTTO_E_EXISTS : db_err(st, "insert job");
    for (size_t i = 0; i < nfw; i++) {
        if (!(s = prepare(st, "INSERT INTO job_fw(job_seq, fw_id) VALUES(?,?) ON CONFLICT DO NOTHING")))
            return OTTO_E_IO;
        db_bind_int64(s, 1, j->seq);
        bind_text(s, 2, fw_ids[i]);
        if ((err = run(st, s, true, "insert job firmware")))
            return err;
    }
    return OTTO_OK;
}

static int job_get_q(srv_store_t *st, int q, const char *id, int64_t seq, srv_job_t *out)
{
    db_stmt_t *s = cached(st, q);
    if (!s)
        return OTTO_E_IO;
    if (id)
        bind_text(s, 1, id);
    else
        db_bind_int64(s, 1, seq);
    int rc = db_step(s), err = OTTO_OK;
    if (rc == DB_ROW) {
        job_row(s, out);
        out->document = col_dup(s, 10);
        out->targets = col_dup(s, 11);
        out->fw_ids = col_dup(s, 12);
        out->config = col_dup(s, 13);
        if (!out->document || !out->targets || !out->fw_ids || !out->config) {
            srv_job_clear(out);
            err = OTTO_E_NOSPC;
        }
    } else {
        err = rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "get job");
    }
    db_reset(s);
    return err;
}

int srv_job_get(srv_store_t *st, const char *id, srv_job_t *out)
{
    return job_get_q(st, Q_JOB_BY_ID, id, 0, out);
}

int srv_job_get_seq(srv_store_t *st, int64_t seq, srv_job_t *out)
{
    return job_get_q(st, Q_JOB_BY_SEQ, NULL, seq, out);
}

void srv_job_clear(srv_job_t *j)
{
    free(j->document);
    free(j->targets);
    free(j->fw_ids);
    free(j->config);
    j->document = j->targets = j->fw_ids = j->config = NULL;
}

int srv_job_list(srv_store_t *st, int64_t before_seq, int limit, bool *more,
                 int (*visit)(void *, const srv_job_t *), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT " JOB_COLS " FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?");
    srv_job_t j;
    int rc, n = 0;
    if (!s)
        return OTTO_E_IO;
    *more = false;
    db_bind_int64(s, 1, before_seq > 0 ? before_seq : INT64_MAX);
    db_bind_int64(s, 2, limit + 1);
    while ((rc = db_step(s)) == DB_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        job_row(s, &j);
        if (visit(arg, &j))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "list jobs");
}

int srv_job_set_status(srv_store_t *st, int64_t seq, int status, int64_t at, const char *reason)
{
    db_stmt_t *s = prepare(st, "UPDATE jobs SET status = ?, completed_at = ?,"
                                  " reason = CASE WHEN ? = '' THEN reason ELSE ?3 END WHERE seq = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, srv_job_status_name(status));
    db_bind_int64(s, 2, at);
    bind_text(s, 3, reason);
    db_bind_int64(s, 4, seq);
    return run(st, s, true, "set job status");
}

/* Is every item of the comma list a also in the comma list b? */
static bool list_subset(const char *a, const char *b)
{
    size_t bl = strlen(b);
    while (*a) {
        size_t n = strcspn(a, ",");
        bool found = false;
        for (const char *p = b; p < b + bl;) {
            size_t m = strcspn(p, ",");
            if (m == n && !strncmp(p, a, n))
                found = true;
            p += m + (p[m] == ',');
        }
        if (!found)
            return false;
        a += n + (a[n] == ',');
    }
    return true;
}

int srv_job_supersedable(srv_store_t *st, const char *product, const char *ota_types,
                         int64_t seq, int (*visit)(void *, int64_t, const char *), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT seq, id, ota_types FROM jobs WHERE product = ?"
                                  " AND status = 'IN_PROGRESS' AND seq < ? ORDER BY seq");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, product);
    db_bind_int64(s, 2, seq);
    while ((rc = db_step(s)) == DB_ROW) {
        const char *types = db_col_text(s, 2);
        if (!list_subset(types ? types : "", ota_types))
            continue;
        if (visit(arg, db_col_int64(s, 0), db_col_text(s, 1)))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "supersedable jobs");
}

/* ---- executions -------------------------------------------------------- */

static void exec_row(db_stmt_t *s, srv_exec_t *e)
{
    char status[32];
    e->job_seq = db_col_int64(s, 0);
    col_text(s, 1, e->job_id, sizeof e->job_id);
    col_text(s, 2, e->thing, sizeof e->thing);
    e->exec_no = (int)db_col_int64(s, 3);
    col_text(s, 4, status, sizeof status);
    e->status = srv_status_parse(status);
    e->version = db_col_int64(s, 5);
    e->queued_at = db_col_int64(s, 6);
    e->started_at = db_col_int64(s, 7);
    e->updated_at = db_col_int64(s, 8);
    e->step_deadline = db_col_int64(s, 9);
    e->deadline = db_col_int64(s, 10);
    col_text(s, 11, e->details, sizeof e->details);
    e->wave = (int)db_col_int64(s, 12);
}

int srv_exec_put(srv_store_t *st, const srv_exec_t *e)
{
    db_stmt_t *s = cached(st, Q_EXEC_PUT);
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, e->job_seq);
    bind_text(s, 2, e->thing);
    db_bind_int64(s, 3, e->exec_no);
    bind_text(s, 4, srv_status_name(e->status));
    db_bind_int64(s, 5, e->version);
    db_bind_int64(s, 6, e->queued_at);
    db_bind_int64(s, 7, e->started_at);
    db_bind_int64(s, 8, e->updated_at);
    db_bind_int64(s, 9, e->step_deadline);
    db_bind_int64(s, 10, e->deadline);
    bind_text(s, 11, e->details[0] ? e->details : "{}");
    db_bind_int64(s, 12, e->wave);
    return run_insert(st, s, false, "insert execution");
}

/* Step a cached single-row query into out. */
static int one_exec(srv_store_t *st, db_stmt_t *s, srv_exec_t *out, const char *what)
{
    int rc = db_step(s);
    if (rc == DB_ROW)
        exec_row(s, out);
    db_reset(s);
    if (rc == DB_ROW)
        return OTTO_OK;
    return rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, what);
}

int srv_exec_get(srv_store_t *st, int64_t job_seq, const char *thing, int exec_no,
                 srv_exec_t *out)
{
    db_stmt_t *s = cached(st, exec_no > 0 ? Q_EXEC_GET : Q_EXEC_GET_LATEST);
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    bind_text(s, 2, thing);
    if (exec_no > 0)
        db_bind_int64(s, 3, exec_no);
    return one_exec(st, s, out, "get execution");
}

int srv_exec_update(srv_store_t *st, const srv_exec_t *e)
{
    db_stmt_t *s = cached(st, Q_EXEC_UPDATE);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, srv_status_name(e->status));
    db_bind_int64(s, 2, e->version);
    db_bind_int64(s, 3, e->started_at);
    db_bind_int64(s, 4, e->updated_at);
    db_bind_int64(s, 5, e->step_deadline);
    db_bind_int64(s, 6, e->deadline);
    bind_text(s, 7, e->details[0] ? e->details : "{}");
    db_bind_int64(s, 8, e->job_seq);
    bind_text(s, 9, e->thing);
    db_bind_int64(s, 10, e->exec_no);
    int err = run(st, s, false, "update execution");
    if (!err && db_changes(st->db) == 0)
        err = OTTO_E_NOTFOUND;
    return err;
}

int srv_exec_next(srv_store_t *st, const char *thing, srv_exec_t *out)
{
    db_stmt_t *s = cached(st, Q_EXEC_NEXT);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    return one_exec(st, s, out, "next execution");
}

static int walk_execs(srv_store_t *st, db_stmt_t *s, bool owned,
                      int (*visit)(void *, const srv_exec_t *), void *arg, const char *what)
{
    srv_exec_t *e = malloc(sizeof *e);
    int rc = DB_DONE;
    if (!e) {
        if (owned)
            db_finalize(s);
        return OTTO_E_NOSPC;
    }
    while ((rc = db_step(s)) == DB_ROW) {
        exec_row(s, e);
        if (visit(arg, e))
            break;
    }
    free(e);
    if (owned)
        db_finalize(s);
    else
        db_reset(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, what);
}

int srv_exec_pending(srv_store_t *st, const char *thing, int limit,
                     int (*visit)(void *, const srv_exec_t *), void *arg)
{
    db_stmt_t *s = cached(st, Q_EXEC_PENDING);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    db_bind_int64(s, 2, limit);
    return walk_execs(st, s, false, visit, arg, "pending executions");
}

int srv_exec_of_job(srv_store_t *st, int64_t job_seq, int status,
                    int (*visit)(void *, const srv_exec_t *), void *arg)
{
    db_stmt_t *s = prepare(st, status < 0
        ? "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
          " WHERE e.job_seq = ?1 ORDER BY e.thing, e.exec_no"
        : "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
          " WHERE e.job_seq = ?1 AND e.status = ?2 ORDER BY e.thing, e.exec_no");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    if (status >= 0)
        bind_text(s, 2, srv_status_name(status));
    return walk_execs(st, s, true, visit, arg, "job executions");
}

int srv_exec_counts(srv_store_t *st, int64_t job_seq, int64_t counts[SRV_STATUS_COUNT])
{
    db_stmt_t *s = cached(st, Q_EXEC_COUNTS);
    int rc;
    memset(counts, 0, sizeof(int64_t) * SRV_STATUS_COUNT);
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    while ((rc = db_step(s)) == DB_ROW) {
        int st_i = srv_status_parse(db_col_text(s, 0));
        if (st_i >= 0)
            counts[st_i] = db_col_int64(s, 1);
    }
    db_reset(s);
    return rc == DB_DONE ? OTTO_OK : db_err(st, "count executions");
}

int srv_exec_expired(srv_store_t *st, int64_t now,
                     int (*visit)(void *, const srv_exec_t *), void *arg)
{
    db_stmt_t *s = prepare(st,
        "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
        " WHERE e.status = 'IN_PROGRESS' AND ((e.step_deadline > 0 AND e.step_deadline <= ?1)"
        " OR (e.deadline > 0 AND e.deadline <= ?1))");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, now);
    return walk_execs(st, s, true, visit, arg, "expired executions");
}

int srv_exec_has(srv_store_t *st, int64_t job_seq, const char *thing, int status, bool *yes)
{
    db_stmt_t *s = prepare(st, "SELECT 1 FROM executions WHERE job_seq = ? AND thing = ?"
                                  " AND status = ? LIMIT 1");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    bind_text(s, 2, thing);
    bind_text(s, 3, srv_status_name(status));
    int rc = db_step(s);
    *yes = rc == DB_ROW;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "execution lookup");
}

int srv_exec_release(srv_store_t *st, int64_t job_seq, int max_wave, int64_t now, int64_t limit,
                     int (*visit)(void *, const char *thing), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT thing FROM executions WHERE job_seq = ? AND status = 'QUEUED'"
                                  " AND queued_at = 0 AND wave <= ? ORDER BY wave, thing LIMIT ?");
    db_stmt_t *u = prepare(st, "UPDATE executions SET queued_at = ?, updated_at = ?"
                                  " WHERE job_seq = ? AND thing = ? AND status = 'QUEUED' AND queued_at = 0");
    int rc = DB_DONE, err = OTTO_OK;
    if (!s || !u) {
        db_finalize(s);
        db_finalize(u);
        return OTTO_E_IO;
    }
    db_bind_int64(s, 1, job_seq);
    db_bind_int64(s, 2, max_wave);
    db_bind_int64(s, 3, limit);
    while (!err && (rc = db_step(s)) == DB_ROW) {
        const char *thing = db_col_text(s, 0);
        db_reset(u);
        db_bind_int64(u, 1, now);
        db_bind_int64(u, 2, now);
        db_bind_int64(u, 3, job_seq);
        bind_text(u, 4, thing);
        if (visit(arg, thing)) /* before: it may look at the thing as it was */
            break;
        if (db_step(u) != DB_DONE)
            err = db_err(st, "release execution");
    }
    db_finalize(s);
    db_finalize(u);
    if (err)
        return err;
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "release executions");
}

int srv_exec_release_counts(srv_store_t *st, int64_t job_seq, int max_wave, int64_t *released, int64_t *waiting,
                            int64_t *later)
{
    db_stmt_t *s = prepare(st, "SELECT sum(CASE WHEN queued_at > 0 THEN 1 ELSE 0 END),"
                               " sum(CASE WHEN status = 'QUEUED' AND queued_at = 0 AND wave <= ?2 THEN 1 ELSE 0 END),"
                                  " sum(CASE WHEN status = 'QUEUED' AND queued_at = 0 AND wave > ?2 THEN 1 ELSE 0 END)"
                                  " FROM executions WHERE job_seq = ?1");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    db_bind_int64(s, 2, max_wave);
    int rc = db_step(s);
    *released = rc == DB_ROW ? db_col_int64(s, 0) : 0;
    *waiting = rc == DB_ROW ? db_col_int64(s, 1) : 0;
    if (later)
        *later = rc == DB_ROW ? db_col_int64(s, 2) : 0;
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : db_err(st, "release counts");
}

int srv_exec_wave_counts(srv_store_t *st, int64_t job_seq,
                         int (*visit)(void *, int wave, int status, int64_t released, int64_t n), void *arg)
{
    /* each thing once, by its latest attempt (a retry replaces a failure) */
    db_stmt_t *s = prepare(st, "SELECT e.wave, e.status, sum(CASE WHEN e.queued_at > 0 THEN 1 ELSE 0 END), count(*) FROM executions e"
                                  " WHERE e.job_seq = ?1 AND e.exec_no = (SELECT max(x.exec_no) FROM executions x"
                                  " WHERE x.job_seq = ?1 AND x.thing = e.thing) GROUP BY e.wave, e.status");
    int rc;
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    while ((rc = db_step(s)) == DB_ROW) {
        int status = srv_status_parse(db_col_text(s, 1));
        if (status >= 0 && visit(arg, (int)db_col_int64(s, 0), status, db_col_int64(s, 2),
                                 db_col_int64(s, 3)))
            break;
    }
    db_finalize(s);
    return rc == DB_DONE || rc == DB_ROW ? OTTO_OK : db_err(st, "wave counts");
}

int srv_device_images(srv_store_t *st, const char *product, const char *ota_type,
                      int (*visit)(void *, const char *sha256), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT DISTINCT json_extract(images, '$.\"' || CAST(?2 AS TEXT) || '\"') FROM devices"
                                  " WHERE product = ?1 AND json_extract(images, '$.\"' || CAST(?2 AS TEXT) || '\"') IS NOT NULL");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, product);
    bind_text(s, 2, ota_type);
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_text(s, 0)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "device images");
}

int srv_fw_by_sha(srv_store_t *st, const char *sha256, srv_fw_t *out)
{
    db_stmt_t *s = prepare(st, "SELECT " FW_COLS " FROM firmware WHERE sha256 = ? LIMIT 1");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, sha256);
    int rc = db_step(s);
    if (rc == DB_ROW)
        fw_row(s, out);
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "firmware by hash");
}

int srv_delta_put(srv_store_t *st, const srv_delta_t *d)
{
    db_stmt_t *s = prepare(st, "INSERT INTO deltas(id, base_fw, target_fw, size, created_at)"
                                  " VALUES(?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                                  " size = excluded.size, created_at = excluded.created_at");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, d->id);
    bind_text(s, 2, d->base_fw);
    bind_text(s, 3, d->target_fw);
    db_bind_int64(s, 4, d->size);
    db_bind_int64(s, 5, d->created_at);
    return run(st, s, true, "insert delta");
}

static void delta_row(db_stmt_t *s, srv_delta_t *d)
{
    col_text(s, 0, d->id, sizeof d->id);
    col_text(s, 1, d->base_fw, sizeof d->base_fw);
    col_text(s, 2, d->target_fw, sizeof d->target_fw);
    d->size = db_col_int64(s, 3);
    d->created_at = db_col_int64(s, 4);
}

#define DELTA_COLS "id, base_fw, target_fw, size, created_at"

int srv_delta_get(srv_store_t *st, const char *id, srv_delta_t *out)
{
    db_stmt_t *s = prepare(st, "SELECT " DELTA_COLS " FROM deltas WHERE id = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        delta_row(s, out);
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "get delta");
}

/* Each delta row of s (prepared with DELTA_COLS; NULL: failed) to visit. */
static int walk_deltas(srv_store_t *st, db_stmt_t *s, int (*visit)(void *, const srv_delta_t *), void *arg,
                       const char *what)
{
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW) {
        srv_delta_t d;
        delta_row(s, &d);
        if (visit(arg, &d))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, what);
}

int srv_delta_list(srv_store_t *st, const char *fw_id, int (*visit)(void *, const srv_delta_t *), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT " DELTA_COLS " FROM deltas WHERE base_fw = ?1 OR target_fw = ?1"
                                  " ORDER BY created_at, id");
    if (s)
        bind_text(s, 1, fw_id);
    return walk_deltas(st, s, visit, arg, "list deltas");
}

/* ---- retention (prune.h) ---- */

/* A count, or a delete, over one statement with one time bound. */
static int count_or_delete(srv_store_t *st, const char *count_sql, const char *delete_sql, int64_t before, bool dry,
                           int64_t *n, const char *what)
{
    db_stmt_t *s = prepare(st, count_sql);
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, before);
    int rc = db_step(s);
    *n = rc == DB_ROW ? db_col_int64(s, 0) : 0;
    db_finalize(s);
    if (rc != DB_ROW)
        return db_err(st, what);
    if (dry || !*n || !delete_sql)
        return OTTO_OK;
    if (!(s = prepare(st, delete_sql)))
        return OTTO_E_IO;
    db_bind_int64(s, 1, before);
    return run(st, s, true, what);
}

#define OLD_JOBS "SELECT seq FROM jobs WHERE status IN ('COMPLETED', 'CANCELED') AND completed_at > 0" \
                 " AND completed_at < ?1"

int srv_prune_jobs(srv_store_t *st, int64_t before, bool dry, int64_t *jobs, int64_t *execs)
{
    int err;
    if ((err = count_or_delete(st, "SELECT count(*) FROM executions WHERE job_seq IN (" OLD_JOBS ")",
                               "DELETE FROM executions WHERE job_seq IN (" OLD_JOBS ")", before, dry, execs,
                               "prune executions")) ||
        (err = count_or_delete(st, "SELECT count(*) FROM job_fw WHERE job_seq IN (" OLD_JOBS ")",
                               "DELETE FROM job_fw WHERE job_seq IN (" OLD_JOBS ")", before, dry, jobs,
                               "prune job firmware")))
        return err;
    return count_or_delete(st, "SELECT count(*) FROM (" OLD_JOBS ") o", "DELETE FROM jobs WHERE seq IN (" OLD_JOBS ")",
                           before, dry, jobs, "prune jobs");
}

int srv_prune_audit(srv_store_t *st, int64_t before, bool dry, int64_t *n)
{
    return count_or_delete(st, "SELECT count(*) FROM audit WHERE at < ?1", "DELETE FROM audit WHERE at < ?1", before,
                           dry, n, "prune audit");
}

int srv_prune_fw_unused(srv_store_t *st, int64_t before, int (*visit)(void *, const srv_fw_t *), void *arg)
{
    /* Not in any job left, not named by a template, not what any device
     * runs (a patch's base), uploaded before the bound. */
    db_stmt_t *s = prepare(st, "SELECT " FW_COLS " FROM firmware f WHERE created_at < ?1"
                                  " AND NOT EXISTS (SELECT 1 FROM job_fw j WHERE j.fw_id = f.id)"
                                  " AND NOT EXISTS (SELECT 1 FROM job_templates t WHERE instr(t.body, f.id) > 0)"
                                  " AND NOT EXISTS (SELECT 1 FROM devices d WHERE instr(d.images, f.sha256) > 0)"
                                  " ORDER BY created_at, id");
    if (s)
        db_bind_int64(s, 1, before);
    return walk_fw(st, s, visit, arg, "unused firmware");
}

int srv_prune_deltas_unused(srv_store_t *st, int (*visit)(void *, const srv_delta_t *), void *arg)
{
    /* A patch whose firmware is gone, or whose base no device runs. */
    db_stmt_t *s = prepare(st, "SELECT " DELTA_COLS " FROM deltas x WHERE"
                                  " NOT EXISTS (SELECT 1 FROM firmware f WHERE f.id = x.target_fw)"
                                  " OR NOT EXISTS (SELECT 1 FROM firmware b JOIN devices d"
                                  " ON instr(d.images, b.sha256) > 0 WHERE b.id = x.base_fw)"
                                  " ORDER BY id");
    return walk_deltas(st, s, visit, arg, "unused deltas");
}

int srv_delta_delete(srv_store_t *st, const char *id)
{
    return delete_id(st, "DELETE FROM deltas WHERE id = ?", id, "delete delta");
}

/* A named text row (INSERT of name, text, time): OTTO_E_EXISTS when the name is taken. */
static int named_put(srv_store_t *st, const char *sql, const char *name, const char *text, int64_t now,
                     const char *what)
{
    db_stmt_t *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, name);
    bind_text(s, 2, text);
    db_bind_int64(s, 3, now);
    return run_insert(st, s, true, what);
}

int srv_template_put(srv_store_t *st, const char *name, const char *body, int64_t now)
{
    return named_put(st, "INSERT INTO job_templates(name, body, created_at) VALUES(?, ?, ?) ON CONFLICT DO NOTHING", name, body, now,
                     "add job template");
}

int srv_template_get(srv_store_t *st, const char *name, char **body)
{
    db_stmt_t *s = prepare(st, "SELECT body FROM job_templates WHERE name = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, name);
    int rc = db_step(s), err = OTTO_OK;
    if (rc == DB_ROW)
        err = (*body = col_dup(s, 0)) ? OTTO_OK : OTTO_E_NOSPC;
    else
        err = rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "get job template");
    db_finalize(s);
    return err;
}

int srv_template_list(srv_store_t *st, int (*visit)(void *, const char *name, const char *body), void *arg)
{
    return each_pair(st, "SELECT name, body FROM job_templates ORDER BY name", visit, arg, "list job templates");
}

int srv_job_set_config(srv_store_t *st, int64_t seq, const char *config)
{
    db_stmt_t *s = prepare(st, "UPDATE jobs SET config = ? WHERE seq = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, config);
    db_bind_int64(s, 2, seq);
    return run(st, s, true, "job configuration");
}

int srv_job_paced(srv_store_t *st, int (*visit)(void *, int64_t seq, const char *config), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT seq, config FROM jobs WHERE status = 'IN_PROGRESS' AND config <> '{}'"
                                  " ORDER BY seq");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW)
        if (visit(arg, db_col_int64(s, 0), db_col_text(s, 1)))
            break;
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "paced jobs");
}

int srv_job_has_pending(srv_store_t *st, int64_t job_seq, bool *yes)
{
    db_stmt_t *s = cached(st, Q_JOB_HAS_PENDING);
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, job_seq);
    int rc = db_step(s);
    *yes = rc == DB_ROW;
    db_reset(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "pending executions");
}

/* ---- signing keys -------------------------------------------------------- */

int srv_key_put(srv_store_t *st, const char *name, const char *pem, int64_t now)
{
    return named_put(st, "INSERT INTO signing_keys(name, pem, created_at) VALUES(?, ?, ?) ON CONFLICT DO NOTHING", name, pem, now, "add key");
}

int srv_key_list(srv_store_t *st, int (*visit)(void *, const srv_key_t *), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT name, pem, created_at, revoked_at FROM signing_keys ORDER BY name");
    srv_key_t k;
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW) {
        col_text(s, 0, k.name, sizeof k.name);
        col_text(s, 1, k.pem, sizeof k.pem);
        k.created_at = db_col_int64(s, 2);
        k.revoked_at = db_col_int64(s, 3);
        if (visit(arg, &k))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "list keys");
}

/* Keys and tokens are revoked the same way: stamped once, never deleted. */
static int revoke_named(srv_store_t *st, const char *sql, const char *what, const char *name, int64_t now)
{
    db_stmt_t *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, now);
    bind_text(s, 2, name);
    int rc = db_step(s);
    db_finalize(s);
    if (rc != DB_DONE)
        return db_err(st, what);
    return db_changes(st->db) ? OTTO_OK : OTTO_E_NOTFOUND;
}

int srv_key_revoke(srv_store_t *st, const char *name, int64_t now)
{
    return revoke_named(st, "UPDATE signing_keys SET revoked_at = ? WHERE name = ? AND revoked_at = 0", "revoke key",
                        name, now);
}

/* ---- operator tokens and the audit log ---- */

static void token_row(db_stmt_t *s, srv_token_t *t)
{
    col_text(s, 0, t->name, sizeof t->name);
    col_text(s, 1, t->role, sizeof t->role);
    col_text(s, 2, t->hash, sizeof t->hash);
    t->created_at = db_col_int64(s, 3);
    t->expires_at = db_col_int64(s, 4);
    t->revoked_at = db_col_int64(s, 5);
}

int srv_token_put(srv_store_t *st, const srv_token_t *t)
{
    db_stmt_t *s = prepare(st, "INSERT INTO tokens(name, role, hash, created_at, expires_at) VALUES(?, ?, ?, ?, ?)"
                                  " ON CONFLICT DO NOTHING");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, t->name);
    bind_text(s, 2, t->role);
    bind_text(s, 3, t->hash);
    db_bind_int64(s, 4, t->created_at);
    db_bind_int64(s, 5, t->expires_at);
    return run_insert(st, s, true, "add token");
}

int srv_token_by_hash(srv_store_t *st, const char *hash, srv_token_t *t)
{
    db_stmt_t *s = prepare(st, "SELECT name, role, hash, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, hash);
    int rc = db_step(s);
    if (rc == DB_ROW)
        token_row(s, t);
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : rc == DB_DONE ? OTTO_E_NOTFOUND : db_err(st, "find token");
}

int srv_token_list(srv_store_t *st, int (*visit)(void *, const srv_token_t *), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT name, role, hash, created_at, expires_at, revoked_at FROM tokens ORDER BY name");
    srv_token_t t;
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW) {
        token_row(s, &t);
        if (visit(arg, &t))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "list tokens");
}

int srv_token_revoke(srv_store_t *st, const char *name, int64_t now)
{
    return revoke_named(st, "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at = 0", "revoke token",
                        name, now);
}

int srv_audit_add(srv_store_t *st, int64_t at, const char *who, const char *action, const char *object, int status)
{
    db_stmt_t *s = prepare(st, "INSERT INTO audit(at, who, action, object, status) VALUES(?, ?, ?, ?, ?)");
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, at);
    bind_text(s, 2, who);
    bind_text(s, 3, action);
    bind_text(s, 4, object);
    db_bind_int64(s, 5, status);
    int rc = db_step(s);
    db_finalize(s);
    return rc == DB_DONE ? OTTO_OK : db_err(st, "audit");
}

int srv_audit_list(srv_store_t *st, int64_t before, int limit, bool *more,
                   int (*visit)(void *, int64_t seq, int64_t at, const char *who, const char *action,
                                const char *object, int status), void *arg)
{
    db_stmt_t *s = prepare(st, "SELECT seq, at, who, action, object, status FROM audit WHERE seq < ? "
                                  "ORDER BY seq DESC LIMIT ?");
    int rc, n = 0;
    if (!s)
        return OTTO_E_IO;
    db_bind_int64(s, 1, before > 0 ? before : INT64_MAX);
    db_bind_int64(s, 2, limit + 1);
    *more = false;
    while ((rc = db_step(s)) == DB_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        char who[SRV_NAME_MAX + 1], action[64], object[256];
        col_text(s, 2, who, sizeof who);
        col_text(s, 3, action, sizeof action);
        col_text(s, 4, object, sizeof object);
        if (visit(arg, db_col_int64(s, 0), db_col_int64(s, 1), who, action, object,
                  (int)db_col_int64(s, 5)))
            break;
    }
    db_finalize(s);
    return rc == DB_ROW || rc == DB_DONE ? OTTO_OK : db_err(st, "list audit");
}

/* ---- several workers ---------------------------------------------------- */

bool srv_store_failed(const srv_store_t *st)
{
    return db_failed(st->db);
}

int srv_store_lock_thing(srv_store_t *st, const char *thing)
{
    if (!db_is_pg(st->db))
        return OTTO_OK; /* one writer: SQLite's own lock */
    db_stmt_t *s = cached(st, Q_LOCK_THING);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_ROW ? OTTO_OK : db_err(st, "lock device");
}

int srv_store_lead(srv_store_t *st, bool *lead)
{
    *lead = !db_is_pg(st->db);
    if (*lead)
        return OTTO_OK;
    /* A session lock: it lives as long as this connection, and the server
     * drops it the moment a dead worker's connection closes. Asked for
     * again only when this session does not hold it (it would stack). */
    db_stmt_t *s = prepare(st,
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND pid = pg_backend_pid() AND classid = " STR(PG_LOCK_OTTO) " AND objid = " STR(PG_LOCK_LEADER)
        " AND objsubid = 2) THEN true ELSE pg_try_advisory_lock(" STR(PG_LOCK_OTTO) ", " STR(PG_LOCK_LEADER) ") END");
    if (!s)
        return OTTO_E_IO;
    int rc = db_step(s);
    *lead = rc == DB_ROW && db_col_int64(s, 0) == 1;
    db_finalize(s);
    return rc == DB_ROW ? OTTO_OK : db_err(st, "lead");
}

#define BLOB_PART (1u << 20) /* bytes per row */

int srv_blob_put(srv_store_t *st, const char *name, const char *path)
{
    static const char hex[] = "0123456789abcdef";
    if (!db_is_pg(st->db))
        return OTTO_OK;
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(BLOB_PART);
    char *text = malloc(2 * BLOB_PART + 3);
    int err = f && buf && text ? OTTO_OK : OTTO_E_IO;
    if (!err)
        err = srv_store_begin(st);
    for (int64_t part = 0; !err; part++) {
        size_t n = fread(buf, 1, BLOB_PART, f);
        if (n == 0 && part > 0)
            break;
        char *o = text;
        *o++ = '\\';
        *o++ = 'x'; /* bytea's hex input form */
        for (size_t i = 0; i < n; i++) {
            *o++ = hex[buf[i] >> 4];
            *o++ = hex[buf[i] & 15];
        }
        *o = 0;
        db_stmt_t *s = prepare(st, "INSERT INTO blobs(name, part, data) VALUES(?, ?, CAST(? AS BYTEA))"
                                   " ON CONFLICT DO NOTHING");
        if (!s) {
            err = OTTO_E_IO;
            break;
        }
        bind_text(s, 1, name);
        db_bind_int64(s, 2, part);
        bind_text(s, 3, text);
        err = run(st, s, true, "keep blob");
        if (n < BLOB_PART)
            break;
    }
    if (f && ferror(f))
        err = OTTO_E_IO;
    if (err)
        srv_store_rollback(st);
    else
        err = srv_store_commit(st);
    if (f)
        fclose(f);
    free(buf);
    free(text);
    return err;
}

static int unhex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int srv_blob_fetch(srv_store_t *st, const char *name, const char *path)
{
    char tmp[4200];
    if (!db_is_pg(st->db))
        return OTTO_E_NOTFOUND;
    db_stmt_t *s = prepare(st, "SELECT data FROM blobs WHERE name = ? ORDER BY part");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, name);
    snprintf(tmp, sizeof tmp, "%s.fetch", path);
    FILE *f = fopen(tmp, "wb");
    int rc, parts = 0, err = f ? OTTO_OK : OTTO_E_IO;
    while (!err && (rc = db_step(s)) == DB_ROW) {
        const char *t = db_col_text(s, 0);
        parts++;
        for (t += 2; t[0] && t[1] && !err; t += 2) { /* after "\x" */
            int hi = unhex(t[0]), lo = unhex(t[1]);
            if (hi < 0 || lo < 0 || fputc(hi << 4 | lo, f) == EOF)
                err = OTTO_E_IO;
        }
    }
    if (!err && rc != DB_DONE)
        err = db_err(st, "fetch blob");
    db_finalize(s);
    if (f && fclose(f))
        err = OTTO_E_IO;
    if (!err && parts == 0)
        err = OTTO_E_NOTFOUND;
    if (!err && rename(tmp, path))
        err = OTTO_E_IO;
    if (err)
        remove(tmp);
    return err;
}

int srv_blob_delete(srv_store_t *st, const char *name)
{
    if (!db_is_pg(st->db))
        return OTTO_OK;
    db_stmt_t *s = prepare(st, "DELETE FROM blobs WHERE name = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, name);
    return run(st, s, true, "delete blob");
}

uint32_t srv_fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h;
}

unsigned srv_partition(const char *thing)
{
    return srv_fnv1a(thing) % SRV_PARTITIONS;
}

int srv_store_balance(srv_store_t *st, uint64_t *owned, int *workers)
{
    char sql[800];
    uint64_t held = 0;
    bool present = false;
    int n = 0, rc;
    if (!db_is_pg(st->db)) {
        *owned = ~(uint64_t)0;
        *workers = 1;
        return OTTO_OK;
    }
    /* What this session holds, as the server sees it (a reconnect drops
     * every session lock; nothing is believed that is not there). */
    db_stmt_t *s = prepare(st, "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                               " AND pid = pg_backend_pid() AND classid = " STR(PG_LOCK_OTTO) " AND objsubid = 2");
    if (!s)
        return OTTO_E_IO;
    while ((rc = db_step(s)) == DB_ROW) {
        int64_t id = db_col_int64(s, 0);
        if (id == PG_LOCK_PRESENT)
            present = true;
        else if (id >= PG_LOCK_PART && id < PG_LOCK_PART + SRV_PARTITIONS)
            held |= (uint64_t)1 << (id - PG_LOCK_PART);
    }
    db_finalize(s);
    if (rc != DB_DONE)
        return db_err(st, "partitions held");
    if (!present && exec_sql(st, "SELECT pg_advisory_lock_shared(" STR(PG_LOCK_OTTO) ", " STR(PG_LOCK_PRESENT) ")"))
        return OTTO_E_IO;
    if (!(s = prepare(st, "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                          " AND classid = " STR(PG_LOCK_OTTO) " AND objid = " STR(PG_LOCK_PRESENT) " AND objsubid = 2")))
        return OTTO_E_IO;
    rc = db_step(s);
    *workers = rc == DB_ROW ? (int)db_col_int64(s, 0) : 1;
    db_finalize(s);
    if (*workers < 1)
        *workers = 1;
    int fair = (SRV_PARTITIONS + *workers - 1) / *workers;
    for (int p = 0; p < SRV_PARTITIONS; p++)
        n += (int)(held >> p & 1);
    if (n > fair) { /* give back the surplus, from the top */
        for (int p = SRV_PARTITIONS - 1; p >= 0 && n > fair; p--) {
            if (!(held >> p & 1))
                continue;
            snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d, %d)", PG_LOCK_OTTO, PG_LOCK_PART + p);
            if (exec_sql(st, sql))
                return OTTO_E_IO;
            held &= ~((uint64_t)1 << p);
            n--;
        }
    } else if (n < fair) {
        /* Take free ones until the share is met, in one query that stops
         * there; the ones held already are left out first (OFFSET 0 keeps
         * that subquery a fence: a session's try on a lock it holds would
         * succeed and stack). */
        char filt[300] = "-1";
        size_t fl = 2;
        for (int p = 0; p < SRV_PARTITIONS; p++)
            if (held >> p & 1)
                fl += (size_t)snprintf(filt + fl, sizeof filt - fl, ",%d", p);
        snprintf(sql, sizeof sql,
                 "SELECT p FROM (SELECT p FROM generate_series(0, %d) p WHERE p NOT IN (%s) OFFSET 0) f"
                 " WHERE pg_try_advisory_lock(%d, %d + p) LIMIT %d",
                 SRV_PARTITIONS - 1, filt, PG_LOCK_OTTO, PG_LOCK_PART, fair - n);
        if (!(s = prepare(st, sql)))
            return OTTO_E_IO;
        while ((rc = db_step(s)) == DB_ROW)
            held |= (uint64_t)1 << (db_col_int64(s, 0) % SRV_PARTITIONS);
        db_finalize(s);
        if (rc != DB_DONE)
            return db_err(st, "take partitions");
    }
    *owned = held;
    return OTTO_OK;
}
