/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend of store.h.
 *
 * WAL mode with synchronous=FULL: a committed transaction is synced to disk
 * before commit returns, so it survives a power cut of the server, not just
 * a crash of ottod; device requests share one commit per batch (batch.h),
 * so the sync is paid once for many. Hot statements are prepared once and
 * cached.
 *
 * Schema (version 1): firmware, devices, device_groups, jobs, job_fw,
 * executions. Statuses are stored as their AWS names so the database reads
 * well in the sqlite3 shell.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#define SCHEMA_VERSION 8
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
};


/* Cached statements, one slot per hot query. */
#define FW_COLS "id, sha256, md5, size, ota_type, product, grp, version, project," \
                " secure_version, name, extra, created_at"

enum {
    Q_FW_GET, Q_EXEC_GET, Q_EXEC_GET_LATEST, Q_EXEC_UPDATE, Q_EXEC_NEXT, Q_EXEC_PUT, Q_EXEC_PENDING,
    Q_DEVICE_GET, Q_DEVICE_LAST_JOB, Q_DEVICE_GROUPS, Q_DEVICE_INSERT, Q_GROUP_ADD,
    Q_JOB_BY_ID, Q_JOB_BY_SEQ, Q_EXEC_COUNTS, Q_JOB_HAS_PENDING, Q_COUNT
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
    [Q_EXEC_NEXT] = "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                    " WHERE e.thing = ? AND e.status IN ('IN_PROGRESS', 'QUEUED') AND e.queued_at > 0"
                    " ORDER BY e.status = 'IN_PROGRESS' DESC, e.job_seq, e.exec_no LIMIT 1",
    [Q_EXEC_PUT] = "INSERT INTO executions(job_seq, thing, exec_no, status, version, queued_at,"
                   " started_at, updated_at, step_deadline, deadline, details, wave)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_EXEC_PENDING] = "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                       " WHERE e.thing = ? AND e.status IN ('IN_PROGRESS', 'QUEUED') AND e.queued_at > 0"
                       " ORDER BY e.status = 'IN_PROGRESS' DESC, e.job_seq, e.exec_no LIMIT ?",
    [Q_DEVICE_GET] = "SELECT thing, product, versions, created_at, last_seen, images, online FROM devices"
                     " WHERE thing = ?",
    [Q_DEVICE_LAST_JOB] = "SELECT j.id, e.status FROM executions e JOIN jobs j ON j.seq = e.job_seq"
                          " WHERE e.thing = ? ORDER BY e.job_seq DESC, e.exec_no DESC LIMIT 1",
    [Q_DEVICE_GROUPS] = "SELECT grp FROM device_groups WHERE thing = ? ORDER BY grp",
    [Q_DEVICE_INSERT] = "INSERT INTO devices(thing, product, created_at) VALUES(?,?,?)"
                        " ON CONFLICT(thing) DO UPDATE SET product ="
                        " CASE WHEN excluded.product = '' THEN product ELSE excluded.product END",
    [Q_GROUP_ADD] = "INSERT OR IGNORE INTO device_groups(grp, thing) VALUES(?,?)",
    /* each device request reads its job, and each update may end one */
    [Q_JOB_BY_ID] = "SELECT " JOB_COLS ", document, targets, fw_ids, config FROM jobs WHERE id = ?",
    [Q_JOB_BY_SEQ] = "SELECT " JOB_COLS ", document, targets, fw_ids, config FROM jobs WHERE seq = ?",
    [Q_EXEC_COUNTS] = "SELECT status, count(*) FROM executions WHERE job_seq = ? GROUP BY status",
    [Q_JOB_HAS_PENDING] = "SELECT 1 FROM executions WHERE job_seq = ? AND status IN ('QUEUED', 'IN_PROGRESS') LIMIT 1",
};

struct srv_store {
    sqlite3 *db;
    void (*observe)(void *ctx, uint64_t ns); /* each statement's run time, or NULL */
    void *observe_ctx;
    sqlite3_stmt *q[Q_COUNT];
    int depth; /* transaction nesting */
};

static int db_err(srv_store_t *st, const char *what)
{
    SRV_LOG_ERR("store: %s: %s", what, sqlite3_errmsg(st->db));
    return OTTO_E_IO;
}

static sqlite3_stmt *cached(srv_store_t *st, int i)
{
    if (!st->q[i] && sqlite3_prepare_v3(st->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT,
                                        &st->q[i], NULL) != SQLITE_OK) {
        db_err(st, queries[i]);
        return NULL;
    }
    sqlite3_reset(st->q[i]);
    sqlite3_clear_bindings(st->q[i]);
    return st->q[i];
}

static sqlite3_stmt *prepare(srv_store_t *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_err(st, sql);
        return NULL;
    }
    return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return strdup(t ? (const char *)t : "");
}

/* Run a statement that returns no rows; finalize it unless it is cached. */
static int run(srv_store_t *st, sqlite3_stmt *s, bool owned, const char *what)
{
    int rc = sqlite3_step(s);
    int err = OTTO_OK;
    if (rc == SQLITE_CONSTRAINT)
        err = OTTO_E_EXISTS;
    else if (rc != SQLITE_DONE)
        err = db_err(st, what);
    if (owned)
        sqlite3_finalize(s);
    else
        sqlite3_reset(s);
    return err;
}

