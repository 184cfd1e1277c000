/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto - the operator's and firmware engineer's command line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: otto <command> [<args>]\n"
    "\n"
    "Firmware engineer's tools:\n"
    "  part gen|show     ESP-IDF partition tables: CSV -> binary, and print one\n"
    "  image build|info|sign  ESP32 app images: build, check, Secure Boot v2 sign\n"
    "  mcu info|flash    the STM32 behind the module, over UART (AN3155 bootloader)\n"
    "  key gen|update    a signing key (PEM, openssl reads it); a key update for devices\n"
    "  fw sign|verify    a firmware's signature (DER ECDSA over SHA-256, as openssl)\n"
    "  delta make|apply|info  delta patches between two images (what devices decode)\n"
    "\n"
    "Operator's commands (talk to ottod; OTTO_URL, OTTO_TOKEN, OTTO_CA from ottod\n"
    "init's otto.env, or --url/--token):\n"
    "  fw upload|ls|show|rm              firmware on the server\n"
    "  device add|ls|show|rm|cert|revoke the device registry, device certificates\n"
    "  group ls                          device groups\n"
    "  job create|ls|show|cancel|watch   update jobs\n"
    "  key trust|list|revoke             the keys firmware must be signed with\n"
    "  token create|list|revoke          operator tokens with roles (admin only)\n"
    "  audit                             who did what (admin only)\n"
    "  admin backup FILE | prune         the whole server in one file; retention now (admin)\n"
    "\n"
    "Run 'otto <command> --help' for the options of a command.\n";

void die_msg(const char *fmt, ...)
{
    va_list ap;
    fputs("otto: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("otto 0.1.0");
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "part"))
        return cmd_part(argc - 1, argv + 1);
    if (!strcmp(argv[1], "delta"))
        return cmd_delta(argc - 1, argv + 1);
    if (!strcmp(argv[1], "image"))
        return cmd_image(argc - 1, argv + 1);
    if (!strcmp(argv[1], "mcu"))
        return cmd_mcu(argc - 1, argv + 1);
    if (!strcmp(argv[1], "key"))
        return cmd_key(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fw"))
        return cmd_fw(argc - 1, argv + 1);
    if (!strcmp(argv[1], "device"))
        return cmd_device(argc - 1, argv + 1);
    if (!strcmp(argv[1], "group"))
        return cmd_group(argc - 1, argv + 1);
    if (!strcmp(argv[1], "job"))
        return cmd_job(argc - 1, argv + 1);
    if (!strcmp(argv[1], "token"))
        return cmd_token(argc - 1, argv + 1);
    if (!strcmp(argv[1], "admin"))
        return cmd_admin(argc - 1, argv + 1);
    if (!strcmp(argv[1], "audit"))
        return cmd_audit(argc - 1, argv + 1);
    die_msg("unknown command '%s' (see 'otto --help')", argv[1]);
    return EXIT_USAGE;
}
