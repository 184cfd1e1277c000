/* SPDX-License-Identifier: Apache-2.0 */
/* otto CLI: one file per command group; each exports int cmd_<group>(argc, argv). */
#ifndef OTTO_CLI_H
#define OTTO_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes scripts can rely on. */
#define EXIT_OK     0
#define EXIT_FAIL   1  /* the operation ran and failed (bad image, server error) */
#define EXIT_USAGE  2  /* bad command line */
#define EXIT_SERVER 3  /* ottod unreachable, token refused, or a server error */
#define EXIT_JOB    4  /* otto job watch: the job ended, not every device succeeded */

int cmd_part(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_image_sign(int argc, char **argv);
/** otto image info's Secure Boot v2 lines (or JSON member) for the image of
 *  ilen bytes at the start of b[len]; *ok: a block verifies (with one of
 *  the trust keys, when there are any). */
int sbv2_info(const uint8_t *b, size_t len, uint32_t ilen, const char **trust, unsigned ntrust, bool json,
              bool *ok);
int cmd_fw(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_mcu(int argc, char **argv);
int cmd_delta(int argc, char **argv);
int cmd_key(int argc, char **argv);
/** otto fw sign / verify (cmd_key.c). */
int cmd_fw_sign(int argc, char **argv, bool verify);
/** The firmware's signature as base64: made with key (PEM), or read from
 *  sigfile. EXIT_OK, or an exit code having said why. */
int cli_signature_b64(const unsigned char *data, size_t len, const char *key, const char *sigfile, char *out,
                      size_t cap);

/* Print "otto: " + message to stderr. */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