/* The same for a statement that must change a row: OTTO_E_NOTFOUND if none. */
static int run_one(srv_store_t *st, sqlite3_stmt *s, bool owned, const char *what)
{
    int err = run(st, s, owned, what);
    return !err && sqlite3_changes(st->db) == 0 ? OTTO_E_NOTFOUND : err;
}

static int exec_sql(srv_store_t *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        SRV_LOG_ERR("store: %s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return OTTO_E_IO;
    }
    return OTTO_OK;
}

static int schema_version(srv_store_t *st, long *v)
{
    sqlite3_stmt *s = prepare(st, "SELECT value FROM meta WHERE key = 'schema'");
    *v = 0;
    if (!s)
        return OTTO_E_IO;
    if (sqlite3_step(s) == SQLITE_ROW)
        *v = strtol((const char *)sqlite3_column_text(s, 0), NULL, 10);
    sqlite3_finalize(s);
    return OTTO_OK;
}

static int migrate(srv_store_t *st, const char *path)
{
    long v;
    char sql[96];
    if (schema_version(st, &v))
        return OTTO_E_IO;
    if (v == 0) /* a new database: today's tables, then every step from version 1 */
        if (exec_sql(st, "INSERT INTO meta VALUES('schema', '1')"))
            return OTTO_E_IO;
    if (v == 0)
        v = 1;
    if (v > SCHEMA_VERSION) {
        SRV_LOG_ERR("store: %s has schema %ld, made by a newer ottod (this one knows %d); not touched", path, v,
                SCHEMA_VERSION);
        return OTTO_E_VERSION;
    }
    for (; v < SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof sql, "UPDATE meta SET value = '%ld' WHERE key = 'schema'", v + 1);
        if (exec_sql(st, "BEGIN IMMEDIATE") || exec_sql(st, migrations[v - 1]) || exec_sql(st, sql) ||
            exec_sql(st, "COMMIT")) {
            exec_sql(st, "ROLLBACK");
            return OTTO_E_IO;
        }
        SRV_LOG_INF("store: schema upgraded to version %ld", v + 1);
    }
    return OTTO_OK;
}

/* SQLite's profile trace: a statement ran for *ns nanoseconds. */
static int on_profile(unsigned type, void *ctx, void *stmt, void *ns)
{
    srv_store_t *st = ctx;
    (void)stmt;
    if (type == SQLITE_TRACE_PROFILE && st->observe)
        st->observe(st->observe_ctx, (uint64_t)*(sqlite3_int64 *)ns);
    return 0;
}

void srv_store_observe(srv_store_t *st, void (*observe)(void *ctx, uint64_t ns), void *ctx)
{
    st->observe = observe;
    st->observe_ctx = ctx;
    sqlite3_trace_v2(st->db, observe ? SQLITE_TRACE_PROFILE : 0, observe ? on_profile : NULL, st);
}

int srv_store_open(const char *path, srv_store_t **out)
{
    srv_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return OTTO_E_NOSPC;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        SRV_LOG_ERR("store: cannot open %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "no memory");
        sqlite3_close(st->db);
        free(st);
        return OTTO_E_IO;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if (exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;") ||
        exec_sql(st, schema)) {
        srv_store_close(st);
        return OTTO_E_IO;
    }
    int err = migrate(st, path);
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
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
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
    int err = exec_sql(st, "BEGIN IMMEDIATE");
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
    int err = exec_sql(st, "COMMIT");
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


static void fw_row(sqlite3_stmt *s, srv_fw_t *f)
{
    memset(f, 0, sizeof *f);
    col_text(s, 0, f->id, sizeof f->id);
    col_text(s, 1, f->sha256, sizeof f->sha256);
    col_text(s, 2, f->md5, sizeof f->md5);
    f->size = sqlite3_column_int64(s, 3);
    col_text(s, 4, f->ota_type, sizeof f->ota_type);
    col_text(s, 5, f->product, sizeof f->product);
    col_text(s, 6, f->group, sizeof f->group);
    col_text(s, 7, f->version, sizeof f->version);
    col_text(s, 8, f->project, sizeof f->project);
    f->secure_version = (uint32_t)sqlite3_column_int64(s, 9);
    col_text(s, 10, f->name, sizeof f->name);
    col_text(s, 11, f->extra, sizeof f->extra);
    f->created_at = sqlite3_column_int64(s, 12);
}

int srv_fw_put(srv_store_t *st, const srv_fw_t *f)
{
    sqlite3_stmt *s = prepare(st, "INSERT INTO firmware(" FW_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, f->id);
    bind_text(s, 2, f->sha256);
    bind_text(s, 3, f->md5);
    sqlite3_bind_int64(s, 4, f->size);
    bind_text(s, 5, f->ota_type);
    bind_text(s, 6, f->product);
    bind_text(s, 7, f->group);
    bind_text(s, 8, f->version);
    bind_text(s, 9, f->project);
    sqlite3_bind_int64(s, 10, f->secure_version);
    bind_text(s, 11, f->name);
    bind_text(s, 12, f->extra[0] ? f->extra : "{}");
    sqlite3_bind_int64(s, 13, f->created_at);
    return run(st, s, true, "insert firmware");
}

int srv_fw_get(srv_store_t *st, const char *id, srv_fw_t *out)
{
    sqlite3_stmt *s = cached(st, Q_FW_GET);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s), err = OTTO_OK;
    if (rc == SQLITE_ROW)
        fw_row(s, out);
    else
        err = rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "get firmware");
    sqlite3_reset(s);
    return err;
}

