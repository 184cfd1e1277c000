/* SPDX-License-Identifier: Apache-2.0 */
#include "hw.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otto/err.h"
#include "engine.h"

static const char *const num_keys[] = {"chip_rev", "flash", "slot", "mcufw"};
static const char *const str_keys[] = {"chip", "mcu"};

typedef struct {
    unsigned id;
    const char *name;
} named_t;

/* ESP-IDF's image header chip ids (esp_chip_id_t), by name. */
static const named_t chips[] = {
    {0, "esp32"}, {2, "esp32s2"}, {5, "esp32c3"}, {9, "esp32s3"}, {12, "esp32c2"},
    {13, "esp32c6"}, {16, "esp32h2"}, {18, "esp32p4"}, {20, "esp32c61"}, {23, "esp32c5"},
};
/* STM32 product ids (AN2606's "Get ID"), for an MCU known only by it. */
static const named_t mcus[] = {
    {0x410, "stm32f103"}, {0x412, "stm32f103"}, {0x414, "stm32f103"}, {0x413, "stm32f407"},
    {0x419, "stm32f429"}, {0x415, "stm32l476"}, {0x450, "stm32h743"},
};

static bool in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, list[i]))
            return true;
    return false;
}
#define is_num_key(k) in_list(k, num_keys, sizeof num_keys / sizeof *num_keys)
#define is_str_key(k) in_list(k, str_keys, sizeof str_keys / sizeof *str_keys)

/* A whole number v of [lo, hi] named from t (n entries), else printed by
 * fmt; false when v is not such a number. */
static bool name_of(const cJSON *v, unsigned lo, unsigned hi, const named_t *t, size_t n, const char *fmt,
                    char *out, size_t cap)
{
    unsigned id = (unsigned)v->valuedouble;
    if (v->valuedouble < lo || v->valuedouble > hi || id != v->valuedouble)
        return false;
    snprintf(out, cap, fmt, id);
    for (size_t i = 0; i < n; i++)
        if (t[i].id == id)
            snprintf(out, cap, "%s", t[i].name);
    return true;
}

static int bad(char *msg, size_t cap, const char *what)
{
    snprintf(msg, cap, "%s", what);
    return OTTO_E_INVAL;
}

int srv_hw_from_hello(const cJSON *hw, char *out, size_t cap, char *msg, size_t msglen)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *v;
    char name[24];
    int err = OTTO_OK;
    if (hw && !cJSON_IsObject(hw))
        err = bad(msg, msglen, "hello: hw is an object");
    cJSON_ArrayForEach(v, hw) {
        if (err)
            break;
        const char *k = v->string;
        if (!strcmp(k, "chip") && cJSON_IsNumber(v)) { /* the agent sends the id */
            if (!name_of(v, 0, 65535, chips, sizeof chips / sizeof *chips, "chip-%u", name, sizeof name)) {
                err = bad(msg, msglen, "hello: hw.chip is a chip id (0-65535) or name");
                break;
            }
            cJSON_AddStringToObject(o, "chip", name);
        } else if (!strcmp(k, "mcu_pid") && cJSON_IsNumber(v)) {
            if (!name_of(v, 1, 0xFFF, mcus, sizeof mcus / sizeof *mcus, "0x%03x", name, sizeof name)) {
                err = bad(msg, msglen, "hello: hw.mcu_pid is an STM32 product id (1-0xfff)");
                break;
            }
            if (!cJSON_GetObjectItemCaseSensitive(hw, "mcu"))
                cJSON_AddStringToObject(o, "mcu", name);
        } else if (is_num_key(k)) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4294967295.0 ||
                v->valuedouble != floor(v->valuedouble)) {
                snprintf(msg, msglen, "hello: hw.%s is a whole number of 0-4294967295", k);
                err = OTTO_E_INVAL;
                break;
            }
            cJSON_AddNumberToObject(o, k, v->valuedouble);
        } else if (is_str_key(k)) {
            if (!cJSON_IsString(v) || !srv_valid_name(v->valuestring) || strlen(v->valuestring) > 32) {
                snprintf(msg, msglen, "hello: hw.%s is a name of 1-32 of [A-Za-z0-9._-]", k);
                err = OTTO_E_INVAL;
                break;
            }
            for (char *c = v->valuestring; *c; c++) /* names compare without case */
                *c = (char)tolower((unsigned char)*c);
            cJSON_AddStringToObject(o, k, v->valuestring);
        } /* else: a key a newer agent sends, not kept */
    }
    char *txt = err ? NULL : cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!err && (!txt || strlen(txt) >= cap || strlen(txt) > SRV_HW_MAX))
        err = bad(msg, msglen, "hello: hw is too long");
    if (!err)
        strcpy(out, txt);
    free(txt);
    return err;
}

