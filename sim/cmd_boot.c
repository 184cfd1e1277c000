/* SPDX-License-Identifier: Apache-2.0 */
/* otto-sim mkflash | boot | ota */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otto/otadata.h"
#include "partcsv.h"
#include "sim.h"
#include "simdev.h"
#include "util.h"

/* Power-cut options shared by boot and ota. */
typedef struct {
    uint64_t at;
    otto_cut_mode_t mode;
    uint64_t seed;
} cut_opts_t;

#define CUT_OPTS \
    {"cut-at", required_argument, 0, 'c'}, {"cut-mode", required_argument, 0, 'm'}, \
    {"seed", required_argument, 0, 's'}

#define CUT_HELP \
    "      --cut-at N         cut the power at the N-th flash/eFuse write of this run\n" \
    "      --cut-mode MODE    before | after | torn (default torn)\n" \
    "      --seed S           seed for torn writes (default 1)\n"

static int cut_opt(int c, const char *arg, cut_opts_t *cut)
{
    uint64_t v;
    switch (c) {
    case 'c':
        if (!otto_parse_size(arg, &v) || v == 0) {
            fprintf(stderr, "otto-sim: --cut-at: '%s' is not a positive number\n", arg);
            return -1;
        }
        cut->at = v;
        return 1;
    case 'm':
        if (otto_cut_mode_parse(arg, &cut->mode)) {
            fprintf(stderr, "otto-sim: --cut-mode: expected before, after or torn\n");
            return -1;
        }
        return 1;
    case 's':
        if (!otto_parse_size(arg, &v)) {
            fprintf(stderr, "otto-sim: --seed: '%s' is not a number\n", arg);
            return -1;
        }
        cut->seed = v;
        return 1;
    }
    return 0;
}

static int open_dev(otto_simdev_t *d, const char *path, const cut_opts_t *cut)
{
    int err = otto_simdev_open(d, path);
    if (err) {
        fprintf(stderr, "otto-sim: cannot open flash %s: %s\n", path,
                err == OTTO_E_INVAL ? "size is not a multiple of 4 KiB" : strerror(errno));
        return err;
    }
    if (cut && cut->at)
        otto_power_arm(&d->power, cut->at, cut->mode, cut->seed);
    return OTTO_OK;
}

static int power_lost(otto_simdev_t *d)
{
    if (!d->power.off)
        return 0;
    printf("** power cut at write #%llu (%s) - only flash and eFuse survive\n",
           (unsigned long long)d->power.cut_at, otto_cut_mode_name(d->power.mode));
    return 1;
}

static const char usage_mkflash[] =
    "usage: otto-sim mkflash -o FLASH.img --factory APP.bin [--csv TABLE.csv | --table TABLE.bin]\n"
    "\n"
    "Make a 4 MiB device flash: partition table at 0x8000 (default: nvs, otadata,\n"
    "phy_init, factory, ota_0, ota_1, mcufw, ottokv), the factory app, blank otadata and a\n"
    "fresh eFuse (FLASH.img.efuse, anti-rollback counter 0).\n"
    "\n"
    "  -o, --output FILE   flash image to create (overwritten)\n"
    "      --factory FILE  app image for the factory partition (required)\n"
    "      --csv FILE      partition CSV instead of the default layout\n"
    "      --table FILE    binary partition table instead of the default layout\n"
    "      --flash-size N  flash size (default 4M; a multiple of 4K)\n"
    "      --secure-boot-key PUB.pem\n"
    "                      burn this Secure Boot v2 public key's digest into eFuse (up\n"
    "                      to 3; RSA-3072 or ECDSA P-256): only apps signed with one\n"
    "                      boot or install from then on (the factory app too)\n"
    "  -h, --help          this text\n";

static const char usage_efuse[] =
    "usage: otto-sim efuse --flash FLASH.img [--secure-boot-key PUB.pem ...] [--secure-boot-revoke N ...]\n"
    "\n"
    "Show the device's eFuse (anti-rollback counter, Secure Boot v2 key digests) and\n"
    "burn into it, as espefuse.py does on a module: a key digest into the next free\n"
    "key block (Secure Boot is on once one is there), or a key block's revoke bit.\n"
    "Burnt bits never come back.\n"
    "\n"
    "      --flash FILE              the device flash image (required)\n"
    "      --secure-boot-key PUB     burn this public key's digest (up to 3 in all)\n"
    "      --secure-boot-revoke N    revoke key block N (0-2)\n"
    "  -h, --help                    this text\n";

