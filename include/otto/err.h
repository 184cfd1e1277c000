/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto error codes. Every fallible function in the device core returns one:
 * zero is success, a negative value is an error. The set is small and closed
 * so callers can switch on it; otto_strerror() turns a code into a sentence
 * for the edges (CLI, logs, job statusDetails) - the core never formats text.
 */
#ifndef OTTO_ERR_H
#define OTTO_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    OTTO_OK          = 0,   /**< success */
    OTTO_E_INVAL     = -1,  /**< bad argument or malformed input */
    OTTO_E_IO        = -2,  /**< the HAL failed (flash, eFuse, UART, power loss) */
    OTTO_E_CORRUPT   = -3,  /**< stored or received data fails its own checks */
    OTTO_E_NOSPC     = -4,  /**< does not fit (slot, table, buffer) */
    OTTO_E_VERIFY    = -5,  /**< checksum, hash or signature mismatch */
    OTTO_E_VERSION   = -6,  /**< secure_version below the anti-rollback counter */
    OTTO_E_STATE     = -7,  /**< call not allowed in the current state */
    OTTO_E_AGAIN     = -8,  /**< not done yet: feed more input and call again */
    OTTO_E_TIMEOUT   = -9,  /**< a peer did not answer in time */
    OTTO_E_PROTO     = -10, /**< a peer broke the protocol */
    OTTO_E_NOTFOUND  = -11, /**< no such partition, slot, key or entry */
    OTTO_E_CHIP      = -12, /**< image built for another chip or revision */
    OTTO_E_NOROLLBACK = -13,/**< no other bootable image to roll back to */
    OTTO_E_PROGRAM   = -14, /**< flash program tried to turn a 0 bit into 1 */
    OTTO_E_EXISTS    = -15, /**< an entry with that name or id already exists */
    OTTO_E_DENIED    = -16, /**< the peer refuses: e.g. an MCU whose flash is read-protected */
    OTTO_E_SIGNATURE = -17  /**< no signature, or none by a trusted key verifies */
} otto_err_t;

/** A short English sentence for err; never NULL. */
const char *otto_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* OTTO_ERR_H */
