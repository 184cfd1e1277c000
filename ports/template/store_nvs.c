/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto's store (store.h) on ESP-IDF's NVS API, in a namespace of its own
 * ("otto"), beside the application's keys in the `nvs` partition: NVS's
 * own format, so nvs_flash_init's recovery and the app's data and otto's
 * records live together instead of overwriting each other.
 *
 * Written against the documented API (nvs.h: nvs_open, nvs_set_* /
 * nvs_get_*, nvs_erase_key, nvs_commit); on the host it is tested against
 * a double with NVS's semantics (tests/unit/nvs_double). What it maps:
 *   - every set and erase is followed by nvs_commit, so it is durable when
 *     it returns, as store.h promises;
 *   - ESP_ERR_NVS_NOT_FOUND is OTTO_E_NOTFOUND, and OK for erase (NVS says
 *     NOT_FOUND for a missing key there too);
 *   - ESP_ERR_NVS_INVALID_LENGTH (the caller's buffer) is OTTO_E_NOSPC;
 *   - anything else is OTTO_E_IO.
 * Call nvs_flash_init() before otto_nvs_store_open (the app does already).
 */
#include "store_nvs.h"

#include <string.h>

static int map(esp_err_t e)
{
    switch (e) {
    case ESP_OK: return OTTO_OK;
    case ESP_ERR_NVS_NOT_FOUND: return OTTO_E_NOTFOUND;
    case ESP_ERR_NVS_INVALID_LENGTH: return OTTO_E_NOSPC;
    case ESP_ERR_NVS_KEY_TOO_LONG:
    case ESP_ERR_NVS_VALUE_TOO_LONG: return OTTO_E_INVAL;
    default: return OTTO_E_IO;
    }
}

static int committed(otto_nvs_store_t *s, esp_err_t e)
{
    if (e == ESP_OK)
        e = nvs_commit(s->handle);
    return map(e);
}

static int n_get_int(void *c, const char *k, int64_t *v)
{
    return map(nvs_get_i64(((otto_nvs_store_t *)c)->handle, k, v));
}

static int n_set_int(void *c, const char *k, int64_t v)
{
    otto_nvs_store_t *s = c;
    return committed(s, nvs_set_i64(s->handle, k, v));
}

static int n_get_str(void *c, const char *k, char *buf, size_t cap)
{
    size_t len = cap; /* NVS counts the NUL, as store.h does */
    return map(nvs_get_str(((otto_nvs_store_t *)c)->handle, k, buf, &len));
}

static int n_set_str(void *c, const char *k, const char *v)
{
    otto_nvs_store_t *s = c;
    return committed(s, nvs_set_str(s->handle, k, v));
}

static int n_get_blob(void *c, const char *k, void *buf, size_t cap, size_t *len)
{
    otto_nvs_store_t *s = c;
    size_t need = 0;
    /* Ask the size first: NVS leaves *len alone when the buffer is small. */
    esp_err_t e = nvs_get_blob(s->handle, k, NULL, &need);
    if (e != ESP_OK)
        return map(e);
    *len = need;
    if (need > cap)
        return OTTO_E_NOSPC;
    return map(nvs_get_blob(s->handle, k, buf, len));
}

static int n_set_blob(void *c, const char *k, const void *v, size_t len)
{
    otto_nvs_store_t *s = c;
    return committed(s, nvs_set_blob(s->handle, k, v, len));
}

static int n_erase(void *c, const char *k)
{
    otto_nvs_store_t *s = c;
    esp_err_t e = nvs_erase_key(s->handle, k);
    return e == ESP_ERR_NVS_NOT_FOUND ? OTTO_OK : committed(s, e);
}

int otto_nvs_store_open(otto_nvs_store_t *s, otto_store_t *out)
{
    esp_err_t e = nvs_open(OTTO_NVS_NAMESPACE, NVS_READWRITE, &s->handle);
    if (e != ESP_OK)
        return map(e);
    out->ctx = s;
    out->get_int = n_get_int;
    out->set_int = n_set_int;
    out->get_str = n_get_str;
    out->set_str = n_set_str;
    out->get_blob = n_get_blob;
    out->set_blob = n_set_blob;
    out->erase = n_erase;
    return OTTO_OK;
}

void otto_nvs_store_close(otto_nvs_store_t *s)
{
    nvs_close(s->handle);
}
