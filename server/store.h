/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ottod's state: firmware records, devices and their groups, jobs and job
 * executions. Everything the server knows lives behind this interface
 * (store.c), on SQLite (a file in the data directory, the default) or on
 * PostgreSQL (shared by any number of ottod workers; db.h). Artifact bytes
 * are content-addressed files in each data directory; on PostgreSQL they
 * are also kept in the database (srv_blob_*) so every worker can fetch
 * what another one received.
 *
 * Records are plain structs with fixed-size strings, copied out to the
 * caller; the few that hold malloc'd text (a job's document and targets) are
 * released with srv_job_clear(). List functions call a visitor per row; a
 * visitor returning non-zero stops the walk. Every function returns OTTO_OK,
 * OTTO_E_NOTFOUND, OTTO_E_EXISTS, OTTO_E_INVAL or OTTO_E_IO (database
 * failure, logged). The store is not thread-safe: ottod serialises calls.
 */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otto/err.h"

#define SRV_THING_MAX   128  /* AWS: 1-128 of [a-zA-Z0-9:_-] */
#define SRV_JOBID_MAX   64   /* AWS: 1-64 of [a-zA-Z0-9_-] */
#define SRV_NAME_MAX    64   /* product, group, ota_type */
#define SRV_DEVICE_GROUPS_MAX 15 /* groups one device is in: all fit groups[] */
#define SRV_DETAILS_MAX 4096 /* statusDetails as JSON text */
/* What a device may report: the rest is kept for the reason the service
 * adds when it ends an execution itself (cancel, timeout), so a device's
 * report is never cut to make room for it. */
#define SRV_DETAILS_DEVICE_MAX 3072
#define SRV_REASON_MAX         255 /* an operator's cancel reason, bytes */

/* Execution statuses, in AWS IoT Jobs' words (see engine.c for the
 * transition table). */
typedef enum {
    SRV_QUEUED, SRV_IN_PROGRESS, SRV_SUCCEEDED, SRV_FAILED, SRV_TIMED_OUT,
    SRV_REJECTED, SRV_REMOVED, SRV_CANCELED, SRV_STATUS_COUNT
} srv_status_t;

typedef enum { SRV_JOB_IN_PROGRESS, SRV_JOB_COMPLETED, SRV_JOB_CANCELED } srv_job_status_t;

const char *srv_status_name(int status);
/** Status name -> srv_status_t, or -1. */
int srv_status_parse(const char *s);
const char *srv_job_status_name(int status);
static inline bool srv_status_terminal(int s) { return s >= SRV_SUCCEEDED; }

typedef struct {
    char id[20];            /* "fw-" + first 12 hex digits of sha256 */
    char sha256[65];
    char md5[33];
    int64_t size;
    char ota_type[SRV_NAME_MAX + 1];
    char product[SRV_NAME_MAX + 1];
    char group[SRV_NAME_MAX + 1];
    char version[33];
    char project[33];
    uint32_t secure_version;
    char name[129];         /* the uploaded file's name */
    char extra[2048];       /* other descriptor fields, a JSON object */
    int64_t created_at;     /* epoch seconds */
} srv_fw_t;

typedef struct {
    char thing[SRV_THING_MAX + 1];
    char product[SRV_NAME_MAX + 1];
    char versions[512];     /* JSON object: ota_type -> version last reported */
    char groups[1024];      /* comma-separated, sorted */
    char images[256];       /* JSON object: ota_type -> SHA-256 (hex) of the running image, from its hello */
    int64_t created_at;
    int64_t last_seen;      /* 0 = never */
    bool online;            /* connected, by its birth and will messages */
    char hw[256];           /* JSON object: what it is, from its hello (hw.h) */
} srv_device_t;

typedef struct {
    int64_t seq;            /* creation order; executions refer to it */
    char id[SRV_JOBID_MAX + 1];
    int status;             /* srv_job_status_t */
    int64_t created_at, completed_at;
    char product[SRV_NAME_MAX + 1];
    char ota_types[128];    /* comma-separated, sorted */
    int timeout_min;        /* in-progress timeout, 0 = none */
    char description[256];
    char reason[256];       /* why it was cancelled */
    char *document;         /* malloc'd JSON job document */
    char *targets;          /* malloc'd JSON {"devices":[..],"groups":[..]} */
    char *fw_ids;           /* malloc'd JSON array of firmware ids */
    char *config;           /* malloc'd JSON: AWS's configuration objects ("{}": none) */
} srv_job_t;

