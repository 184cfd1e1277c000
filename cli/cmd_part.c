/* SPDX-License-Identifier: Apache-2.0 */
/* otto part gen | show */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "otto/part.h"
#include "partcsv.h"
#include "util.h"

static const char usage_gen[] =
    "usage: otto part gen TABLE.csv -o TABLE.bin [options]\n"
    "\n"
    "Compile an ESP-IDF partition CSV into the binary table the bootloader reads,\n"
    "byte for byte as ESP-IDF's gen_esp32part.py does.\n"
    "\n"
    "  -o, --output FILE     where to write the 0xC00-byte table (required)\n"
    "      --offset ADDR     flash offset of the table (default 0x8000)\n"
    "      --flash-size SIZE check that every partition fits (e.g. 4MB)\n"
    "      --no-md5          leave out the MD5 entry (--disable-md5sum)\n"
    "  -h, --help            this text\n";

static const char usage_show[] =
    "usage: otto part show TABLE.bin [--csv]\n"
    "\n"
    "Check a binary partition table (entries, MD5 entry, end marker) and print it.\n"
    "\n"
    "      --csv             print it as ESP-IDF CSV instead of a table\n"
    "  -h, --help            this text\n";

static void size_text(uint32_t v, char *buf, size_t n)
{
    if (v % (1024 * 1024) == 0)
        snprintf(buf, n, "%uM", v / (1024 * 1024));
    else if (v % 1024 == 0)
        snprintf(buf, n, "%uK", v / 1024);
    else
        snprintf(buf, n, "%u", v);
}

static int part_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"offset", required_argument, 0, 'O'},
        {"flash-size", required_argument, 0, 'F'}, {"no-md5", no_argument, 0, 'N'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    otto_partcsv_opts_t po = {OTTO_PART_TABLE_OFFSET, 0};
    const char *out = NULL;
    int md5 = 1, c;
    uint64_t v;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'O':
            if (!otto_parse_size(optarg, &v) || v % 0x1000 || v > 0xFFFFFFFFu) {
                die_msg("--offset: '%s' is not a 4 KiB-aligned address", optarg);
                return EXIT_USAGE;
            }
            po.table_offset = (uint32_t)v;
            break;
        case 'F':
            if (!otto_parse_size(optarg, &v) || v == 0 || v > 0xFFFFFFFFu) {
                die_msg("--flash-size: '%s' is not a size such as 4MB", optarg);
                return EXIT_USAGE;
            }
            po.flash_size = (uint32_t)v;
            break;
        case 'N': md5 = 0; break;
        case 'h': fputs(usage_gen, stdout); return EXIT_OK;
        default: fputs(usage_gen, stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        fputs(usage_gen, stderr);
        return EXIT_USAGE;
    }
    const char *in = argv[optind];
    uint8_t *text;
    size_t len, n;
    char err[512];
    otto_part_t parts[OTTO_PARTCSV_MAX];
    uint8_t bin[OTTO_PART_TABLE_LEN];

    if (otto_read_file(in, &text, &len) != 0) {
        die_msg("cannot read %s: %s", in, strerror(errno));
        return EXIT_FAIL;
    }
    if (memchr(text, 0, len) || (len >= 2 && text[0] == 0xAA && text[1] == 0x50)) {
        die_msg("%s looks like a binary table; use 'otto part show %s'", in, in);
        free(text);
        return EXIT_FAIL;
    }
    int rc = otto_partcsv_parse((const char *)text, &po, parts, &n, err, sizeof(err));
    free(text);
    if (rc) {
        die_msg("%s: %s", in, err);
        return EXIT_FAIL;
    }
    rc = otto_part_encode(parts, n, md5, bin);
    if (rc == OTTO_E_NOSPC) {
        die_msg("%s: %zu partitions%s do not fit in the 0xC00-byte table (at most %d)", in, n,
                md5 ? " plus the MD5 entry" : "", md5 ? 94 : 95);
        return EXIT_FAIL;
    }
    if (rc || otto_write_file(out, bin, sizeof(bin)) != 0) {
        die_msg("cannot write %s: %s", out, rc ? otto_strerror(rc) : strerror(errno));
        return EXIT_FAIL;
    }
    printf("%s: %zu partitions%s -> %s (%u bytes)\n", in, n, md5 ? " + MD5" : "", out,
           OTTO_PART_TABLE_LEN);
    return EXIT_OK;
}

