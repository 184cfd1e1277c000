/* SPDX-License-Identifier: Apache-2.0 */
/* The MCU relay's state machine; the why of its order is in relay.h. */
#include "otto/relay.h"

#include <string.h>

#include "otto/record.h"

#define KEY        "mcu"
#define STEP_BYTES 4096u /* written or verified per step */
#define SAVE_BYTES 4096u /* at least this much written between two saves */

static uint32_t first_len(const otto_relay_t *r)
{
    return r->st.size < OTTO_MCU_BLOCK ? r->st.size : OTTO_MCU_BLOCK;
}

static int save(otto_relay_t *r)
{
    uint8_t b[16];
    size_t n = 0;
    if (!r->store)
        return OTTO_OK;
    int err = otto_relay_record_encode(&r->st, b, sizeof b, &n);
    return err ? err : otto_store_set_blob(r->store, KEY, b, n);
}

/* The saved progress, of any version this relay reads (record.h). */
static bool load(otto_relay_t *r)
{
    uint8_t b[16];
    size_t n = 0;
    return r->store && !otto_store_get_blob(r->store, KEY, b, sizeof b, &n) && !otto_relay_record_decode(b, n, &r->st);
}

/* The erase unit holding image offset off, in image offsets. */
static int unit(const otto_relay_t *r, uint32_t off, uint32_t *start, uint32_t *end)
{
    uint32_t s, len;
    int err = otto_mcu_unit(&r->mcu, r->opt.at + off, &s, &len);
    if (err)
        return err;
    *start = s > r->opt.at ? s - r->opt.at : 0;
    *end = s + len - r->opt.at;
    return OTTO_OK;
}

static uint32_t addr(const otto_relay_t *r, uint32_t off)
{
    return r->mcu.part->flash_base + r->opt.at + off;
}

static int set_phase(otto_relay_t *r, uint8_t phase, uint32_t next)
{
    r->st.phase = phase;
    r->st.next = r->cur = next;
    return save(r);
}

static int staged(otto_relay_t *r, uint32_t off, uint32_t n)
{
    return r->flash->read(r->flash->ctx, r->stage->offset + off, r->buf, n);
}

int otto_relay_open(otto_relay_t *r, const otto_uart_t *uart, const otto_flash_t *flash,
                    const otto_part_t *stage, uint32_t size, const otto_store_t *store, bool fresh)
{
    if (!r || !uart || !flash || !stage || !size || size > stage->size)
        return OTTO_E_INVAL;
    otto_mcu_limits_t lim = r->mcu.lim;
    otto_relay_opts_t opt = r->opt;
    memset(r, 0, sizeof *r);
    r->mcu.lim = lim;
    r->opt = opt;
    r->uart = uart;
    r->flash = flash;
    r->stage = stage;
    r->store = store;
    if (fresh || !load(r) || r->st.size != size || r->st.phase < OTTO_RELAY_ERASE || r->st.phase > OTTO_RELAY_GO ||
        r->st.next > size) {
        memset(&r->st, 0, sizeof r->st);
        r->st.size = size;
        return set_phase(r, OTTO_RELAY_ERASE, 0);
    }
    return OTTO_OK;
}

/* An image for the start of flash must be an application for this part
 * (otto_mcu_check_app), or it is refused before a page is erased. */
static int check_vectors(otto_relay_t *r)
{
    int err;
    if (r->opt.at != 0 || r->opt.no_check)
        return OTTO_OK;
    memset(r->buf, 0, 8);
    if (r->st.size >= 8 && (err = staged(r, 0, 8)))
        return err;
    return otto_mcu_check_app(r->mcu.part, r->buf, r->st.size, &r->mcu.why);
}

/* (Re)synchronise, and decide where to go on from the saved state. */
static int connect(otto_relay_t *r)
{
    int err = otto_mcu_connect(&r->mcu, r->uart);
    if (err)
        return err;
    if (r->opt.at > r->mcu.part->flash_size || r->st.size > r->mcu.part->flash_size - r->opt.at) {
        r->mcu.why = "the image is larger than the MCU's flash";
        return OTTO_E_NOSPC;
    }
    if (r->opt.part_id && r->opt.part_id != r->mcu.part->pid) {
        r->mcu.why = "the image is built for another STM32 part than this MCU (Get ID)";
        return OTTO_E_CHIP;
    }
    if ((err = check_vectors(r)))
        return err;
    if (r->mcu.rdp) {
        if (!r->opt.unprotect) {
            /* short: it goes into the job's status details (80 bytes) */
            r->mcu.why = "read-protected (RDP level 1); unprotecting erases all its flash: allow it";
            return OTTO_E_DENIED;
        }
        if ((err = otto_mcu_unprotect(&r->mcu)))
            return err;
        if (r->mcu.rdp) {
            r->mcu.why = "the MCU's flash is still read-protected after Readout Unprotect";
            return OTTO_E_DENIED;
        }
        /* Everything is blank now: start over. */
        if ((err = set_phase(r, OTTO_RELAY_ERASE, 0)))
            return err;
    }
    r->connected = true;
    r->cur = r->st.next;
    if (r->st.phase == OTTO_RELAY_WRITE)
        r->st.phase = OTTO_RELAY_ERASE; /* blocks past `next` may be half-written: erase them again */
    r->repair = r->st.phase == OTTO_RELAY_BOOT;
    return OTTO_OK;
}