typedef struct {
    int64_t job_seq;
    char job_id[SRV_JOBID_MAX + 1];
    char thing[SRV_THING_MAX + 1];
    int exec_no;            /* executionNumber, 1 for the first attempt */
    int status;             /* srv_status_t */
    int64_t version;        /* versionNumber, +1 per change */
    int64_t queued_at, started_at, updated_at;
    int64_t step_deadline;  /* epoch s, 0 = no step timer */
    int64_t deadline;       /* in-progress timeout, epoch s, 0 = none */
    char details[SRV_DETAILS_MAX]; /* statusDetails JSON object text */
    int wave;               /* its wave of the job's rolloutWaves, 1-based; 0: none */
} srv_exec_t;

typedef struct srv_store srv_store_t;

/** Open (creating or upgrading the schema if needed) the database at
 *  target: a SQLite file (":memory:" for tests) or a postgresql:// URI. */
int srv_store_open(const char *target, srv_store_t **out);
void srv_store_close(srv_store_t *st);
/** From now on each statement's run time is observed into h (metrics.h). */
void srv_store_observe(srv_store_t *st, void (*observe)(void *ctx, uint64_t ns), void *ctx);

/* Transactions nest by count: only the outermost begin/commit touch SQLite. */
int srv_store_begin(srv_store_t *st);
int srv_store_commit(srv_store_t *st);
void srv_store_rollback(srv_store_t *st);

/* ---- several workers on one database (PostgreSQL; trivial on SQLite,
 * where the data directory's lock admits one ottod) ---- */
/** Whether other ottod processes may share this database. */
bool srv_store_shared(const srv_store_t *st);
/** Whether a statement failed in the open transaction so that nothing more
 *  runs in it until a rollback (PostgreSQL; never on SQLite, where a
 *  failed statement undoes only itself). */
bool srv_store_failed(const srv_store_t *st);
/** Inside a transaction: wait until no other worker's transaction holds
 *  this thing, and hold it until commit or rollback, so one device's
 *  requests run one at a time across workers. */
int srv_store_lock_thing(srv_store_t *st, const char *thing);
/** Is this worker the one that does once-only work (rollout pacing,
 *  timeouts, scheduled starts, delta patches)? Takes the lead when free;
 *  keeps it while its connection lives, so when a worker dies, another
 *  takes over at its next call. *lead: the answer. */
int srv_store_lead(srv_store_t *st, bool *lead);
/** Device requests are split among the workers by partition: a thing's
 *  partition is srv_partition(thing) (0..SRV_PARTITIONS-1), and each
 *  partition is held by one worker (a session lock, like the lead). Called
 *  every second or so by each worker: it takes free partitions or gives
 *  some back so the live workers hold an even share, and sets *owned to
 *  the partitions this worker holds now (all of them when not shared). */
#define SRV_PARTITIONS 64
unsigned srv_partition(const char *thing);
/** FNV-1a of a string: stable across workers, hosts and releases. */
uint32_t srv_fnv1a(const char *s);
int srv_store_balance(srv_store_t *st, uint64_t *owned, int *workers);
/** Keep a file's bytes under name (e.g. "artifacts/SHA256") where every
 *  worker reaches them; OTTO_OK and nothing kept when not shared. */
int srv_blob_put(srv_store_t *st, const char *name, const char *path);
/** Write the bytes kept under name to path (atomically: a temporary file
 *  renamed); OTTO_E_NOTFOUND when none are kept. */
int srv_blob_fetch(srv_store_t *st, const char *name, const char *path);
int srv_blob_delete(srv_store_t *st, const char *name);

/* ---- firmware ---- */
int srv_fw_put(srv_store_t *st, const srv_fw_t *fw);          /* OTTO_E_EXISTS */
int srv_fw_get(srv_store_t *st, const char *id, srv_fw_t *out);
int srv_fw_list(srv_store_t *st, int (*visit)(void *, const srv_fw_t *), void *arg);
int srv_fw_delete(srv_store_t *st, const char *id);
/** Id of an IN_PROGRESS job that uses firmware id, or "" (returns OTTO_OK). */
int srv_fw_used_by(srv_store_t *st, const char *id, char job_id[SRV_JOBID_MAX + 1]);

