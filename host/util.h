/* SPDX-License-Identifier: Apache-2.0 */
/* Small host-side helpers: whole-file I/O, numbers with K/M suffixes, hex,
 * the monotonic clock, a small PRNG. */
#ifndef OTTO_HOST_UTIL_H
#define OTTO_HOST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Read a whole file into a malloc'd buffer (NUL-terminated, not counted).
 *  Returns 0, or -1 with errno set. */
int otto_read_file(const char *path, uint8_t **data, size_t *len);
/** Write a whole file atomically (temp file + rename). 0 or -1/errno. */
int otto_write_file(const char *path, const void *data, size_t len);
/** "4096", "0x1000", "4K", "4M", "4MB" -> bytes. */
bool otto_parse_size(const char *s, uint64_t *out);
/** Seconds on the monotonic clock (for durations and pacing). */
double otto_mono_s(void);
/** Milliseconds on the monotonic clock, wrapping at 32 bits. */
uint32_t otto_mono_ms(void);
/** Next value of a xorshift64 generator (state must not be 0): the
 *  simulators' reproducible randomness. */
uint64_t otto_xorshift64(uint64_t *state);
/** Lower-case hex of n bytes into out (2n+1 bytes). */
void otto_hex(const uint8_t *b, size_t n, char *out);

#endif
