/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "flash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int f_read(void *ctx, uint32_t off, void *buf, uint32_t len)
{
    otto_linux_flash_t *f = ctx;
    if (off > f->size || len > f->size - off)
        return OTTO_E_INVAL;
    return pread(f->fd, buf, len, off) == (ssize_t)len ? OTTO_OK : OTTO_E_IO;
}

static int f_program(void *ctx, uint32_t off, const void *buf, uint32_t len)
{
    otto_linux_flash_t *f = ctx;
    const uint8_t *src = buf;
    uint8_t cur[4096];
    if (off > f->size || len > f->size - off)
        return OTTO_E_INVAL;
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < sizeof cur ? len - done : (uint32_t)sizeof cur;
        if (pread(f->fd, cur, n, off + done) != (ssize_t)n)
            return OTTO_E_IO;
        for (uint32_t i = 0; i < n; i++)
            cur[i] &= src[done + i]; /* NOR: a program only clears bits */
        if (pwrite(f->fd, cur, n, off + done) != (ssize_t)n)
            return OTTO_E_IO;
        done += n;
    }
    return fdatasync(f->fd) ? OTTO_E_IO : OTTO_OK;
}

static int f_erase(void *ctx, uint32_t off, uint32_t len)
{
    otto_linux_flash_t *f = ctx;
    uint8_t ff[4096];
    if (off % f->sector || len % f->sector || off > f->size || len > f->size - off)
        return OTTO_E_INVAL;
    memset(ff, 0xFF, sizeof ff);
    for (uint32_t done = 0; done < len;) {
        uint32_t n = len - done < sizeof ff ? len - done : (uint32_t)sizeof ff;
        if (pwrite(f->fd, ff, n, off + done) != (ssize_t)n)
            return OTTO_E_IO;
        done += n;
    }
    return fdatasync(f->fd) ? OTTO_E_IO : OTTO_OK;
}

/* The counter: its value as text, replaced by rename so it is old or new. */
static int c_read(void *ctx, uint32_t *value)
{
    otto_linux_flash_t *f = ctx;
    FILE *fp = fopen(f->counter_path, "r");
    unsigned v = 0;
    *value = 0;
    if (!fp)
        return errno == ENOENT ? OTTO_OK : OTTO_E_IO;
    int ok = fscanf(fp, "%u", &v) == 1;
    fclose(fp);
    *value = v;
    return ok ? OTTO_OK : OTTO_E_CORRUPT;
}

static int c_raise(void *ctx, uint32_t value)
{
    otto_linux_flash_t *f = ctx;
    uint32_t cur = 0;
    char tmp[600];
    int err = c_read(ctx, &cur);
    if (err)
        return err;
    if (value > 32)
        return OTTO_E_INVAL;
    if (cur >= value)
        return OTTO_OK; /* it only grows */
    snprintf(tmp, sizeof tmp, "%s.new", f->counter_path);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return OTTO_E_IO;
    fprintf(fp, "%u\n", value);
    if (fflush(fp) || fdatasync(fileno(fp)) || fclose(fp) || rename(tmp, f->counter_path))
        return OTTO_E_IO;
    return OTTO_OK;
}

int otto_linux_flash_open(otto_linux_flash_t *f, const char *path, uint32_t size, uint32_t sector)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    if (!sector || size % sector)
        return OTTO_E_INVAL;
    f->size = size;
    f->sector = sector;
    snprintf(f->counter_path, sizeof f->counter_path, "%s.counter", path);
    f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f->fd < 0 || fstat(f->fd, &st))
        return OTTO_E_IO;
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        uint8_t ff[4096];
        memset(ff, 0xFF, sizeof ff);
        for (uint32_t o = 0; o < size; o += sizeof ff)
            if (pwrite(f->fd, ff, sizeof ff, o) != (ssize_t)sizeof ff)
                return OTTO_E_IO;
    } else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < size) {
        close(f->fd);
        errno = EINVAL;
        return OTTO_E_INVAL;
    }
    return OTTO_OK;
}

void otto_linux_flash_close(otto_linux_flash_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

void otto_linux_flash_hal(otto_linux_flash_t *f, otto_flash_t *flash, otto_efuse_t *efuse)
{
    flash->ctx = f;
    flash->read = f_read;
    flash->program = f_program;
    flash->erase = f_erase;
    flash->size = f->size;
    flash->sector_size = f->sector;
    flash->write_align = 1;
    efuse->ctx = f;
    efuse->read_secure_version = c_read;
    efuse->raise_secure_version = c_raise;
    efuse->width = 32;
}
