/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A host double of ESP-IDF's NVS API (nvs.h), for testing ports written
 * against it. It keeps the semantics a port relies on, as documented:
 * namespaces and keys of at most 15 characters; a value has one type, and
 * getting it as another is ESP_ERR_NVS_NOT_FOUND, setting it as another
 * replaces it; strings count their NUL and hold at most 4000 bytes; a get
 * with a NULL buffer reports the length, with a small one fails
 * ESP_ERR_NVS_INVALID_LENGTH; erasing a missing key is
 * ESP_ERR_NVS_NOT_FOUND; writes are durable only after nvs_commit
 * (nvs_double_power_cut drops what was not committed). Error values are
 * ESP-IDF's. Not ESP-IDF code: its documented behaviour, in a RAM table.
 */
#ifndef NVS_DOUBLE_NVS_H
#define NVS_DOUBLE_NVS_H

#include <stddef.h>
#include <stdint.h>

typedef int esp_err_t;
typedef uint32_t nvs_handle_t;
typedef enum { NVS_READONLY, NVS_READWRITE } nvs_open_mode_t;

#define ESP_OK                         0
#define ESP_FAIL                       -1
#define ESP_ERR_NVS_BASE               0x1100
#define ESP_ERR_NVS_NOT_INITIALIZED    (ESP_ERR_NVS_BASE + 0x01)
#define ESP_ERR_NVS_NOT_FOUND          (ESP_ERR_NVS_BASE + 0x02)
#define ESP_ERR_NVS_TYPE_MISMATCH      (ESP_ERR_NVS_BASE + 0x03)
#define ESP_ERR_NVS_READ_ONLY          (ESP_ERR_NVS_BASE + 0x04)
#define ESP_ERR_NVS_NOT_ENOUGH_SPACE   (ESP_ERR_NVS_BASE + 0x05)
#define ESP_ERR_NVS_INVALID_NAME       (ESP_ERR_NVS_BASE + 0x06)
#define ESP_ERR_NVS_INVALID_HANDLE     (ESP_ERR_NVS_BASE + 0x07)
#define ESP_ERR_NVS_KEY_TOO_LONG       (ESP_ERR_NVS_BASE + 0x09)
#define ESP_ERR_NVS_INVALID_LENGTH     (ESP_ERR_NVS_BASE + 0x0c)
#define ESP_ERR_NVS_VALUE_TOO_LONG     (ESP_ERR_NVS_BASE + 0x0e)

esp_err_t nvs_open(const char *name, nvs_open_mode_t mode, nvs_handle_t *out);
void nvs_close(nvs_handle_t h);
esp_err_t nvs_commit(nvs_handle_t h);
esp_err_t nvs_set_i64(nvs_handle_t h, const char *key, int64_t value);
esp_err_t nvs_get_i64(nvs_handle_t h, const char *key, int64_t *out);
esp_err_t nvs_set_str(nvs_handle_t h, const char *key, const char *value);
esp_err_t nvs_get_str(nvs_handle_t h, const char *key, char *out, size_t *length);
esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t length);
esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *length);
esp_err_t nvs_erase_key(nvs_handle_t h, const char *key);

/* The double's own controls. */
void nvs_double_reset(void);        /* an erased partition */
void nvs_double_power_cut(void);    /* uncommitted writes are lost */
unsigned nvs_double_commits(void);
unsigned nvs_double_keys(const char *ns); /* live keys in a namespace */

#endif