int srv_fw_list(srv_store_t *st, int (*visit)(void *, const srv_fw_t *), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT " FW_COLS " FROM firmware ORDER BY created_at, id");
    srv_fw_t f;
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        fw_row(s, &f);
        if (visit(arg, &f))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list firmware");
}

int srv_fw_delete(srv_store_t *st, const char *id)
{
    sqlite3_stmt *s = prepare(st, "DELETE FROM firmware WHERE id = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    return run_one(st, s, true, "delete firmware");
}

int srv_fw_used_by(srv_store_t *st, const char *id, char job_id[SRV_JOBID_MAX + 1])
{
    /* In use while the job runs, or while any of its executions still
     * waits or downloads: a job canceled without force leaves its
     * IN_PROGRESS executions running, and they resume with Range. */
    sqlite3_stmt *s = prepare(st, "SELECT j.id FROM job_fw f JOIN jobs j ON j.seq = f.job_seq"
                                  " WHERE f.fw_id = ? AND (j.status = 'IN_PROGRESS' OR EXISTS("
                                  "SELECT 1 FROM executions e WHERE e.job_seq = j.seq"
                                  " AND e.status IN ('QUEUED', 'IN_PROGRESS'))) LIMIT 1");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    job_id[0] = 0;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        col_text(s, 0, job_id, SRV_JOBID_MAX + 1);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "firmware in use");
}

/* ---- devices ----------------------------------------------------------- */

static void device_groups(srv_store_t *st, srv_device_t *d)
{
    sqlite3_stmt *s = cached(st, Q_DEVICE_GROUPS);
    size_t n = 0;
    d->groups[0] = 0;
    if (!s)
        return;
    bind_text(s, 1, d->thing);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *g = (const char *)sqlite3_column_text(s, 0);
        int w = snprintf(d->groups + n, sizeof d->groups - n, "%s%s", n ? "," : "", g ? g : "");
        if (w < 0 || (size_t)w >= sizeof d->groups - n)
            break;
        n += (size_t)w;
    }
    sqlite3_reset(s);
}

static void device_row(sqlite3_stmt *s, srv_device_t *d)
{
    memset(d, 0, sizeof *d);
    col_text(s, 0, d->thing, sizeof d->thing);
    col_text(s, 1, d->product, sizeof d->product);
    col_text(s, 2, d->versions, sizeof d->versions);
    d->created_at = sqlite3_column_int64(s, 3);
    d->last_seen = sqlite3_column_int64(s, 4);
    col_text(s, 5, d->images, sizeof d->images);
    d->online = sqlite3_column_int(s, 6) != 0;
}

int srv_device_upsert(srv_store_t *st, const char *thing, const char *product,
                      const char *const *groups, size_t ngroups, int64_t now)
{
    sqlite3_stmt *s = cached(st, Q_DEVICE_INSERT);
    int err;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    bind_text(s, 2, product);
    sqlite3_bind_int64(s, 3, now);
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

int srv_device_get(srv_store_t *st, const char *thing, srv_device_t *out)
{
    sqlite3_stmt *s = cached(st, Q_DEVICE_GET);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        device_row(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) {
        device_groups(st, out);
        return OTTO_OK;
    }
    return rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "get device");
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

static void device_bind(sqlite3_stmt *s, const srv_device_filter_t *f)
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
    snprintf(sql, sizeof sql, "SELECT thing, product, versions, created_at, last_seen, images, online FROM devices"
                              " WHERE thing > ?1%s ORDER BY thing LIMIT ?2", where);
    sqlite3_stmt *s = prepare(st, sql);
    srv_device_t d;
    int rc, n = 0;
    if (!s)
        return OTTO_E_IO;
    *more = false;
    bind_text(s, 1, after ? after : "");
    sqlite3_bind_int(s, 2, limit + 1); /* one more says whether there is a next page */
    device_bind(s, f);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        device_row(s, &d);
        device_groups(st, &d);
        if (visit(arg, &d))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list devices");
}

int srv_device_count(srv_store_t *st, const srv_device_filter_t *f, int64_t *n)
{
    char where[400], sql[600];
    device_where(f, where, sizeof where);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM devices WHERE thing > ?1%s", where);
    sqlite3_stmt *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, "");
    device_bind(s, f);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? OTTO_OK : db_err(st, "count devices");
}

int srv_device_last_job(srv_store_t *st, const char *thing, char *job_id, size_t cap, char *status, size_t scap)
{
    sqlite3_stmt *s = cached(st, Q_DEVICE_LAST_JOB);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        col_text(s, 0, job_id, cap);
        col_text(s, 1, status, scap);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? OTTO_OK : rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "last job");
}

int srv_device_delete(srv_store_t *st, const char *thing)
{
    sqlite3_stmt *s = prepare(st, "DELETE FROM devices WHERE thing = ?");
    int err;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    if ((err = run(st, s, true, "delete device")))
        return err;
    if (sqlite3_changes(st->db) == 0)
        return OTTO_E_NOTFOUND;
    if (!(s = prepare(st, "DELETE FROM device_groups WHERE thing = ?")))
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    return run(st, s, true, "delete device groups");
}

