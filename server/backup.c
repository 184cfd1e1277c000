/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "otto/err.h"

#define MANIFEST "otto-backup.json"
#define FORMAT   1

static int fail(char *msg, size_t cap, int err, const char *fmt, const char *arg)
{
    snprintf(msg, cap, fmt, arg);
    return err;
}

/* What a data directory holds that is not in a backup: the live database
 * (its snapshot is), the lock, scratch space. */
static bool skipped(const char *rel)
{
    static const char *const names[] = {"otto.db", "otto.db-wal", "otto.db-shm", "otto.db-journal", "ottod.lock"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(rel, names[i]))
            return true;
    return !strcmp(rel, "tmp") || !strncmp(rel, "tmp/", 4);
}

static int add_file(struct archive *a, const char *path, const char *name, const struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? OTTO_OK : OTTO_E_IO; /* a firmware deleted meanwhile: gone from the snapshot too */
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, st->st_size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, st->st_mode & 07777);
    archive_entry_set_mtime(e, st->st_mtime, 0);
    int err = archive_write_header(a, e) == ARCHIVE_OK ? OTTO_OK : OTTO_E_IO;
    char buf[65536];
    ssize_t n;
    while (!err && (n = read(fd, buf, sizeof buf)) > 0)
        if (archive_write_data(a, buf, (size_t)n) != n)
            err = OTTO_E_IO;
    archive_entry_free(e);
    close(fd);
    return err;
}

/* Every file under dir/rel (rel "" is dir itself), by its path under dir. */
static int add_tree(struct archive *a, const char *dir, const char *rel, long *files, uint64_t *bytes)
{
    char path[1200];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    struct dirent *de;
    int err = OTTO_OK;
    if (!d)
        return OTTO_E_IO;
    while (!err && (de = readdir(d))) {
        char sub[800], full[2100];
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, sub);
        if (skipped(sub) || lstat(full, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            err = add_tree(a, dir, sub, files, bytes);
        } else if (S_ISREG(st.st_mode)) {
            err = add_file(a, full, sub, &st);
            (*files)++;
            *bytes += (uint64_t)st.st_size;
        }
    }
    closedir(d);
    return err;
}

static int add_blob(struct archive *a, const char *name, const char *text)
{
    struct archive_entry *e = archive_entry_new();
    size_t n = strlen(text);
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_mtime(e, time(NULL), 0);
    int err = archive_write_header(a, e) == ARCHIVE_OK && archive_write_data(a, text, n) == (la_ssize_t)n ? OTTO_OK
                                                                                                        : OTTO_E_IO;
    archive_entry_free(e);
    return err;
}

