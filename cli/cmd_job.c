/* SPDX-License-Identifier: Apache-2.0 */
/* otto job create | ls | show | cancel | pause | resume | next-wave | install | watch | template */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "util.h"

static const char usage[] =
    "usage: otto job <command> [options]\n"
    "\n"
    "  create (--device THING | --group G)... --fw ID...  create a job; prints its id\n"
    "  ls                                                list jobs, newest first\n"
    "  show ID                                           counts and every execution\n"
    "  cancel ID [--force] [--reason TEXT]               cancel (--force: also running ones)\n"
    "  pause ID | resume ID                              stop / restart a paced job's releases\n"
    "  next-wave ID                                      start a job's next wave now\n"
    "  install ID                                        a job created --install-later: install now\n"
    "  template create NAME [--fw ID]... [options]       a job's settings by name (create's options)\n"
    "  template list | template show NAME               the templates\n"
    "  watch ID [--interval S] [--timeout S]             live progress until the job ends\n"
    "\n"
    "Server options (every command): --url URL (or OTTO_URL), --token T (or\n"
    "OTTO_TOKEN), --json (print the server's JSON), -q (print only ids).\n"
    "Exit status: 0 ok, 1 refused, 2 usage, 3 server unreachable or failing,\n"
    "4 (watch) the job ended and not every device succeeded.\n";

static const char *const status_order[] = {"SUCCEEDED", "IN_PROGRESS", "QUEUED", "FAILED",
                                           "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"};
#define NSTATUS (sizeof status_order / sizeof *status_order)

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

#define MAX_ARGS 256

/* --waves 10,25%,group:eu -> {"waves": [{"count": 10}, {"percentage": 25}, {"group": "eu"}]} */
static cJSON *waves_json(const char *list)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "waves");
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        cJSON *w = cJSON_CreateObject();
        char *end;
        double v = strtod(t, &end);
        if (!strncmp(t, "group:", 6) && t[6])
            cJSON_AddStringToObject(w, "group", t + 6);
        else if (end != t && !strcmp(end, "%"))
            cJSON_AddNumberToObject(w, "percentage", v);
        else if (end != t && !*end)
            cJSON_AddNumberToObject(w, "count", v);
        else {
            cJSON_Delete(w);
            cJSON_Delete(o);
            die_msg("--waves: '%s' is not a count (10), a percentage (25%%) or a group (group:NAME)", t);
            return NULL;
        }
        cJSON_AddItemToArray(arr, w);
    }
    return o;
}