/* Burn Secure Boot v2 key digests into a device's eFuse; prints why not. */
static int burn_keys(otto_simdev_t *d, const char **keys, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int err = otto_simdev_secure_boot_key(d, keys[i]);
        if (err) {
            fprintf(stderr, "otto-sim: --secure-boot-key %s: %s\n", keys[i],
                    err == OTTO_E_NOSPC ? "all 3 eFuse key blocks are used"
                                        : "not an RSA-3072 or ECDSA P-256 key in PEM");
            return 1;
        }
    }
    return 0;
}

static void print_efuse(const otto_simdev_t *d)
{
    uint32_t v = 0;
    d->efuse.read_secure_version(d->efuse.ctx, &v);
    printf("efuse: anti-rollback counter %u; Secure Boot v2 %s\n", v, d->se.sb_n ? "on" : "off");
    for (unsigned i = 0; i < d->se.sb_n; i++) {
        char hex[65];
        otto_hex(d->se.sb_digest[i], 32, hex);
        printf("efuse: key block %u  %s  %s\n", i, hex, d->se.sb_revoked & (1u << i) ? "REVOKED" : "active");
    }
}

int cmd_efuse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"flash", required_argument, 0, 'f'}, {"secure-boot-key", required_argument, 0, 'K'},
        {"secure-boot-revoke", required_argument, 0, 'R'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *path = NULL, *keys[8];
    unsigned nkeys = 0, revoke = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': path = optarg; break;
        case 'K':
            if (nkeys < 8) keys[nkeys++] = optarg;
            break;
        case 'R':
            if (strlen(optarg) != 1 || optarg[0] < '0' || optarg[0] > '2') {
                fprintf(stderr, "otto-sim: --secure-boot-revoke: '%s' is not a key block (0-2)\n", optarg);
                return 2;
            }
            revoke |= 1u << (optarg[0] - '0');
            break;
        case 'h': fputs(usage_efuse, stdout); return 0;
        default: fputs(usage_efuse, stderr); return 2;
        }
    }
    if (!path || optind != argc) {
        fputs(usage_efuse, stderr);
        return 2;
    }
    otto_simdev_t d;
    if (otto_simdev_open(&d, path)) {
        fprintf(stderr, "otto-sim: cannot open %s\n", path);
        return 1;
    }
    int rc = burn_keys(&d, keys, nkeys);
    for (unsigned i = 0; !rc && i < 3; i++)
        if ((revoke & (1u << i)) && otto_simdev_secure_boot_revoke(&d, i)) {
            fprintf(stderr, "otto-sim: --secure-boot-revoke %u: no key in that block\n", i);
            rc = 1;
        }
    print_efuse(&d);
    otto_simdev_close(&d);
    return rc;
}

