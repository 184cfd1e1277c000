/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON from clients, parsed exactly (REST bodies, upload descriptors, MQTT
 * payloads): one object and nothing after it but whitespace, valid UTF-8,
 * no NUL byte and no \u0000 escape (which would cut every C string built
 * from it, so that checks ran on a prefix). Anything else is NULL: the
 * caller answers its documented "not a JSON object" error. The result is
 * the caller's to cJSON_Delete.
 */
#ifndef SRV_JSONIN_H
#define SRV_JSONIN_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

cJSON *srv_json_object(const char *buf, size_t len);
/** Is buf[0..len) valid UTF-8 (no overlong forms, no surrogates)? */
bool srv_utf8_valid(const char *buf, size_t len);

#endif
