/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto-agent: the otto device agent on a Linux gateway. One agent, its
 * flash a file or a partition (ESP-IDF's layout: partition table at
 * 0x8000, otadata, app slots, ottokv), the network through ports/linux/net.
 *
 * Its contract with the system (docs/architecture.md, "otto-agent"):
 *   - at start it runs the boot decision over the flash (the bootloader's
 *     job on a module), then the booted image's self-test: --selftest CMD
 *     is run by /bin/sh with OTTO_VERSION and OTTO_SLOT in its
 *     environment; exit 0 confirms a new image, anything else rolls it back;
 *   - the agent's restart (after switching to a new image, or a rollback)
 *     is every write synced, then exit status 10; the supervisor answers
 *     by starting it again (docs/otto-agent.service does, with
 *     RestartForceExitStatus=10);
 *   - SIGTERM or SIGINT: a clean stop, exit 0; 1: it cannot run (flash,
 *     table, store); 2: bad command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flash.h"
#include "net.h"
#include "otto/agent.h"
#include "otto/boot.h"
#include "otto/image.h"
#include "otto/kv.h"
#include "otto/ota.h"
#include "otto/part.h"
#include "uart.h"
#include "verify.h"

#define EXIT_RESTART 10

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static const char usage[] =
    "usage: otto-agent --flash FILE --thing THING [options]\n"
    "\n"
    "Run the otto device agent on this machine: boot decision over FILE (a flash\n"
    "image or partition in ESP-IDF's layout), self-test, then take jobs from the\n"
    "update server over MQTT until stopped.\n"
    "\n"
    "  -f, --flash FILE       the flash (a file or block device)\n"
    "  -t, --thing THING      this device's thing name\n"
    "  -m, --mqtt HOST:PORT   the broker (default 127.0.0.1:1883)\n"
    "      --size N           flash bytes (default: the file's size, or 4M for a new file)\n"
    "      --product P        accept jobs for this product only\n"
    "      --selftest CMD     run CMD (sh -c) to judge a new image: exit 0 confirms it\n"
    "      --mcu-tty DEV      the serial line to an STM32's ROM bootloader\n"
    "      --checkpoint N     save download progress every N bytes (default 16K)\n"
    "      --ca CA.crt        TLS: the CA of the broker's and the download server's\n"
    "                         certificates (MQTT over TLS, HTTPS downloads)\n"
    "      --cert F --key F   this device's certificate (CN = thing) and key\n"
    "      --trust PUB.pem    a public key this device trusts (up to 3): every image must\n"
    "                         carry a signature one of them verifies\n"
    "      --allow-unsigned   also take images without a signature\n"
    "      --poll S           with no job, ask for the next one every S seconds (default 300;\n"
    "                         0: never): the net under a notification that was lost\n"
    "      --mcu-part P       what the MCU is (e.g. stm32f103), told to the server so that\n"
    "                         jobs can be aimed at hardware variants\n"
    "  -v, --verbose          log what the agent does (twice: every MQTT message)\n"
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 cannot run, 2 bad command line,\n"
    "10 restart me (a new image was selected, or a rollback): the supervisor\n"
    "starts it again.\n";

static int verbose;

static void logline(otto_link_t *l, const char *msg)
{
    (void)l;
    if (verbose)
        fprintf(stderr, "otto-agent: %s\n", msg);
}

