/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the job document parser (what the server, or anyone who can
 * publish on the device's topics, sends). What parses must be complete. */
#include <string.h>
#include "otto/err.h"
#include "otto/jobdoc.h"

static int terminated(const char *s, size_t n) { return memchr(s, 0, n) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    otto_json_tok_t tok[OTTO_JOBDOC_TOKENS];
    otto_jobdoc_t doc;
    if (otto_jobdoc_parse((const char *)data, len, tok, OTTO_JOBDOC_TOKENS, &doc) != OTTO_OK)
        return 0;
    if (doc.count > OTTO_CONFIG_JOB_FW_MAX || !terminated(doc.product, sizeof doc.product))
        __builtin_trap();
    for (unsigned i = 0; i < doc.count; i++) {
        const otto_fw_entry_t *e = &doc.fw[i];
        if (!terminated(e->ota_type, sizeof e->ota_type) || !terminated(e->url, sizeof e->url) ||
            !terminated(e->version, sizeof e->version))
            __builtin_trap();
        /* the checks jobdoc.h promises: a url, a size, a hash */
        if (!e->url[0] || !e->size || !(e->has_md5 || e->has_sha256))
            __builtin_trap();
        if (otto_jobdoc_find(&doc, e->ota_type) == NULL)
            __builtin_trap();
    }
    return 0;
}