int cmd_mkflash(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"factory", required_argument, 0, 'f'},
        {"csv", required_argument, 0, 'C'}, {"table", required_argument, 0, 'T'},
        {"flash-size", required_argument, 0, 'F'}, {"secure-boot-key", required_argument, 0, 'K'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL, *factory = NULL, *csv = NULL, *tab = NULL, *keys[8];
    unsigned nkeys = 0;
    uint64_t fsize = OTTO_SIM_FLASH_SIZE;
    uint8_t bin[OTTO_PART_TABLE_LEN];
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'f': factory = optarg; break;
        case 'C': csv = optarg; break;
        case 'T': tab = optarg; break;
        case 'K':
            if (nkeys < 8) keys[nkeys++] = optarg;
            break;
        case 'F':
            if (!otto_parse_size(optarg, &fsize) || fsize < 0x10000 || fsize % 4096 || fsize > 0x4000000) {
                fprintf(stderr, "otto-sim: --flash-size: '%s' is not a multiple of 4K between 64K and 64M\n", optarg);
                return 2;
            }
            break;
        case 'h': fputs(usage_mkflash, stdout); return 0;
        default: fputs(usage_mkflash, stderr); return 2;
        }
    }
    if (!out || !factory || optind != argc || (csv && tab)) {
        fputs(usage_mkflash, stderr);
        return 2;
    }
    if (tab) {
        uint8_t *raw;
        size_t len;
        if (otto_read_file(tab, &raw, &len) != 0 || len < OTTO_PART_TABLE_LEN) {
            fprintf(stderr, "otto-sim: cannot read a table from %s\n", tab);
            return 1;
        }
        memcpy(bin, raw, sizeof(bin));
        free(raw);
    } else {
        otto_part_t parts[OTTO_PARTCSV_MAX];
        otto_partcsv_opts_t po = {OTTO_PART_TABLE_OFFSET, (uint32_t)fsize};
        char err[512];
        size_t n;
        uint8_t *text = NULL;
        size_t len;
        if (csv && otto_read_file(csv, &text, &len) != 0) {
            fprintf(stderr, "otto-sim: cannot read %s: %s\n", csv, strerror(errno));
            return 1;
        }
        int rc = otto_partcsv_parse(text ? (char *)text : otto_partcsv_default_layout, &po, parts, &n,
                                    err, sizeof(err));
        free(text);
        if (rc || otto_part_encode(parts, n, true, bin)) {
            fprintf(stderr, "otto-sim: %s: %s\n", csv ? csv : "default table", rc ? err : "table too large");
            return 1;
        }
    }
    otto_part_table_t t;
    if (otto_part_parse(bin, sizeof(bin), (uint32_t)fsize, &t)) {
        fprintf(stderr, "otto-sim: the partition table is not valid for a %llu-byte flash\n", (unsigned long long)fsize);
        return 1;
    }
    const otto_part_t *fp = otto_part_find(&t, OTTO_PART_TYPE_APP, OTTO_PART_SUB_FACTORY, NULL);
    uint8_t *img;
    size_t img_len;
    if (!fp) {
        fprintf(stderr, "otto-sim: the partition table has no factory app partition\n");
        return 1;
    }
    if (otto_read_file(factory, &img, &img_len) != 0) {
        fprintf(stderr, "otto-sim: cannot read %s: %s\n", factory, strerror(errno));
        return 1;
    }
    if (img_len > fp->size) {
        fprintf(stderr, "otto-sim: %s (%zu bytes) does not fit in factory (%u bytes)\n", factory,
                img_len, fp->size);
        free(img);
        return 1;
    }
    if (sim_write_flash(out, bin, fp, img, img_len, (uint32_t)fsize)) {
        fprintf(stderr, "otto-sim: cannot create %s: %s\n", out, strerror(errno));
        free(img);
        return 1;
    }
    free(img);
    printf("%s: %llu KiB flash, %u partitions, factory app from %s (%zu bytes), eFuse 0\n", out,
           (unsigned long long)fsize / 1024, t.count, factory, img_len);
    if (nkeys) {
        otto_simdev_t d;
        if (otto_simdev_open(&d, out))
            return 1;
        int rc = burn_keys(&d, keys, nkeys);
        if (!rc)
            print_efuse(&d);
        otto_simdev_close(&d);
        return rc;
    }
    return 0;
}

int sim_write_flash(const char *out, const uint8_t table[OTTO_PART_TABLE_LEN], const otto_part_t *factory,
                    const uint8_t *img, size_t len, uint32_t fsize)
{
    char epath[600];
    otto_simdev_t d;
    snprintf(epath, sizeof(epath), "%s.efuse", out);
    remove(out);
    remove(epath);
    if (otto_simdev_open_size(&d, out, fsize))
        return -1;
    otto_simdev_flash_raw(&d, OTTO_PART_TABLE_OFFSET, table, OTTO_PART_TABLE_LEN);
    otto_simdev_flash_raw(&d, factory->offset, img, len);
    otto_simdev_close(&d);
    return 0;
}

int sim_default_table(uint32_t fsize, uint8_t bin[OTTO_PART_TABLE_LEN], otto_part_table_t *t)
{
    otto_part_t parts[OTTO_PARTCSV_MAX];
    otto_partcsv_opts_t po = {OTTO_PART_TABLE_OFFSET, fsize};
    char err[512];
    size_t n;
    if (otto_partcsv_parse(otto_partcsv_default_layout, &po, parts, &n, err, sizeof(err)) ||
        otto_part_encode(parts, n, true, bin))
        return -1;
    return otto_part_parse(bin, OTTO_PART_TABLE_LEN, fsize, t);
}

