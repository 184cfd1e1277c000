/* SPDX-License-Identifier: Apache-2.0 */
/*
 * otto-sim device | fleet: simulated modules running the real device agent
 * against a real broker and ottod.
 *
 * Each device is a flash file (with its eFuse file) plus, while powered, a
 * link of the Linux port (ports/linux/net.c: its MQTT client and download)
 * and the agent's RAM. One event loop serves every device, so a thousand
 * devices are one thread. What is the simulator's is here: power, faults
 * on the network (through the link's hooks) and the emulated MCUs.
 *
 * Power: a device reboots when its agent asks; a power cut (--cuts) is armed
 * on the simulated flash at a random moment of a download and lands on the
 * next flash operation (torn); one of --relay-cuts lands at a random byte
 * of the serial line to the MCU. Then the device loses everything but its
 * flash, stays dark for a moment, boots, and its agent resumes.
 *
 * MCU: behind every module sits an emulated STM32 in its ROM bootloader
 * (sim/stm32.c), in a thread of its own, on a real pseudo-terminal
 * (DIR/THING.tty) with its flash in DIR/THING.mcu; --no-mcu leaves it out.
 * The relay blocks on the serial line, so slices of it run on a pool of
 * worker threads (otto_agent_relay_work) while the loop serves the rest;
 * a module whose slice is running is left alone by the loop until it ends.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "otto/agent.h"
#include "otto/kv.h"
#include "otto/image.h"
#include "net.h"
#include "partcsv.h"
#include "verify.h"
#include "sim.h"
#include "simdev.h"
#include "stm32.h"
#include "uart.h"
#include "util.h"

#define DARK_MS 300u /* how long a device stays off after a cut */
#define WORKERS 8    /* relay slices running at once */

enum { RL_IDLE = 0, RL_QUEUED, RL_RUNNING, RL_DONE }; /* node_t.rl */

typedef struct fleet fleet_t;

typedef struct {
    fleet_t *f;
    int idx;
    char thing[64];
    char path[512];
    char tls_ca[600], tls_cert[600], tls_key[600]; /* --creds: DIR/ca.crt, DIR/THING.crt, DIR/THING.key */
    /* survives power cycles: only counters for the report */
    unsigned boots, cuts, jobs_seen;
    bool cut_planned, cut_done;
    double cut_at_fraction;
    int drops_left;       /* --drops: connections still to break */
    bool drop_now;
    double drop_at_fraction;
    /* the MCU behind the module, and the line to it */
    sim_stm32_t *emu;
    char tty[512];
    otto_linux_uart_t line;
    otto_uart_t line_hal, uart;
    bool line_open;
    uint64_t line_bytes;       /* sent to the MCU, over all boots */
    bool relay_cut_planned, relay_cut_done;
    uint64_t relay_cut_at;     /* cut when this many bytes have been sent */
    atomic_int rl;             /* a relay slice: queued for, or on, a worker */
    /* lost at every power cycle */
    bool on;
    uint32_t back_at;
    otto_simdev_t dev;
    otto_kv_t kv;
    otto_store_t store;
    otto_agent_t agent;
    otto_delta_t delta; /* the module's delta decoder (its port's memory) */
    otto_agent_port_t port;
    char version[32];
    otto_link_t link;     /* MQTT and downloads: ports/linux/net.c */
} node_t;

