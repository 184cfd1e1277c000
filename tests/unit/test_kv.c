/* SPDX-License-Identifier: Apache-2.0 */
/* The key-value store on the simulated NOR flash: API, wear, full partition,
 * corrupt-versus-empty, and a power cut at every flash operation of a long
 * scenario (before, after and torn), checking old-or-new for every key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otto/kv.h"
#include "simflash.h"

#define SECTOR 4096u

typedef struct {
    otto_power_t pw;
    otto_simflash_t sf;
    otto_flash_t fl;
    otto_kv_t kv;
} rig_t;

static void rig_open(rig_t *r, uint32_t sectors)
{
    memset(r, 0, sizeof *r);
    otto_power_init(&r->pw);
    assert_int_equal(otto_simflash_open_mem(&r->sf, &r->pw, sectors * SECTOR, SECTOR), 0);
    otto_simflash_hal(&r->sf, &r->fl);
}

static int rig_mount(rig_t *r, otto_kv_mount_t *how)
{
    return otto_kv_mount(&r->kv, &r->fl, 0, r->fl.size, false, how);
}

static void api(void **state)
{
    (void)state;
    rig_t r;
    otto_kv_mount_t how;
    char s[32];
    uint8_t blob[300], back[300];
    size_t len;
    int64_t v;
    rig_open(&r, 4);
    assert_int_equal(rig_mount(&r, &how), OTTO_OK);
    assert_int_equal(how, OTTO_KV_EMPTY);

    assert_int_equal(otto_kv_get_int(&r.kv, "boot", &v), OTTO_E_NOTFOUND);
    assert_int_equal(otto_kv_set_int(&r.kv, "boot", -5), OTTO_OK);
    assert_int_equal(otto_kv_get_int(&r.kv, "boot", &v), OTTO_OK);
    assert_true(v == -5);
    assert_int_equal(otto_kv_set_int(&r.kv, "big", INT64_MIN), OTTO_OK);
    assert_int_equal(otto_kv_get_int(&r.kv, "big", &v), OTTO_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(otto_kv_set_str(&r.kv, "job", "job-123"), OTTO_OK);
    assert_int_equal(otto_kv_get_str(&r.kv, "job", s, sizeof s), OTTO_OK);
    assert_string_equal(s, "job-123");
    assert_int_equal(otto_kv_get_str(&r.kv, "job", s, 4), OTTO_E_NOSPC);
    assert_int_equal(otto_kv_set_str(&r.kv, "empty", ""), OTTO_OK);
    assert_int_equal(otto_kv_get_str(&r.kv, "empty", s, sizeof s), OTTO_OK);
    assert_string_equal(s, "");
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 7);
    assert_int_equal(otto_kv_set_blob(&r.kv, "state", blob, sizeof blob), OTTO_OK);
    assert_int_equal(otto_kv_get_blob(&r.kv, "state", back, sizeof back, &len), OTTO_OK);
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(blob, back, sizeof blob);
    assert_int_equal(otto_kv_get_blob(&r.kv, "state", back, 10, &len), OTTO_E_NOSPC);
    assert_int_equal(len, sizeof blob);

    /* A key holds one type at a time. */
    assert_int_equal(otto_kv_get_int(&r.kv, "job", &v), OTTO_E_NOTFOUND);
    /* Overwrite, erase, erase again. */
    assert_int_equal(otto_kv_set_str(&r.kv, "job", "job-456"), OTTO_OK);
    assert_int_equal(otto_kv_erase(&r.kv, "boot"), OTTO_OK);
    assert_int_equal(otto_kv_erase(&r.kv, "boot"), OTTO_OK);
    assert_int_equal(otto_kv_erase(&r.kv, "never"), OTTO_OK);
    assert_int_equal(otto_kv_get_int(&r.kv, "boot", &v), OTTO_E_NOTFOUND);

    /* Rewriting the same value costs no flash. */
    uint64_t programs = r.pw.programs;
    assert_int_equal(otto_kv_set_str(&r.kv, "job", "job-456"), OTTO_OK);
    assert_int_equal(otto_kv_set_blob(&r.kv, "state", blob, sizeof blob), OTTO_OK);
    assert_true(r.pw.programs == programs);

    /* Bad keys and sizes. */
    assert_int_equal(otto_kv_set_int(&r.kv, "", 1), OTTO_E_INVAL);
    assert_int_equal(otto_kv_set_int(&r.kv, "sixteen-chars-xx", 1), OTTO_E_INVAL);
    assert_int_equal(otto_kv_set_int(&r.kv, "has space", 1), OTTO_E_INVAL);
    assert_int_equal(otto_kv_set_blob(&r.kv, "huge", blob, OTTO_KV_VALUE_MAX + 1), OTTO_E_INVAL);
    assert_int_equal(otto_kv_set_int(&r.kv, "fifteen-chars-x", 1), OTTO_OK);

    /* Everything survives a remount. */
    assert_int_equal(rig_mount(&r, &how), OTTO_OK);
    assert_int_equal(how, OTTO_KV_MOUNTED);
    assert_int_equal(otto_kv_get_str(&r.kv, "job", s, sizeof s), OTTO_OK);
    assert_string_equal(s, "job-456");
    assert_int_equal(otto_kv_get_blob(&r.kv, "state", back, sizeof back, &len), OTTO_OK);
    assert_memory_equal(blob, back, sizeof blob);
    assert_int_equal(otto_kv_get_int(&r.kv, "boot", &v), OTTO_E_NOTFOUND);
    assert_int_equal(otto_kv_get_int(&r.kv, "big", &v), OTTO_OK);
    assert_true(v == INT64_MIN);

    /* Bad geometry. */
    assert_int_equal(otto_kv_mount(&r.kv, &r.fl, 0, SECTOR, false, NULL), OTTO_E_INVAL);
    assert_int_equal(otto_kv_mount(&r.kv, &r.fl, 100, 2 * SECTOR, false, NULL), OTTO_E_INVAL);
    assert_int_equal(otto_kv_mount(&r.kv, &r.fl, 0, 8 * SECTOR, false, NULL), OTTO_E_INVAL);
    otto_simflash_close(&r.sf);
}

