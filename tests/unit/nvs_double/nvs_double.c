/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "nvs.h"

enum { T_NONE, T_I64 = 0x18, T_STR = 0x21, T_BLOB = 0x42 };
#define ITEMS 64
#define VMAX  4000

typedef struct {
    char ns[16], key[16];
    int type;
    size_t len;
    uint8_t val[VMAX];
} item_t;

/* committed: what survives power; live: what reads see now */
static item_t committed[ITEMS], live[ITEMS];
static char spaces[8][16];
static unsigned nspaces, commits;

void nvs_double_reset(void)
{
    memset(committed, 0, sizeof committed);
    memset(live, 0, sizeof live);
    nspaces = commits = 0;
}

void nvs_double_power_cut(void) { memcpy(live, committed, sizeof live); }
unsigned nvs_double_commits(void) { return commits; }

unsigned nvs_double_keys(const char *ns)
{
    unsigned n = 0;
    for (int i = 0; i < ITEMS; i++)
        n += committed[i].type != T_NONE && !strcmp(committed[i].ns, ns);
    return n;
}

esp_err_t nvs_open(const char *name, nvs_open_mode_t mode, nvs_handle_t *out)
{
    (void)mode;
    if (!name || !name[0] || strlen(name) > 15)
        return ESP_ERR_NVS_INVALID_NAME;
    for (unsigned i = 0; i < nspaces; i++)
        if (!strcmp(spaces[i], name)) {
            *out = i + 1;
            return ESP_OK;
        }
    if (nspaces == 8)
        return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    strcpy(spaces[nspaces++], name);
    *out = nspaces;
    return ESP_OK;
}

void nvs_close(nvs_handle_t h) { (void)h; }

esp_err_t nvs_commit(nvs_handle_t h)
{
    if (!h || h > nspaces)
        return ESP_ERR_NVS_INVALID_HANDLE;
    memcpy(committed, live, sizeof committed);
    commits++;
    return ESP_OK;
}

static esp_err_t check(nvs_handle_t h, const char *key)
{
    if (!h || h > nspaces)
        return ESP_ERR_NVS_INVALID_HANDLE;
    if (!key || !key[0])
        return ESP_ERR_NVS_INVALID_NAME;
    return strlen(key) > 15 ? ESP_ERR_NVS_KEY_TOO_LONG : ESP_OK;
}

static item_t *find(nvs_handle_t h, const char *key)
{
    for (int i = 0; i < ITEMS; i++)
        if (live[i].type != T_NONE && !strcmp(live[i].ns, spaces[h - 1]) && !strcmp(live[i].key, key))
            return &live[i];
    return NULL;
}

static esp_err_t set(nvs_handle_t h, const char *key, int type, const void *v, size_t len)
{
    esp_err_t e = check(h, key);
    if (e)
        return e;
    if (len > VMAX)
        return ESP_ERR_NVS_VALUE_TOO_LONG;
    item_t *it = find(h, key); /* another type is replaced */
    for (int i = 0; !it && i < ITEMS; i++)
        if (live[i].type == T_NONE)
            it = &live[i];
    if (!it)
        return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    strcpy(it->ns, spaces[h - 1]);
    strcpy(it->key, key);
    it->type = type;
    it->len = len;
    memcpy(it->val, v, len);
    return ESP_OK;
}

static esp_err_t get(nvs_handle_t h, const char *key, int type, void *out, size_t *length)
{
    esp_err_t e = check(h, key);
    if (e)
        return e;
    item_t *it = find(h, key);
    if (!it || it->type != type)
        return ESP_ERR_NVS_NOT_FOUND;
    if (type == T_I64) {
        memcpy(out, it->val, 8);
        return ESP_OK;
    }
    if (!out) {
        *length = it->len;
        return ESP_OK;
    }
    if (*length < it->len)
        return ESP_ERR_NVS_INVALID_LENGTH;
    memcpy(out, it->val, it->len);
    *length = it->len;
    return ESP_OK;
}

esp_err_t nvs_set_i64(nvs_handle_t h, const char *key, int64_t value) { return set(h, key, T_I64, &value, 8); }
esp_err_t nvs_get_i64(nvs_handle_t h, const char *key, int64_t *out) { return get(h, key, T_I64, out, NULL); }

esp_err_t nvs_set_str(nvs_handle_t h, const char *key, const char *value)
{
    return set(h, key, T_STR, value, strlen(value) + 1);
}

esp_err_t nvs_get_str(nvs_handle_t h, const char *key, char *out, size_t *length)
{
    return get(h, key, T_STR, out, length);
}

esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t length)
{
    return set(h, key, T_BLOB, value, length);
}

esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *length)
{
    return get(h, key, T_BLOB, out, length);
}

esp_err_t nvs_erase_key(nvs_handle_t h, const char *key)
{
    esp_err_t e = check(h, key);
    if (e)
        return e;
    item_t *it = find(h, key);
    if (!it)
        return ESP_ERR_NVS_NOT_FOUND;
    it->type = T_NONE;
    return ESP_OK;
}
