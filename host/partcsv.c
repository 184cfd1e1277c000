/* SPDX-License-Identifier: Apache-2.0 */
#include "partcsv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otto/err.h"

const char otto_partcsv_default_layout[] =
    "# Name,   Type, SubType, Offset,   Size, Flags\n"
    "nvs,      data, nvs,     0x9000,   0x4000,\n"
    "otadata,  data, ota,     0xd000,   0x2000,\n"
    "phy_init, data, phy,     0xf000,   0x1000,\n"
    "factory,  app,  factory, 0x10000,  1M,\n"
    "ota_0,    app,  ota_0,   0x110000, 1M,\n"
    "ota_1,    app,  ota_1,   0x210000, 1M,\n"
    "mcufw,    data, mcufw,   0x310000, 944K,\n"
    "ottokv,   data, ottokv,  0x3FC000, 16K,\n";

typedef struct { const char *name; uint8_t value; } name_t;

static const name_t types[] = {
    {"app", 0x00}, {"data", 0x01}, {"bootloader", 0x02}, {"partition_table", 0x03},
};
static const name_t app_sub[] = {
    {"factory", 0x00}, {"ota_0", 0x10}, {"ota_1", 0x11}, {"ota_2", 0x12}, {"ota_3", 0x13},
    {"ota_4", 0x14}, {"ota_5", 0x15}, {"ota_6", 0x16}, {"ota_7", 0x17}, {"ota_8", 0x18},
    {"ota_9", 0x19}, {"ota_10", 0x1A}, {"ota_11", 0x1B}, {"ota_12", 0x1C}, {"ota_13", 0x1D},
    {"ota_14", 0x1E}, {"ota_15", 0x1F}, {"test", 0x20}, {"tee_0", 0x30}, {"tee_1", 0x31},
};
static const name_t data_sub[] = {
    {"ota", 0x00}, {"phy", 0x01}, {"nvs", 0x02}, {"coredump", 0x03}, {"nvs_keys", 0x04},
    {"efuse", 0x05}, {"undefined", 0x06}, {"esphttpd", 0x80}, {"fat", 0x81},
    {"spiffs", 0x82}, {"littlefs", 0x83}, {"tee_ota", 0x90},
    /* otto's own (ESP-IDF's generator takes them as 0x40 and 0x41) */
    {"mcufw", 0x40}, {"ottokv", 0x41},
};
static const name_t boot_sub[] = { {"primary", 0x00}, {"ota", 0x01}, {"recovery", 0x02} };
static const name_t pt_sub[] = { {"primary", 0x00}, {"ota", 0x01} };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const name_t *sub_table(uint8_t type, size_t *n)
{
    switch (type) {
    case 0x00: *n = N(app_sub); return app_sub;
    case 0x01: *n = N(data_sub); return data_sub;
    case 0x02: *n = N(boot_sub); return boot_sub;
    case 0x03: *n = N(pt_sub); return pt_sub;
    default: *n = 0; return NULL;
    }
}

const char *otto_part_type_name(uint8_t type)
{
    for (size_t i = 0; i < N(types); i++)
        if (types[i].value == type)
            return types[i].name;
    return NULL;
}

const char *otto_part_subtype_name(uint8_t type, uint8_t subtype)
{
    size_t n;
    const name_t *t = sub_table(type, &n);
    for (size_t i = 0; i < n; i++)
        if (t[i].value == subtype)
            return t[i].name;
    return NULL;
}

static int fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(err, errlen, "line %d: ", line);
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < errlen)
        vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return OTTO_E_INVAL;
}

/* Python's int(x, 0) plus an optional K/M suffix; negative allowed. */
static bool parse_num(const char *s, int64_t *out)
{
    char buf[64];
    size_t len = strlen(s);
    int64_t mul = 1, v = 0;
    bool neg = false;
    int base = 10;
    const char *p;

    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len + 1);
    if (buf[len - 1] == 'K' || buf[len - 1] == 'k') { mul = 1024; buf[--len] = 0; }
    else if (buf[len - 1] == 'M' || buf[len - 1] == 'm') { mul = 1024 * 1024; buf[--len] = 0; }
    p = buf;
    if (*p == '-' || *p == '+') { neg = *p == '-'; p++; }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) { base = 16; p += 2; }
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) { base = 8; p += 2; }
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) { base = 2; p += 2; }
    else if (p[0] == '0' && p[1] != '\0') {
        for (const char *q = p; *q; q++)  /* int('010', 0) is an error; '00' is 0 */
            if (*q != '0' && *q != '_')
                return false;
    }
    if (!*p)
        return false;
    for (; *p; p++) {
        int d;
        if (*p == '_')
            continue;
        if (isdigit((unsigned char)*p)) d = *p - '0';
        else if (isalpha((unsigned char)*p)) d = tolower((unsigned char)*p) - 'a' + 10;
        else return false;
        if (d >= base)
            return false;
        v = v * base + d;
        if (v > 0xFFFFFFFFll * 16)
            return false;
    }
    *out = (neg ? -v : v) * mul;
    return true;
}