static void empty_versus_corrupt(void **state)
{
    (void)state;
    rig_t r;
    otto_kv_mount_t how;
    int64_t v;
    rig_open(&r, 3);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 1);
    otto_simflash_load(&r.sf, 5000, junk, sizeof junk);
    assert_int_equal(rig_mount(&r, &how), OTTO_E_CORRUPT);
    assert_int_equal(otto_kv_mount(&r.kv, &r.fl, 0, r.fl.size, true, &how), OTTO_OK);
    assert_int_equal(how, OTTO_KV_FORMATTED);
    assert_int_equal(otto_kv_set_int(&r.kv, "n", 7), OTTO_OK);
    assert_int_equal(rig_mount(&r, &how), OTTO_OK);
    assert_int_equal(how, OTTO_KV_MOUNTED);
    assert_int_equal(otto_kv_get_int(&r.kv, "n", &v), OTTO_OK);
    assert_true(v == 7);
    otto_simflash_close(&r.sf);
}

/* Many updates of a few keys: values stay right across compactions and
 * remounts, and erases spread over every sector. */
static void wear_and_compaction(void **state)
{
    (void)state;
    rig_t r;
    uint8_t b[200], back[200];
    size_t len;
    rig_open(&r, 4);
    assert_int_equal(rig_mount(&r, NULL), OTTO_OK);
    for (int i = 0; i < 3000; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i % 6);
        memset(b, i & 0xFF, sizeof b);
        assert_int_equal(otto_kv_set_blob(&r.kv, key, b, (size_t)(50 + i % 150)), OTTO_OK);
        if (i % 500 == 499)
            assert_int_equal(rig_mount(&r, NULL), OTTO_OK);
    }
    for (int k = 0; k < 6; k++) {
        char key[8];
        int last = 2999 - ((2999 - k) % 6);
        snprintf(key, sizeof key, "k%d", k);
        assert_int_equal(otto_kv_get_blob(&r.kv, key, back, sizeof back, &len), OTTO_OK);
        assert_int_equal(len, (size_t)(50 + last % 150));
        memset(b, last & 0xFF, sizeof b);
        assert_memory_equal(back, b, len);
    }
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int s = 0; s < 4; s++) {
        lo = r.sf.wear[s] < lo ? r.sf.wear[s] : lo;
        hi = r.sf.wear[s] > hi ? r.sf.wear[s] : hi;
    }
    printf("wear after 3000 updates: erases per sector %" PRIu32 "..%" PRIu32 "\n", lo, hi);
    assert_true(lo > 0 && hi <= lo + 2);
    otto_simflash_close(&r.sf);
}

