/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's unit suites of the device core, run on the target as they
 * are (tests/unit/test_*.c, each built with its main renamed), on
 * cmocka.h's small harness: part, otadata, boot, image, ota, kv, jobdoc,
 * stage, the MCU host (against an3155_double.c) and the agent (its fake
 * port: job documents, the image in chunks, reboots, self-test, reports)
 * and the agent's whole update with the power cut at each flash operation.
 * Each suite's stack high-water is measured (the stack painted before).
 */
#include <stdint.h>
#include <stdio.h>

#include "otto/err.h"
#include "simflash.h"
#include "target.h"

int unit_part(void);
int unit_otadata(void);
int unit_boot(void);
int unit_image(void);
int unit_ota(void);
int unit_kv(void);
int unit_jobdoc(void);
int unit_stage(void);
int unit_mcu(void);
int unit_agent(void);
int unit_agent_power(void);

/* The simulated device links the Linux port's Secure Boot v2 arithmetic
 * (mbedTLS RSA/ECDSA); no suite here burns a Secure Boot key, so reaching
 * either is a failure of the runner, said so. */
int otto_linux_sbv2_verify_block(void *ctx, const uint8_t *blk, const uint8_t digest[32]);
int otto_linux_sbv2_key_digest(const char *path, uint8_t digest[32], unsigned *version);
int otto_linux_sbv2_verify_block(void *ctx, const uint8_t *blk, const uint8_t digest[32])
{
    (void)ctx, (void)blk, (void)digest;
    t_puts("target: Secure Boot v2 is not in the target runner\n");
    t_exit(4);
}
int otto_linux_sbv2_key_digest(const char *path, uint8_t digest[32], unsigned *version)
{
    (void)path, (void)digest, (void)version;
    t_puts("target: Secure Boot v2 is not in the target runner\n");
    t_exit(4);
}

/* No files on the target: a flash kept in a file (sim/hw/simflash_file.c,
 * mmap) is the host's; the suites open RAM flash only. */
int otto_simflash_open_file(otto_simflash_t *f, otto_power_t *pw, const char *path, uint32_t size, uint32_t sector)
{
    (void)f, (void)pw, (void)path, (void)size, (void)sector;
    return OTTO_E_IO;
}

int main(void)
{
    static const struct {
        const char *name;
        int (*run)(void);
    } suites[] = {{"part", unit_part}, {"otadata", unit_otadata}, {"boot", unit_boot}, {"image", unit_image},
                  {"ota", unit_ota},   {"kv", unit_kv},           {"jobdoc", unit_jobdoc},
                  {"stage", unit_stage}, {"mcu", unit_mcu},   {"agent", unit_agent},
                  {"agent_power", unit_agent_power}};
    int failed = 0;
    char line[120];
    for (unsigned i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        snprintf(line, sizeof line, "suite %s (tests/unit/test_%s.c)\n", suites[i].name, suites[i].name);
        t_puts(line);
        t_stack_repaint();
        int f = suites[i].run();
        snprintf(line, sizeof line, "suite %s: %s, stack high-water %lu B\n", suites[i].name,
                 f ? "FAILED" : "passed", (unsigned long)(t_stack_size() - t_stack_unused()));
        t_puts(line);
        failed += f;
    }
    snprintf(line, sizeof line, "unit suites on target: %d failed\n", failed);
    t_puts(line);
    return failed ? 1 : 0;
}