static bool lookup(const name_t *t, size_t n, const char *s, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, s) == 0) {
            *out = t[i].value;
            return true;
        }
    return false;
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* $VAR and ${VAR} from the environment; unknown names are errors. */
static int expand(const char *in, char *out, size_t outlen, char *bad, size_t badlen)
{
    size_t o = 0;
    for (const char *p = in; *p;) {
        if (*p == '$') {
            char name[128];
            size_t k = 0;
            const char *q = p + 1;
            bool brace = *q == '{';
            if (brace)
                q++;
            while ((isalnum((unsigned char)*q) || *q == '_') && k + 1 < sizeof(name))
                name[k++] = *q++;
            name[k] = '\0';
            if (brace) {
                if (*q != '}')
                    k = 0;
                else
                    q++;
            }
            const char *val = k ? getenv(name) : NULL;
            if (!val) {
                snprintf(bad, badlen, "%.*s", (int)(q - p), p);
                return -1;
            }
            size_t vl = strlen(val);
            if (o + vl >= outlen)
                return -2;
            memcpy(out + o, val, vl);
            o += vl;
            p = q;
        } else {
            if (o + 1 >= outlen)
                return -2;
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return 0;
}

typedef struct {
    int line;
    char name[64];
    bool offset_given;
} meta_t;

int otto_partcsv_parse(const char *text, const otto_partcsv_opts_t *opts,
                       otto_part_t parts[OTTO_PARTCSV_MAX], size_t *n_out,
                       char *err, size_t errlen)
{
    uint32_t table_off = opts && opts->table_offset ? opts->table_offset : OTTO_PART_TABLE_OFFSET;
    uint32_t flash_size = opts ? opts->flash_size : 0;
    uint64_t last_end = (uint64_t)table_off + 0x1000u;
    meta_t meta[OTTO_PARTCSV_MAX];
    size_t n = 0;
    int lineno = 0;
    const char *p = text;
    bool have_ota_data = false;

    /* a UTF-8 byte-order mark is skipped */
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;

    while (*p) {
        char raw[1024], line[2048], bad[160];
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len >= sizeof(raw))
            return fail(err, errlen, lineno, "line too long");
        memcpy(raw, p, len);
        raw[len] = '\0';
        p += len + (nl ? 1 : 0);
        if (len && raw[len - 1] == '\r')
            raw[len - 1] = '\0';
        char *t = trim(raw);
        if (!*t || *t == '#')
            continue;
        int x = expand(t, line, sizeof(line), bad, sizeof(bad));
        if (x == -1)
            return fail(err, errlen, lineno, "unknown environment variable %s", bad);
        if (x < 0)
            return fail(err, errlen, lineno, "line too long after expansion");

        char *f[6] = {"", "", "", "", "", ""};
        int nf = 0;
        for (char *s = line; s;) {
            char *c = strchr(s, ',');
            if (c)
                *c = '\0';
            s = trim(s);
            if (nf < 6)
                f[nf] = s;
            else if (*s)
                return fail(err, errlen, lineno, "too many fields (name, type, subtype, offset, size, flags)");
            nf++;
            s = c ? c + 1 : NULL;
        }
        if (n >= OTTO_PARTCSV_MAX)
            return fail(err, errlen, lineno, "too many partitions (at most 95)");

        otto_part_t *pt = &parts[n];
        meta_t *m = &meta[n];
        memset(pt, 0, sizeof(*pt));
        memset(m, 0, sizeof(*m));
        m->line = lineno;
        if (!*f[0])
            return fail(err, errlen, lineno, "partition name is empty");
        snprintf(m->name, sizeof(m->name), "%s", f[0]);
        /* names longer than 16 bytes are truncated in the binary, as ESP-IDF does */
        snprintf(pt->label, sizeof(pt->label), "%.16s", f[0]);

        int64_t v;
        if (!*f[1])
            return fail(err, errlen, lineno, "partition '%s': type is empty", f[0]);
        if (!lookup(types, N(types), f[1], &pt->type)) {
            if (!parse_num(f[1], &v) || v < 0 || v > 0xFE)
                return fail(err, errlen, lineno,
                            "partition '%s': unknown type '%s' (use app, data, or a number 0x40-0xFE)",
                            f[0], f[1]);
            pt->type = (uint8_t)v;
        }
        size_t ns;
        const name_t *st = sub_table(pt->type, &ns);
        if (!*f[2]) {
            if (pt->type == OTTO_PART_TYPE_DATA)
                pt->subtype = 0x06;
            else
                return fail(err, errlen, lineno, "partition '%s': subtype is empty", f[0]);
        } else if (!(st && lookup(st, ns, f[2], &pt->subtype))) {
            if (!parse_num(f[2], &v) || v < 0 || v > 0xFF)
                return fail(err, errlen, lineno, "partition '%s': unknown subtype '%s' for type %s",
                            f[0], f[2], f[1]);
            pt->subtype = (uint8_t)v;
        }

        uint32_t align = pt->type == OTTO_PART_TYPE_APP ? 0x10000u : 0x1000u;
        if (*f[3]) {
            if (!parse_num(f[3], &v) || v < 0 || v > 0xFFFFFFFFll)
                return fail(err, errlen, lineno, "partition '%s': bad offset '%s'", f[0], f[3]);
            if ((uint64_t)v < last_end) {
                if (n == 0)
                    return fail(err, errlen, lineno,
                                "partition '%s' at 0x%llx overlaps the partition table, which occupies 0x%x-0x%llx",
                                f[0], (long long)v, table_off, (long long)last_end - 1);
                return fail(err, errlen, lineno,
                            "partitions overlap: '%s' starts at 0x%llx but the previous partition '%s' ends at 0x%llx",
                            f[0], (long long)v, meta[n - 1].name, (long long)last_end);
            }
            pt->offset = (uint32_t)v;
            m->offset_given = true;
        } else {
            pt->offset = (uint32_t)((last_end + align - 1) / align * align);
        }
        if (!*f[4])
            return fail(err, errlen, lineno, "partition '%s': size is empty", f[0]);
        if (!parse_num(f[4], &v))
            return fail(err, errlen, lineno, "partition '%s': bad size '%s'", f[0], f[4]);
        if (v < 0) {
            if (-v <= (int64_t)pt->offset)
                return fail(err, errlen, lineno,
                            "partition '%s': negative size %s ends before its offset 0x%x",
                            f[0], f[4], pt->offset);
            v = -v - pt->offset;
        }
        if (v == 0 || v > 0xFFFFFFFFll)
            return fail(err, errlen, lineno, "partition '%s': size must be positive", f[0]);
        pt->size = (uint32_t)v;
        last_end = (uint64_t)pt->offset + pt->size;

        if (*f[5]) {
            char fl[256];
            snprintf(fl, sizeof(fl), "%s", f[5]);
            for (char *tok = strtok(fl, ":"); tok; tok = strtok(NULL, ":")) {
                tok = trim(tok);
                if (!strcmp(tok, "encrypted")) pt->flags |= OTTO_PART_FLAG_ENCRYPTED;
                else if (!strcmp(tok, "readonly")) pt->flags |= OTTO_PART_FLAG_READONLY;
                else if (*tok)
                    return fail(err, errlen, lineno,
                                "partition '%s': unknown flag '%s' (known: encrypted, readonly)", f[0], tok);
            }
        }

        /* per-partition checks */
        if (pt->offset % align)
            return fail(err, errlen, lineno, "partition '%s': offset 0x%x is not aligned to 0x%x",
                        f[0], pt->offset, align);
        if (pt->type == OTTO_PART_TYPE_APP && pt->size % 0x1000u)
            return fail(err, errlen, lineno,
                        "partition '%s': app size 0x%x is not a multiple of 0x1000", f[0], pt->size);
        if ((pt->flags & OTTO_PART_FLAG_READONLY) && pt->type == OTTO_PART_TYPE_DATA &&
            (pt->subtype == 0x00 || pt->subtype == 0x03))
            return fail(err, errlen, lineno, "partition '%s': %s partitions cannot be readonly",
                        f[0], pt->subtype ? "coredump" : "otadata");
        if (pt->type == OTTO_PART_TYPE_DATA && pt->subtype == OTTO_PART_SUB_DATA_NVS &&
            pt->size < 0x3000u && !(pt->flags & OTTO_PART_FLAG_READONLY))
            return fail(err, errlen, lineno,
                        "partition '%s': a writable nvs partition needs at least 0x3000 bytes (3 pages)", f[0]);
        if (pt->type == OTTO_PART_TYPE_DATA && (pt->subtype == 0x00 || pt->subtype == 0x90)) {
            if (pt->subtype == 0x00 && have_ota_data)
                return fail(err, errlen, lineno, "partition '%s': only one otadata partition is allowed", f[0]);
            if (pt->size != 0x2000u)
                return fail(err, errlen, lineno, "partition '%s': otadata size must be exactly 0x2000", f[0]);
            if (pt->subtype == 0x00)
                have_ota_data = true;
        }
        for (size_t i = 0; i < n; i++)
            if (!strcmp(meta[i].name, m->name))
                return fail(err, errlen, lineno, "duplicate partition name '%s' (first on line %d)",
                            m->name, meta[i].line);
        if (flash_size && last_end > flash_size)
            return fail(err, errlen, lineno,
                        "partition '%s' ends at 0x%llx, past the end of the %u-byte flash",
                        f[0], (long long)last_end, flash_size);
        n++;
    }
    if (n == 0) {
        snprintf(err, errlen, "line %d: the table has no partitions", lineno ? lineno : 1);
        return OTTO_E_INVAL;
    }
    *n_out = n;
    return OTTO_OK;
}