/* otto job create, or (tpl: its name) otto job template create. */
static int create(int argc, char **argv, const char *tpl)
{
    static const struct option opts[] = {
        {"device", required_argument, 0, 'd'}, {"group", required_argument, 0, 'g'},
        {"fw", required_argument, 0, 'f'},     {"id", required_argument, 0, 'i'},
        {"description", required_argument, 0, 'D'}, {"timeout", required_argument, 0, 't'},
        {"allow-unsigned", no_argument, 0, 'U'}, {"key-update", required_argument, 0, 'K'},
        {"job-executions-rollout-config", required_argument, 0, 'R'}, {"abort-config", required_argument, 0, 'A'},
        {"max-per-minute", required_argument, 0, 'M'}, {"job-executions-retry-config", required_argument, 0, 'Y'},
        {"target-selection", required_argument, 0, 'S'}, {"scheduling-config", required_argument, 0, 'W'},
        {"template", required_argument, 0, 'P'}, {"rollout-waves", required_argument, 0, 'V'},
        {"waves", required_argument, 0, 'w'}, {"wave-success", required_argument, 0, 's'},
        {"wave-error", required_argument, 0, 'e'}, {"wave-pause", no_argument, 0, 'p'},
        {"install-later", no_argument, 0, 'L'}, {"install-window", required_argument, 0, 'N'},
        {"where", required_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},         API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *devices[MAX_ARGS], *groups[MAX_ARGS], *fws[MAX_ARGS];
    const char *id = NULL, *desc = NULL, *where = NULL;
    int nd = 0, ng = 0, nf = 0, timeout = 0, opt, rc;
    bool unsig = false;
    const char *keyupds[2];
    int nk = 0;
    const char *rollout = NULL, *abort_cfg = NULL, *retry_cfg = NULL, *selection = NULL, *sched_cfg = NULL;
    const char *use_tpl = NULL, *waves_cfg = NULL, *waves = NULL, *wave_ok = NULL, *wave_bad = NULL;
    bool wave_pause = false, install_later = false;
    const char *install_windows[8];
    int nwin = 0;
    long per_min = 0;
    while ((opt = getopt_long(argc, argv, "d:g:f:hq", opts, NULL)) != -1) {
        if ((opt == 'd' && nd == MAX_ARGS) || (opt == 'g' && ng == MAX_ARGS) ||
            (opt == 'f' && nf == MAX_ARGS)) {
            die_msg("too many arguments (at most %d of each)", MAX_ARGS);
            return EXIT_USAGE;
        }
        switch (opt) {
        case 'd': devices[nd++] = optarg; break;
        case 'g': groups[ng++] = optarg; break;
        case 'f': fws[nf++] = optarg; break;
        case 'i': id = optarg; break;
        case 'D': desc = optarg; break;
        case 'U': unsig = true; break;
        case 'R': rollout = optarg; break;
        case 'A': abort_cfg = optarg; break;
        case 'Y': retry_cfg = optarg; break;
        case 'S': selection = optarg; break;
        case 'W': sched_cfg = optarg; break;
        case 'P': use_tpl = optarg; break;
        case 'V': waves_cfg = optarg; break;
        case 'w': waves = optarg; break;
        case 's': wave_ok = optarg; break;
        case 'e': wave_bad = optarg; break;
        case 'p': wave_pause = true; break;
        case 'L': install_later = true; break;
        case 'H': where = optarg; break;
        case 'N':
            if (nwin == 8) {
                die_msg("--install-window: at most 8");
                return EXIT_USAGE;
            }
            install_windows[nwin++] = optarg;
            install_later = true;
            break;
        case 'M': per_min = atol(optarg); break;
        case 'K':
            if (nk == 2) {
                die_msg("--key-update: at most 2 per job");
                return EXIT_USAGE;
            }
            keyupds[nk++] = optarg;
            break;
        case 't':
            timeout = atoi(optarg);
            if (timeout < 1 || timeout > 10080) {
                die_msg("--timeout is in minutes, 1 to 10080");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs("usage: otto job create (--device THING | --group G)... --fw ID... [options]\n"
                  "\nCreate a job that updates the devices and every member of the groups\n"
                  "with the firmware (one per ota_type, same product). Older queued jobs\n"
                  "for the same product and ota_types are superseded. Prints the job id.\n\n"
                  "      --id JOBID        choose the id (default job-<time>-<hex>)\n"
                  "      --description T   free text\n"
                  "      --timeout MIN     in-progress timeout per device, minutes\n"
                  "      --allow-unsigned  let firmware without a signature through (recorded in\n"
                  "                        the job); refused otherwise\n"
                  "      --key-update F    a key update from 'otto key update' (up to 2): devices\n"
                  "                        apply it before the firmware (which may be the version\n"
                  "                        they run, for a job that only changes keys)\n"
                  "      --where EXPR      only devices whose hardware matches, e.g. 'slot>=1536K',\n"
                  "                        'chip=esp32s3 and mcu=stm32f407' (keys: chip, chip_rev,\n"
                  "                        flash, slot, mcufw, mcu; = != < <= > >=). Devices an image\n"
                  "                        would not fit are always left out; both are counted\n"
                  "\nRollout, in AWS IoT Jobs' names and limits (JSON inline or @FILE):\n"
                  "      --job-executions-rollout-config JSON   e.g. '{\"maximumPerMinute\": 50,\n"
                  "                        \"exponentialRate\": {\"baseRatePerMinute\": 5, \"incrementFactor\": 2,\n"
                  "                        \"rateIncreaseCriteria\": {\"numberOfNotifiedThings\": 20}}}': devices\n"
                  "                        get the job at that rate; the rest do not see it yet\n"
                  "      --max-per-minute N  the same with only maximumPerMinute (1-1000)\n"
                  "      --abort-config JSON  e.g. '{\"criteriaList\": [{\"failureType\": \"FAILED\",\n"
                  "                        \"action\": \"CANCEL\", \"thresholdPercentage\": 10,\n"
                  "                        \"minNumberOfExecutedThings\": 50}]}': cancel what is still\n"
                  "                        queued once that many ended and that share failed\n"
                  "      --job-executions-retry-config JSON  e.g. '{\"criteriaList\": [{\"failureType\":\n"
                  "                        \"FAILED\", \"numberOfRetries\": 2}]}': a FAILED (or TIMED_OUT)\n"
                  "                        device gets the job again as a new execution; never REJECTED\n"
                  "      --template NAME   start from a job template's settings (these options win)\n"
                  "      --target-selection CONTINUOUS|SNAPSHOT  CONTINUOUS: devices added to the\n"
                  "                        groups later get the job too (the job stays open)\n"
                  "      --scheduling-config JSON  '{\"maintenanceWindows\": [{\"startTime\":\n"
                  "                        \"cron(0 2 ? * SAT *)\", \"durationInMinutes\": 120}]}': devices get\n"
                  "                        the job only inside a window (UTC), at the rollout's rate\n"
                  "\nWaves (otto's, beyond AWS): each starts when the one before reached its\n"
                  "success threshold; an error threshold pauses the job:\n"
                  "      --waves LIST      e.g. 10,25%%,group:eu: the next 10 targets, then a quarter of\n"
                  "                        those left, then group eu's; the rest form one more wave\n"
                  "      --wave-success P  SUCCEEDED share of a wave that starts the next (default 100)\n"
                  "      --wave-error P    FAILED, TIMED_OUT or REJECTED share that pauses the job\n"
                  "      --wave-pause      at its success threshold a wave waits for otto job resume\n"
                  "      --rollout-waves JSON  the whole object, with per-wave thresholds (docs/api.md)\n"
                  "\nInstall later (otto's): devices download and check the image at once, report\n"
                  "'downloaded', and switch to it only when told:\n"
                  "      --install-later   on 'otto job install ID'\n"
                  "      --install-window 'CRON MINUTES'  ... or inside a window, e.g.\n"
                  "                        'cron(0 3 ? * * *) 60' (UTC; up to 8)\n",
                  stdout);
            return EXIT_OK;
        default:
            if (api_opt(&ao, opt, optarg))
                break;
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (tpl && (nd + ng || use_tpl || id)) {
        die_msg("a job template has no targets, id or template of its own");
        return EXIT_USAGE;
    }
    if (optind != argc || (!tpl && ((nf == 0 && !use_tpl) || nd + ng == 0))) {
        die_msg("a job needs --fw ID (or a --template with one) and at least one --device or --group");
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    cJSON *body = cJSON_CreateObject(), *resp;
    if (tpl) {
        cJSON_AddStringToObject(body, "name", tpl);
    } else {
        cJSON *t = cJSON_AddObjectToObject(body, "targets");
        cJSON_AddItemToObject(t, "devices", cJSON_CreateStringArray(devices, nd));
        cJSON_AddItemToObject(t, "groups", cJSON_CreateStringArray(groups, ng));
    }
    if (use_tpl)
        cJSON_AddStringToObject(body, "template", use_tpl);
    if (nf)
        cJSON_AddItemToObject(body, "firmware", cJSON_CreateStringArray(fws, nf));
    if (id)
        cJSON_AddStringToObject(body, "jobId", id);
    if (desc)
        cJSON_AddStringToObject(body, "description", desc);
    if (timeout)
        cJSON_AddNumberToObject(body, "inProgressTimeoutInMinutes", timeout);
    if (unsig)
        cJSON_AddTrueToObject(body, "allowUnsigned");
    if (where)
        cJSON_AddStringToObject(body, "where", where);
    cJSON *cfg;
    if (rollout) {
        if (!(cfg = api_json_arg(rollout, "--job-executions-rollout-config"))) {
            cJSON_Delete(body);
            return EXIT_USAGE;
        }
        cJSON_AddItemToObject(body, "jobExecutionsRolloutConfig", cfg);
    } else if (per_min) {
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(body, "jobExecutionsRolloutConfig"), "maximumPerMinute",
                                (double)per_min);
    }
    if (selection)
        cJSON_AddStringToObject(body, "targetSelection", selection);
    if (waves_cfg || waves) {
        cJSON *wv = waves_cfg ? api_json_arg(waves_cfg, "--rollout-waves") : waves_json(waves);
        if (!wv) {
            cJSON_Delete(body);
            return EXIT_USAGE;
        }
        if (wave_ok)
            cJSON_AddNumberToObject(wv, "successThresholdPercentage", atof(wave_ok));
        if (wave_bad)
            cJSON_AddNumberToObject(wv, "errorThresholdPercentage", atof(wave_bad));
        if (wave_pause)
            cJSON_AddStringToObject(wv, "successAction", "PAUSE");
        cJSON_AddItemToObject(body, "rolloutWaves", wv);
    }
    static const struct { const char *flag, *field; } objs[] = {
        {"--abort-config", "abortConfig"}, {"--job-executions-retry-config", "jobExecutionsRetryConfig"},
        {"--scheduling-config", "schedulingConfig"}};
    const char *vals[] = {abort_cfg, retry_cfg, sched_cfg};
    for (size_t i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        if (!(cfg = api_json_arg(vals[i], objs[i].flag))) {
            cJSON_Delete(body);
            return EXIT_USAGE;
        }
        cJSON_AddItemToObject(body, objs[i].field, cfg);
    }
    if (install_later) {
        cJSON *ic = cJSON_AddObjectToObject(body, "installConfig");
        cJSON_AddTrueToObject(ic, "deferred");
        cJSON *wl = nwin ? cJSON_AddArrayToObject(ic, "installWindows") : NULL;
        for (int i = 0; i < nwin; i++) {
            const char *sp = strrchr(install_windows[i], ' ');
            char cron[128];
            if (!sp || sp == install_windows[i] || (size_t)(sp - install_windows[i]) >= sizeof cron) {
                cJSON_Delete(body);
                die_msg("--install-window '%s': 'cron(...) MINUTES', e.g. 'cron(0 3 ? * * *) 60'", install_windows[i]);
                return EXIT_USAGE;
            }
            snprintf(cron, sizeof cron, "%.*s", (int)(sp - install_windows[i]), install_windows[i]);
            cJSON *w = cJSON_CreateObject();
            cJSON_AddStringToObject(w, "startTime", cron);
            cJSON_AddNumberToObject(w, "durationInMinutes", atoi(sp + 1));
            cJSON_AddItemToArray(wl, w);
        }
    }
    cJSON *ku = nk ? cJSON_AddArrayToObject(body, "keyUpdates") : NULL;
    for (int i = 0; i < nk; i++) {
        size_t len;
        uint8_t *text = NULL;
        cJSON *u = otto_read_file(keyupds[i], &text, &len) == 0 ? cJSON_Parse((char *)text) : NULL;
        free(text);
        if (!cJSON_IsObject(u)) {
            cJSON_Delete(u);
            cJSON_Delete(body);
            die_msg("--key-update %s: not a key update as 'otto key update' writes it", keyupds[i]);
            return EXIT_USAGE;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(u, "keyId"); /* for people; the server wants the rest */
        cJSON_AddItemToArray(ku, u);
    }
    rc = api_call(&ao, "POST", tpl ? "/api/v1/job-templates" : "/api/v1/jobs", body, &resp);
    cJSON_Delete(body);
    if (rc)
        return rc;
    if (tpl) {
        if (!ao.quiet)
            printf("job template %s created\n", tpl);
        cJSON_Delete(resp);
        return EXIT_OK;
    }
    if (ao.json)
        api_print_json(resp);
    else if (ao.quiet)
        puts(api_str(resp, "jobId"));
    else
        printf("%s  %.0f devices\n", api_str(resp, "jobId"), num(resp, "executions"));
    /* Who the job will not reach, and why (on stderr with -q/--json: the
     * output stays what scripts read). */
    const cJSON *lo;
    double left = 0;
    cJSON_ArrayForEach(lo, cJSON_GetObjectItemCaseSensitive(resp, "leftOut"))
        left += num(lo, "devices");
    if (left > 0 && !ao.json) {
        FILE *out = ao.quiet ? stderr : stdout;
        fprintf(out, "left out %.0f target%s:\n", left, left == 1 ? "" : "s");
        cJSON_ArrayForEach(lo, cJSON_GetObjectItemCaseSensitive(resp, "leftOut"))
            fprintf(out, "  %6.0f  %s (e.g. %s)\n", num(lo, "devices"), api_str(lo, "reason"), api_str(lo, "example"));
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

/* "SUCCEEDED 3  IN_PROGRESS 2 ..." of the non-zero counts. */
static void counts_line(const cJSON *counts, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < NSTATUS; i++) {
        double v = num(counts, status_order[i]);
        if (v > 0 && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s %.0f", n ? "  " : "", status_order[i], v);
    }
}

static void print_job_row(const cJSON *j, bool header)
{
    char counts[256];
    if (header)
        printf("%-24s %-12s %-14s %-10s %s\n", "JOB", "STATUS", "PRODUCT", "OTA", "EXECUTIONS");
    counts_line(cJSON_GetObjectItemCaseSensitive(j, "counts"), counts, sizeof counts);
    printf("%-24s %-12s %-14s %-10s %s\n", api_str(j, "jobId"), api_str(j, "status"), api_str(j, "product"),
           api_str(j, "otaTypes"), counts[0] ? counts : "-");
}

static void print_job(const cJSON *j)
{
    const cJSON *ex, *execs = cJSON_GetObjectItemCaseSensitive(j, "executions");
    char counts[256];
    counts_line(cJSON_GetObjectItemCaseSensitive(j, "counts"), counts, sizeof counts);
    printf("job:       %s\nstatus:    %s%s%s%s\nproduct:   %s\nota_types: %s\ncounts:    %s\n",
           api_str(j, "jobId"), api_str(j, "status"), api_str(j, "reason")[0] ? " (" : "", api_str(j, "reason"),
           api_str(j, "reason")[0] ? ")" : "", api_str(j, "product"), api_str(j, "otaTypes"), counts);
    if (api_str(j, "description")[0])
        printf("about:     %s\n", api_str(j, "description"));
    const cJSON *ro = cJSON_GetObjectItemCaseSensitive(j, "rollout");
    if (ro) {
        printf("rollout:   %.0f released, %.0f waiting", num(ro, "released"), num(ro, "waiting"));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ro, "paused")))
            printf(", PAUSED (otto job resume)");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(ro, "windowOpen");
        if (w)
            printf(", maintenance window %s", cJSON_IsTrue(w) ? "open" : "closed");
        if (cJSON_GetObjectItemCaseSensitive(ro, "ratePerMinute"))
            printf(", releasing %.0f a minute", num(ro, "ratePerMinute"));
        putchar('\n');
        if (api_str(ro, "pauseReason")[0])
            printf("why:       %s\n", api_str(ro, "pauseReason"));
        const cJSON *wv;
        cJSON_ArrayForEach(wv, cJSON_GetObjectItemCaseSensitive(ro, "waves")) {
            char what[96], c[256];
            if (api_str(wv, "group")[0])
                snprintf(what, sizeof what, "group %s", api_str(wv, "group"));
            else if (cJSON_GetObjectItemCaseSensitive(wv, "percentage"))
                snprintf(what, sizeof what, "%g%% of the rest", num(wv, "percentage"));
            else if (cJSON_GetObjectItemCaseSensitive(wv, "count"))
                snprintf(what, sizeof what, "next %.0f", num(wv, "count"));
            else
                snprintf(what, sizeof what, "the rest");
            counts_line(cJSON_GetObjectItemCaseSensitive(wv, "counts"), c, sizeof c);
            printf("wave %-4.0f %-8s %-18s %4.0f devices, %4.0f released  %s\n", num(wv, "wave"),
                   api_str(wv, "state"), what, num(wv, "size"), num(wv, "released"), c);
        }
        if (api_str(ro, "next")[0])
            printf("next:      %s\n", api_str(ro, "next"));
    }
    /* Deltas, per image: who took a patch (statusDetails.delta_bytes or
     * stm32_delta_bytes, with the image's size), what it saved, who fell
     * back to the full image. */
    static const char *const dk[2][4] = {{"esp32", "delta_bytes", "size", "delta"},
                                         {"stm32", "stm32_delta_bytes", "stm32_size", "stm32_delta"}};
    for (int k = 0; k < 2; k++) {
        double took = 0, patch_bytes = 0, image_bytes = 0, fell_back = 0;
        cJSON_ArrayForEach(ex, execs) {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(ex, "statusDetails");
            if (api_str(d, dk[k][1])[0] && api_str(d, dk[k][2])[0]) {
                took++;
                patch_bytes += atof(api_str(d, dk[k][1]));
                image_bytes += atof(api_str(d, dk[k][2]));
            }
            fell_back += !strcmp(api_str(d, dk[k][3]), "fallback");
        }
        if (!took && !fell_back)
            continue;
        printf("delta:     %s: %.0f devices took a patch: %.0f bytes instead of %.0f (%.1f %% saved)", dk[k][0], took,
               patch_bytes, image_bytes, image_bytes > 0 ? 100.0 * (1 - patch_bytes / image_bytes) : 0);
        if (fell_back)
            printf("; %.0f fell back to the full image", fell_back);
        putchar('\n');
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "install");
    if (in) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(in, "windowOpen");
        printf("install:   later; %.0f downloaded and waiting; devices told %s%s%s%s\n", num(in, "downloaded"),
               api_str(in, "signal"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "told")) ? " (otto job install)"
               : w ? (cJSON_IsTrue(w) ? " (install window open)" : " (install window closed; next opens at ")
                   : " (until otto job install)",
               w && !cJSON_IsTrue(w) && api_str(in, "nextWindow")[0] ? api_str(in, "nextWindow") : "",
               w && !cJSON_IsTrue(w) ? ")" : "");
    }
    if (cJSON_GetArraySize(execs) == 0)
        return;
    printf("\n%-20s %-12s %4s  %s\n", "THING", "STATUS", "VER", "DETAILS");
    cJSON_ArrayForEach(ex, execs) {
        char *d = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ex, "statusDetails"));
        printf("%-20s %-12s %4.0f  %s\n", api_str(ex, "thingName"), api_str(ex, "status"),
               num(ex, "versionNumber"), d && strcmp(d, "{}") ? d : "");
        free(d);
    }
}

