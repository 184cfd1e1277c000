/* SPDX-License-Identifier: Apache-2.0 */
/* A simulated flash kept in a file (mmap), so a device survives between
 * runs of otto-sim. Host only: the RAM flash (simflash.c) has no OS calls
 * beyond malloc and runs on a target too. */
#include "simflash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(otto_simflash_t *f)
{
    msync(f->mem, f->size, MS_SYNC);
    munmap(f->mem, f->size);
    close(f->fd);
}

int otto_simflash_open_file(otto_simflash_t *f, otto_power_t *pw, const char *path,
                            uint32_t size, uint32_t sector)
{
    struct stat st;
    int err = otto_simflash_init(f, pw, size, sector);
    if (err)
        return err;
    f->fd = open(path, O_RDWR | O_CREAT, 0644);
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        goto io;
    if (st.st_size == 0) {
        uint8_t blank[4096];
        memset(blank, 0xFF, sizeof(blank));
        for (uint32_t o = 0; o < size; o += sizeof(blank))
            if (write(f->fd, blank, size - o < sizeof(blank) ? size - o : sizeof(blank)) < 0)
                goto io;
    } else if ((uint64_t)st.st_size != size) {
        close(f->fd);
        free(f->wear);
        errno = EINVAL;
        return OTTO_E_INVAL;
    }
    f->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (f->mem == MAP_FAILED)
        goto io;
    f->release = release;
    return OTTO_OK;
io:
    if (f->fd >= 0)
        close(f->fd);
    free(f->wear);
    return OTTO_E_IO;
}