/* The self-test: the image runs it as its first act after a switch. */
static int selftest(const char *cmd, const char *version, const char *slot)
{
    if (!cmd)
        return 0;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setenv("OTTO_VERSION", version, 1);
        setenv("OTTO_SLOT", slot, 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"flash", required_argument, 0, 'f'},    {"thing", required_argument, 0, 't'},
        {"mqtt", required_argument, 0, 'm'},     {"size", required_argument, 0, 'S'},
        {"product", required_argument, 0, 'p'},  {"selftest", required_argument, 0, 's'},
        {"mcu-tty", required_argument, 0, 'u'},  {"checkpoint", required_argument, 0, 'c'},
        {"trust", required_argument, 0, 'K'},    {"allow-unsigned", no_argument, 0, 'Z'},
        {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
        {"ca", required_argument, 0, 'A'},       {"cert", required_argument, 0, 'C'},
        {"key", required_argument, 0, 'k'},      {"poll", required_argument, 0, 'P'},
        {"mcu-part", required_argument, 0, 'M'},
        {0, 0, 0, 0}};
    const char *path = NULL, *thing = NULL, *mqtt = "127.0.0.1:1883", *product = NULL, *test = NULL, *tty = NULL;
    const char *ca = NULL, *cert = NULL, *key = NULL, *mcu_part = NULL;
    unsigned long size = 0, checkpoint = 0;
    double poll_s = 300;
    bool allow_unsigned = false;
    static otto_linux_keys_t keys;
    otto_linux_keys_init(&keys);
    int c;
    while ((c = getopt_long(argc, argv, "f:t:m:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'f': path = optarg; break;
        case 't': thing = optarg; break;
        case 'm': mqtt = optarg; break;
        case 'S': size = strtoul(optarg, NULL, 0); break;
        case 'p': product = optarg; break;
        case 's': test = optarg; break;
        case 'u': tty = optarg; break;
        case 'c': checkpoint = strtoul(optarg, NULL, 0); break;
        case 'Z': allow_unsigned = true; break;
        case 'A': ca = optarg; break;
        case 'C': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'M': mcu_part = optarg; break;
        case 'P':
            poll_s = atof(optarg);
            if (poll_s < 0 || poll_s > 86400) {
                fprintf(stderr, "otto-agent: --poll: seconds between 0 and 86400\n");
                return 2;
            }
            break;
        case 'K':
            if (otto_linux_keys_add(&keys, optarg)) {
                fprintf(stderr, "otto-agent: --trust %s: not an ECDSA P-256 public key in PEM, or more than %d\n",
                        optarg, OTTO_LINUX_KEYS);
                return 2;
            }
            break;
        case 'v': verbose++; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    char host[256];
    int port = 1883;
    const char *colon = strrchr(mqtt, ':');
    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - mqtt) : (int)strlen(mqtt), mqtt);
    if (colon)
        port = atoi(colon + 1);
    if (!path || !thing || optind != argc || port <= 0 || port > 65535) {
        fprintf(stderr, "otto-agent: --flash and --thing are needed\n%s", usage);
        return 2;
    }
    struct stat st;
    if (!size)
        size = !stat(path, &st) && S_ISREG(st.st_mode) && st.st_size > 0 ? (unsigned long)st.st_size : 4ul << 20;

    /* Power on: the boot decision, as the module's bootloader makes it. */
    otto_linux_flash_t lf;
    otto_flash_t flash;
    otto_efuse_t efuse;
    otto_platform_t plat = {&flash, &efuse, OTTO_CHIP_ESP32, 300, 1, 1, NULL};
    otto_part_table_t table;
    otto_boot_result_t boot;
    otto_ota_ctx_t ota;
    int err = otto_linux_flash_open(&lf, path, (uint32_t)size, 4096);
    if (err) {
        fprintf(stderr, "otto-agent: %s: %s\n", path, strerror(errno));
        return 1;
    }
    otto_linux_flash_hal(&lf, &flash, &efuse);
    if ((err = otto_part_load(&flash, OTTO_PART_TABLE_OFFSET, &table)) ||
        (err = otto_boot_select(&plat, &table, &boot))) {
        fprintf(stderr, "otto-agent: %s: no bootable image (%s)\n", path, otto_strerror(err));
        return 1;
    }
    otto_ota_ctx_init(&ota, &plat, &table, boot.part);
    otto_image_info_t self;
    if ((err = otto_image_read_head(&flash, boot.part->offset, boot.part->size, &self))) {
        fprintf(stderr, "otto-agent: the booted image: %s\n", otto_strerror(err));
        return 1;
    }
    fprintf(stderr, "otto-agent: %s runs %s from %s\n", thing, self.desc.version, boot.part->label);

    /* The image's first act: judge itself when it is new. */
    uint32_t state = 0;
    if (boot.slot >= 0 && boot.why != OTTO_BOOT_FALLBACK && !otto_ota_running_state(&ota, &state) &&
        state == OTTO_IMG_PENDING_VERIFY) {
        int rc = selftest(test, self.desc.version, boot.part->label);
        if (rc == 0) {
            err = otto_ota_mark_valid(&ota);
            fprintf(stderr, "otto-agent: self-test passed: %s confirmed%s\n", self.desc.version,
                    err ? " (but marking it valid failed)" : "");
        } else {
            err = otto_ota_mark_invalid_and_reboot(&ota);
            fprintf(stderr, "otto-agent: self-test failed (%d): rolling back%s\n", rc,
                    err ? " impossible: nothing else to boot" : "");
            if (!err) {
                otto_linux_flash_close(&lf);
                sync();
                return EXIT_RESTART;
            }
        }
    }

    /* otto's store: its own partition, never the application's nvs. */
    const otto_part_t *kvp = otto_part_store(&table);
    otto_kv_t kv;
    otto_store_t store;
    if (!kvp || otto_kv_mount(&kv, &flash, kvp->offset, kvp->size, true, NULL)) {
        fprintf(stderr, "otto-agent: no store: the table needs an ottokv partition\n");
        return 1;
    }
    otto_kv_store(&kv, &store);

    static otto_agent_t agent;
    static otto_link_t link;
    otto_agent_port_t aport;
    otto_net_t net;
    otto_linux_uart_t line;
    otto_uart_t uart;
    static const otto_link_hooks_t hooks = {NULL, NULL, NULL, logline};
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (otto_net_init(&net)) {
        fprintf(stderr, "otto-agent: cannot start libcurl\n");
        return 1;
    }
    link.hooks = &hooks;
    otto_link_init(&link, &net, &agent, thing, host, port);
    link.verbose = verbose;
    link.tls_ca = ca; /* TLS: the broker and downloads checked against this CA */
    link.tls_cert = cert;
    link.tls_key = key;
    otto_link_port(&link, &aport);
    static otto_delta_t delta; /* delta updates: the decoder's 31.5 KiB */
    otto_agent_config_t cfg = {.thing = thing, .product = product, .ota = &ota, .store = &store,
                               .port = &aport, .checkpoint_bytes = (uint32_t)checkpoint,
                               .mcu_part = mcu_part, .allow_unsigned = allow_unsigned, .delta = &delta,
                               .idle_poll_ms = (uint32_t)(poll_s * 1000)};
    aport.verify = otto_linux_verify;
    /* Manufacture: --trust keys go into the store once (later lists are
     * the device's own, rotated by signed key updates). */
    if (keys.n && (err = otto_trust_provision(&store, (const uint8_t(*)[OTTO_KEY_LEN])keys.key, keys.n))) {
        fprintf(stderr, "otto-agent: cannot store the trusted keys: %s\n", otto_strerror(err));
        return 1;
    }
    if (tty) {
        if (otto_linux_uart_open(&line, tty, 115200)) {
            fprintf(stderr, "otto-agent: %s: %s\n", tty, strerror(errno));
            return 1;
        }
        otto_linux_uart_hal(&line, &uart);
        cfg.mcu_uart = &uart;
    }
    if ((err = otto_agent_init(&agent, &cfg, self.desc.version))) {
        fprintf(stderr, "otto-agent: %s\n", otto_strerror(err));
        return 1;
    }
    otto_link_t *links[1] = {&link};
    otto_link_start(&link);
    while (!stop_flag && !link.reboot_pending) {
        otto_net_turn(&net, links, 1, 100, NULL);
        otto_link_service(&link, otto_net_now());
    }
    bool restart = link.reboot_pending;
    otto_link_stop(&link);
    otto_net_close(&net);
    if (tty)
        otto_linux_uart_close(&line);
    otto_linux_flash_close(&lf); /* every write was synced as it was made */
    sync();
    curl_global_cleanup();
    mosquitto_lib_cleanup();
    if (restart)
        fprintf(stderr, "otto-agent: restarting into the new image\n");
    return restart ? EXIT_RESTART : 0;
}
