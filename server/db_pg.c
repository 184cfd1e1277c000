/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.h on PostgreSQL through libpq: one connection, text-format values.
 *
 * SQLite's `?`/`?N` placeholders become `$N`; parameters the text never
 * names are declared text so the server need not infer a type for them.
 * A cached statement is prepared on the server once per connection (by
 * name); a one-off runs with PQexecParams. A result is read whole, then
 * walked row by row, so a visitor may run other statements mid-walk.
 *
 * When the connection breaks (the server restarted, the network went) the
 * failing statement reports DB_ERR and the next one reconnects; prepared
 * names are made again on the new connection. Keepalives are on so a dead
 * peer is noticed in seconds, not hours.
 */
#include "db_impl.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define PG_PARAMS 16
#define TEXTOID   25

typedef struct {
    db_t base;
    PGconn *conn;
    unsigned gen;   /* +1 per reconnect: prepared names are per connection */
    unsigned names; /* prepared statements made, for their names */
} pg_t;

typedef struct {
    db_stmt_t base;
    char *sql;               /* renumbered */
    int nparams;             /* the largest $N named */
    unsigned named;          /* bit N-1: $N appears in the text */
    char *val[PG_PARAMS];    /* bound values (malloc'd), NULL = NULL */
    bool persistent;
    char name[16];           /* server-side name once prepared */
    unsigned gen;            /* the connection it was prepared on */
    PGresult *res;
    int row, rows;
    bool ran;
} pg_stmt_t;

#define PG(d)    ((pg_t *)(d))
#define PSTMT(s) ((pg_stmt_t *)(s))

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("relation exists, skipping") are not news */
}

/* The connection is gone: reconnect now (the statement that found out
 * has failed; the next one runs on the new connection). */
static void pg_recover(pg_t *p)
{
    if (PQstatus(p->conn) != CONNECTION_BAD)
        return;
    SRV_LOG_WRN("store: lost the PostgreSQL connection; reconnecting");
    PQreset(p->conn);
    p->gen++;
    if (PQstatus(p->conn) != CONNECTION_OK)
        SRV_LOG_ERR("store: reconnect: %s", PQerrorMessage(p->conn));
}

static int pg_fail(pg_t *p, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    bool constraint = state && !strncmp(state, "23", 2);
    if (!constraint)
        SRV_LOG_ERR("store: %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
    pg_recover(p);
    return constraint ? DB_CONSTRAINT : DB_ERR;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int pg_exec(db_t *db, const char *sql)
{
    pg_t *p = PG(db);
    PGresult *r = PQexec(p->conn, sql);
    int st = PQresultStatus(r);
    int err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : (pg_fail(p, r, sql), -1);
    PQclear(r);
    return err;
}

static int pg_begin(db_t *db)
{
    return pg_exec(db, "BEGIN");
}

/* `?` and `?N` outside quotes -> `$N`; records which N appear. */
static char *renumber(const char *sql, int *nparams, unsigned *named)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 2 + 1), *o = out;
    int max = 0;
    bool quoted = false;
    if (!out)
        return NULL;
    *named = 0;
    for (const char *c = sql; *c; c++) {
        if (*c == '\'')
            quoted = !quoted;
        if (quoted || *c != '?') {
            *o++ = *c;
            continue;
        }
        int k;
        if (c[1] >= '0' && c[1] <= '9') {
            k = (int)strtol(c + 1, (char **)&c, 10);
            c--;
        } else {
            k = max + 1;
        }
        if (k > max)
            max = k;
        if (k >= 1 && k <= PG_PARAMS)
            *named |= 1u << (k - 1);
        o += sprintf(o, "$%d", k);
    }
    *o = 0;
    *nparams = max;
    return out;
}

static db_stmt_t *pg_prepare(db_t *db, const char *sql, bool persistent)
{
    pg_stmt_t *s = calloc(1, sizeof *s);
    if (!s || !(s->sql = renumber(sql, &s->nparams, &s->named)) || s->nparams > PG_PARAMS) {
        SRV_LOG_ERR("store: cannot prepare %s", sql);
        if (s)
            free(s->sql);
        free(s);
        return NULL;
    }
    s->base.db = db;
    s->persistent = persistent;
    return &s->base;
}

static void pg_reset(db_stmt_t *st)
{
    pg_stmt_t *s = PSTMT(st);
    PQclear(s->res);
    s->res = NULL;
    s->ran = false;
}

static void pg_clear(db_stmt_t *st)
{
    pg_stmt_t *s = PSTMT(st);
    pg_reset(st);
    for (int i = 0; i < PG_PARAMS; i++) {
        free(s->val[i]);
        s->val[i] = NULL;
    }
}

