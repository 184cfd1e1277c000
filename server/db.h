/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQL engine under the store: SQLite (embedded, the default) or
 * PostgreSQL (libpq), behind one small statement API so store.c writes
 * each query once.
 *
 * SQL is written in the common dialect with SQLite's placeholders: `?` or
 * `?N` (N from 1; a bare `?` takes the number after the largest so far, as
 * in SQLite). The PostgreSQL driver renumbers them to `$N` and creates, in
 * its schema, the few SQLite functions the store uses (instr, json_extract,
 * json_patch, json_each over text), so the queries need no second copy.
 * Values travel as text or int64; a statement's parameters left unbound
 * are NULL.
 *
 * Ownership: db_prepare()'s statement is the caller's until db_finalize();
 * db_cached()'s belongs to the db (one per slot) and is only reset.
 * Column text is valid until the next db_step() or reset. Errors are
 * logged here with the server's message; callers get DB_ERR. Not
 * thread-safe: one db per thread, as the store.
 */
#ifndef SRV_DB_H
#define SRV_DB_H

#include <stdbool.h>
#include <stdint.h>

enum { DB_DONE = 0, DB_ROW = 1, DB_ERR = -1, DB_CONSTRAINT = -2 };

#define DB_SLOTS 32 /* cached statement slots */

typedef struct db db_t;
typedef struct db_stmt db_stmt_t;

/** "postgresql://..." or "postgres://..." (a libpq URI), or a SQLite file
 *  path (":memory:" for tests). 0, or -1 (logged). */
int db_open(const char *target, db_t **out);
void db_close(db_t *db);
/** Whether this is the PostgreSQL driver (schemas and locks differ). */
bool db_is_pg(const db_t *db);
/** Statements separated by ';', no parameters. 0 or -1 (logged). */
int db_exec(db_t *db, const char *sql);
/** Start the outermost transaction (BEGIN IMMEDIATE on SQLite: the write
 *  lock up front, so no transaction fails half way for want of it). */
int db_begin(db_t *db);

db_stmt_t *db_prepare(db_t *db, const char *sql);
/** The statement of a slot (prepared on first use), reset, bindings cleared. */
db_stmt_t *db_cached(db_t *db, int slot, const char *sql);
void db_bind_text(db_stmt_t *s, int i, const char *v); /* NULL binds "" */
void db_bind_int64(db_stmt_t *s, int i, int64_t v);
/** DB_ROW, DB_DONE, DB_CONSTRAINT (a unique or other constraint refused a
 *  write), DB_ERR. */
int db_step(db_stmt_t *s);
int64_t db_col_int64(db_stmt_t *s, int i);
const char *db_col_text(db_stmt_t *s, int i); /* never NULL ("" for NULL) */
/** Back to before the first step, bindings kept. */
void db_reset(db_stmt_t *s);
/** Free a prepared statement; a cached one is only reset. */
void db_finalize(db_stmt_t *s);
/** The open transaction refuses statements until a rollback (a statement
 *  in it failed; PostgreSQL only). */
bool db_failed(const db_t *db);
/** Rows the last write changed. */
int64_t db_changes(const db_t *db);
/** Each statement's run time in ns goes to observe (NULL: off). */
void db_observe(db_t *db, void (*observe)(void *ctx, uint64_t ns), void *ctx);

#endif