/* The rollout in one line for watch: wave, rate, and why it paused or
 * what comes next. false when the job has no rollout. */
static bool rollout_line(const cJSON *j, char *buf, size_t cap)
{
    const cJSON *ro = cJSON_GetObjectItemCaseSensitive(j, "rollout");
    size_t n = 0;
    if (!ro)
        return false;
    buf[0] = 0;
    if (cJSON_GetObjectItemCaseSensitive(ro, "wave"))
        n += (size_t)snprintf(buf + n, cap - n, "wave %.0f of %d, ", num(ro, "wave"),
                              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ro, "waves")));
    if (n < cap && cJSON_GetObjectItemCaseSensitive(ro, "ratePerMinute"))
        n += (size_t)snprintf(buf + n, cap - n, "%.0f a minute, ", num(ro, "ratePerMinute"));
    if (n < cap)
        snprintf(buf + n, cap - n, "%.0f released, %.0f waiting%s%s", num(ro, "released"), num(ro, "waiting"),
                 api_str(ro, "pauseReason")[0] || api_str(ro, "next")[0] ? "; " : "",
                 api_str(ro, "pauseReason")[0] ? api_str(ro, "pauseReason") : api_str(ro, "next"));
    return true;
}

static void draw_bars(const cJSON *j, double elapsed, bool tty, int *drawn)
{
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(j, "counts");
    double total = num(counts, "total");
    const int width = 30;
    if (tty && *drawn)
        printf("\033[%dA", *drawn); /* back up over the last frame */
    *drawn = 0;
    printf("\033[K%s  %s  %.0f devices  %.0fs\n", api_str(j, "jobId"), api_str(j, "status"), total, elapsed);
    (*drawn)++;
    for (size_t i = 0; i < NSTATUS; i++) {
        double v = num(counts, status_order[i]);
        if (v == 0 && i > 2)
            continue; /* the failure rows only once they happen */
        int fill = total > 0 ? (int)(v * width / total + 0.5) : 0;
        char bar[3 * 40 + 1];
        size_t n = 0;
        for (int k = 0; k < width; k++)
            n += (size_t)snprintf(bar + n, sizeof bar - n, "%s", k < fill ? "\xe2\x96\x88" : "\xc2\xb7");
        printf("\033[K  %-12s %s %6.0f\n", status_order[i], bar, v);
        (*drawn)++;
    }
    char ro[320];
    if (rollout_line(j, ro, sizeof ro)) {
        printf("\033[K  %s\n", ro);
        (*drawn)++;
    }
    fflush(stdout);
}