int srv_device_seen(srv_store_t *st, const char *thing, const char *product,
                    const char *versions, const char *images, int64_t now)
{
    sqlite3_stmt *s = prepare(st,
        "UPDATE devices SET last_seen = ?,"
        " product = CASE WHEN ?2 = '' THEN product ELSE ?2 END,"
        " versions = CASE WHEN ?3 = '' THEN versions ELSE json_patch(versions, ?3) END,"
        " images = CASE WHEN ?5 = '' THEN images ELSE ?5 END" /* the whole map: a base no longer held goes */
        " WHERE thing = ?4");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, product);
    bind_text(s, 3, versions);
    bind_text(s, 4, thing);
    bind_text(s, 5, images ? images : "");
    return run_one(st, s, true, "device seen");
}

int srv_device_online(srv_store_t *st, const char *thing, bool online, int64_t now)
{
    sqlite3_stmt *s = prepare(st, "UPDATE devices SET online = ?1,"
                                  " last_seen = CASE WHEN ?1 THEN ?2 ELSE last_seen END WHERE thing = ?3");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int(s, 1, online);
    sqlite3_bind_int64(s, 2, now);
    bind_text(s, 3, thing);
    return run_one(st, s, true, "device online");
}

int srv_device_counts(srv_store_t *st, int64_t *total, int64_t *online)
{
    sqlite3_stmt *s = prepare(st, "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM devices WHERE online = 1)");
    if (!s)
        return OTTO_E_IO;
    int rc = sqlite3_step(s);
    *total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    *online = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? OTTO_OK : db_err(st, "count devices");
}

int srv_fleet_versions(srv_store_t *st, int (*visit)(void *, const char *, const char *, int64_t), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT v.key, v.value, count(*) FROM devices, json_each(devices.versions) v"
                                  " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 200");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                  sqlite3_column_int64(s, 2)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "fleet versions");
}

int srv_recent_failures(srv_store_t *st, int64_t since, int limit, int (*visit)(void *, const char *, int64_t),
                        void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT coalesce(json_extract(details, '$.reason'), status), count(*) FROM executions"
                                  " WHERE status IN ('FAILED', 'REJECTED', 'TIMED_OUT') AND updated_at >= ?1"
                                  " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?2");
    int rc;
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int(s, 2, limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "recent failures");
}

int srv_exec_reasons(srv_store_t *st, int (*visit)(void *, const char *, const char *, int64_t), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT status, coalesce(json_extract(details, '$.reason'), ''), count(*)"
                                  " FROM executions GROUP BY 1, 2 ORDER BY 1, 2");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *reason = sqlite3_column_text(s, 1);
        if (visit(arg, (const char *)sqlite3_column_text(s, 0), reason ? (const char *)reason : "",
                  sqlite3_column_int64(s, 2)))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "executions by reason");
}

int srv_group_list(srv_store_t *st, int (*visit)(void *, const char *, int64_t), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT grp, count(*) FROM device_groups GROUP BY grp ORDER BY grp");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list groups");
}

int srv_group_things(srv_store_t *st, const char *group,
                     int (*visit)(void *, const char *), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT thing FROM device_groups WHERE grp = ? ORDER BY thing");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, group);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, (const char *)sqlite3_column_text(s, 0)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "group members");
}

/* ---- jobs -------------------------------------------------------------- */


static void job_row(sqlite3_stmt *s, srv_job_t *j)
{
    char status[32];
    memset(j, 0, sizeof *j);
    j->seq = sqlite3_column_int64(s, 0);
    col_text(s, 1, j->id, sizeof j->id);
    col_text(s, 2, status, sizeof status);
    j->status = job_status_parse(status);
    j->created_at = sqlite3_column_int64(s, 3);
    j->completed_at = sqlite3_column_int64(s, 4);
    col_text(s, 5, j->product, sizeof j->product);
    col_text(s, 6, j->ota_types, sizeof j->ota_types);
    j->timeout_min = sqlite3_column_int(s, 7);
    col_text(s, 8, j->description, sizeof j->description);
    col_text(s, 9, j->reason, sizeof j->reason);
}

int srv_job_put(srv_store_t *st, srv_job_t *j, const char *const *fw_ids, size_t nfw)
{
    sqlite3_stmt *s = prepare(st,
        "INSERT INTO jobs(id, status, created_at, product, ota_types, timeout_min, description,"
        " document, targets, fw_ids, config) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    int err;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, j->id);
    bind_text(s, 2, srv_job_status_name(j->status));
    sqlite3_bind_int64(s, 3, j->created_at);
    bind_text(s, 4, j->product);
    bind_text(s, 5, j->ota_types);
    sqlite3_bind_int(s, 6, j->timeout_min);
    bind_text(s, 7, j->description);
    bind_text(s, 8, j->document);
    bind_text(s, 9, j->targets);
    bind_text(s, 10, j->fw_ids);
    bind_text(s, 11, j->config ? j->config : "{}");
    if ((err = run(st, s, true, "insert job")))
        return err;
    j->seq = sqlite3_last_insert_rowid(st->db);
    for (size_t i = 0; i < nfw; i++) {
        if (!(s = prepare(st, "INSERT OR IGNORE INTO job_fw(job_seq, fw_id) VALUES(?,?)")))
            return OTTO_E_IO;
        sqlite3_bind_int64(s, 1, j->seq);
        bind_text(s, 2, fw_ids[i]);
        if ((err = run(st, s, true, "insert job firmware")))
            return err;
    }
    return OTTO_OK;
}

static int job_get_q(srv_store_t *st, int q, const char *id, int64_t seq, srv_job_t *out)
{
    sqlite3_stmt *s = cached(st, q);
    if (!s)
        return OTTO_E_IO;
    if (id)
        bind_text(s, 1, id);
    else
        sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s), err = OTTO_OK;
    if (rc == SQLITE_ROW) {
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
        err = rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "get job");
    }
    sqlite3_reset(s);
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
    sqlite3_stmt *s = prepare(st, "SELECT " JOB_COLS " FROM jobs WHERE seq < ? ORDER BY seq DESC LIMIT ?");
    srv_job_t j;
    int rc, n = 0;
    if (!s)
        return OTTO_E_IO;
    *more = false;
    sqlite3_bind_int64(s, 1, before_seq > 0 ? before_seq : INT64_MAX);
    sqlite3_bind_int(s, 2, limit + 1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        job_row(s, &j);
        if (visit(arg, &j))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list jobs");
}