int srv_backup_make(srv_t *s, int *fd_out, uint64_t *size, char *summary, size_t cap, char *msg, size_t msglen)
{
    const char *data = s->cfg.data_dir;
    char snap[600], tar[600];
    int64_t counts[SRV_COUNTED];
    bool pg = srv_store_shared(s->st);
    static unsigned seq;
    int err, fd = -1;

    /* The database, consistent and online, under the server's lock. */
    snprintf(snap, sizeof snap, "%s/tmp/backup-%ld-%u.db", data, (long)getpid(), ++seq);
    unlink(snap);
    if ((err = srv_store_counts(s->st, counts)))
        return fail(msg, msglen, err, "cannot count what the store holds%s", "");
    if (!pg && (err = srv_store_snapshot(s->st, snap))) {
        unlink(snap);
        return fail(msg, msglen, err, "the database snapshot failed (is %s/tmp full?)", data);
    }
    cJSON *man = cJSON_CreateObject(), *c = cJSON_AddObjectToObject(man, "counts");
    cJSON_AddNumberToObject(man, "format", FORMAT);
    cJSON_AddNumberToObject(man, "createdAt", (double)time(NULL));
    cJSON_AddStringToObject(man, "dataDir", data);
    cJSON_AddStringToObject(man, "database", pg ? "postgresql (not in this backup: pg_dump it)" : "otto.db");
    for (int i = 0; i < SRV_COUNTED; i++)
        cJSON_AddNumberToObject(c, srv_counted_names[i], (double)counts[i]);
    char *ctext = cJSON_PrintUnformatted(c);
    snprintf(summary, cap, "%s", ctext ? ctext : "{}");
    free(ctext);

    /* The files, without the lock: artifacts and patches never change once
     * written (a name is its content's hash), the rest only by operators. */
    pthread_mutex_unlock(&s->lock);
    snprintf(tar, sizeof tar, "%s/tmp/backup-%ld-%u.tar.gz", data, (long)getpid(), seq);
    struct archive *a = archive_write_new();
    long files = 0;
    uint64_t bytes = 0;
    struct stat st;
    fd = open(tar, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    err = fd < 0 || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
                  archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK
              ? OTTO_E_IO
              : OTTO_OK;
    char *mtext = cJSON_Print(man);
    if (!err)
        err = add_blob(a, MANIFEST, mtext ? mtext : "{}");
    if (!err && !pg && !stat(snap, &st)) {
        err = add_file(a, snap, "otto.db", &st);
        bytes += (uint64_t)st.st_size;
        files++;
    }
    if (!err)
        err = add_tree(a, data, "", &files, &bytes);
    if (archive_write_close(a) != ARCHIVE_OK)
        err = OTTO_E_IO;
    archive_write_free(a);
    free(mtext);
    cJSON_Delete(man);
    unlink(snap);
    unlink(tar); /* the descriptor keeps it until the answer is sent */
    pthread_mutex_lock(&s->lock);
    if (err || fstat(fd, &st)) {
        if (fd >= 0)
            close(fd);
        return fail(msg, msglen, OTTO_E_IO, "writing the backup failed (is %s/tmp full?)", data);
    }
    SRV_LOG_INF("backup: %ld files, %llu bytes before compression, %lld bytes written; counts %s", files,
                (unsigned long long)bytes, (long long)st.st_size, summary);
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return OTTO_OK;
}

/* ---- restore ------------------------------------------------------------ */

static const char usage[] =
    "usage: ottod restore FILE --data DIR\n"
    "\n"
    "Unpack a backup made by 'otto admin backup' into DIR (new, or empty): the\n"
    "database, firmware and patches, the CA and its key, ottod's and the\n"
    "broker's configuration, the admin token and the link secret. Paths in the\n"
    "configuration are moved to DIR. Devices keep their certificates: the CA\n"
    "is the same. Then: ottod --data DIR (and the broker with DIR/mosquitto.conf\n"
    "when it moved too).\n";

/* A name from an archive, safe under the target: relative, no "..". */
static bool safe_name(const char *n)
{
    if (!*n || n[0] == '/' || strlen(n) > 700)
        return false;
    for (const char *p = n; *p;) {
        size_t len = strcspn(p, "/");
        if ((len == 2 && !strncmp(p, "..", 2)) || len == 0)
            return false;
        p += len + (p[len] == '/');
    }
    return true;
}

static int mkdirs(const char *root, const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        if (mkdir(path, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

/* Replace every old with new in the text file path (the data directory's
 * own path in the configuration ottod init wrote). */
static int rewrite(const char *path, const char *old, const char *new)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(text);
        return 0; /* empty */
    }
    struct stat st;
    stat(path, &st);
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%.1300s.new", path);
    FILE *o = fopen(tmp, "w");
    if (!o) {
        free(text);
        return -1;
    }
    size_t ol = strlen(old);
    for (char *p = text, *q; *p; p = q + ol) {
        if (!(q = strstr(p, old))) {
            fputs(p, o);
            break;
        }
        fwrite(p, 1, (size_t)(q - p), o);
        fputs(new, o);
    }
    free(text);
    int rc = fflush(o) || fsync(fileno(o)) ? -1 : 0;
    fclose(o);
    chmod(tmp, st.st_mode & 07777);
    return rc || rename(tmp, path) ? -1 : 0;
}

int srv_restore_main(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *data = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!data || optind != argc - 1) {
        fputs(usage, stderr);
        return 2;
    }
    const char *file = argv[optind];
    char dir[600];
    if (mkdir(data, 0700) && errno != EEXIST) {
        fprintf(stderr, "ottod restore: cannot make %s: %s\n", data, strerror(errno));
        return 1;
    }
    if (!realpath(data, dir)) {
        fprintf(stderr, "ottod restore: %s: %s\n", data, strerror(errno));
        return 1;
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    bool empty = true;
    while (d && (de = readdir(d)))
        empty &= !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    if (d)
        closedir(d);
    if (!empty) {
        fprintf(stderr, "ottod restore: %s is not empty: restore into a new directory\n", dir);
        return 1;
    }
    chmod(dir, 0700);

    struct archive *a = archive_read_new();
    struct archive_entry *e;
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, file, 65536) != ARCHIVE_OK) {
        fprintf(stderr, "ottod restore: %s: %s\n", file, archive_error_string(a));
        archive_read_free(a);
        return 1;
    }
    cJSON *man = NULL;
    long files = 0;
    int rc = 0, r;
    while (!rc && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!man) { /* the manifest comes first, or this is not otto's backup */
            char buf[8192];
            la_ssize_t n = strcmp(name, MANIFEST) ? -1 : archive_read_data(a, buf, sizeof buf - 1);
            if (n >= 0)
                buf[n] = 0;
            man = n >= 0 ? cJSON_Parse(buf) : NULL;
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(man, "format");
            if (!cJSON_IsNumber(f) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(man, "dataDir"))) {
                fprintf(stderr, "ottod restore: %s is not a backup made by otto admin backup\n", file);
                rc = 1;
            } else if (f->valueint > FORMAT) {
                fprintf(stderr, "ottod restore: %s is of backup format %d; this ottod reads %d\n", file, f->valueint,
                        FORMAT);
                rc = 1;
            }
            continue;
        }
        if (archive_entry_filetype(e) != AE_IFREG || !safe_name(name)) {
            fprintf(stderr, "ottod restore: %s: refusing the entry '%.100s'\n", file, name);
            rc = 1;
            break;
        }
        char path[1300];
        snprintf(path, sizeof path, "%.580s/%.700s", dir, name);
        int fd = mkdirs(dir, name) ? -1
                                   : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                                          (archive_entry_perm(e) & 0777) | 0600);
        if (fd < 0 || archive_read_data_into_fd(a, fd) != ARCHIVE_OK || fsync(fd)) {
            fprintf(stderr, "ottod restore: cannot write %s: %s\n", path, fd < 0 ? strerror(errno) : "short");
            rc = 1;
        }
        if (fd >= 0)
            close(fd);
        files++;
    }
    if (!rc && !man) {
        fprintf(stderr, "ottod restore: %s is empty or not a backup\n", file);
        rc = 1;
    } else if (!rc && r != ARCHIVE_EOF) {
        fprintf(stderr, "ottod restore: %s is damaged: %s\n", file, archive_error_string(a));
        rc = 1;
    }
    archive_read_free(a);
    if (rc) {
        cJSON_Delete(man);
        fprintf(stderr, "ottod restore: %s is incomplete; remove it before trying again\n", dir);
        return 1;
    }
    /* The configuration names the data directory: now this one. */
    const char *old = cJSON_GetObjectItemCaseSensitive(man, "dataDir")->valuestring;
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char path[1300];
        if ((n > 5 && !strcmp(de->d_name + n - 5, ".conf")) || !strcmp(de->d_name, "otto.env")) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (strcmp(old, dir) && rewrite(path, old, dir)) {
                fprintf(stderr, "ottod restore: cannot rewrite %s: %s\n", path, strerror(errno));
                rc = 1;
            }
        }
    }
    if (d)
        closedir(d);
    char tmpdir[700];
    snprintf(tmpdir, sizeof tmpdir, "%.600s/tmp", dir);
    mkdir(tmpdir, 0700);

    /* The database opens (and is migrated when the backup is older); what
     * it holds is what the manifest counted. */
    char dbpath[720];
    int64_t now[SRV_COUNTED];
    srv_store_t *st = NULL;
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(man, "counts");
    snprintf(dbpath, sizeof dbpath, "%s/otto.db", dir);
    if (!rc && access(dbpath, R_OK)) {
        printf("restored %ld files into %s; the database was on PostgreSQL: restore it with pg_restore\n", files, dir);
    } else if (!rc && (srv_store_open(dbpath, &st) || srv_store_counts(st, now))) {
        fprintf(stderr, "ottod restore: the database in %s does not open\n", file);
        rc = 1;
    } else if (!rc) {
        printf("restored %ld files into %s:", files, dir);
        for (int i = 0; i < SRV_COUNTED; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(counts, srv_counted_names[i]);
            printf(" %s %lld", srv_counted_names[i], (long long)now[i]);
            if (!cJSON_IsNumber(v) || (int64_t)v->valuedouble != now[i]) {
                printf(" (the manifest says %.0f)", cJSON_IsNumber(v) ? v->valuedouble : -1.0);
                rc = 1;
            }
        }
        printf("\nstart it: ottod --data %s\n", dir);
    }
    srv_store_close(st);
    cJSON_Delete(man);
    return rc;
}
