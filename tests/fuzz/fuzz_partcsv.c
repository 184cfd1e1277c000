/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: partition CSV compiler (operator input). */
#include <stdlib.h>
#include <string.h>
#include "partcsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    otto_part_t parts[OTTO_PARTCSV_MAX];
    char err[256], *text = malloc(len + 1);
    size_t n;
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    (void)otto_partcsv_parse(text, NULL, parts, &n, err, sizeof(err));
    free(text);
    return 0;
}
