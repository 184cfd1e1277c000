/* SPDX-License-Identifier: Apache-2.0 */
#include "revoked.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

bool srv_revoked_has(const char *data_dir, const char *thing)
{
    char path[600], line[256];
    bool found = false;
    snprintf(path, sizeof path, "%s/revoked", data_dir);
    FILE *f = fopen(path, "r");
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        found = !strcmp(line, thing);
    }
    if (f)
        fclose(f);
    return found;
}

int srv_revoked_add(const char *data_dir, const char *thing)
{
    char path[600], tmp[620], buf[4096];
    struct stat st;
    if (srv_revoked_has(data_dir, thing))
        return 0;
    snprintf(path, sizeof path, "%s/revoked", data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    bool had = stat(path, &st) == 0;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, had ? st.st_mode & 0777 : 0640);
    bool ok = out >= 0;
    for (ssize_t n; ok && in >= 0 && (n = read(in, buf, sizeof buf)) > 0;)
        ok = write(out, buf, (size_t)n) == n;
    if (in >= 0)
        close(in);
    size_t tl = strlen(thing);
    ok = ok && write(out, thing, tl) == (ssize_t)tl && write(out, "\n", 1) == 1;
    if (ok && had) /* the broker's user must still read it */
        ok = fchown(out, st.st_uid, st.st_gid) == 0 && fchmod(out, st.st_mode & 0777) == 0;
    ok = ok && fsync(out) == 0;
    if (out >= 0)
        ok = close(out) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        SRV_LOG_ERR("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
