/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the download link checker (what anyone on the network can put
 * in a URL): the input is split into thing, expires and sig at NULs. A
 * link must never pass unless it is exactly one the server minted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "links.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    static srv_links_t l = {true, {1, 2, 3}, 60};
    char buf[1024], msg[200], minted[1200];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, data, len);
    buf[len] = 0;
    const char *thing = buf, *exp = thing + strlen(thing) + 1 <= buf + len ? thing + strlen(thing) + 1 : "";
    const char *sig = exp + strlen(exp) + 1 <= buf + len ? exp + strlen(exp) + 1 : "";
    int r = srv_links_check(&l, "fw-0123456789ab", thing, exp, sig, 1000, msg, sizeof msg);
    if (r == 0) {
        /* it passed: then it is what mint makes for that expiry */
        if (srv_links_mint(&l, "u", "fw-0123456789ab", thing, strtoll(exp, NULL, 10) - 60, minted, sizeof minted) ||
            !strstr(minted, sig))
            __builtin_trap();
    }
    if (srv_links_mint(&l, "https://h/fw/x", "fw-x", thing, 1000, minted, sizeof minted) == 0) {
        char *s = strstr(minted, "&sig="), *e = strstr(minted, "&expires=");
        if (!s || !e)
            __builtin_trap();
        char ebuf[32];
        snprintf(ebuf, sizeof ebuf, "%.*s", (int)(s - e - 9), e + 9);
        if (srv_links_check(&l, "fw-x", thing, ebuf, s + 5, 1000, msg, sizeof msg) && !strchr(thing, '&'))
            __builtin_trap(); /* what was minted must pass */
    }
    return 0;
}
