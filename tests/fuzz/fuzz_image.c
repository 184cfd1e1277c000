/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: streaming app image checker, fed in chunks the input picks. */
#include "otto/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    otto_image_check_t c;
    size_t chunk;
    if (len < 1)
        return 0;
    chunk = (size_t)data[0] % 61u + 1u;
    data++;
    len--;
    if (otto_image_check_init(&c, OTTO_CHIP_ESP32, 300, 1u << 20))
        return 0;
    for (size_t off = 0; off < len; off += chunk)
        if (otto_image_check_feed(&c, data + off, len - off < chunk ? len - off : chunk))
            break;
    (void)otto_image_check_finish(&c);
    return 0;
}
