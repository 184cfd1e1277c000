/* SPDX-License-Identifier: Apache-2.0 */
/* Judging a job: does it apply to this device, and if not, why not. */
#include <string.h>

#include "internal/agent.h"
#include "internal/slot.h"
#include "otto/record.h"

/* Key updates come before any firmware, so a job may add a key and ship
 * firmware signed with it. All are checked against the keys trusted before
 * the job, applied in RAM, then stored in one write; replayed after a cut,
 * each is found applied already. false: the job ended, saying why. */
static bool apply_key_updates(otto_agent_t *a, const otto_jobdoc_t *doc)
{
    otto_trust_t t = a->trust;
    for (unsigned i = 0; i < doc->nkeyupd; i++) {
        const otto_key_update_t *u = &doc->keyupd[i];
        int err = otto_trust_update(&t, u->op, u->key, u->sig, u->siglen, a->cfg.port->verify, a->cfg.port->ctx);
        if (err == OTTO_OK || err == OTTO_E_EXISTS)
            continue;
        agent_finish(a, R_FAILED, err == OTTO_E_NOSPC ? "key_slots_full" : err == OTTO_E_STATE ? "last_key" : "bad_key_update",
                     err == OTTO_E_NOSPC   ? "the device trusts 3 keys already: revoke one first"
                     : err == OTTO_E_STATE ? "that would revoke the only key this device trusts"
                                           : "a key update is not signed by a key this device trusts");
        return false;
    }
    if (memcmp(&t, &a->trust, sizeof t)) {
        if (otto_trust_save(a->cfg.store, &t)) {
            agent_finish(a, R_FAILED, "store", "cannot store the updated keys");
            return false;
        }
        a->trust = t;
        agent_hello(a); /* the registry learns the new key list */
    }
    return true;
}

/* Is fw the image running? By SHA-256 when the agent knows its own (with
 * the delta decoder: builds that keep one version string still differ),
 * otherwise by version. */
bool agent_runs(const otto_agent_t *a, const otto_fw_entry_t *fw)
{
    if (a->has_running_sha256 && fw->has_sha256)
        return !memcmp(fw->sha256, a->running_sha256, 32);
    return fw->version[0] && !strcmp(fw->version, a->running_version);
}

bool agent_install_waits(const otto_json_t *j, int exec)
{
    char v[8] = "";
    otto_json_str(j, otto_json_get(j, exec, "install"), v, sizeof v);
    return !strcmp(v, "WAIT");
}

/* A new execution is next: take it, or say why not. */
void agent_judge(otto_agent_t *a, const otto_json_t *j, int exec)
{
    otto_jobdoc_t doc;
    uint32_t version = 0, fuse = 0;
    char id[65];
    memset(&a->job, 0, sizeof a->job);
    if (otto_json_str(j, otto_json_get(j, exec, "jobId"), id, sizeof id) ||
        otto_json_u32(j, otto_json_get(j, exec, "versionNumber"), &version))
        return; /* not an execution we can even name */
    otto_copy_str(a->job.job_id, sizeof a->job.job_id, id);
    a->job.exec_version = version;
    a->install_wait = agent_install_waits(j, exec);
    otto_copy_str(a->job.from_version, sizeof a->job.from_version, a->running_version);
    int err = otto_jobdoc_read(j, otto_json_get(j, exec, "jobDocument"), &doc);
    if (err) {
        agent_finish(a, R_REJECTED, "bad_document", "the job document is not one otto can read");
        return;
    }
    const otto_fw_entry_t *fw = otto_jobdoc_find(&doc, "esp32");
    const otto_fw_entry_t *mcu = otto_jobdoc_find(&doc, "stm32");
    if (fw) {
        a->job.fw = *fw;
        a->job.esp_state = S_PENDING;
    }
    if (mcu) {
        a->job.mcu = *mcu;
        a->job.mcu_state = S_PENDING;
    }
    if (!fw && !mcu) {
        agent_finish(a, R_REJECTED, "no_image", "the job has no esp32 or stm32 firmware");
        return;
    }
    if (doc.nkeyupd && !apply_key_updates(a, &doc))
        return;
    if (a->cfg.product && a->cfg.product[0] && doc.product[0] && strcmp(doc.product, a->cfg.product)) {
        agent_finish(a, R_REJECTED, "wrong_product", "the job is for another product");
        return;
    }
    if (mcu) {
        if (!a->cfg.mcu_uart) {
            agent_finish(a, R_REJECTED, "no_mcu", "this module has no MCU to relay to");
            return;
        }
        if (!a->mcufw) {
            agent_finish(a, R_REJECTED, "no_mcufw_partition", "no mcufw partition to stage the MCU image in");
            return;
        }
        if (mcu->size > a->mcufw->size) {
            agent_finish(a, R_REJECTED, "too_large", "the MCU image does not fit the mcufw partition");
            return;
        }
        if (mcu->part_id && a->mcu_pid && mcu->part_id != a->mcu_pid) {
            agent_finish(a, R_REJECTED, "mcu_wrong_part", "the stm32 image is for another part than this MCU");
            return;
        }
        if (a->mcu_version[0] && mcu->version[0] && !strcmp(mcu->version, a->mcu_version)) {
            a->job.mcu_state = S_ALREADY;
        } else if (a->mcu_version[0] && mcu->version[0] && otto_version_cmp(mcu->version, a->mcu_version) < 0) {
            agent_finish(a, R_REJECTED, "outdated", "the stm32 image is older than the MCU's");
            return;
        }
    }
    if (fw) {
        if (agent_runs(a, fw)) {
            a->job.esp_state = S_ALREADY;
        } else if (fw->version[0] && otto_version_cmp(fw->version, a->running_version) < 0) {
            agent_finish(a, R_REJECTED, "outdated", "older than the running version");
            return;
        }
        if (!otto_efuse_value(a->cfg.ota->plat, &fuse) && fw->secure_version < fuse) {
            agent_finish(a, R_REJECTED, "downgrade_refused", "secure_version below the anti-rollback counter");
            return;
        }
    }
    if (a->job.esp_state != S_PENDING && a->job.mcu_state != S_PENDING) {
        agent_finish(a, R_SUCCEEDED, "already_running", "this version is already running");
        return;
    }
    size_t need = 0;
    if (otto_job_record_encode(&a->job, (uint8_t *)a->tok, sizeof a->tok, &need) || need > OTTO_JOB_RECORD_STORE_MAX) {
        agent_finish(a, R_REJECTED, "too_long", "the job's links and names do not fit the device's job record");
        return;
    }
    /* The MCU first: while it updates, the module still runs the firmware
     * that is known to relay; if the MCU fails, the module is untouched. */
    a->job.target = a->job.mcu_state == S_PENDING ? T_MCU : T_ESP;
    a->relay_open = false;
    otto_relay_forget(a->cfg.store);
    a->job.phase = P_STARTING;
    otto_store_erase(a->cfg.store, "off");
    agent_save_job(a);
    agent_send_progress(a, "accepted", true);
}