/* A size: digits with an optional fraction and K or M (KiB, MiB). */
static bool parse_num(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return false;
    if (*end == 'K' || *end == 'k')
        v *= 1024, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1024 * 1024, end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

static int parse_cond(char *s, srv_cond_t *c, char *msg, size_t cap)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    size_t k = 0;
    while (isalnum((unsigned char)s[k]) || s[k] == '_')
        k++;
    const char *rest = s + k;
    while (isspace((unsigned char)*rest))
        rest++;
    size_t o = 0;
    while (o < 2 && rest[o] && strchr("=!<>", rest[o]))
        o++;
    if (!k || k >= sizeof c->key || !o) {
        snprintf(msg, cap, "where: '%.60s' is not KEY OP VALUE (e.g. slot>=1536K, chip=esp32s3)", s);
        return OTTO_E_INVAL;
    }
    memcpy(c->key, s, k);
    c->key[k] = 0;
    memcpy(c->op, rest, o);
    c->op[o] = 0;
    if (!strcmp(c->op, "=="))
        strcpy(c->op, "=");
    const char *val = rest + o;
    while (isspace((unsigned char)*val))
        val++;
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    bool op_ok = false;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        op_ok |= !strcmp(c->op, ops[i]);
    if (!op_ok) {
        snprintf(msg, cap, "where: '%s' is not an operator (= != < <= > >=)", c->op);
        return OTTO_E_INVAL;
    }
    if (is_num_key(c->key)) {
        c->numeric = true;
        if (!parse_num(val, &c->num)) {
            snprintf(msg, cap, "where: %s takes a number (K and M for KiB and MiB), not '%.40s'", c->key, val);
            return OTTO_E_INVAL;
        }
    } else if (is_str_key(c->key)) {
        if (strcmp(c->op, "=") && strcmp(c->op, "!=")) {
            snprintf(msg, cap, "where: %s compares with = or != only", c->key);
            return OTTO_E_INVAL;
        }
        if (!*val || strlen(val) >= sizeof c->str || !srv_valid_name(val)) {
            snprintf(msg, cap, "where: %s takes a name, not '%.40s'", c->key, val);
            return OTTO_E_INVAL;
        }
        for (size_t i = 0; val[i]; i++)
            c->str[i] = (char)tolower((unsigned char)val[i]);
        c->str[strlen(val)] = 0;
    } else {
        snprintf(msg, cap, "where: no key '%s' (chip, chip_rev, flash, slot, mcufw, mcu)", c->key);
        return OTTO_E_INVAL;
    }
    return OTTO_OK;
}

int srv_where_parse(const char *text, srv_where_t *w, char *msg, size_t msglen)
{
    char buf[256];
    memset(w, 0, sizeof *w);
    if (!text || !*text)
        return OTTO_OK;
    if (strlen(text) >= sizeof buf)
        return bad(msg, msglen, "where: at most 255 bytes");
    snprintf(w->text, sizeof w->text, "%s", text);
    snprintf(buf, sizeof buf, "%s", text);
    /* " and " joins as "," does */
    for (char *a; (a = strstr(buf, " and ")) || (a = strstr(buf, " AND "));)
        memcpy(a, "  ,  ", 5);
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (w->n == SRV_WHERE_MAX) {
            snprintf(msg, msglen, "where: at most %d conditions", SRV_WHERE_MAX);
            return OTTO_E_INVAL;
        }
        int err = parse_cond(p, &w->c[w->n++], msg, msglen);
        if (err)
            return err;
    }
    if (!w->n)
        return bad(msg, msglen, "where: no condition");
    return OTTO_OK;
}

static bool holds(const srv_cond_t *c, const cJSON *v)
{
    int cmp;
    if (c->numeric) {
        if (!cJSON_IsNumber(v))
            return false;
        cmp = v->valuedouble < c->num ? -1 : v->valuedouble > c->num;
    } else {
        if (!cJSON_IsString(v))
            return false;
        cmp = strcmp(v->valuestring, c->str);
    }
    if (!strcmp(c->op, "="))
        return cmp == 0;
    if (!strcmp(c->op, "!="))
        return cmp != 0;
    if (!strcmp(c->op, "<"))
        return cmp < 0;
    if (!strcmp(c->op, "<="))
        return cmp <= 0;
    if (!strcmp(c->op, ">"))
        return cmp > 0;
    return cmp >= 0;
}

bool srv_where_match(const srv_where_t *w, const char *hw, char *why, size_t cap)
{
    if (!w->n)
        return true;
    cJSON *o = cJSON_Parse(hw ? hw : "{}");
    bool ok = true;
    for (size_t i = 0; i < w->n && ok; i++) {
        const srv_cond_t *c = &w->c[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, c->key);
        if (!v && !strcmp(c->op, "!=")) {
            continue; /* no MCU is not an stm32f103 */
        } else if (!v) {
            snprintf(why, cap, "does not report its %s (where %s)", c->key, w->text);
            ok = false;
        } else if (!holds(c, v)) {
            if (c->numeric)
                snprintf(why, cap, "%s %s %.0f does not hold", c->key, c->op, c->num);
            else
                snprintf(why, cap, "%s %s %s does not hold", c->key, c->op, c->str);
            ok = false;
        }
    }
    cJSON_Delete(o);
    return ok;
}

bool srv_hw_fits(const char *hw, const srv_fw_t *fws, size_t nfw, char *why, size_t cap)
{
    cJSON *o = cJSON_Parse(hw ? hw : "{}");
    const cJSON *slot = cJSON_GetObjectItemCaseSensitive(o, "slot");
    const cJSON *mcufw = cJSON_GetObjectItemCaseSensitive(o, "mcufw");
    bool ok = true;
    for (size_t i = 0; i < nfw && ok; i++) {
        bool esp = !strcmp(fws[i].ota_type, "esp32"), mcu = !strcmp(fws[i].ota_type, "stm32");
        const cJSON *room = esp ? slot : mcu ? mcufw : NULL;
        if (cJSON_IsNumber(room) && (double)fws[i].size > room->valuedouble) {
            snprintf(why, cap, "the %s image (%lld bytes) is larger than its %s (%.0f bytes)", fws[i].ota_type,
                     (long long)fws[i].size, esp ? "OTA slot" : "MCU staging partition", room->valuedouble);
            ok = false;
        }
    }
    cJSON_Delete(o);
    return ok;
}