static void print_boot(const otto_simdev_t *d)
{
    const otto_boot_result_t *b = &d->boot;
    for (unsigned i = 0; i < 2; i++)
        if (b->aborted & (1u << i))
            printf("boot: otadata entry %u was still PENDING_VERIFY -> ABORTED%s\n", i,
                   (b->entry >= 0 && (unsigned)b->entry != i && b->state == OTTO_IMG_VALID)
                       ? " (a stale copy: the confirmed entry wins)"
                       : " (rebooted before confirming: rollback)");
    for (int s = -2; s < 16; s++) {
        char name[16];
        if (!(b->rejected & (1u << (s + 2))))
            continue;
        if (s < 0)
            snprintf(name, sizeof(name), "%s", s == OTTO_BOOT_FACTORY ? "factory" : "test");
        else
            snprintf(name, sizeof(name), "ota_%d", s);
        printf("boot: image in %s rejected (%s)\n", name,
               s == b->chosen_slot ? otto_strerror(b->reject_err) : "does not verify");
    }
    printf("boot: %s v%s (secure_version %u) - %s", b->part->label, b->info.desc.version,
           b->info.desc.secure_version, otto_boot_why_text(b->why));
    if (b->entry >= 0)
        printf(" [entry %d, %s%s]", b->entry, otto_img_state_name(b->state),
               b->pending ? ", was NEW" : "");
    printf("\n");
    if (b->efuse_after != b->efuse_before)
        printf("boot: anti-rollback eFuse raised %u -> %u\n", b->efuse_before, b->efuse_after);
}

static const char usage_boot[] =
    "usage: otto-sim boot --flash FLASH.img [--run] [power-cut options]\n"
    "\n"
    "Power the device on: the bootloader picks a slot and says why. With --run the\n"
    "app then starts: a PENDING_VERIFY image runs its self-test and confirms itself\n"
    "(VALID, eFuse raised) or marks itself INVALID and reboots into the old image.\n"
    "\n"
    "      --flash FILE       the device flash image (required)\n"
    "      --run              start the app after the bootloader\n"
    CUT_HELP
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 booted, 1 nothing bootable or error, 3 power was cut.\n";

int cmd_boot(int argc, char **argv)
{
    static const struct option opts[] = {
        {"flash", required_argument, 0, 'f'}, {"run", no_argument, 0, 'r'}, CUT_OPTS,
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cut_opts_t cut = {0, OTTO_CUT_TORN, 1};
    const char *path = NULL;
    int run = 0, c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if ((r = cut_opt(c, optarg, &cut)) < 0)
            return 2;
        if (r)
            continue;
        switch (c) {
        case 'f': path = optarg; break;
        case 'r': run = 1; break;
        case 'h': fputs(usage_boot, stdout); return 0;
        default: fputs(usage_boot, stderr); return 2;
        }
    }
    if (!path || optind != argc) {
        fputs(usage_boot, stderr);
        return 2;
    }
    otto_simdev_t d;
    if (open_dev(&d, path, &cut))
        return 1;
    int rc = 0;
    for (int boots = 0; boots < 4; boots++) {
        int err = otto_simdev_boot(&d);
        if (power_lost(&d)) { rc = 3; break; }
        if (err) {
            printf("boot: FAILED: %s\n", err == OTTO_E_NOTFOUND ? "no bootable image (the chip would reset and loop)"
                                                                : otto_strerror(err));
            rc = 1;
            break;
        }
        print_boot(&d);
        if (!run)
            break;
        otto_app_outcome_t out;
        err = otto_simdev_app_start(&d, &out);
        if (power_lost(&d)) { rc = 3; break; }
        if (err) {
            printf("app: %s\n", otto_strerror(err));
            rc = 1;
            break;
        }
        if (out == OTTO_APP_CONFIRMED) {
            uint32_t fuse = 0;
            d.efuse.read_secure_version(d.efuse.ctx, &fuse);
            printf("app: v%s self-test passed -> marked VALID (anti-rollback eFuse now %u)\n",
                   d.boot.info.desc.version, fuse);
        } else if (out == OTTO_APP_ROLLED_BACK) {
            printf("app: v%s self-test FAILED -> marked INVALID, rebooting\n", d.boot.info.desc.version);
            continue;
        } else if (out == OTTO_APP_STUCK) {
            printf("app: v%s self-test FAILED but no other image can boot; staying on it\n",
                   d.boot.info.desc.version);
        } else {
            printf("app: v%s running from %s\n", d.boot.info.desc.version, d.boot.part->label);
        }
        break;
    }
    otto_simdev_close(&d);
    return rc;
}

