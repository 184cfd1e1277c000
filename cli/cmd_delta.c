/* SPDX-License-Identifier: Apache-2.0 */
/* otto delta make | apply | info: otto's delta patches on the host (the
 * apply runs the device's own decoder). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "delta.h"
#include "otto/crypto.h"
#include "otto/delta.h"
#include "otto/err.h"
#include "util.h"

static const char usage[] =
    "usage: otto delta <command> [options]\n"
    "\n"
    "  make BASE TARGET -o PATCH [--block-size N]  a patch that turns BASE into TARGET\n"
    "  apply BASE PATCH -o TARGET                    apply one (the device's decoder)\n"
    "  info PATCH                                    what a patch says: images, sizes, blocks\n"
    "\n"
    "--block-size: target bytes per independently decoded block (a power of two,\n"
    "4K to 1M; default 64K): a device resumes at a block after a power cut.\n";

static int load(const char *path, uint8_t **b, size_t *n)
{
    if (otto_read_file(path, b, n)) {
        die_msg("cannot read %s", path);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int make(const char *base, const char *target, const char *out, uint32_t block)
{
    uint8_t *b = NULL, *t = NULL, *p = NULL;
    size_t bn, tn, pn;
    int rc = load(base, &b, &bn);
    if (!rc)
        rc = load(target, &t, &tn);
    if (!rc) {
        double t0 = otto_mono_s();
        int err = otto_delta_make(b, bn, t, tn, block, &p, &pn);
        if (err) {
            die_msg("delta make: %s", otto_strerror(err));
            rc = EXIT_FAIL;
        } else if (otto_write_file(out, p, pn)) {
            die_msg("cannot write %s", out);
            rc = EXIT_FAIL;
        } else {
            printf("%s: %zu bytes (%.1f %% of %zu), made in %.2f s\n", out, pn, 100.0 * (double)pn / (double)(tn ? tn : 1),
                   tn, otto_mono_s() - t0);
        }
    }
    free(b);
    free(t);
    free(p);
    return rc;
}

static int apply(const char *base, const char *patch, const char *out)
{
    uint8_t *b = NULL, *p = NULL, *t = NULL;
    size_t bn, pn, tn;
    int rc = load(base, &b, &bn);
    if (!rc)
        rc = load(patch, &p, &pn);
    if (!rc) {
        int err = otto_delta_apply(b, bn, p, pn, &t, &tn);
        if (err == OTTO_E_VERIFY) {
            die_msg("%s is not the base %s was made for (or the result's SHA-256 differs)", base, patch);
            rc = EXIT_FAIL;
        } else if (err) {
            die_msg("delta apply: %s: %s", patch, otto_strerror(err));
            rc = EXIT_FAIL;
        } else if (otto_write_file(out, t, tn)) {
            die_msg("cannot write %s", out);
            rc = EXIT_FAIL;
        } else {
            printf("%s: %zu bytes, SHA-256 as the patch says\n", out, tn);
        }
    }
    free(b);
    free(p);
    free(t);
    return rc;
}

static int info(const char *patch)
{
    uint8_t *p = NULL;
    size_t pn;
    otto_delta_header_t h;
    char bs[65], ts[65];
    if (load(patch, &p, &pn))
        return EXIT_FAIL;
    int err = otto_delta_header_read(p, pn, &h);
    if (err) {
        die_msg("%s: not an otto delta patch (%s)", patch, otto_strerror(err));
        free(p);
        return EXIT_FAIL;
    }
    otto_hex(h.base_sha256, 32, bs);
    otto_hex(h.target_sha256, 32, ts);
    printf("patch:   %zu bytes, format %d\nbase:    %u bytes, sha256 %s\ntarget:  %u bytes, sha256 %s\n"
           "blocks:  %u of %u bytes\n",
           pn, OTTO_DELTA_VERSION, h.base_size, bs, h.target_size, ts, h.nblocks, h.block_size);
    free(p);
    return EXIT_OK;
}

int cmd_delta(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"block-size", required_argument, 0, 'b'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *out = NULL;
    uint64_t block = 0;
    int opt;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'b':
            if (!otto_parse_size(optarg, &block) || block < 4096 || block > (1u << 20) || (block & (block - 1))) {
                die_msg("--block-size: a power of two from 4K to 1M");
                return EXIT_USAGE;
            }
            break;
        case 'h': fputs(usage, stdout); return EXIT_OK;
        default: fputs(usage, stderr); return EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    if (!strcmp(cmd, "make") && nargs == 2 && out)
        return make(argv[optind], argv[optind + 1], out, (uint32_t)block);
    if (!strcmp(cmd, "apply") && nargs == 2 && out)
        return apply(argv[optind], argv[optind + 1], out);
    if (!strcmp(cmd, "info") && nargs == 1)
        return info(argv[optind]);
    fputs(usage, stderr);
    return EXIT_USAGE;
}
