/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: ottod's JSON input (REST bodies, descriptors, MQTT payloads).
 * What it accepts is one object whose strings hold no NUL, and which prints
 * back to text that it accepts again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonin.h"

static void no_nul(const cJSON *j)
{
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
        if (c->string && !srv_utf8_valid(c->string, strlen(c->string)))
            __builtin_trap();
        if (cJSON_IsString(c) && !srv_utf8_valid(c->valuestring, strlen(c->valuestring)))
            __builtin_trap();
        no_nul(c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    cJSON *j = srv_json_object((const char *)data, len);
    if (!j)
        return 0;
    if (!cJSON_IsObject(j))
        __builtin_trap();
    no_nul(j);
    char *txt = cJSON_PrintUnformatted(j);
    cJSON *again = txt ? srv_json_object(txt, strlen(txt)) : NULL;
    if (txt && !again)
        __builtin_trap();
    cJSON_Delete(again);
    free(txt);
    cJSON_Delete(j);
    return 0;
}