int srv_job_set_status(srv_store_t *st, int64_t seq, int status, int64_t at, const char *reason)
{
    sqlite3_stmt *s = prepare(st, "UPDATE jobs SET status = ?, completed_at = ?,"
                                  " reason = CASE WHEN ? = '' THEN reason ELSE ?3 END WHERE seq = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, srv_job_status_name(status));
    sqlite3_bind_int64(s, 2, at);
    bind_text(s, 3, reason);
    sqlite3_bind_int64(s, 4, seq);
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
    sqlite3_stmt *s = prepare(st, "SELECT seq, id, ota_types FROM jobs WHERE product = ?"
                                  " AND status = 'IN_PROGRESS' AND seq < ? ORDER BY seq");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, product);
    sqlite3_bind_int64(s, 2, seq);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *types = (const char *)sqlite3_column_text(s, 2);
        if (!list_subset(types ? types : "", ota_types))
            continue;
        if (visit(arg, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1)))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "supersedable jobs");
}

/* ---- executions -------------------------------------------------------- */

static void exec_row(sqlite3_stmt *s, srv_exec_t *e)
{
    char status[32];
    e->job_seq = sqlite3_column_int64(s, 0);
    col_text(s, 1, e->job_id, sizeof e->job_id);
    col_text(s, 2, e->thing, sizeof e->thing);
    e->exec_no = sqlite3_column_int(s, 3);
    col_text(s, 4, status, sizeof status);
    e->status = srv_status_parse(status);
    e->version = sqlite3_column_int64(s, 5);
    e->queued_at = sqlite3_column_int64(s, 6);
    e->started_at = sqlite3_column_int64(s, 7);
    e->updated_at = sqlite3_column_int64(s, 8);
    e->step_deadline = sqlite3_column_int64(s, 9);
    e->deadline = sqlite3_column_int64(s, 10);
    col_text(s, 11, e->details, sizeof e->details);
    e->wave = sqlite3_column_int(s, 12);
}

int srv_exec_put(srv_store_t *st, const srv_exec_t *e)
{
    sqlite3_stmt *s = cached(st, Q_EXEC_PUT);
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, e->job_seq);
    bind_text(s, 2, e->thing);
    sqlite3_bind_int(s, 3, e->exec_no);
    bind_text(s, 4, srv_status_name(e->status));
    sqlite3_bind_int64(s, 5, e->version);
    sqlite3_bind_int64(s, 6, e->queued_at);
    sqlite3_bind_int64(s, 7, e->started_at);
    sqlite3_bind_int64(s, 8, e->updated_at);
    sqlite3_bind_int64(s, 9, e->step_deadline);
    sqlite3_bind_int64(s, 10, e->deadline);
    bind_text(s, 11, e->details[0] ? e->details : "{}");
    sqlite3_bind_int(s, 12, e->wave);
    return run(st, s, false, "insert execution");
}

/* Step a cached single-row query into out. */
static int one_exec(srv_store_t *st, sqlite3_stmt *s, srv_exec_t *out, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        exec_row(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return OTTO_OK;
    return rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, what);
}

int srv_exec_get(srv_store_t *st, int64_t job_seq, const char *thing, int exec_no,
                 srv_exec_t *out)
{
    sqlite3_stmt *s = cached(st, exec_no > 0 ? Q_EXEC_GET : Q_EXEC_GET_LATEST);
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    bind_text(s, 2, thing);
    if (exec_no > 0)
        sqlite3_bind_int(s, 3, exec_no);
    return one_exec(st, s, out, "get execution");
}

int srv_exec_update(srv_store_t *st, const srv_exec_t *e)
{
    sqlite3_stmt *s = cached(st, Q_EXEC_UPDATE);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, srv_status_name(e->status));
    sqlite3_bind_int64(s, 2, e->version);
    sqlite3_bind_int64(s, 3, e->started_at);
    sqlite3_bind_int64(s, 4, e->updated_at);
    sqlite3_bind_int64(s, 5, e->step_deadline);
    sqlite3_bind_int64(s, 6, e->deadline);
    bind_text(s, 7, e->details[0] ? e->details : "{}");
    sqlite3_bind_int64(s, 8, e->job_seq);
    bind_text(s, 9, e->thing);
    sqlite3_bind_int(s, 10, e->exec_no);
    int err = run(st, s, false, "update execution");
    if (!err && sqlite3_changes(st->db) == 0)
        err = OTTO_E_NOTFOUND;
    return err;
}

int srv_exec_next(srv_store_t *st, const char *thing, srv_exec_t *out)
{
    sqlite3_stmt *s = cached(st, Q_EXEC_NEXT);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    return one_exec(st, s, out, "next execution");
}

