/* sig.c: minisign "ED" verification through the HAL crypto seam, and the trusted-comment
 * parser. All inputs are attacker-controlled bytes from USB; every index is bounded. */
#include "sig.h"

#include "hal.h"
#include "proto.h"
#include "util.h"

secbool sig_verify_minisign(const uint8_t prehash[64], const uint8_t sig[64],
                            const uint8_t gsig[64], const uint8_t *tc, size_t tc_len,
                            const uint8_t pk[32])
{
    uint8_t msg[64 + PROTO_TC_MAX];
    if (tc_len > PROTO_TC_MAX)
        return secfalse;
    /* Global signature first: it is what binds the trusted comment (mode, seq, file name),
     * so nothing of the comment is believed unless it holds. */
    tk_memcpy(msg, sig, 64);
    tk_memcpy(msg + 64, tc, tc_len);
    secbool g = hal_ed25519_verify(gsig, msg, 64 + tc_len, pk);
    tk_wipe(msg, sizeof msg);
    if (g != sectrue)
        return secfalse;
    secbool s = hal_ed25519_verify(sig, prehash, 64, pk);
    if (s != sectrue)
        return secfalse;
    /* Both checks passed; return the combination so a single skipped compare above cannot
     * produce sectrue on its own. */
    return (g == sectrue && s == sectrue) ? sectrue : secfalse;
}

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int key_is(const uint8_t *k, size_t klen, const char *lit)
{
    size_t n = 0;
    while (lit[n])
        n++;
    return klen == n && tk_memeq(k, lit, n);
}

int sig_tc_parse(const uint8_t *tc, size_t len, sig_tc_info *out)
{
    int seen_mode = 0, seen_seq = 0, seen_file = 0;
    tk_memset(out, 0, sizeof *out);
    if (len > PROTO_TC_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (tc[i] == 0 || tc[i] == '\r' || tc[i] == '\n')
            return -1;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space(tc[i]))
            i++;
        size_t start = i;
        while (i < len && !is_space(tc[i]))
            i++;
        if (i == start)
            break;
        const uint8_t *item = tc + start;
        size_t ilen = i - start, sep = 0;
        while (sep < ilen && item[sep] != '=' && item[sep] != ':')
            sep++;
        if (sep == ilen)
            continue; /* a bare word such as minisign's "hashed" */
        const uint8_t *val = item + sep + 1;
        size_t vlen = ilen - sep - 1;
        if (key_is(item, sep, "mode")) {
            if (seen_mode++)
                return -1;
            if (key_is(val, vlen, "production"))
                out->production = 1;
            else if (!key_is(val, vlen, "drill"))
                return -1;
        } else if (key_is(item, sep, "seq")) {
            if (seen_seq++)
                return -1;
            if (vlen == 0 || vlen > 19 || val[0] == '0')
                return -1;
            uint64_t v = 0;
            for (size_t j = 0; j < vlen; j++) {
                if (val[j] < '0' || val[j] > '9')
                    return -1;
                v = v * 10u + (uint64_t)(val[j] - '0');
            }
            if (v > 0x7FFFFFFFFFFFFFFFull)
                return -1;
            out->has_seq = 1;
            out->seq = v;
        } else if (key_is(item, sep, "file")) {
            if (seen_file++)
                return -1;
            out->file = val;
            out->file_len = vlen;
        }
    }
    return 0;
}
