/* SPDX-License-Identifier: Apache-2.0 */
/* otto's store on ESP-IDF's NVS, namespace "otto" (see store_nvs.c). */
#ifndef OTTO_STORE_NVS_H
#define OTTO_STORE_NVS_H

#include "nvs.h" /* ESP-IDF's */
#include "otto/store.h"

#define OTTO_NVS_NAMESPACE "otto"

typedef struct {
    nvs_handle_t handle;
} otto_nvs_store_t;

/** Open the namespace and fill out (which keeps a pointer to s). */
int otto_nvs_store_open(otto_nvs_store_t *s, otto_store_t *out);
void otto_nvs_store_close(otto_nvs_store_t *s);

#endif