static int walk_execs(srv_store_t *st, sqlite3_stmt *s, bool owned,
                      int (*visit)(void *, const srv_exec_t *), void *arg, const char *what)
{
    srv_exec_t *e = malloc(sizeof *e);
    int rc = SQLITE_DONE;
    if (!e) {
        if (owned)
            sqlite3_finalize(s);
        return OTTO_E_NOSPC;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        exec_row(s, e);
        if (visit(arg, e))
            break;
    }
    free(e);
    if (owned)
        sqlite3_finalize(s);
    else
        sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, what);
}

int srv_exec_pending(srv_store_t *st, const char *thing, int limit,
                     int (*visit)(void *, const srv_exec_t *), void *arg)
{
    sqlite3_stmt *s = cached(st, Q_EXEC_PENDING);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, thing);
    sqlite3_bind_int(s, 2, limit);
    return walk_execs(st, s, false, visit, arg, "pending executions");
}

int srv_exec_of_job(srv_store_t *st, int64_t job_seq, int status,
                    int (*visit)(void *, const srv_exec_t *), void *arg)
{
    sqlite3_stmt *s = prepare(st, status < 0
        ? "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
          " WHERE e.job_seq = ?1 ORDER BY e.thing, e.exec_no"
        : "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
          " WHERE e.job_seq = ?1 AND e.status = ?2 ORDER BY e.thing, e.exec_no");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    if (status >= 0)
        bind_text(s, 2, srv_status_name(status));
    return walk_execs(st, s, true, visit, arg, "job executions");
}

int srv_exec_counts(srv_store_t *st, int64_t job_seq, int64_t counts[SRV_STATUS_COUNT])
{
    sqlite3_stmt *s = cached(st, Q_EXEC_COUNTS);
    int rc;
    memset(counts, 0, sizeof(int64_t) * SRV_STATUS_COUNT);
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int st_i = srv_status_parse((const char *)sqlite3_column_text(s, 0));
        if (st_i >= 0)
            counts[st_i] = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? OTTO_OK : db_err(st, "count executions");
}

int srv_exec_expired(srv_store_t *st, int64_t now,
                     int (*visit)(void *, const srv_exec_t *), void *arg)
{
    sqlite3_stmt *s = prepare(st,
        "SELECT " EXEC_COLS " FROM executions e JOIN jobs j ON j.seq = e.job_seq"
        " WHERE e.status = 'IN_PROGRESS' AND ((e.step_deadline > 0 AND e.step_deadline <= ?1)"
        " OR (e.deadline > 0 AND e.deadline <= ?1))");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, now);
    return walk_execs(st, s, true, visit, arg, "expired executions");
}

int srv_exec_has(srv_store_t *st, int64_t job_seq, const char *thing, int status, bool *yes)
{
    sqlite3_stmt *s = prepare(st, "SELECT 1 FROM executions WHERE job_seq = ? AND thing = ?"
                                  " AND status = ? LIMIT 1");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    bind_text(s, 2, thing);
    bind_text(s, 3, srv_status_name(status));
    int rc = sqlite3_step(s);
    *yes = rc == SQLITE_ROW;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "execution lookup");
}

int srv_exec_release(srv_store_t *st, int64_t job_seq, int max_wave, int64_t now, int64_t limit,
                     int (*visit)(void *, const char *thing), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT thing FROM executions WHERE job_seq = ? AND status = 'QUEUED'"
                                  " AND queued_at = 0 AND wave <= ? ORDER BY wave, thing LIMIT ?");
    sqlite3_stmt *u = prepare(st, "UPDATE executions SET queued_at = ?, updated_at = ?"
                                  " WHERE job_seq = ? AND thing = ? AND status = 'QUEUED' AND queued_at = 0");
    int rc = SQLITE_DONE, err = OTTO_OK;
    if (!s || !u) {
        sqlite3_finalize(s);
        sqlite3_finalize(u);
        return OTTO_E_IO;
    }
    sqlite3_bind_int64(s, 1, job_seq);
    sqlite3_bind_int(s, 2, max_wave);
    sqlite3_bind_int64(s, 3, limit);
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *thing = (const char *)sqlite3_column_text(s, 0);
        sqlite3_reset(u);
        sqlite3_bind_int64(u, 1, now);
        sqlite3_bind_int64(u, 2, now);
        sqlite3_bind_int64(u, 3, job_seq);
        bind_text(u, 4, thing);
        if (visit(arg, thing)) /* before: it may look at the thing as it was */
            break;
        if (sqlite3_step(u) != SQLITE_DONE)
            err = db_err(st, "release execution");
    }
    sqlite3_finalize(s);
    sqlite3_finalize(u);
    if (err)
        return err;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "release executions");
}

int srv_exec_release_counts(srv_store_t *st, int64_t job_seq, int max_wave, int64_t *released, int64_t *waiting,
                            int64_t *later)
{
    sqlite3_stmt *s = prepare(st, "SELECT sum(queued_at > 0), sum(status = 'QUEUED' AND queued_at = 0 AND wave <= ?2),"
                                  " sum(status = 'QUEUED' AND queued_at = 0 AND wave > ?2)"
                                  " FROM executions WHERE job_seq = ?1");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    sqlite3_bind_int(s, 2, max_wave);
    int rc = sqlite3_step(s);
    *released = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    *waiting = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    if (later)
        *later = rc == SQLITE_ROW ? sqlite3_column_int64(s, 2) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? OTTO_OK : db_err(st, "release counts");
}

