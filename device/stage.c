/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sequential staging writes. A cut can land in the middle of an erase or a
 * program: resuming at a checkpoint `written` below the cut re-programs the
 * same bytes over themselves (NOR: old AND new, no change), and a sector
 * whose erase was cut short lies at or above the checkpoint, so it is
 * erased again before its first byte.
 */
#include "otto/stage.h"

#include <string.h>

int otto_stage_begin(otto_stage_t *s, const otto_flash_t *flash, const otto_part_t *part)
{
    return otto_stage_resume(s, flash, part, 0);
}

int otto_stage_resume(otto_stage_t *s, const otto_flash_t *flash, const otto_part_t *part,
                      uint32_t written)
{
    if (!s || !flash || !part || !flash->sector_size || written > part->size)
        return OTTO_E_INVAL;
    memset(s, 0, sizeof *s);
    s->flash = flash;
    s->part = part;
    s->written = written;
    s->erased_to = (written + flash->sector_size - 1u) / flash->sector_size * flash->sector_size;
    return OTTO_OK;
}

int otto_stage_write(otto_stage_t *s, const void *data, size_t len)
{
    const otto_flash_t *fl = s->flash;
    int err;
    if (!data && len)
        return OTTO_E_INVAL;
    if (len > s->part->size - s->written)
        return OTTO_E_NOSPC;
    while (s->erased_to < s->written + len) {
        if ((err = fl->erase(fl->ctx, s->part->offset + s->erased_to, fl->sector_size)))
            return err;
        s->erased_to += fl->sector_size;
    }
    if (len && (err = fl->program(fl->ctx, s->part->offset + s->written, data, (uint32_t)len)))
        return err;
    s->written += (uint32_t)len;
    return OTTO_OK;
}
