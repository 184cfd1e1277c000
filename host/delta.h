/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Making otto delta patches (the format: include/otto/delta.h and
 * docs/formats.md; the decoder: device/delta.c, which the host's apply
 * runs too). Matching is bsdiff's idea over a suffix array of the base
 * (libdivsufsort): long approximate matches whose bytes are coded as
 * differences, which stay small where moved code changed its offsets; the
 * rest inserted. Unlike bsdiff, the three streams are coded together, a
 * block at a time, with adaptive binary models and a range coder instead
 * of bzip2, so a device decodes them in a fixed few KiB.
 */
#ifndef OTTO_HOST_DELTA_H
#define OTTO_HOST_DELTA_H

#include <stddef.h>
#include <stdint.h>

#define OTTO_DELTA_BLOCK_DEFAULT (64u * 1024u)

/** A patch from base to target, malloc'd into *patch (*len bytes).
 *  block_size: 0 for the default. Returns 0, or OTTO_E_NOSPC (memory),
 *  OTTO_E_INVAL (a block size that is not a power of two, 4 KiB-1 MiB,
 *  or an image over 4 GiB). */
int otto_delta_make(const uint8_t *base, size_t base_len, const uint8_t *target, size_t target_len,
                    uint32_t block_size, uint8_t **patch, size_t *len);

/** Apply a patch with the device's decoder, into a malloc'd buffer; the
 *  base and target SHA-256 are checked against the header. */
int otto_delta_apply(const uint8_t *base, size_t base_len, const uint8_t *patch, size_t patch_len,
                     uint8_t **target, size_t *target_len);

#endif
