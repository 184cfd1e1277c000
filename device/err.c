/* SPDX-License-Identifier: Apache-2.0 */
#include "otto/err.h"

const char *otto_strerror(int err)
{
    switch (err) {
    case OTTO_OK:           return "success";
    case OTTO_E_INVAL:      return "invalid argument or malformed input";
    case OTTO_E_IO:         return "hardware I/O failed (flash, eFuse or UART), or power was lost";
    case OTTO_E_CORRUPT:    return "data is corrupt or has the wrong format";
    case OTTO_E_NOSPC:      return "does not fit in the space available";
    case OTTO_E_VERIFY:     return "verification failed (checksum, hash or signature mismatch)";
    case OTTO_E_VERSION:    return "secure version is below the device's anti-rollback counter";
    case OTTO_E_STATE:      return "operation not allowed in the current state";
    case OTTO_E_AGAIN:      return "more input needed";
    case OTTO_E_TIMEOUT:    return "timed out";
    case OTTO_E_PROTO:      return "protocol error from the peer";
    case OTTO_E_NOTFOUND:   return "not found";
    case OTTO_E_CHIP:       return "image is for a different chip or chip revision";
    case OTTO_E_NOROLLBACK: return "no other bootable image to roll back to";
    case OTTO_E_PROGRAM:    return "flash program would need to set a 0 bit back to 1 (sector not erased)";
    case OTTO_E_EXISTS:     return "already exists";
    case OTTO_E_DENIED:     return "refused by the peer (protected)";
    case OTTO_E_SIGNATURE:  return "no signature, or none made by a trusted key verifies";
    default:                return "unknown error";
    }
}