/* ---- devices and groups ---- */
/** Create a device or update its product (empty = keep) and add groups. */
int srv_device_upsert(srv_store_t *st, const char *thing, const char *product,
                      const char *const *groups, size_t ngroups, int64_t now);
int srv_device_get(srv_store_t *st, const char *thing, srv_device_t *out);
/** Whether the registry has the thing (one indexed lookup: every request asks). */
int srv_device_known(srv_store_t *st, const char *thing, bool *yes);
/* Which devices a list or count takes (NULL or "" fields: any). */
typedef struct {
    const char *group;
    const char *search;  /* a part of the thing name */
    const char *version; /* runs this version (of any ota_type) */
    int online;          /* 1 connected, 0 not, -1 either */
} srv_device_filter_t;
/** A page of the devices f takes (NULL: all) in name order: those after
 *  `after` ("" from the start), at most limit; *more says whether any come
 *  after the page. */
int srv_device_list(srv_store_t *st, const srv_device_filter_t *f, const char *after, int limit, bool *more,
                    int (*visit)(void *, const srv_device_t *), void *arg);
int srv_device_count(srv_store_t *st, const srv_device_filter_t *f, int64_t *n);
/** The job of the device's latest execution and that execution's status. */
int srv_device_last_job(srv_store_t *st, const char *thing, char *job_id, size_t cap, char *status, size_t scap);
int srv_device_delete(srv_store_t *st, const char *thing);
/** Record what a device says it runs (versions, images: JSON object
 *  text, merged into what is stored; "" or NULL: unchanged). */
/** The device connected (its birth message) or not (its will, or a
 *  clean goodbye); connecting counts as seen. */
int srv_device_online(srv_store_t *st, const char *thing, bool online, int64_t now);
/** What the fleet runs: visit(arg, ota_type, version, devices), most
 *  devices first. */
int srv_fleet_versions(srv_store_t *st, int (*visit)(void *, const char *, const char *, int64_t), void *arg);
/** Executions that ended FAILED, REJECTED or TIMED_OUT since `since`, by
 *  reason: visit(arg, reason, count), most first, at most limit. */
int srv_recent_failures(srv_store_t *st, int64_t since, int limit, int (*visit)(void *, const char *, int64_t),
                        void *arg);
/** How many of each: firmware, devices, jobs, executions, signing keys,
 *  tokens, deltas, audit entries (srv_counted_names, for manifests). */
#define SRV_COUNTED 8
extern const char *const srv_counted_names[SRV_COUNTED];
int srv_store_counts(srv_store_t *st, int64_t out[SRV_COUNTED]);
/** A consistent copy of the whole database in a new file at path, taken
 *  online (SQLite's VACUUM INTO); OTTO_E_INVAL on PostgreSQL. */
int srv_store_snapshot(srv_store_t *st, const char *path);
/** Devices in all, and connected. */
int srv_device_counts(srv_store_t *st, int64_t *total, int64_t *online);
/** Executions by status and reason (statusDetails.reason, "" none), over
 *  the whole history: visit(arg, status, reason, count). */
int srv_exec_reasons(srv_store_t *st, int (*visit)(void *, const char *, const char *, int64_t), void *arg);
/** A device's report of itself: product, versions (merged), images and hw
 *  (each replaced whole; NULL or "" keeps what is stored). */
int srv_device_seen(srv_store_t *st, const char *thing, const char *product,
                    const char *versions, const char *images, const char *hw, int64_t now);
int srv_group_list(srv_store_t *st, int (*visit)(void *, const char *group, int64_t n),
                   void *arg);
/** Visit every device that said what it is (hw not "{}"), in thing order
 *  (byte-wise, as strcmp). */
int srv_device_hw_each(srv_store_t *st, int (*visit)(void *, const char *thing, const char *hw), void *arg);
/** Visit the things of a group (thing names only, fast path for job creation). */
int srv_group_things(srv_store_t *st, const char *group,
                     int (*visit)(void *, const char *thing), void *arg);

