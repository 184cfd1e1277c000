/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mosquitto_otto.so: the broker side of revoking a device. Mosquitto 2.0
 * neither reloads its CA or CRL on SIGHUP nor drops live connections, so a
 * revoked certificate would keep working; this plugin reads the list of
 * revoked things that ottod keeps (one thing name, the certificate's CN, a
 * line) and, within a second of a change:
 *   - denies every publish and delivery of a revoked thing (ACL check), and
 *   - drops its live connections (and again, should it reconnect).
 * Everything else is left to the broker's own checks (acl_file). Load it
 * with two lines in mosquitto.conf (ottod init writes them):
 *   plugin /path/to/mosquitto_otto.so
 *   plugin_opt_revoked DATA/revoked
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_REVOKED 65536

typedef struct {
    mosquitto_plugin_id_t *id;
    char *path;
    char **names;      /* sorted, for bsearch */
    size_t n;
    struct timespec mtime;
    off_t size;
    time_t checked;
} otto_plugin_t;

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void clear(otto_plugin_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        mosquitto_free(p->names[i]);
    mosquitto_free(p->names);
    p->names = NULL;
    p->n = 0;
}

/* Re-read the list when the file changed; a missing file is an empty list. */
static void reload(otto_plugin_t *p)
{
    struct stat st;
    if (stat(p->path, &st) != 0) {
        if (p->n)
            clear(p);
        p->size = -1;
        return;
    }
    if (st.st_mtim.tv_sec == p->mtime.tv_sec && st.st_mtim.tv_nsec == p->mtime.tv_nsec && st.st_size == p->size)
        return;
    FILE *f = fopen(p->path, "r");
    if (!f)
        return;
    clear(p);
    char line[256];
    size_t cap = 0;
    while (fgets(line, sizeof line, f) && p->n < MAX_REVOKED) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        if (p->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **more = mosquitto_realloc(p->names, cap * sizeof *more);
            if (!more)
                break;
            p->names = more;
        }
        if (!(p->names[p->n] = mosquitto_strdup(line)))
            break;
        p->n++;
    }
    fclose(f);
    qsort(p->names, p->n, sizeof *p->names, cmp);
    p->mtime = st.st_mtim;
    p->size = st.st_size;
    mosquitto_log_printf(MOSQ_LOG_INFO, "otto: %zu revoked device%s (%s)", p->n, p->n == 1 ? "" : "s", p->path);
}

static bool revoked(const otto_plugin_t *p, const char *name)
{
    return name && p->n && bsearch(&name, p->names, p->n, sizeof *p->names, cmp);
}

/* At most once a second: re-read the list, drop what it names. Called from
 * the broker's tick, and from every ACL check (the tick comes only when the
 * broker's loop has nothing else to do). */
static void refresh(otto_plugin_t *p, time_t now)
{
    if (now == p->checked)
        return;
    p->checked = now;
    reload(p);
    for (size_t i = 0; i < p->n; i++)
        mosquitto_kick_client_by_username(p->names[i], false);
}

static int on_acl(int event, void *data, void *user)
{
    struct mosquitto_evt_acl_check *e = data;
    (void)event;
    refresh(user, time(NULL));
    return revoked(user, mosquitto_client_username(e->client)) ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_PLUGIN_DEFER;
}

static int on_tick(int event, void *data, void *user)
{
    (void)event;
    (void)data;
    refresh(user, time(NULL));
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int n, const int *versions)
{
    for (int i = 0; i < n; i++)
        if (versions[i] == 5)
            return 5;
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata, struct mosquitto_opt *opts, int nopts)
{
    otto_plugin_t *p = mosquitto_calloc(1, sizeof *p);
    if (!p)
        return MOSQ_ERR_NOMEM;
    p->id = id;
    p->size = -1;
    for (int i = 0; i < nopts; i++)
        if (!strcmp(opts[i].key, "revoked"))
            p->path = mosquitto_strdup(opts[i].value);
    if (!p->path) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "otto: plugin_opt_revoked FILE is missing");
        mosquitto_free(p);
        return MOSQ_ERR_INVAL;
    }
    reload(p);
    *userdata = p;
    if (mosquitto_callback_register(id, MOSQ_EVT_ACL_CHECK, on_acl, NULL, p) ||
        mosquitto_callback_register(id, MOSQ_EVT_TICK, on_tick, NULL, p))
        return MOSQ_ERR_UNKNOWN;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int nopts)
{
    otto_plugin_t *p = userdata;
    (void)opts;
    (void)nopts;
    mosquitto_callback_unregister(p->id, MOSQ_EVT_ACL_CHECK, on_acl, NULL);
    mosquitto_callback_unregister(p->id, MOSQ_EVT_TICK, on_tick, NULL);
    clear(p);
    mosquitto_free(p->path);
    mosquitto_free(p);
    return MOSQ_ERR_SUCCESS;
}