static int watch(const api_opts_t *ao, const char *id, double interval, double limit)
{
    char path[256], esc[128], line[640], last[640] = "";
    bool tty = isatty(1) && !ao->json;
    int drawn = 0, rc;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(path, sizeof path, "/api/v1/jobs/%s?executions=false", api_escape(id, esc, sizeof esc));
    for (int missed = 0;;) {
        cJSON *j;
        rc = api_call(ao, "GET", path, NULL, &j);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        /* A server busy past the client's 30 s, or restarting, is waited
         * for: ten times in a row, within --timeout, before giving up. */
        if (rc == EXIT_SERVER && ++missed < 10 && (limit <= 0 || el < limit)) {
            fprintf(stderr, "otto: still watching (%d of 10 tries)\n", missed + 1);
            sleep(1);
            continue;
        }
        if (rc)
            return rc;
        missed = 0;
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(j, "counts");
        bool done = strcmp(api_str(j, "status"), "IN_PROGRESS") != 0;
        if (tty) {
            draw_bars(j, el, tty, &drawn);
        } else if (!ao->json) {
            /* Not a terminal: one line each time something changed. */
            counts_line(counts, line, sizeof line);
            char ro[320];
            if (rollout_line(j, ro, sizeof ro)) {
                size_t n = strlen(line);
                snprintf(line + n, sizeof line - n, " | %s", ro);
            }
            if (strcmp(line, last) || done) {
                printf("%6.1fs %s %s\n", el, api_str(j, "status"), line);
                fflush(stdout);
                snprintf(last, sizeof last, "%s", line);
            }
        }
        if (done || (limit > 0 && el >= limit)) {
            double total = num(counts, "total"), ok = num(counts, "SUCCEEDED");
            if (ao->json)
                api_print_json(j);
            else if (!done)
                printf("still %s after %.0fs; stopped watching\n", api_str(j, "status"), el);
            cJSON_Delete(j);
            if (!done)
                return EXIT_FAIL;
            return ok == total ? EXIT_OK : EXIT_JOB;
        }
        cJSON_Delete(j);
        usleep((useconds_t)(interval * 1e6));
    }
}