/* ---- signing keys: the public keys firmware signatures are checked against ---- */
typedef struct {
    char name[SRV_NAME_MAX + 1];
    char pem[512];          /* SubjectPublicKeyInfo PEM, ECDSA P-256 */
    int64_t created_at, revoked_at; /* revoked_at 0: trusted */
} srv_key_t;
/** OTTO_E_EXISTS when the name is taken. */
int srv_key_put(srv_store_t *st, const char *name, const char *pem, int64_t now);
int srv_key_list(srv_store_t *st, int (*visit)(void *, const srv_key_t *), void *arg);

/* ---- operator tokens (stored as the SHA-256 of the token) and the audit log ---- */
typedef struct {
    char name[SRV_NAME_MAX + 1];
    char role[16];          /* admin, operator, viewer */
    char hash[65];          /* hex SHA-256 of the token */
    int64_t created_at, expires_at, revoked_at; /* expires_at 0: never; revoked_at 0: valid */
} srv_token_t;
/** OTTO_E_EXISTS when the name (or, vanishingly, the hash) is taken. */
int srv_token_put(srv_store_t *st, const srv_token_t *t);
int srv_token_by_hash(srv_store_t *st, const char *hash, srv_token_t *t);
int srv_token_list(srv_store_t *st, int (*visit)(void *, const srv_token_t *), void *arg);
int srv_token_revoke(srv_store_t *st, const char *name, int64_t now);
/** Who (a token's name) did what (method and path) to which object, answered status. */
int srv_audit_add(srv_store_t *st, int64_t at, const char *who, const char *action, const char *object, int status);
/** Newest first, entries with seq < before (0: from the newest), limit of them. */
int srv_audit_list(srv_store_t *st, int64_t before, int limit, bool *more,
                   int (*visit)(void *, int64_t seq, int64_t at, const char *who, const char *action,
                                const char *object, int status), void *arg);
/** OTTO_E_NOTFOUND when no trusted key has that name. */
int srv_key_revoke(srv_store_t *st, const char *name, int64_t now);

/* ---- jobs ---- */
/** Insert a job; sets job->seq. OTTO_E_EXISTS if the id is taken. */
int srv_job_put(srv_store_t *st, srv_job_t *job, const char *const *fw_ids, size_t nfw);
int srv_job_get(srv_store_t *st, const char *id, srv_job_t *out);
int srv_job_get_seq(srv_store_t *st, int64_t seq, srv_job_t *out);
void srv_job_clear(srv_job_t *job);
/** A page of jobs newest first: those older than before_seq (0: from the
 *  newest), at most limit; *more as above. The visitor's job has no
 *  document/targets. */
int srv_job_list(srv_store_t *st, int64_t before_seq, int limit, bool *more,
                 int (*visit)(void *, const srv_job_t *), void *arg);
int srv_job_set_status(srv_store_t *st, int64_t seq, int status, int64_t at,
                       const char *reason);
/** Unfinished jobs older than seq for product whose ota_types are all in
 *  ota_types (comma list): candidates for supersede. */
int srv_job_supersedable(srv_store_t *st, const char *product, const char *ota_types,
                         int64_t seq, int (*visit)(void *, int64_t seq, const char *id),
                         void *arg);

/* ---- executions ---- */
int srv_exec_put(srv_store_t *st, const srv_exec_t *ex);
/** exec_no 0 = the latest attempt. */
int srv_exec_get(srv_store_t *st, int64_t job_seq, const char *thing, int exec_no,
                 srv_exec_t *out);
/** Write back status, version, times and details of an existing execution. */
int srv_exec_update(srv_store_t *st, const srv_exec_t *ex);
/** The next pending execution of a thing: IN_PROGRESS first, then the oldest
 *  QUEUED (by job order). OTTO_E_NOTFOUND if none. */
int srv_exec_next(srv_store_t *st, const char *thing, srv_exec_t *out);
/** Pending executions of a thing, IN_PROGRESS first then by job order. */
int srv_exec_pending(srv_store_t *st, const char *thing, int limit,
                     int (*visit)(void *, const srv_exec_t *), void *arg);
/** Executions of a job (status < 0: any), by thing name. */
int srv_exec_of_job(srv_store_t *st, int64_t job_seq, int status,
                    int (*visit)(void *, const srv_exec_t *), void *arg);
