/* SPDX-License-Identifier: Apache-2.0 */
/* For scripts/size.sh: a device image made of what a device calls, so that
 * --gc-sections leaves what a product pays for (libc and mbedTLS are not
 * counted: they stay unresolved, as the product links its own). */
#include "otto/agent.h"
#include "otto/boot.h"
#include "otto/kv.h"
#include "otto/relay.h"
/* What a device calls: the bootloader's decision, the app's confirm, the
 * store, the agent's events (the relay runs inside the agent). */
void *volatile keep[] = {
    (void *)otto_boot_select, (void *)otto_ota_mark_valid, (void *)otto_ota_mark_invalid_and_reboot,
    (void *)otto_ota_running_state, (void *)otto_part_load, (void *)otto_part_store, (void *)otto_ota_ctx_init,
    (void *)otto_image_read_head, (void *)otto_kv_mount, (void *)otto_kv_store, (void *)otto_agent_init,
    (void *)otto_agent_connected, (void *)otto_agent_disconnected, (void *)otto_agent_message,
    (void *)otto_agent_http_head, (void *)otto_agent_http_data, (void *)otto_agent_http_end,
    (void *)otto_agent_tick, (void *)otto_agent_topics, (void *)otto_agent_relay_due, (void *)otto_agent_relay_work,
};
void _start(void) { for (unsigned i = 0;; i++) ((void (*)(void))keep[i % (sizeof keep / sizeof *keep)])(); }
