/* libFuzzer target: the bank status report parser (app/payfile/pain002.c): libxml2 with the
 * DOCTYPE refusal, XSD validation against the bundled schemas and the value extraction.
 * Run from the repository top (make fuzz does) so app/data/iso20022 is found; RL_XSD_DIR
 * overrides. An accepted report must have sane values everywhere. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "payfile/pain002.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strings are never NULL and never much longer than the input: a recoding (Latin-1,
 * UTF-16 to UTF-8) at most doubles a byte; any entity expansion would be far larger. */
static void check_str(const char *s, size_t size)
{
    if (s == NULL || strlen(s) > 2 * size)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *xsd;
    if (xsd == NULL) {
        xsd = getenv("RL_XSD_DIR");
        if (xsd == NULL || xsd[0] == '\0')
            xsd = "app/data/iso20022";
    }
    pain002_report *r = NULL;
    int rc = pain002_parse((const char *)data, size, xsd, &r);
    if (rc == RL_EIO)
        __builtin_trap(); /* the schemas are missing: the run would test nothing */
    if (rc != RL_OK) {
        if (r != NULL || err_msg()[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (pain002_version(r) != 3 && pain002_version(r) != 10)
        __builtin_trap();
    check_str(pain002_msg_id(r), size);
    check_str(pain002_created(r), size);
    check_str(pain002_orig_msg_id(r), size);
    check_str(pain002_orig_msg_name(r), size);
    check_str(pain002_group_status(r), size);
    check_str(pain002_group_reason(r), size);
    check_str(pain002_group_info(r), size);
    /* required by both XSDs */
    if (!pain002_msg_id(r)[0] || !pain002_orig_msg_id(r)[0])
        __builtin_trap();
    int64_t sum;
    uint64_t nb;
    if (pain002_orig_ctrl_sum(r, &sum) && sum < 0)
        __builtin_trap();
    (void)pain002_orig_nb_of_txs(r, &nb);

    size_t ntx = 0;
    pain002_pmtinf m;
    for (size_t i = 0; i < pain002_pmtinf_count(r); i++) {
        if (pain002_pmtinf_at(r, i, &m) != RL_OK)
            __builtin_trap();
        check_str(m.id, size);
        check_str(m.status, size);
        check_str(m.reason, size);
        check_str(m.info, size);
        ntx += m.tx_count;
    }
    if (ntx != pain002_tx_count(r) || pain002_pmtinf_at(r, pain002_pmtinf_count(r), &m) == RL_OK)
        __builtin_trap();
    pain002_tx t;
    for (size_t i = 0; i < pain002_tx_count(r); i++) {
        if (pain002_tx_at(r, i, &t) != RL_OK)
            __builtin_trap();
        check_str(t.pmtinf_id, size);
        check_str(t.end_to_end_id, size);
        check_str(t.status, size);
        check_str(t.effective_status, size);
        check_str(t.reason, size);
        check_str(t.reason_prtry, size);
        check_str(t.info, size);
        check_str(t.currency, size);
        if (t.amount_ore < 0 || (!t.has_amount && (t.amount_ore != 0 || t.currency[0])) ||
            (t.has_amount && strlen(t.currency) != 3) ||
            (t.status[0] && strcmp(t.status, t.effective_status) != 0) ||
            (pain002_status_is_accepted(t.status) && pain002_status_is_final_reject(t.status)))
            __builtin_trap();
    }
    if (pain002_tx_at(r, pain002_tx_count(r), &t) == RL_OK)
        __builtin_trap();
    pain002_free(r);
    return 0;
}