static void full_partition(void **state)
{
    (void)state;
    rig_t r;
    uint8_t b[500];
    int n = 0, err = OTTO_OK;
    size_t len;
    rig_open(&r, 3);
    assert_int_equal(rig_mount(&r, NULL), OTTO_OK);
    memset(b, 0x5A, sizeof b);
    while (n < 100 && (err = otto_kv_set_blob(&r.kv, (char[8]){'k', (char)('a' + n / 26), (char)('a' + n % 26), 0}, b, sizeof b)) == OTTO_OK)
        n++;
    assert_int_equal(err, OTTO_E_NOSPC);
    assert_true(n >= 8); /* (3 - 1) sectors of 4 KiB hold at least 8 x 500 bytes */
    /* Everything stored before is intact, now and after a remount. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            char key[8] = {'k', (char)('a' + i / 26), (char)('a' + i % 26), 0};
            assert_int_equal(otto_kv_get_blob(&r.kv, key, b, sizeof b, &len), OTTO_OK);
        }
        assert_int_equal(rig_mount(&r, NULL), OTTO_OK);
    }
    /* Erasing frees room again. */
    assert_int_equal(otto_kv_erase(&r.kv, "kaa"), OTTO_OK);
    assert_int_equal(otto_kv_erase(&r.kv, "kab"), OTTO_OK);
    assert_int_equal(otto_kv_set_blob(&r.kv, "new", b, sizeof b), OTTO_OK);
    otto_simflash_close(&r.sf);
}

/* ---- power cuts ------------------------------------------------------- */

#define NKEYS 7
typedef struct {
    bool set[NKEYS];
    uint8_t val[NKEYS][160];
    size_t len[NKEYS];
} model_t;

/* Operation i of the scenario: which key, and the new value (or erase). */
static void scenario_op(int i, int *key, uint8_t *val, size_t *len, bool *erase)
{
    uint32_t x = (uint32_t)i * 2654435761u;
    *key = (int)(x >> 8) % NKEYS;
    *erase = (x >> 4) % 11 == 0;
    *len = 1 + (x >> 12) % 150;
    for (size_t j = 0; j < *len; j++)
        val[j] = (uint8_t)(i + j * 13);
}

static void key_name(int k, char *name) { snprintf(name, 8, "key%d", k); }

static void model_apply(model_t *m, int key, const uint8_t *val, size_t len, bool erase)
{
    m->set[key] = !erase;
    m->len[key] = erase ? 0 : len;
    if (!erase)
        memcpy(m->val[key], val, len);
}

/* Does key k in the store hold the model's value? */
static bool holds(otto_kv_t *kv, const model_t *m, int k)
{
    char name[8];
    uint8_t b[160];
    size_t len = 0;
    key_name(k, name);
    int err = otto_kv_get_blob(kv, name, b, sizeof b, &len);
    if (!m->set[k])
        return err == OTTO_E_NOTFOUND;
    return err == OTTO_OK && len == m->len[k] && !memcmp(b, m->val[k], len);
}

