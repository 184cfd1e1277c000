/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compile-time limits of the device core. Each one can be overridden by a
 * project header named with -DOTTO_CONFIG_FILE="my_otto_config.h", which is
 * included first; anything it leaves undefined gets the default below.
 */
#ifndef OTTO_CONFIG_DEFAULTS_H
#define OTTO_CONFIG_DEFAULTS_H

#ifdef OTTO_CONFIG_FILE
#include OTTO_CONFIG_FILE
#endif

/* Partitions kept in RAM from the table. ESP-IDF allows 95; a product table
 * rarely has more than a dozen, and each entry costs 36 bytes of RAM. */
#ifndef OTTO_CONFIG_PART_MAX
#define OTTO_CONFIG_PART_MAX 16
#endif

/* Bytes read from flash at a time while verifying an image or a table.
 * Lives on the stack of the verifying function. */
#ifndef OTTO_CONFIG_READ_CHUNK
#define OTTO_CONFIG_READ_CHUNK 256
#endif

/* Compiled-in log level: 0 none, 1 error, 2 warning, 3 info, 4 debug. */
#ifndef OTTO_LOG_LEVEL
#define OTTO_LOG_LEVEL 3
#endif

#endif /* OTTO_CONFIG_DEFAULTS_H */
