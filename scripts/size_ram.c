/* SPDX-License-Identifier: Apache-2.0 */
/* What the device core's caller-owned objects weigh on the target, read by
 * scripts/size.sh from these symbols' sizes (never linked into anything). */
#include "otto/agent.h"
#include "otto/delta.h"

otto_agent_t size_of_agent;
otto_delta_t size_of_delta;