static void pg_bind_text(db_stmt_t *st, int i, const char *v)
{
    pg_stmt_t *s = PSTMT(st);
    if (i < 1 || i > PG_PARAMS)
        return;
    free(s->val[i - 1]);
    s->val[i - 1] = strdup(v ? v : "");
}

static void pg_bind_int64(db_stmt_t *st, int i, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    pg_bind_text(st, i, buf);
}

static PGresult *pg_run(pg_t *p, pg_stmt_t *s)
{
    Oid types[PG_PARAMS];
    const char *vals[PG_PARAMS];
    for (int i = 0; i < s->nparams; i++) {
        types[i] = s->named & (1u << i) ? 0 : TEXTOID;
        vals[i] = s->val[i];
    }
    if (!s->persistent)
        return PQexecParams(p->conn, s->sql, s->nparams, types, vals, NULL, NULL, 0);
    if (!s->name[0] || s->gen != p->gen) {
        snprintf(s->name, sizeof s->name, "q%u", ++p->names);
        PGresult *r = PQprepare(p->conn, s->name, s->sql, s->nparams, types);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            s->name[0] = 0;
            return r;
        }
        PQclear(r);
        s->gen = p->gen;
    }
    return PQexecPrepared(p->conn, s->name, s->nparams, vals, NULL, NULL, 0);
}

static int pg_step(db_stmt_t *st)
{
    pg_stmt_t *s = PSTMT(st);
    pg_t *p = PG(st->db);
    if (!s->ran) {
        uint64_t t0 = st->db->observe ? now_ns() : 0;
        s->res = pg_run(p, s);
        if (st->db->observe)
            st->db->observe(st->db->observe_ctx, now_ns() - t0);
        s->ran = true;
        s->row = -1;
        int rs = PQresultStatus(s->res);
        if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
            int err = pg_fail(p, s->res, s->sql);
            PQclear(s->res);
            s->res = NULL;
            return err;
        }
        const char *ct = PQcmdTuples(s->res);
        st->db->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
        s->rows = rs == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
    }
    if (!s->res)
        return DB_ERR;
    return ++s->row < s->rows ? DB_ROW : DB_DONE;
}

static const char *pg_col_text(db_stmt_t *st, int i)
{
    pg_stmt_t *s = PSTMT(st);
    if (!s->res || s->row < 0 || s->row >= s->rows || i >= PQnfields(s->res) || PQgetisnull(s->res, s->row, i))
        return "";
    return PQgetvalue(s->res, s->row, i);
}

static int64_t pg_col_int64(db_stmt_t *st, int i)
{
    const char *t = pg_col_text(st, i);
    if (t[0] == 't' && !t[1])
        return 1; /* a boolean */
    return strtoll(t, NULL, 10);
}

static void pg_free(db_stmt_t *st)
{
    pg_stmt_t *s = PSTMT(st);
    pg_clear(st);
    if (s->name[0] && s->gen == PG(st->db)->gen) {
        char sql[32];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
        PQclear(PQexec(PG(st->db)->conn, sql));
    }
    free(s->sql);
    free(s);
}

static void pg_close(db_t *db)
{
    PQfinish(PG(db)->conn);
    free(db);
}

static void pg_observe(db_t *db)
{
    (void)db; /* timed in pg_step */
}

static bool pg_failed(const db_t *db)
{
    return PQtransactionStatus(((const pg_t *)db)->conn) == PQTRANS_INERROR;
}

static const db_ops_t pg_ops = {
    .close = pg_close, .exec = pg_exec, .begin = pg_begin, .prepare = pg_prepare,
    .clear = pg_clear, .bind_text = pg_bind_text, .bind_int64 = pg_bind_int64, .step = pg_step,
    .col_int64 = pg_col_int64, .col_text = pg_col_text, .reset = pg_reset, .free = pg_free,
    .observe = pg_observe, .failed = pg_failed,
};

int db_pg_open(const char *uri, db_t **out)
{
    /* Ours first: what the operator's URI says wins. */
    const char *keys[] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"1", "10", "3", "3", "10", "ottod", uri, NULL};
    pg_t *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->base.ops = &pg_ops;
    p->base.pg = true;
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
        /* the message, not the URI: it may hold a password */
        SRV_LOG_ERR("store: cannot connect to PostgreSQL: %s", p->conn ? PQerrorMessage(p->conn) : "no memory");
        pg_close(&p->base);
        return -1;
    }
    PQsetNoticeProcessor(p->conn, quiet, NULL);
    *out = &p->base;
    return 0;
}
