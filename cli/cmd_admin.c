/* SPDX-License-Identifier: Apache-2.0 */
/* otto admin backup: the whole deployment in one file (server/backup.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "cli.h"

static const char usage[] =
    "usage: otto admin backup FILE\n"
    "\n"
    "Take a backup of the running server (admin token): the database (a\n"
    "consistent snapshot, taken online: devices keep updating meanwhile),\n"
    "firmware and delta patches, the CA and its key, the link secret, the\n"
    "admin token, signing keys, tokens and the configuration, as one gzip'd tar\n"
    "written to FILE (mode 0600). It holds the keys devices trust: keep it as\n"
    "you keep them. Restore with 'ottod restore FILE --data DIR'.\n";

static int backup(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    int opt, rc;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    const char *file = argv[optind];
    char *counts = NULL;
    if ((rc = api_save(&ao, "POST", "/api/v1/admin/backup", file, "Otto-Backup-Counts", &counts)))
        return rc;
    struct stat st;
    cJSON *c = counts ? cJSON_Parse(counts) : NULL, *v;
    if (ao.json) {
        api_print_json(c);
    } else if (!ao.quiet) {
        printf("backup %s: %lld bytes;", file, stat(file, &st) ? -1LL : (long long)st.st_size);
        cJSON_ArrayForEach(v, c)
            printf(" %s %.0f", v->string, cJSON_IsNumber(v) ? v->valuedouble : 0.0);
        printf("\nit holds the CA key and the secrets: keep it as you keep them\n");
    }
    cJSON_Delete(c);
    free(counts);
    return EXIT_OK;
}

int cmd_admin(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "backup"))
        return backup(argc - 1, argv + 1);
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fputs(usage, help ? stdout : stderr);
    return help ? EXIT_OK : EXIT_USAGE;
}