struct fleet {
    otto_net_t net;
    otto_link_t **links;
    node_t *nodes;
    int n;
    const char *host;
    int port;
    const char *product;
    uint32_t checkpoint;
    long rate;      /* bytes/s per download, 0 = as fast as loopback goes */
    int cuts, drops, relay_cuts;
    bool mcu;
    const char *mcu_part, *mcu_version;
    bool small_flash;             /* --small-flash */
    char mcu_model[24];           /* what the hello says the MCU is: "stm32" + mcu_part */
    bool mcu_mute, mcu_rdp, mcu_unprotect;
    bool allow_unsigned;     /* --allow-unsigned: the agents take images without a signature */
    uint32_t poll_ms;        /* --poll: idle agents ask for their next job this often */
    otto_linux_keys_t keys;  /* --trust: the public keys the devices trust */
    const char *sb_keys[OTTO_SBV2_KEYS]; /* --secure-boot-key: burnt into each eFuse */
    const char *creds;       /* --creds DIR: TLS with a certificate per device */
    unsigned sb_n;
    double mcu_brownout;
    uint64_t mcu_cut_op;
    uint64_t rng;
    int verbose;
    uint32_t t0;
    /* relay workers */
    pthread_t workers[WORKERS];
    int nworkers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int queued, next_scan;
    bool quit;
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static uint64_t rnd(fleet_t *f) { return otto_xorshift64(&f->rng); }

static void say(node_t *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(node_t *n, const char *fmt, ...)
{
    va_list ap;
    if (!n->f->verbose)
        return;
    fprintf(stderr, "%7.2f %s ", (double)(otto_mono_ms() - n->f->t0) / 1000.0, n->thing);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- faults on the network (the link's hooks) --------------------------- */

/* --rate: libcurl's own limit lets loopback bursts through, so the
 * simulated link paces itself, with 100 ms of burst. */
static bool over_budget(const node_t *n)
{
    if (!n->f->rate)
        return false;
    uint64_t allowed = (uint64_t)n->f->rate * (otto_mono_ms() - n->link.rx_t0 + 100u) / 1000u;
    return n->link.rx > allowed;
}

static bool h_gate(otto_link_t *l, size_t len)
{
    (void)len;
    return !over_budget(l->user);
}

static bool h_done(otto_link_t *l, size_t len)
{
    node_t *n = l->user;
    (void)len;
    /* A planned cut lands at a random point of the download: on the next
     * flash operation, torn. */
    uint32_t done = 0, total = 0;
    otto_agent_progress(&n->agent, &done, &total);
    if (n->cut_planned && !n->cut_done && total && done >= (uint32_t)(n->cut_at_fraction * total)) {
        n->cut_done = true;
        otto_power_arm(&n->dev.power, 1, OTTO_CUT_TORN, rnd(n->f)); /* the next op */
    }
    /* A planned drop breaks the connection here, as a flaky link would. */
    if (n->drops_left && total && done >= (uint32_t)(n->drop_at_fraction * total)) {
        n->drops_left--;
        n->drop_at_fraction += (1.0 - n->drop_at_fraction) * (double)(rnd(n->f) % 700 + 100) / 1000.0;
        n->drop_now = true; /* the loop breaks it: not from inside curl */
    }
    return !n->dev.power.off;
}

static bool h_alive(otto_link_t *l)
{
    node_t *n = l->user;
    return n->on && !n->dev.power.off;
}

static void h_log(otto_link_t *l, const char *msg)
{
    say(l->user, "%s", msg);
}

static const otto_link_hooks_t hooks = {h_gate, h_done, h_alive, h_log};

/* The module's UART to the MCU: the pty, through a tap that counts bytes
 * and makes a --relay-cuts power cut land between two of them. */
static int u_write(void *ctx, const void *buf, size_t len)
{
    node_t *n = ctx;
    if (n->dev.power.off)
        return OTTO_E_IO;
    if (n->relay_cut_planned && !n->relay_cut_done && n->line_bytes + len >= n->relay_cut_at) {
        size_t k = (size_t)(n->relay_cut_at - n->line_bytes);
        n->relay_cut_done = true;
        if (k)
            n->line_hal.write(n->line_hal.ctx, buf, k); /* the first bytes leave, the rest never do */
        n->line_bytes += k;
        n->dev.power.off = true;
        return OTTO_E_IO;
    }
    n->line_bytes += len;
    return n->line_hal.write(n->line_hal.ctx, buf, len);
}

/* BOOT0 high, pulse NRST: the emulated MCU restarts in its bootloader. */
static void p_mcu_bootloader(void *ctx)
{
    node_t *n = ((otto_link_t *)ctx)->user; /* the port's ctx is the link */
    if (n->emu && !n->dev.power.off)
        sim_stm32_reset(n->emu);
}

/* BOOT0 low, pulse NRST: the MCU runs its application, deaf to the
 * bootloader protocol until mcu_bootloader. */
static void p_mcu_run(void *ctx)
{
    node_t *n = ((otto_link_t *)ctx)->user;
    if (!n->emu || n->dev.power.off)
        return;
    sim_stm32_run(n->emu);
    say(n, "MCU runs its application (BOOT0 low, reset)");
}

static int u_read(void *ctx, void *buf, size_t len, uint32_t timeout_ms)
{
    node_t *n = ctx;
    if (n->dev.power.off)
        return OTTO_E_IO;
    return n->line_hal.read(n->line_hal.ctx, buf, len, timeout_ms);
}

static void u_flush(void *ctx)
{
    node_t *n = ctx;
    if (n->line_hal.flush_input)
        n->line_hal.flush_input(n->line_hal.ctx);
}

/* ---- power ---------------------------------------------------------------- */

static void power_off(node_t *n)
{
    if (!n->on)
        return;
    otto_link_stop(&n->link);
    if (n->line_open)
        otto_linux_uart_close(&n->line);
    n->line_open = false;
    otto_simdev_close(&n->dev);
    n->on = false;
}

static int power_on(node_t *n)
{
    otto_app_outcome_t out;
    otto_image_info_t self;
    otto_kv_mount_t how;
    memset(&n->dev, 0, sizeof n->dev);
    if (otto_simdev_open(&n->dev, n->path))
        return -1;
    for (unsigned i = 0; i < n->f->sb_n; i++) /* at manufacture; burning twice is a no-op */
        if (otto_simdev_secure_boot_key(&n->dev, n->f->sb_keys[i])) {
            fprintf(stderr, "otto-sim: --secure-boot-key %s: not an RSA-3072 or ECDSA P-256 key in PEM\n",
                    n->f->sb_keys[i]);
            otto_simdev_close(&n->dev);
            return -1;
        }
    n->on = true;
    n->boots++;
    for (int tries = 0; tries < 3; tries++) {
        if (otto_simdev_boot(&n->dev) || otto_simdev_app_start(&n->dev, &out))
            return -1;
        if (out != OTTO_APP_ROLLED_BACK)
            break; /* rolled back: the app restarts at once */
        say(n, "self-test failed: rolled back, restarting");
    }
    if (otto_image_read_head(&n->dev.flash, n->dev.boot.part->offset, n->dev.boot.part->size, &self))
        return -1;
    snprintf(n->version, sizeof n->version, "%.31s", self.desc.version);
    const otto_part_t *kvp = otto_part_store(&n->dev.table);
    if (!kvp || otto_kv_mount(&n->kv, &n->dev.flash, kvp->offset, kvp->size, true, &how))
        return -1;
    otto_kv_store(&n->kv, &n->store);
    /* Manufacture: the --trust keys go into the store once; a list that
     * is there already (perhaps rotated since) is the device's own. */
    if (n->f->keys.n &&
        otto_trust_provision(&n->store, (const uint8_t(*)[OTTO_KEY_LEN])n->f->keys.key, n->f->keys.n))
        return -1;
    n->link.hooks = &hooks;
    n->link.user = n;
    otto_link_init(&n->link, &n->f->net, &n->agent, n->thing, n->f->host, n->f->port);
    n->link.small_buffers = n->f->rate != 0;
    if (n->f->creds) {
        snprintf(n->tls_ca, sizeof n->tls_ca, "%s/ca.crt", n->f->creds);
        snprintf(n->tls_cert, sizeof n->tls_cert, "%s/%s.crt", n->f->creds, n->thing);
        snprintf(n->tls_key, sizeof n->tls_key, "%s/%s.key", n->f->creds, n->thing);
        n->link.tls_ca = n->tls_ca;
        n->link.tls_cert = n->tls_cert;
        n->link.tls_key = n->tls_key;
    }
    n->link.verbose = n->f->verbose;
    otto_link_port(&n->link, &n->port);
    n->port.mcu_bootloader = p_mcu_bootloader;
    n->port.verify = otto_linux_verify; /* over the keys in the device's store */
    n->port.mcu_run = p_mcu_run;
    otto_agent_config_t cfg = {.thing = n->thing, .product = n->f->product, .ota = &n->dev.ota,
                               .store = &n->store, .port = &n->port, .checkpoint_bytes = n->f->checkpoint,
                               .retry_ms = 500, .mcu_version = n->f->mcu_version,
                               .mcu_part = n->emu ? n->f->mcu_model : NULL,
                               .mcu_unprotect = n->f->mcu_unprotect, .allow_unsigned = n->f->allow_unsigned,
                               .delta = &n->delta, .idle_poll_ms = n->f->poll_ms};
    if (n->emu) {
        if (otto_linux_uart_open(&n->line, n->tty, 115200)) {
            fprintf(stderr, "otto-sim: %s: cannot open %s: %s\n", n->thing, n->tty, strerror(errno));
            return -1;
        }
        n->line_open = true;
        otto_linux_uart_hal(&n->line, &n->line_hal);
        n->uart = (otto_uart_t){n, u_write, u_read, u_flush};
        cfg.mcu_uart = &n->uart;
        cfg.mcu_worker = n->f->nworkers > 0;
    }
    if (otto_agent_init(&n->agent, &cfg, n->version))
        return -1;
    say(n, "boot %u: running %s (%s), MCU %s, agent %s", n->boots, n->version,
        otto_simdev_running_label(&n->dev), n->agent.mcu_version[0] ? n->agent.mcu_version : "-",
        otto_agent_phase(&n->agent));
    otto_link_start(&n->link);
    return 0;
}

/* ---- relay workers -------------------------------------------------------- */

static void *relay_worker(void *arg)
{
    fleet_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->quit && f->queued == 0)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->quit)
            break;
        node_t *n = NULL;
        for (int k = 0; k < f->n && !n; k++) {
            node_t *c = &f->nodes[(f->next_scan + k) % f->n];
            if (atomic_load(&c->rl) == RL_QUEUED)
                n = c;
        }
        if (!n) {
            f->queued = 0;
            continue;
        }
        f->next_scan = n->idx + 1;
        f->queued--;
        atomic_store(&n->rl, RL_RUNNING);
        pthread_mutex_unlock(&f->mu);
        otto_agent_relay_work(&n->agent);
        atomic_store(&n->rl, RL_DONE);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void relay_queue(node_t *n)
{
    fleet_t *f = n->f;
    pthread_mutex_lock(&f->mu);
    atomic_store(&n->rl, RL_QUEUED);
    f->queued++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* A module is the loop's when no worker has it. */
static bool node_free(node_t *n)
{
    int st = atomic_load(&n->rl);
    if (st == RL_DONE)
        atomic_store(&n->rl, st = RL_IDLE);
    return st == RL_IDLE;
}

static void workers_start(fleet_t *f)
{
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    for (int i = 0; i < WORKERS; i++)
        if (!pthread_create(&f->workers[f->nworkers], NULL, relay_worker, f))
            f->nworkers++;
}

static void workers_stop(fleet_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->quit = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < f->nworkers; i++)
        pthread_join(f->workers[i], NULL);
    f->nworkers = 0;
}

/* ---- the loop ------------------------------------------------------------- */

static void service_node(node_t *n, uint32_t now)
{
    if (!n->on) {
        if (n->back_at && (int32_t)(now - n->back_at) >= 0) {
            n->back_at = 0;
            if (power_on(n))
                fprintf(stderr, "otto-sim: %s: cannot boot\n", n->thing);
        }
        return;
    }
    if (n->dev.power.off) {
        say(n, "POWER CUT during %s", otto_agent_phase(&n->agent));
        n->cuts++;
        power_off(n);
        n->back_at = now + DARK_MS;
        return;
    }
    if (n->link.reboot_pending) {
        n->link.reboot_pending = false;
        say(n, "rebooting into the new image");
        power_off(n);
        if (power_on(n))
            fprintf(stderr, "otto-sim: %s: cannot boot\n", n->thing);
        return;
    }
    if (n->drop_now) {
        n->drop_now = false;
        if (n->link.http_on) {
            say(n, "connection dropped at byte %u", n->agent.written);
            otto_link_break(&n->link);
        }
    }
    if (n->link.paused && !over_budget(n))
        otto_link_resume(&n->link);
    otto_link_service(&n->link, now); /* reconnects, and the agent's tick */
    if (n->emu && n->f->nworkers && otto_agent_relay_due(&n->agent) && !n->dev.power.off)
        relay_queue(n);
}

static bool busy(otto_link_t *l)
{
    node_t *n = l->user; /* NULL: a device that never powered on */
    return !n || !n->on || !node_free(n);
}

static void run(fleet_t *f, double duration_s)
{
    uint32_t end = duration_s > 0 ? otto_mono_ms() + (uint32_t)(duration_s * 1000) : 0;
    while (!stop_flag && (!end || (int32_t)(otto_mono_ms() - end) < 0)) {
        otto_net_turn(&f->net, f->links, f->n, 20, busy);
        uint32_t now = otto_mono_ms();
        for (int i = 0; i < f->n; i++)
            if (node_free(&f->nodes[i]))
                service_node(&f->nodes[i], now);
    }
}

/* ---- commands ------------------------------------------------------------- */

/* The module's MCU: flash beside the module's, a pty linked beside too. */
static int start_mcu(node_t *n)
{
    char flash[520];
    const char *dot = strrchr(n->path, '.');
    int base = dot && !strchr(dot, '/') ? (int)(dot - n->path) : (int)strlen(n->path);
    snprintf(n->tty, sizeof n->tty, "%.*s.tty", base, n->path);
    snprintf(flash, sizeof flash, "%.*s.mcu", base, n->path);
    n->emu = calloc(1, sizeof *n->emu);
    if (!n->emu)
        return -1;
    sim_stm32_init(n->emu);
    n->emu->rng ^= (uint64_t)(n->idx + 1) * 0x9E3779B97F4A7C15ull;
    n->emu->mute = n->f->mcu_mute;
    n->emu->brownout = n->f->mcu_brownout;
    n->emu->cut_op = n->f->mcu_cut_op;
    n->emu->rdp_default = n->f->mcu_rdp;
    n->emu->down_ms = 20;
    if (sim_stm32_set_part(n->emu, n->f->mcu_part)) {
        fprintf(stderr, "otto-sim: --mcu-part: f103 or f407\n");
        return -1;
    }
    if (sim_stm32_open(n->emu, n->tty, flash))
        return -1;
    n->emu->boot0 = false; /* the product runs: its MCU runs its application */
    n->emu->app = true;
    if (sim_stm32_start(n->emu))
        return -1;
    return 0;
}

/* --small-flash: what a fleet of thousands fits on a disk: no factory
 * partition and no MCU staging, two 1 MiB OTA slots, the factory image
 * in ota_0 (an empty otadata boots it, as ESP-IDF's bootloader does). */
#define SMALL_FLASH_SIZE 0x214000u
static const char small_layout[] =
    "nvs,      data, nvs,     0x9000,   0x4000,\n"
    "otadata,  data, ota,     0xd000,   0x2000,\n"
    "phy_init, data, phy,     0xf000,   0x1000,\n"
    "ota_0,    app,  ota_0,   0x10000,  1M,\n"
    "ota_1,    app,  ota_1,   0x110000, 1M,\n"
    "ottokv,   data, ottokv,  0x210000, 16K,\n";

static int provision(const char *path, const uint8_t *img, size_t len, bool small)
{
    uint8_t bin[OTTO_PART_TABLE_LEN];
    otto_part_table_t t;
    struct stat sb;
    if (!stat(path, &sb))
        return 0; /* keep its flash: that is the point */
    if (!img) {
        fprintf(stderr, "otto-sim: %s does not exist; give --factory to make it\n", path);
        return -1;
    }
    uint32_t fsize = small ? SMALL_FLASH_SIZE : OTTO_SIM_FLASH_SIZE;
    const otto_part_t *fp = NULL;
    if (small) {
        otto_part_t parts[OTTO_PARTCSV_MAX];
        otto_partcsv_opts_t po = {OTTO_PART_TABLE_OFFSET, fsize};
        char err[256];
        size_t n;
        if (otto_partcsv_parse(small_layout, &po, parts, &n, err, sizeof err) || otto_part_encode(parts, n, true, bin) ||
            otto_part_parse(bin, OTTO_PART_TABLE_LEN, fsize, &t))
            return -1;
        fp = otto_part_find(&t, OTTO_PART_TYPE_APP, OTTO_PART_SUB_OTA_MIN, NULL);
    } else {
        if (sim_default_table(fsize, bin, &t))
            return -1;
        fp = otto_part_find(&t, OTTO_PART_TYPE_APP, OTTO_PART_SUB_FACTORY, NULL);
    }
    if (!fp || len > fp->size || sim_write_flash(path, bin, fp, img, len, fsize)) {
        fprintf(stderr, "otto-sim: cannot make %s\n", path);
        return -1;
    }
    return 0;
}

static void report(const fleet_t *f)
{
    printf("%-20s %-9s %-9s %-6s %-5s %-8s %-9s %s\n", "THING", "RUNNING", "MCU", "BOOTS", "CUTS", "MCU-CUTS",
           "MCU-RUNS", "AGENT");
    for (int i = 0; i < f->n; i++) {
        const node_t *n = &f->nodes[i];
        printf("%-20s %-9s %-9s %-6u %-5u %-8lu %-9s %s\n", n->thing, n->version,
               n->emu ? (n->agent.mcu_version[0] ? n->agent.mcu_version : "?") : "-", n->boots, n->cuts,
               n->emu ? n->emu->cuts : 0ul, !n->emu ? "-" : n->emu->app ? "app" : "bootload",
               n->on ? otto_agent_phase(&n->agent) : "off");
    }
}

/* Each module holds its flash file, an MQTT and an HTTP socket open, and
 * with an MCU a pseudo-terminal's two ends, the MCU's flash and the
 * relay's line: ask for the hard limit and refuse, rather than fail
 * device by device, when a fleet cannot fit in one process. */
static int fd_budget(int count, bool mcu)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)count * (mcu ? 7 : 3) + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 0;
    if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= need)
        return 0;
    fprintf(stderr,
            "otto-sim: %d devices need about %llu open files; this process may have %llu (ulimit -n).\n"
            "otto-sim: run fewer devices per process (several otto-sim fleet processes with different --prefix)\n",
            count, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
    return 1;
}

static const char usage_fleet[] =
    "usage: otto-sim fleet --count N --dir DIR [options]\n"
    "       otto-sim device --flash FILE --thing THING [options]\n"
    "\n"
    "Run simulated modules with the otto device agent until SIGINT/SIGTERM\n"
    "(or --duration). Each has its own flash file; one event loop runs them all.\n"
    "\n"
    "  -n, --count N          fleet: how many devices (things PREFIX:00:01, ...)\n"
    "  -d, --dir DIR          fleet: where their flash files live (made if missing)\n"
    "      --prefix P         fleet: thing name prefix (default 24:0a:c4:00)\n"
    "      --flash FILE       device: its flash file\n"
    "      --thing T          device: its thing name\n"
    "  -f, --factory FILE     factory image for devices whose flash does not exist\n"
    "  -m, --mqtt HOST:PORT   the broker (default 127.0.0.1:1883)\n"
    "      --product P        product the agent accepts jobs for (default: any)\n"
    "      --checkpoint N     save download progress every N bytes (default 16K)\n"
    "      --rate N           limit each download to N bytes/s (a slow link)\n"
    "      --cuts K           cut the power of K random devices mid-download\n"
    "      --relay-cuts K     cut the power of K random devices mid-relay to the MCU\n"
    "      --no-mcu           modules without an MCU behind them\n"
    "      --small-flash      with --no-mcu: new flash files of 2.1 MiB (two 1 MiB OTA\n"
    "                         slots, no factory app; the factory image goes in ota_0)\n"
    "      --mcu-part P       the emulated MCU: f103 (default) or f407\n"
    "      --mcu-version V    what the MCUs run from the factory (default 1.0.0)\n"
    "      --mcu-mute         MCUs that never answer\n"
    "      --mcu-rdp          MCUs made read-protected (RDP level 1) when their flash is new\n"
    "      --mcu-unprotect    the agents may unprotect them (which erases their flash)\n"
    "      --trust PUB.pem    a public key the devices trust (up to 3; as at manufacture):\n"
    "                         an image must carry a signature one of them verifies\n"
    "      --allow-unsigned   the devices also take images without a signature\n"
    "      --poll S           with no job, each device asks for its next one every S\n"
    "                         seconds (default: never, notifications only)\n"
    "      --creds DIR        TLS: DIR/ca.crt, and DIR/THING.crt + DIR/THING.key for each\n"
    "                         device (otto device add THING --cert-out DIR)\n"
    "      --secure-boot-key PUB.pem\n"
    "                         Secure Boot v2 on: this key's digest in every eFuse (up to\n"
    "                         3); apps must carry a block it signed (otto image sign)\n"
    "      --mcu-brownout P   MCUs lose power at each flash operation with probability P\n"
    "                         (torn; back in their bootloader 20 ms later)\n"
    "      --mcu-cut-op N     each MCU loses power at its N-th flash operation, as above\n"
    "      --drops K          break every device's download connection K times\n"
    "      --seed S           for --cuts (default 1)\n"
    "      --duration S       stop after S seconds\n"
    "      --things-file F    write the thing names there, one per line, and go on\n"
    "  -v, --verbose          log what each device does (twice: every MQTT message)\n"
    "  -h, --help             this text\n"
    "\n"
    "With an MCU (the default), each module's is an emulated STM32 on a\n"
    "pseudo-terminal (DIR/THING.tty, or FILE.tty), its flash in .mcu beside.\n"
    "At exit it prints one line per device: running versions, boots, power cuts\n"
    "(of the module, and of its MCU).\n";

static int fleet_main(int argc, char **argv, bool single)
{
    static const struct option opts[] = {
        {"count", required_argument, 0, 'n'}, {"dir", required_argument, 0, 'd'},
        {"prefix", required_argument, 0, 'P'}, {"flash", required_argument, 0, 'F'},
        {"thing", required_argument, 0, 'T'}, {"factory", required_argument, 0, 'f'},
        {"mqtt", required_argument, 0, 'm'}, {"product", required_argument, 0, 'p'},
        {"checkpoint", required_argument, 0, 'k'}, {"cuts", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'}, {"duration", required_argument, 0, 'D'},
        {"things-file", required_argument, 0, 'W'}, {"verbose", no_argument, 0, 'v'},
        {"rate", required_argument, 0, 'R'}, {"drops", required_argument, 0, 'X'},
        {"poll", required_argument, 0, 1003}, {"small-flash", no_argument, 0, 1004},
        {"relay-cuts", required_argument, 0, 'Y'}, {"no-mcu", no_argument, 0, 'N'},
        {"mcu-part", required_argument, 0, 'Q'}, {"mcu-version", required_argument, 0, 'V'},
        {"mcu-mute", no_argument, 0, 'U'}, {"mcu-brownout", required_argument, 0, 'B'},
        {"mcu-cut-op", required_argument, 0, 'J'}, {"mcu-rdp", no_argument, 0, 'G'}, {"mcu-unprotect", no_argument, 0, 'H'},
        {"trust", required_argument, 0, 'K'}, {"allow-unsigned", no_argument, 0, 'Z'},
        {"secure-boot-key", required_argument, 0, 1001}, {"creds", required_argument, 0, 1002},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    fleet_t f = {0};
    otto_linux_keys_init(&f.keys);
    const char *dir = NULL, *prefix = "24:0a:c4:00", *flash = NULL, *thing = NULL, *factory = NULL;
    const char *mqtt = "127.0.0.1:1883", *things_file = NULL;
    uint64_t v;
    double duration = 0;
    int count = single ? 1 : 0, c;
    char host[128];

    f.product = "";
    f.rng = 1;
    f.mcu = true;
    f.mcu_part = "f103";
    f.mcu_version = "1.0.0";
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:d:f:m:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': count = atoi(optarg); break;
        case 'd': dir = optarg; break;
        case 'P': prefix = optarg; break;
        case 'F': flash = optarg; break;
        case 'T': thing = optarg; break;
        case 'f': factory = optarg; break;
        case 'm': mqtt = optarg; break;
        case 'p': f.product = optarg; break;
        case 'k':
            if (!otto_parse_size(optarg, &v) || v == 0 || v > 1u << 24) {
                fprintf(stderr, "otto-sim: --checkpoint: '%s' is not a size\n", optarg);
                return 2;
            }
            f.checkpoint = (uint32_t)v;
            break;
        case 'c': f.cuts = atoi(optarg); break;
        case 'X': f.drops = atoi(optarg); break;
        case 'Y': f.relay_cuts = atoi(optarg); break;
        case 'N': f.mcu = false; break;
        case 'Q': f.mcu_part = optarg; break;
        case 'V': f.mcu_version = optarg; break;
        case 'U': f.mcu_mute = true; break;
        case 'B': f.mcu_brownout = atof(optarg); break;
        case 'G': f.mcu_rdp = true; break;
        case 'J': f.mcu_cut_op = strtoull(optarg, NULL, 10); break;
        case 'H': f.mcu_unprotect = true; break;
        case 'Z': f.allow_unsigned = true; break;
        case 1004: f.small_flash = true; break;
        case 1003: f.poll_ms = (uint32_t)(atof(optarg) * 1000); break;
        case 1002: f.creds = optarg; break;
        case 1001:
            if (f.sb_n == OTTO_SBV2_KEYS) {
                fprintf(stderr, "otto-sim: --secure-boot-key: at most %d keys\n", OTTO_SBV2_KEYS);
                return 2;
            }
            f.sb_keys[f.sb_n++] = optarg;
            break;
        case 'K':
            if (otto_linux_keys_add(&f.keys, optarg)) {
                fprintf(stderr, "otto-sim: --trust %s: not an ECDSA P-256 public key in PEM, or more than %d keys\n",
                        optarg, OTTO_LINUX_KEYS);
                return 2;
            }
            break;
        case 's': f.rng = strtoull(optarg, NULL, 10) * 2654435761u + 1; break;
        case 'D': duration = atof(optarg); break;
        case 'W': things_file = optarg; break;
        case 'R':
            if (!otto_parse_size(optarg, &v) || v == 0) {
                fprintf(stderr, "otto-sim: --rate: '%s' is not a size\n", optarg);
                return 2;
            }
            f.rate = (long)v;
            break;
        case 'v': f.verbose++; break;
        case 'h': fputs(usage_fleet, stdout); return 0;
        default: fputs(usage_fleet, stderr); return 2;
        }
    }
    const char *colon = strrchr(mqtt, ':');
    if (optind != argc || count < 1 || count > 100000 || !colon || colon == mqtt ||
        (single ? (!flash || !thing) : !dir)) {
        fputs(usage_fleet, stderr);
        return 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - mqtt), mqtt);
    snprintf(f.mcu_model, sizeof f.mcu_model, "stm32%.16s", f.mcu_part);
    if (f.small_flash && f.mcu) {
        fprintf(stderr, "otto-sim: --small-flash has no MCU staging partition: add --no-mcu\n");
        return 2;
    }
    if (fd_budget(count, f.mcu))
        return 1;
    f.host = host;
    f.port = atoi(colon + 1);

