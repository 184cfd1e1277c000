/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What newlib asks of the system, for the unit suites on the target: a
 * heap in the board's 16 MiB PSRAM (the simulated 4 MiB flash lives
 * there), standard output and error to the semihosting console, and no
 * files (the suites use RAM flash only).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "target.h"

#define PSRAM_BASE 0x21000000u /* MPS2 AN385/AN386: PSRAM, 16 MiB */
#define PSRAM_SIZE (16u << 20)

void *_sbrk(ptrdiff_t inc)
{
    static uintptr_t brk = PSRAM_BASE;
    uintptr_t old = brk;
    if (inc < 0 ? old - PSRAM_BASE < (uintptr_t)-inc : PSRAM_BASE + PSRAM_SIZE - old < (uintptr_t)inc) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += (uintptr_t)inc;
    return (void *)old;
}

int _write(int fd, const char *buf, int len)
{
    char chunk[129];
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    for (int done = 0; done < len;) {
        int n = len - done < 128 ? len - done : 128;
        memcpy(chunk, buf + done, (size_t)n);
        chunk[n] = 0;
        t_puts(chunk);
        done += n;
    }
    return len;
}

int _read(int fd, char *buf, int len)
{
    (void)fd, (void)buf, (void)len;
    errno = ENOSYS;
    return -1;
}

int _open(const char *path, int flags, ...)
{
    (void)path, (void)flags;
    errno = ENOSYS;
    return -1;
}

int _close(int fd)
{
    (void)fd;
    errno = EBADF;
    return -1;
}

int _lseek(int fd, int off, int whence)
{
    (void)fd, (void)off, (void)whence;
    errno = ESPIPE;
    return -1;
}

int _fstat(int fd, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFCHR;
    return fd < 3 ? 0 : -1;
}

int _stat(const char *path, struct stat *st)
{
    (void)path, (void)st;
    errno = ENOENT;
    return -1;
}

int _isatty(int fd)
{
    return fd < 3;
}

int _getpid(void)
{
    return 1;
}

int _kill(int pid, int sig)
{
    (void)pid, (void)sig;
    t_puts("abort()\n");
    t_exit(4);
}

void _exit(int code)
{
    t_exit(code);
}