/* otto job template create NAME ... | list | show NAME */
static int template_cmd(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "create") && argv[2][0] != '-') {
        optind = 1; /* create's options follow the name, which stands where the command would */
        return create(argc - 2, argv + 2, argv[2]);
    }
    api_opts_t ao = {0};
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, API_LONG_OPTS, {0, 0, 0, 0}};
    int opt, rc;
    if (argc < 2) {
        fputs("usage: otto job template create NAME [create's options] | list | show NAME\n", stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs("usage: otto job template create NAME [create's options] | list | show NAME\n", stdout);
            return EXIT_OK;
        }
        if (!api_opt(&ao, opt, optarg)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    bool show = !strcmp(sub, "show");
    if ((!show && strcmp(sub, "list")) || optind != argc - (show ? 1 : 0)) {
        fputs("usage: otto job template create NAME [create's options] | list | show NAME\n", stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    char path[256], esc[128];
    if (show)
        snprintf(path, sizeof path, "/api/v1/job-templates/%s", api_escape(argv[optind], esc, sizeof esc));
    cJSON *resp, *t;
    if ((rc = api_call(&ao, "GET", show ? path : "/api/v1/job-templates", NULL, &resp)))
        return rc;
    if (ao.json || show) {
        api_print_json(resp);
    } else {
        cJSON_ArrayForEach(t, resp) {
            cJSON *copy = cJSON_Duplicate(t, true);
            cJSON_DeleteItemFromObjectCaseSensitive(copy, "name");
            char *txt = cJSON_PrintUnformatted(copy);
            printf("%-20s %s\n", api_str(t, "name"), txt ? txt : "");
            free(txt);
            cJSON_Delete(copy);
        }
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}

int cmd_job(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, 0, 'F'},        {"reason", required_argument, 0, 'r'},
        {"interval", required_argument, 0, 'I'}, {"timeout", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},         API_LONG_OPTS, {0, 0, 0, 0}};
    api_opts_t ao = {0};
    const char *reason = NULL;
    double interval = 0.5, limit = 0;
    bool force = false;
    int opt, rc;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "create"))
        return create(argc - 1, argv + 1, NULL);
    if (!strcmp(cmd, "template"))
        return template_cmd(argc - 1, argv + 1);
    if (strcmp(cmd, "ls") && strcmp(cmd, "show") && strcmp(cmd, "cancel") && strcmp(cmd, "watch") &&
        strcmp(cmd, "pause") && strcmp(cmd, "resume") && strcmp(cmd, "next-wave") && strcmp(cmd, "install")) {
        die_msg("unknown job command '%s' (see 'otto job --help')", cmd);
        return EXIT_USAGE;
    }
    argc--;
    argv++;
    while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (opt) {
        case 'F': force = true; break;
        case 'r': reason = optarg; break;
        case 'I': interval = atof(optarg); break;
        case 'T': limit = atof(optarg); break;
        case 'h': fputs(usage, stdout); return EXIT_OK;
        default:
            if (api_opt(&ao, opt, optarg))
                break;
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    bool need_id = strcmp(cmd, "ls") != 0;
    if (optind != argc - (need_id ? 1 : 0) || interval <= 0) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    if ((rc = api_ready(&ao)))
        return rc;
    if (!strcmp(cmd, "watch"))
        return watch(&ao, argv[optind], interval, limit);

    char path[256], esc[128];
    cJSON *resp, *body = NULL, *j;
    if (!need_id) {
        rc = api_list(&ao, "/api/v1/jobs", "jobs", &resp);
    } else if (!strcmp(cmd, "show")) {
        snprintf(path, sizeof path, "/api/v1/jobs/%s", api_escape(argv[optind], esc, sizeof esc));
        rc = api_call(&ao, "GET", path, NULL, &resp);
    } else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") || !strcmp(cmd, "next-wave") ||
               !strcmp(cmd, "install")) {
        snprintf(path, sizeof path, "/api/v1/jobs/%s/%s", api_escape(argv[optind], esc, sizeof esc), cmd);
        body = cJSON_CreateObject();
        rc = api_call(&ao, "POST", path, body, &resp);
        cJSON_Delete(body);
    } else {
        snprintf(path, sizeof path, "/api/v1/jobs/%s/cancel",
                 api_escape(argv[optind], esc, sizeof esc));
        body = cJSON_CreateObject();
        cJSON_AddBoolToObject(body, "force", force);
        if (reason)
            cJSON_AddStringToObject(body, "reason", reason);
        rc = api_call(&ao, "POST", path, body, &resp);
        cJSON_Delete(body);
    }
    if (rc)
        return rc;
    if (ao.json) {
        api_print_json(resp);
    } else if (!need_id) {
        bool first = true;
        cJSON_ArrayForEach(j, resp) {
            if (ao.quiet)
                puts(api_str(j, "jobId"));
            else
                print_job_row(j, first);
            first = false;
        }
        if (first && !ao.quiet)
            puts("no jobs");
    } else if (!ao.quiet) {
        print_job(resp);
    }
    cJSON_Delete(resp);
    return EXIT_OK;
}
