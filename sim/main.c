/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto-sim - simulated devices. A device is a 4 MiB flash file plus an eFuse
 * file next to it (FLASH.efuse); power cuts are real in the sense that only
 * those two files survive from one command to the next.
 */
#include <stdio.h>
#include <string.h>

#include "sim.h"

static const char usage[] =
    "usage: otto-sim <command> [<args>]\n"
    "\n"
    "  mkflash   make a device flash image: partition table + factory app\n"
    "  boot      power on: run the bootloader, then the app's self-test\n"
    "  ota       the running app writes an image to the next slot and switches\n"
    "  efuse     show the eFuse; burn Secure Boot v2 key digests, revoke them\n"
    "  device    run one device with the otto agent against a broker and ottod\n"
    "  fleet     run N such devices in one process\n"
    "  stm32     an STM32 ROM bootloader (AN3155) on a pseudo-terminal\n"
    "\n"
    "Run 'otto-sim <command> --help' for the options of a command.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "mkflash"))
        return cmd_mkflash(argc - 1, argv + 1);
    if (!strcmp(argv[1], "boot"))
        return cmd_boot(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ota"))
        return cmd_ota(argc - 1, argv + 1);
    if (!strcmp(argv[1], "efuse"))
        return cmd_efuse(argc - 1, argv + 1);
    if (!strcmp(argv[1], "device"))
        return cmd_device(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fleet"))
        return cmd_fleet(argc - 1, argv + 1);
    if (!strcmp(argv[1], "stm32"))
        return cmd_stm32(argc - 1, argv + 1);
    fprintf(stderr, "otto-sim: unknown command '%s' (see 'otto-sim --help')\n", argv[1]);
    return 2;
}