static const char usage_ota[] =
    "usage: otto-sim ota --flash FLASH.img APP.bin [options]\n"
    "\n"
    "Boot the device, then let its running app write APP.bin into the next OTA slot\n"
    "(header checked before anything is written, full verify read back from flash)\n"
    "and select it for the next boot (state NEW). Run 'otto-sim boot --run' next.\n"
    "\n"
    "      --flash FILE       the device flash image (required)\n"
    "      --chunk N          write in chunks of N bytes (default 4096)\n"
    "      --erase MODE       seq (sector by sector, default) | whole | size\n"
    CUT_HELP
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed, 3 power was cut.\n";

int cmd_ota(int argc, char **argv)
{
    static const struct option opts[] = {
        {"flash", required_argument, 0, 'f'}, {"chunk", required_argument, 0, 'k'},
        {"erase", required_argument, 0, 'e'}, CUT_OPTS, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cut_opts_t cut = {0, OTTO_CUT_TORN, 1};
    const char *path = NULL;
    uint32_t erase = OTTO_OTA_SEQUENTIAL;
    uint64_t chunk = 4096;
    int c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if ((r = cut_opt(c, optarg, &cut)) < 0)
            return 2;
        if (r)
            continue;
        switch (c) {
        case 'f': path = optarg; break;
        case 'k':
            if (!otto_parse_size(optarg, &chunk) || chunk == 0 || chunk > 1024 * 1024) {
                fprintf(stderr, "otto-sim: --chunk: '%s' is not a size up to 1M\n", optarg);
                return 2;
            }
            break;
        case 'e':
            if (!strcmp(optarg, "seq")) erase = OTTO_OTA_SEQUENTIAL;
            else if (!strcmp(optarg, "whole")) erase = OTTO_OTA_SIZE_UNKNOWN;
            else if (!strcmp(optarg, "size")) erase = 0;
            else {
                fprintf(stderr, "otto-sim: --erase: expected seq, whole or size\n");
                return 2;
            }
            break;
        case 'h': fputs(usage_ota, stdout); return 0;
        default: fputs(usage_ota, stderr); return 2;
        }
    }
    if (!path || optind + 1 != argc) {
        fputs(usage_ota, stderr);
        return 2;
    }
    const char *app = argv[optind];
    uint8_t *img;
    size_t len;
    if (otto_read_file(app, &img, &len) != 0) {
        fprintf(stderr, "otto-sim: cannot read %s: %s\n", app, strerror(errno));
        return 1;
    }
    otto_simdev_t d;
    if (open_dev(&d, path, &cut)) {
        free(img);
        return 1;
    }
    int rc = 0, err = otto_simdev_boot(&d);
    if (!err) {
        const otto_part_t *next = otto_ota_next_slot(&d.ota);
        printf("ota: running %s v%s; writing %s (%zu bytes) into %s\n", d.boot.part->label,
               d.boot.info.desc.version, app, len, next ? next->label : "(none)");
        err = otto_simdev_install(&d, img, len, (size_t)chunk, erase);
    }
    if (power_lost(&d)) {
        rc = 3;
    } else if (err) {
        printf("ota: REFUSED: %s\n", otto_strerror(err));
        rc = 1;
    } else {
        const otto_part_t *next = otto_ota_next_slot(&d.ota);
        printf("ota: verified and selected %s for the next boot (state NEW); "
               "%llu erases, %llu programs\n", next->label,
               (unsigned long long)d.power.erases, (unsigned long long)d.power.programs);
    }
    otto_simdev_close(&d);
    free(img);
    return rc;
}