static int erase_unit(otto_relay_t *r)
{
    uint32_t start, end;
    int err = unit(r, r->cur, &start, &end);
    if (!err)
        err = otto_mcu_erase(&r->mcu, addr(r, start), end - start);
    if (!err)
        r->cur = end;
    return err;
}

/* Write (or read back) [from, to) of the image, block by block. */
static int blocks(otto_relay_t *r, uint32_t from, uint32_t to, bool verify)
{
    for (uint32_t off = from; off < to;) {
        uint32_t n = to - off < OTTO_MCU_BLOCK ? to - off : OTTO_MCU_BLOCK;
        int err = staged(r, off, n);
        if (!err)
            err = verify ? otto_mcu_verify(&r->mcu, addr(r, off), r->buf, n)
                         : otto_mcu_write(&r->mcu, addr(r, off), r->buf, n);
        if (err)
            return err;
        if (!verify)
            r->written += n;
        off += n;
    }
    return OTTO_OK;
}

/* The first block, last. After a cut in this phase it may be half there. */
static int boot_block(otto_relay_t *r)
{
    uint32_t n = first_len(r);
    int err;
    if (r->repair) {
        bool blank = true;
        if ((err = otto_mcu_read(&r->mcu, addr(r, 0), r->back, n)) || (err = staged(r, 0, n)))
            return err;
        if (!memcmp(r->back, r->buf, n))
            return OTTO_OK;
        for (uint32_t i = 0; i < n; i++)
            blank = blank && r->back[i] == 0xFF;
        if (!blank) {
            uint32_t start, end;
            if ((err = unit(r, 0, &start, &end)) || (err = otto_mcu_erase(&r->mcu, addr(r, 0), end)))
                return err;
            end = end < r->st.size ? end : r->st.size;
            if ((err = blocks(r, n, end, false)) || (err = blocks(r, n, end, true)))
                return err;
        }
        r->repair = false;
    }
    if ((err = blocks(r, 0, n, false)))
        return err;
    return r->opt.no_verify ? OTTO_OK : blocks(r, 0, n, true);
}

static int step(otto_relay_t *r)
{
    uint32_t size = r->st.size, start, uend, end;
    int err;
    if (!r->connected && (err = connect(r)))
        return err;
    switch (r->st.phase) {
    case OTTO_RELAY_ERASE:
        if (r->cur < size)
            return (err = erase_unit(r)) ? err : OTTO_E_AGAIN;
        /* Every unit from `next` is blank: write from there (never block 0). */
        err = set_phase(r, OTTO_RELAY_WRITE, r->st.next);
        r->cur = r->cur > first_len(r) ? r->cur : first_len(r);
        return err ? err : OTTO_E_AGAIN;
    case OTTO_RELAY_WRITE:
        if (r->cur < first_len(r))
            r->cur = first_len(r);
        if (r->cur >= size)
            return (err = set_phase(r, OTTO_RELAY_VERIFY, first_len(r))) ? err : OTTO_E_AGAIN;
        if ((err = unit(r, r->cur, &start, &uend)))
            return err;
        end = r->cur + STEP_BYTES;
        end = end < uend ? end : uend;
        end = end < size ? end : size;
        if ((err = blocks(r, r->cur, end, false)))
            return err;
        r->cur = end;
        /* A unit is complete: resuming from here needs no erase below it. */
        if ((end == uend && end - r->st.next >= SAVE_BYTES) || end == size) {
            r->st.next = end;
            if ((err = save(r)))
                return err;
        }
        return OTTO_E_AGAIN;
    case OTTO_RELAY_VERIFY:
        if (r->cur < first_len(r))
            r->cur = first_len(r);
        if (r->cur >= size || r->opt.no_verify)
            return (err = set_phase(r, OTTO_RELAY_BOOT, 0)) ? err : OTTO_E_AGAIN;
        end = r->cur + STEP_BYTES < size ? r->cur + STEP_BYTES : size;
        if ((err = blocks(r, r->cur, end, true)))
            return err;
        r->cur = end;
        return OTTO_E_AGAIN;
    case OTTO_RELAY_BOOT:
        if ((err = boot_block(r)))
            return err;
        return (err = set_phase(r, OTTO_RELAY_GO, 0)) ? err : OTTO_E_AGAIN;
    case OTTO_RELAY_GO:
        if (!r->opt.no_go && (err = otto_mcu_go(&r->mcu, addr(r, 0))))
            return err;
        otto_relay_forget(r->store);
        r->st.phase = 0;
        return OTTO_OK;
    default:
        return OTTO_E_STATE;
    }
}

int otto_relay_step(otto_relay_t *r)
{
    int err = step(r);
    if (err && err != OTTO_E_AGAIN)
        r->connected = false; /* the next step re-synchronises and resumes from the saved point */
    return err;
}

uint32_t otto_relay_mark(const otto_relay_t *r)
{
    return (uint32_t)r->st.phase << 24 | r->st.next >> 8;
}

bool otto_relay_retryable(int err)
{
    return err != OTTO_E_CORRUPT && err != OTTO_E_NOSPC && err != OTTO_E_INVAL && err != OTTO_E_DENIED &&
           err != OTTO_E_CHIP;
}

void otto_relay_forget(const otto_store_t *store)
{
    if (store)
        otto_store_erase(store, KEY);
}

const char *otto_relay_phase(const otto_relay_t *r)
{
    static const char *const names[] = {"done", "erase", "write", "verify", "boot block", "go"};
    return r->st.phase <= OTTO_RELAY_GO ? names[r->st.phase] : "?";
}