    uint8_t *img = NULL;
    size_t img_len = 0;
    if (factory && otto_read_file(factory, &img, &img_len)) {
        fprintf(stderr, "otto-sim: cannot read %s: %s\n", factory, strerror(errno));
        return 1;
    }
    if (dir && mkdir(dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "otto-sim: cannot make %s: %s\n", dir, strerror(errno));
        free(img);
        return 1;
    }
    f.n = count;
    f.nodes = calloc((size_t)count, sizeof *f.nodes);
    f.links = calloc((size_t)count, sizeof *f.links);
    for (int i = 0; i < count; i++)
        f.links[i] = &f.nodes[i].link;
    FILE *tf = things_file ? fopen(things_file, "w") : NULL;
    for (int i = 0; i < count; i++) {
        node_t *n = &f.nodes[i];
        n->f = &f;
        n->idx = i;
        if (single) {
            snprintf(n->thing, sizeof n->thing, "%s", thing);
            snprintf(n->path, sizeof n->path, "%s", flash);
        } else {
            snprintf(n->thing, sizeof n->thing, "%s:%02x:%02x", prefix, (i + 1) >> 8, (i + 1) & 0xFF);
            char file[64];
            snprintf(file, sizeof file, "%s", n->thing);
            for (char *p = file; *p; p++)
                if (*p == ':')
                    *p = '-';
            snprintf(n->path, sizeof n->path, "%s/%s.img", dir, file);
        }
        if (tf)
            fprintf(tf, "%s\n", n->thing);
        if (provision(n->path, img, img_len, f.small_flash)) {
            free(img);
            return 1;
        }
        if (f.mcu && start_mcu(n)) {
            free(img);
            return 1;
        }
    }
    if (tf)
        fclose(tf);
    free(img);
    for (int i = 0; i < count; i++) {
        f.nodes[i].drops_left = f.drops;
        f.nodes[i].drop_at_fraction = 0.05 + (double)(rnd(&f) % 400) / 1000.0;
    }
    /* Choose who loses power, and when. */
    for (int k = 0; k < f.cuts && k < count; k++) {
        node_t *n;
        do
            n = &f.nodes[rnd(&f) % (uint64_t)count];
        while (n->cut_planned);
        n->cut_planned = true;
        n->cut_at_fraction = 0.1 + (double)(rnd(&f) % 800) / 1000.0;
    }
    /* A relay cut: at a random byte of the first 60 KiB or so sent to the
     * MCU (erase commands, blocks, read-backs: wherever it falls). */
    for (int k = 0; f.mcu && k < f.relay_cuts && k < count; k++) {
        node_t *n;
        do
            n = &f.nodes[rnd(&f) % (uint64_t)count];
        while (n->relay_cut_planned);
        n->relay_cut_planned = true;
        n->relay_cut_at = 200 + rnd(&f) % 60000;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    otto_net_init(&f.net);
    f.t0 = otto_mono_ms();
    fprintf(stderr, "otto-sim: %d device%s on %s:%d%s\n", count, count == 1 ? "" : "s", host, f.port,
            f.cuts ? ", power cuts planned" : "");
    if (f.mcu)
        workers_start(&f);
    for (int i = 0; i < count; i++)
        if (power_on(&f.nodes[i]))
            fprintf(stderr, "otto-sim: %s: cannot boot %s\n", f.nodes[i].thing, f.nodes[i].path);
    run(&f, duration);
    if (f.nworkers)
        workers_stop(&f); /* every slice under way ends first */
    report(&f);
    for (int i = 0; i < count; i++) {
        power_off(&f.nodes[i]);
        if (f.nodes[i].emu) {
            sim_stm32_close(f.nodes[i].emu);
            free(f.nodes[i].emu);
        }
    }
    otto_net_close(&f.net);
    curl_global_cleanup();
    mosquitto_lib_cleanup();
    free(f.nodes);
    free(f.links);
    return 0;
}

int cmd_fleet(int argc, char **argv) { return fleet_main(argc, argv, false); }
int cmd_device(int argc, char **argv) { return fleet_main(argc, argv, true); }