#define OPS 260

/* Run the scenario; with a cut armed, stop at the op that lost power and
 * return its index (or OPS when the cut never came). */
static int run_until_cut(rig_t *r, model_t *m)
{
    memset(m, 0, sizeof *m);
    if (rig_mount(r, NULL)) {
        if (!r->pw.off)
            fail_msg("mount failed with power on");
        return -1; /* cut while formatting the blank partition */
    }
    for (int i = 0; i < OPS; i++) {
        int key;
        uint8_t val[160];
        size_t len;
        bool erase;
        char name[8];
        scenario_op(i, &key, val, &len, &erase);
        key_name(key, name);
        int err = erase ? otto_kv_erase(&r->kv, name) : otto_kv_set_blob(&r->kv, name, val, len);
        if (err) {
            if (!r->pw.off)
                fail_msg("op %d failed with power on: %d", i, err);
            return i;
        }
        model_apply(m, key, val, len, erase);
    }
    return OPS;
}

static void power_cuts(void **state)
{
    (void)state;
    rig_t r;
    model_t m;
    rig_open(&r, 3);
    assert_int_equal(run_until_cut(&r, &m), OPS);
    uint64_t total = r.pw.ops;
    otto_simflash_close(&r.sf);
    int points = 0;
    for (int mode = OTTO_CUT_BEFORE; mode <= OTTO_CUT_TORN; mode++) {
        for (uint64_t at = 1; at <= total; at++) {
            rig_open(&r, 3);
            otto_power_arm(&r.pw, at, (otto_cut_mode_t)mode, at * 31 + (uint64_t)mode);
            int i = run_until_cut(&r, &m);
            otto_power_restore(&r.pw);
            otto_kv_mount_t how;
            int err = rig_mount(&r, &how);
            if (i < 0 && err == OTTO_E_CORRUPT) /* a torn first header: nothing was stored */
                err = otto_kv_mount(&r.kv, &r.fl, 0, r.fl.size, true, &how);
            if (err)
                fail_msg("cut at op %llu (%s), kv op %d: mount fails: %d", (unsigned long long)at,
                         otto_cut_mode_name((otto_cut_mode_t)mode), i, err);
            if (i < 0 || i == OPS) {
                /* cut while formatting, or after the last op returned */
                for (int k = 0; k < NKEYS; k++)
                    assert_true(holds(&r.kv, &m, k));
                otto_simflash_close(&r.sf);
                points++;
                continue;
            }
            /* Every key: the model before op i, except op i's own key may
             * hold the new value. */
            int key;
            uint8_t val[160];
            size_t len;
            bool erase;
            scenario_op(i, &key, val, &len, &erase);
            model_t after = m;
            model_apply(&after, key, val, len, erase);
            for (int k = 0; k < NKEYS; k++) {
                bool ok = holds(&r.kv, &m, k) || (k == key && holds(&r.kv, &after, k));
                if (!ok)
                    fail_msg("cut at op %llu (%s), during kv op %d: key%d is neither old nor new",
                             (unsigned long long)at, otto_cut_mode_name((otto_cut_mode_t)mode), i, k);
            }
            /* And the store keeps working: redo the op, then the rest. */
            char name[8];
            key_name(key, name);
            assert_int_equal(erase ? otto_kv_erase(&r.kv, name) : otto_kv_set_blob(&r.kv, name, val, len), OTTO_OK);
            for (int k = 0; k < NKEYS; k++)
                assert_true(holds(&r.kv, &after, k));
            assert_true(r.sf.violations == 0);
            otto_simflash_close(&r.sf);
            points++;
        }
    }
    printf("kv power cuts: %llu flash operations in the scenario, %d cut points x modes, 0 failed\n",
           (unsigned long long)total, points);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api),
        cmocka_unit_test(empty_versus_corrupt),
        cmocka_unit_test(wear_and_compaction),
        cmocka_unit_test(full_partition),
        cmocka_unit_test(power_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