int srv_exec_wave_counts(srv_store_t *st, int64_t job_seq,
                         int (*visit)(void *, int wave, int status, int64_t released, int64_t n), void *arg)
{
    /* each thing once, by its latest attempt (a retry replaces a failure) */
    sqlite3_stmt *s = prepare(st, "SELECT e.wave, e.status, sum(e.queued_at > 0), count(*) FROM executions e"
                                  " WHERE e.job_seq = ?1 AND e.exec_no = (SELECT max(x.exec_no) FROM executions x"
                                  " WHERE x.job_seq = ?1 AND x.thing = e.thing) GROUP BY e.wave, e.status");
    int rc;
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int status = srv_status_parse((const char *)sqlite3_column_text(s, 1));
        if (status >= 0 && visit(arg, sqlite3_column_int(s, 0), status, sqlite3_column_int64(s, 2),
                                 sqlite3_column_int64(s, 3)))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? OTTO_OK : db_err(st, "wave counts");
}

int srv_device_images(srv_store_t *st, const char *product, const char *ota_type,
                      int (*visit)(void *, const char *sha256), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT DISTINCT json_extract(images, '$.\"' || ?2 || '\"') FROM devices"
                                  " WHERE product = ?1 AND json_extract(images, '$.\"' || ?2 || '\"') IS NOT NULL");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, product);
    bind_text(s, 2, ota_type);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, (const char *)sqlite3_column_text(s, 0)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "device images");
}

int srv_fw_by_sha(srv_store_t *st, const char *sha256, srv_fw_t *out)
{
    sqlite3_stmt *s = prepare(st, "SELECT " FW_COLS " FROM firmware WHERE sha256 = ? LIMIT 1");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, sha256);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        fw_row(s, out);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? OTTO_OK : rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "firmware by hash");
}

int srv_delta_put(srv_store_t *st, const srv_delta_t *d)
{
    sqlite3_stmt *s = prepare(st, "INSERT OR REPLACE INTO deltas(id, base_fw, target_fw, size, created_at)"
                                  " VALUES(?,?,?,?,?)");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, d->id);
    bind_text(s, 2, d->base_fw);
    bind_text(s, 3, d->target_fw);
    sqlite3_bind_int64(s, 4, d->size);
    sqlite3_bind_int64(s, 5, d->created_at);
    return run(st, s, true, "insert delta");
}

static void delta_row(sqlite3_stmt *s, srv_delta_t *d)
{
    col_text(s, 0, d->id, sizeof d->id);
    col_text(s, 1, d->base_fw, sizeof d->base_fw);
    col_text(s, 2, d->target_fw, sizeof d->target_fw);
    d->size = sqlite3_column_int64(s, 3);
    d->created_at = sqlite3_column_int64(s, 4);
}

#define DELTA_COLS "id, base_fw, target_fw, size, created_at"

int srv_delta_get(srv_store_t *st, const char *id, srv_delta_t *out)
{
    sqlite3_stmt *s = prepare(st, "SELECT " DELTA_COLS " FROM deltas WHERE id = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        delta_row(s, out);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? OTTO_OK : rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "get delta");
}

int srv_delta_list(srv_store_t *st, const char *fw_id, int (*visit)(void *, const srv_delta_t *), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT " DELTA_COLS " FROM deltas WHERE base_fw = ?1 OR target_fw = ?1"
                                  " ORDER BY created_at, id");
    int rc;
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, fw_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        srv_delta_t d;
        delta_row(s, &d);
        if (visit(arg, &d))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list deltas");
}

/* A named text row (INSERT of name, text, time): OTTO_E_EXISTS when the name is taken. */
static int named_put(srv_store_t *st, const char *sql, const char *name, const char *text, int64_t now,
                     const char *what)
{
    sqlite3_stmt *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, name);
    bind_text(s, 2, text);
    sqlite3_bind_int64(s, 3, now);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_CONSTRAINT)
        return OTTO_E_EXISTS;
    return rc == SQLITE_DONE ? OTTO_OK : db_err(st, what);
}

int srv_template_put(srv_store_t *st, const char *name, const char *body, int64_t now)
{
    return named_put(st, "INSERT INTO job_templates(name, body, created_at) VALUES(?, ?, ?)", name, body, now,
                     "add job template");
}

int srv_template_get(srv_store_t *st, const char *name, char **body)
{
    sqlite3_stmt *s = prepare(st, "SELECT body FROM job_templates WHERE name = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, name);
    int rc = sqlite3_step(s), err = OTTO_OK;
    if (rc == SQLITE_ROW)
        err = (*body = col_dup(s, 0)) ? OTTO_OK : OTTO_E_NOSPC;
    else
        err = rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "get job template");
    sqlite3_finalize(s);
    return err;
}

int srv_template_list(srv_store_t *st, int (*visit)(void *, const char *name, const char *body), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT name, body FROM job_templates ORDER BY name");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list job templates");
}

int srv_job_set_config(srv_store_t *st, int64_t seq, const char *config)
{
    sqlite3_stmt *s = prepare(st, "UPDATE jobs SET config = ? WHERE seq = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, config);
    sqlite3_bind_int64(s, 2, seq);
    return run(st, s, true, "job configuration");
}

int srv_job_paced(srv_store_t *st, int (*visit)(void *, int64_t seq, const char *config), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT seq, config FROM jobs WHERE status = 'IN_PROGRESS' AND config <> '{}'"
                                  " ORDER BY seq");
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (visit(arg, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1)))
            break;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "paced jobs");
}

