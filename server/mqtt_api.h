/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side of the job protocol: AWS IoT Jobs' MQTT API
 * ($aws/things/{thing}/jobs/...) plus otto's hello topic, on which a device
 * reports its product and the versions it runs (otto/things/{thing}/hello).
 *
 * srv_mqtt_api_handle() takes one received message and answers it through
 * the engine's publish callback: every request gets an accepted or a
 * rejected reply (InvalidTopic, InvalidJson, InvalidRequest,
 * ResourceNotFound, VersionMismatch, InvalidStateTransition,
 * TerminalStateReached, InternalError), never silence. Messages ottod itself
 * publishes (replies, notify) are ignored if they come back.
 */
#ifndef SRV_MQTT_API_H
#define SRV_MQTT_API_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

/** Subscriptions ottod needs (NULL-terminated). */
extern const char *const srv_mqtt_api_topics[];
/** The requests alone, by name: a shared subscription's (no no-local there). */
extern const char *const srv_mqtt_api_shared_topics[];
/** ... and those whose retained messages say where things stand (status). */
extern const char *const srv_mqtt_api_state_topics[];

void srv_mqtt_api_handle(srv_engine_t *e, const char *topic, const void *payload, size_t len);

/** The engine's `changed` callback: renders a thing's notify and notify-next. */
void srv_mqtt_api_changed(srv_engine_t *e, const char *thing, bool list_changed, bool next_changed,
                          const srv_exec_t *next, int64_t now);

/* AWS's JSON views of an execution. */
cJSON *srv_exec_json(srv_engine_t *e, const srv_exec_t *ex, bool with_doc, int64_t now);
cJSON *srv_exec_summary_json(const srv_exec_t *ex);
cJSON *srv_exec_state_json(const srv_exec_t *ex);

#endif