/** Count executions of a job per status. */
int srv_exec_counts(srv_store_t *st, int64_t job_seq, int64_t counts[SRV_STATUS_COUNT]);
/** IN_PROGRESS executions whose step or in-progress deadline is <= now. */
int srv_exec_expired(srv_store_t *st, int64_t now,
                     int (*visit)(void *, const srv_exec_t *), void *arg);
/** Does the job still have QUEUED or IN_PROGRESS executions? */
int srv_job_has_pending(srv_store_t *st, int64_t job_seq, bool *yes);
/* ---- paced rollouts: an execution not released yet is QUEUED with
 * queued_at 0, and no device query sees it ---- */
/** Release up to limit of a job's waiting executions in waves up to
 *  max_wave (queued_at = now), earlier waves first, visiting each thing
 *  just before its release (non-zero: stop there). */
int srv_exec_release(srv_store_t *st, int64_t job_seq, int max_wave, int64_t now, int64_t limit,
                     int (*visit)(void *, const char *thing), void *arg);
/** A job's executions released so far (whatever their status now), those
 *  waiting for the rollout in waves up to max_wave, and (later: NULL or)
 *  those waiting in the waves after it. */
int srv_exec_release_counts(srv_store_t *st, int64_t job_seq, int max_wave, int64_t *released, int64_t *waiting,
                            int64_t *later);
/** Per wave and status, each thing counted once by its latest attempt:
 *  how many, and how many of them were released. */
int srv_exec_wave_counts(srv_store_t *st, int64_t job_seq,
                         int (*visit)(void *, int wave, int status, int64_t released, int64_t n), void *arg);
/* ---- retention (prune.h): each counts, and deletes unless dry ---- */
/** Jobs that ended (COMPLETED or CANCELED) before `before`, with their
 *  executions: *jobs and *execs. */
int srv_prune_jobs(srv_store_t *st, int64_t before, bool dry, int64_t *jobs, int64_t *execs);
int srv_prune_audit(srv_store_t *st, int64_t before, bool dry, int64_t *n);
/** Firmware uploaded before `before` that no job left uses, no template
 *  names and no device runs. */
int srv_prune_fw_unused(srv_store_t *st, int64_t before, int (*visit)(void *, const srv_fw_t *), void *arg);

/* ---- delta patches between firmware (their bytes: DATA/deltas/ID) ---- */
typedef struct {
    char id[48];            /* "d-" + base fw id's hex + "-" + target fw id's hex */
    char base_fw[20], target_fw[20];
    int64_t size, created_at;
} srv_delta_t;
/** Patches whose target is gone or whose base no device runs. */
int srv_prune_deltas_unused(srv_store_t *st, int (*visit)(void *, const srv_delta_t *), void *arg);
int srv_delta_delete(srv_store_t *st, const char *id);
/** The distinct images (SHA-256) the devices of a product say they run for
 *  ota_type. */
int srv_device_images(srv_store_t *st, const char *product, const char *ota_type,
                      int (*visit)(void *, const char *sha256), void *arg);
/** A firmware by the SHA-256 of its file. */
int srv_fw_by_sha(srv_store_t *st, const char *sha256, srv_fw_t *out);
int srv_delta_put(srv_store_t *st, const srv_delta_t *d);
int srv_delta_get(srv_store_t *st, const char *id, srv_delta_t *out);
/** Patches from or to a firmware, oldest first. */
int srv_delta_list(srv_store_t *st, const char *fw_id, int (*visit)(void *, const srv_delta_t *), void *arg);

/* ---- job templates: a job's fields (JSON text) by name ---- */
/** OTTO_E_EXISTS when the name is taken. */
int srv_template_put(srv_store_t *st, const char *name, const char *body, int64_t now);
/** *body malloc'd; OTTO_E_NOTFOUND. */
int srv_template_get(srv_store_t *st, const char *name, char **body);
int srv_template_list(srv_store_t *st, int (*visit)(void *, const char *name, const char *body), void *arg);

/** Replace a job's configuration (JSON text). */
int srv_job_set_config(srv_store_t *st, int64_t seq, const char *config);
/** IN_PROGRESS jobs with a configuration, oldest first. */
int srv_job_paced(srv_store_t *st, int (*visit)(void *, int64_t seq, const char *config), void *arg);
/** Does this job have an execution for thing in the given status? */
int srv_exec_has(srv_store_t *st, int64_t job_seq, const char *thing, int status, bool *yes);

#endif
