/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: binary partition table parser (untrusted flash contents). */
#include <string.h>
#include "otto/part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t raw[OTTO_PART_TABLE_LEN];
    otto_part_table_t t;
    memset(raw, 0xFF, sizeof(raw));
    memcpy(raw, data, len < sizeof(raw) ? len : sizeof(raw));
    if (otto_part_parse(raw, sizeof(raw), 4u << 20, &t) == OTTO_OK) {
        /* what parses must re-encode to a table that parses the same */
        uint8_t again[OTTO_PART_TABLE_LEN];
        otto_part_table_t t2;
        if (otto_part_encode(t.part, t.count, t.has_md5, again) == OTTO_OK &&
            (otto_part_parse(again, sizeof(again), 4u << 20, &t2) != OTTO_OK || t2.count != t.count))
            __builtin_trap();
    }
    return 0;
}
