/* SPDX-License-Identifier: Apache-2.0 */
/* Little-endian field access and logging shared by the core modules. */
#ifndef OTTO_INTERNAL_UTIL_H
#define OTTO_INTERNAL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "otto/config_defaults.h"

static inline uint16_t otto_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t otto_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline void otto_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void otto_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Copy a string, cut to cap - 1 bytes, always NUL-terminated. */
static inline void otto_copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    while (src[n] && n + 1 < cap)
        n++;
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
    dst[n] = 0;
}

/* Logging compiles to nothing unless the port defines OTTO_LOG_HANDLER as a
 * printf-like function or macro taking (level, fmt, ...). */
#ifdef OTTO_LOG_HANDLER
#define OTTO_LOG_(lvl, ...) do { if ((lvl) <= OTTO_LOG_LEVEL) OTTO_LOG_HANDLER((lvl), __VA_ARGS__); } while (0)
#else
#define OTTO_LOG_(lvl, ...) do { } while (0)
#endif
#define OTTO_LOG_ERR(...) OTTO_LOG_(1, __VA_ARGS__)
#define OTTO_LOG_WRN(...) OTTO_LOG_(2, __VA_ARGS__)
#define OTTO_LOG_INF(...) OTTO_LOG_(3, __VA_ARGS__)
#define OTTO_LOG_DBG(...) OTTO_LOG_(4, __VA_ARGS__)

#endif