static int part_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv", no_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int csv = 0, c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': csv = 1; break;
        case 'h': fputs(usage_show, stdout); return EXIT_OK;
        default: fputs(usage_show, stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fputs(usage_show, stderr);
        return EXIT_USAGE;
    }
    const char *in = argv[optind];
    uint8_t *raw;
    size_t len;
    otto_part_table_t t;

    if (otto_read_file(in, &raw, &len) != 0) {
        die_msg("cannot read %s: %s", in, strerror(errno));
        return EXIT_FAIL;
    }
    /* A whole flash image holds the table at 0x8000. */
    const uint8_t *tab = raw;
    if (len > OTTO_PART_TABLE_OFFSET + OTTO_PART_TABLE_LEN && !(raw[0] == 0xAA && raw[1] == 0x50))
        tab = raw + OTTO_PART_TABLE_OFFSET;
    else if (len < OTTO_PART_TABLE_LEN) {
        uint8_t *nr = realloc(raw, OTTO_PART_TABLE_LEN); /* short file: pad like erased flash */
        if (!nr) { free(raw); return EXIT_FAIL; }
        memset(nr + len, 0xFF, OTTO_PART_TABLE_LEN - len);
        raw = nr;
        tab = raw;
    }
    int rc = otto_part_parse(tab, OTTO_PART_TABLE_LEN, 0, &t);
    free(raw);
    if (rc) {
        die_msg("%s: not a valid partition table: %s", in, otto_strerror(rc));
        return EXIT_FAIL;
    }
    if (csv)
        puts("# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags");
    else
        printf("%s: %u partitions, MD5 %s\n%-16s %-6s %-9s %-10s %-10s %s\n", in, t.count,
               t.has_md5 ? "ok" : "absent", "Name", "Type", "SubType", "Offset", "Size", "Flags");
    for (unsigned i = 0; i < t.count; i++) {
        const otto_part_t *p = &t.part[i];
        char ty[8], st[8], sz[16], fl[32] = "";
        const char *tn = otto_part_type_name(p->type), *sn = otto_part_subtype_name(p->type, p->subtype);
        snprintf(ty, sizeof(ty), "0x%02x", p->type);
        snprintf(st, sizeof(st), "0x%02x", p->subtype);
        size_text(p->size, sz, sizeof(sz));
        if (p->flags & OTTO_PART_FLAG_ENCRYPTED) strcat(fl, "encrypted");
        if (p->flags & OTTO_PART_FLAG_READONLY) strcat(fl, fl[0] ? ":readonly" : "readonly");
        if (csv)
            printf("%s,%s,%s,0x%x,%s,%s\n", p->label, tn ? tn : ty, sn ? sn : st, p->offset, sz, fl);
        else
            printf("%-16s %-6s %-9s 0x%-8x 0x%-8x %s\n", p->label, tn ? tn : ty, sn ? sn : st,
                   p->offset, p->size, fl);
    }
    return EXIT_OK;
}

int cmd_part(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs("usage: otto part gen TABLE.csv -o TABLE.bin | otto part show TABLE.bin\n"
              "Run 'otto part gen --help' or 'otto part show --help' for options.\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "gen"))
        return part_gen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show"))
        return part_show(argc - 1, argv + 1);
    die_msg("part: unknown subcommand '%s' (gen, show)", argv[1]);
    return EXIT_USAGE;
}