int srv_job_has_pending(srv_store_t *st, int64_t job_seq, bool *yes)
{
    sqlite3_stmt *s = cached(st, Q_JOB_HAS_PENDING);
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, job_seq);
    int rc = sqlite3_step(s);
    *yes = rc == SQLITE_ROW;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "pending executions");
}

/* ---- signing keys -------------------------------------------------------- */

int srv_key_put(srv_store_t *st, const char *name, const char *pem, int64_t now)
{
    return named_put(st, "INSERT INTO signing_keys(name, pem, created_at) VALUES(?, ?, ?)", name, pem, now, "add key");
}

int srv_key_list(srv_store_t *st, int (*visit)(void *, const srv_key_t *), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT name, pem, created_at, revoked_at FROM signing_keys ORDER BY name");
    srv_key_t k;
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        col_text(s, 0, k.name, sizeof k.name);
        col_text(s, 1, k.pem, sizeof k.pem);
        k.created_at = sqlite3_column_int64(s, 2);
        k.revoked_at = sqlite3_column_int64(s, 3);
        if (visit(arg, &k))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list keys");
}

/* Keys and tokens are revoked the same way: stamped once, never deleted. */
static int revoke_named(srv_store_t *st, const char *sql, const char *what, const char *name, int64_t now)
{
    sqlite3_stmt *s = prepare(st, sql);
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, name);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return db_err(st, what);
    return sqlite3_changes(st->db) ? OTTO_OK : OTTO_E_NOTFOUND;
}

int srv_key_revoke(srv_store_t *st, const char *name, int64_t now)
{
    return revoke_named(st, "UPDATE signing_keys SET revoked_at = ? WHERE name = ? AND revoked_at = 0", "revoke key",
                        name, now);
}

/* ---- operator tokens and the audit log ---- */

static void token_row(sqlite3_stmt *s, srv_token_t *t)
{
    col_text(s, 0, t->name, sizeof t->name);
    col_text(s, 1, t->role, sizeof t->role);
    col_text(s, 2, t->hash, sizeof t->hash);
    t->created_at = sqlite3_column_int64(s, 3);
    t->expires_at = sqlite3_column_int64(s, 4);
    t->revoked_at = sqlite3_column_int64(s, 5);
}

int srv_token_put(srv_store_t *st, const srv_token_t *t)
{
    sqlite3_stmt *s = prepare(st, "INSERT INTO tokens(name, role, hash, created_at, expires_at) VALUES(?, ?, ?, ?, ?)");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, t->name);
    bind_text(s, 2, t->role);
    bind_text(s, 3, t->hash);
    sqlite3_bind_int64(s, 4, t->created_at);
    sqlite3_bind_int64(s, 5, t->expires_at);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_CONSTRAINT)
        return OTTO_E_EXISTS;
    return rc == SQLITE_DONE ? OTTO_OK : db_err(st, "add token");
}

int srv_token_by_hash(srv_store_t *st, const char *hash, srv_token_t *t)
{
    sqlite3_stmt *s = prepare(st, "SELECT name, role, hash, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?");
    if (!s)
        return OTTO_E_IO;
    bind_text(s, 1, hash);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        token_row(s, t);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? OTTO_OK : rc == SQLITE_DONE ? OTTO_E_NOTFOUND : db_err(st, "find token");
}

int srv_token_list(srv_store_t *st, int (*visit)(void *, const srv_token_t *), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT name, role, hash, created_at, expires_at, revoked_at FROM tokens ORDER BY name");
    srv_token_t t;
    int rc;
    if (!s)
        return OTTO_E_IO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        token_row(s, &t);
        if (visit(arg, &t))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list tokens");
}

int srv_token_revoke(srv_store_t *st, const char *name, int64_t now)
{
    return revoke_named(st, "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at = 0", "revoke token",
                        name, now);
}

int srv_audit_add(srv_store_t *st, int64_t at, const char *who, const char *action, const char *object, int status)
{
    sqlite3_stmt *s = prepare(st, "INSERT INTO audit(at, who, action, object, status) VALUES(?, ?, ?, ?, ?)");
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, at);
    bind_text(s, 2, who);
    bind_text(s, 3, action);
    bind_text(s, 4, object);
    sqlite3_bind_int(s, 5, status);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? OTTO_OK : db_err(st, "audit");
}

int srv_audit_list(srv_store_t *st, int64_t before, int limit, bool *more,
                   int (*visit)(void *, int64_t seq, int64_t at, const char *who, const char *action,
                                const char *object, int status), void *arg)
{
    sqlite3_stmt *s = prepare(st, "SELECT seq, at, who, action, object, status FROM audit WHERE seq < ? "
                                  "ORDER BY seq DESC LIMIT ?");
    int rc, n = 0;
    if (!s)
        return OTTO_E_IO;
    sqlite3_bind_int64(s, 1, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int(s, 2, limit + 1);
    *more = false;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n++ == limit) {
            *more = true;
            break;
        }
        char who[SRV_NAME_MAX + 1], action[64], object[256];
        col_text(s, 2, who, sizeof who);
        col_text(s, 3, action, sizeof action);
        col_text(s, 4, object, sizeof object);
        if (visit(arg, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), who, action, object,
                  sqlite3_column_int(s, 5)))
            break;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OTTO_OK : db_err(st, "list audit");
}
