/* signing: the two-person appliance signing key (see signing.h, docs/signing.md). */
#include "signing/signing.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "vault/keyring.h"

/* What a pair's seal holds: the Ed25519 secret key (libsodium layout) and its key id. */
#define PAYLOAD_LEN (64 + 8)
#define INNER_LEN (PAYLOAD_LEN + crypto_box_SEALBYTES)
#define OUTER_LEN (INNER_LEN + crypto_box_SEALBYTES)

typedef struct {
    char name[KEYRING_NAME_MAX + 1];
    uint8_t pk[32];
    uint8_t *sk; /* sodium_malloc'd */
} member;

struct signing_session {
    vault *v;
    member m[2]; /* [0] the logged-in approver, [1] the second */
    minisig_seckey *key;
    char key_id[17];
};

void signing_close(signing_session *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < 2; i++)
        sodium_free(s->m[i].sk);
    minisig_seckey_free(s->key);
    sodium_memzero(s, sizeof *s);
    free(s);
}

int signing_pair_open(vault *v, const char *second, const char *pass, size_t pass_len,
                      const char *action, signing_session **out)
{
    int rc;
    uint8_t *share = NULL;
    signing_session *s = NULL;
    *out = NULL;
    if ((rc = vault_require_role(v, VAULT_ROLE_APPROVER, action)) != RL_OK)
        return rc;
    if (strlen(second) > KEYRING_NAME_MAX)
        return err_set(RL_EAUTH, "no operator named '%.64s...' in this vault", second);
    s = calloc(1, sizeof *s);
    share = sodium_malloc(32);
    if (s == NULL || share == NULL) {
        rc = err_set(RL_ENOMEM, "out of memory");
        goto cleanup;
    }
    s->v = v;
    s->m[0].sk = sodium_malloc(32);
    s->m[1].sk = sodium_malloc(32);
    if (s->m[0].sk == NULL || s->m[1].sk == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    snprintf(s->m[0].name, sizeof s->m[0].name, "%s", vault_operator(v));
    snprintf(s->m[1].name, sizeof s->m[1].name, "%s", second);
    if ((rc = vault_authenticate_second(v, second, pass, pass_len, VAULT_ROLE_APPROVER, action,
                                        share)) != RL_OK ||
        (rc = vault_signer_unwrap(v, s->m[0].name, vault_share_key(v), s->m[0].sk,
                                  s->m[0].pk)) != RL_OK ||
        (rc = vault_signer_unwrap(v, second, share, s->m[1].sk, s->m[1].pk)) != RL_OK)
        goto cleanup;
    *out = s;
    s = NULL;
cleanup:
    sodium_free(share);
    signing_close(s);
    return rc;
}

const minisig_seckey *signing_seckey(const signing_session *s) { return s->key; }
const char *signing_key_id(const signing_session *s) { return s->key_id; }
const char *signing_second(const signing_session *s) { return s->m[1].name; }

/* Seals payload for the pair (a, b), a < b: to b, then to a. */
static void seal_pair(const uint8_t *payload, const uint8_t pk_a[32], const uint8_t pk_b[32],
                      uint8_t out[OUTER_LEN])
{
    uint8_t inner[INNER_LEN];
    crypto_box_seal(inner, payload, PAYLOAD_LEN, pk_b);
    crypto_box_seal(out, inner, INNER_LEN, pk_a);
    sodium_memzero(inner, sizeof inner);
}

static int exec_bind(vault *v, const char *sql, const char *const *text, size_t ntext,
                     const uint8_t *blob, int blob_len, const char *what)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(vault_db(v), sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        for (size_t i = 0; i < ntext; i++)
            sqlite3_bind_text(st, (int)i + 1, text[i], -1, SQLITE_STATIC);
        if (blob != NULL)
            sqlite3_bind_blob(st, (int)ntext + 1, blob, blob_len, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return src == SQLITE_DONE ? RL_OK : vault_sql_error(v, src, what);
}

/* Seals the unlocked key for every pair of signers without a seal; *made counts them. */
static int seal_missing(signing_session *s, const uint8_t *payload, size_t *made)
{
    typedef struct {
        char name[KEYRING_NAME_MAX + 1];
        uint8_t pk[32];
    } signer;
    signer *all = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = NULL, *has = NULL;
    int rc = RL_OK;
    *made = 0;
    /* Active approvers only: a removed operator's old key pair gets nothing new. */
    int src = sqlite3_prepare_v2(vault_db(s->v),
                                 "SELECT s.name, s.box_pk FROM signers s JOIN operators o ON"
                                 " o.name = s.name WHERE o.active = 1 AND o.role = 'approver'"
                                 " ORDER BY s.name",
                                 -1, &st, NULL);
    while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_OK;
        if (sqlite3_column_bytes(st, 1) != 32)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            signer *p = realloc(all, cap * sizeof *p);
            if (p == NULL) {
                rc = err_set(RL_ENOMEM, "out of memory");
                goto cleanup;
            }
            all = p;
        }
        snprintf(all[n].name, sizeof all[n].name, "%s", (const char *)sqlite3_column_text(st, 0));
        memcpy(all[n].pk, sqlite3_column_blob(st, 1), 32);
        n++;
    }
    if (src != SQLITE_DONE) {
        rc = vault_sql_error(s->v, src, "reading signers");
        goto cleanup;
    }
    src = sqlite3_prepare_v2(vault_db(s->v),
                             "SELECT 1 FROM signing_wraps WHERE key_id = ? AND a = ? AND b = ?",
                             -1, &has, NULL);
    if (src != SQLITE_OK) {
        rc = vault_sql_error(s->v, src, "reading signing seals");
        goto cleanup;
    }
    char at[21];
    vault_now(at);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) { /* ORDER BY name: all[i] < all[j] */
            sqlite3_reset(has);
            sqlite3_bind_text(has, 1, s->key_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(has, 2, all[i].name, -1, SQLITE_STATIC);
            sqlite3_bind_text(has, 3, all[j].name, -1, SQLITE_STATIC);
            if ((src = sqlite3_step(has)) == SQLITE_ROW)
                continue;
            if (src != SQLITE_DONE) {
                rc = vault_sql_error(s->v, src, "reading signing seals");
                goto cleanup;
            }
            uint8_t w[OUTER_LEN];
            seal_pair(payload, all[i].pk, all[j].pk, w);
            const char *t[] = {s->key_id, all[i].name, all[j].name, at};
            if ((rc = exec_bind(s->v,
                                "INSERT INTO signing_wraps(key_id, a, b, created_at, wrap)"
                                " VALUES(?,?,?,?,?)",
                                t, 4, w, (int)sizeof w, "sealing the signing key")) != RL_OK)
                goto cleanup;
            (*made)++;
        }
cleanup:
    sqlite3_finalize(st);
    sqlite3_finalize(has);
    free(all);
    return rc;
}

/* The raw key for sealing: sk[64] || key_id[8], in protected memory. */
static int key_payload(const uint8_t sk[64], const uint8_t key_id[8], uint8_t **out)
{
    *out = sodium_malloc(PAYLOAD_LEN);
    if (*out == NULL)
        return err_set(RL_ENOMEM, "cannot allocate protected memory");
    memcpy(*out, sk, 64);
    memcpy(*out + 64, key_id, 8);
    return RL_OK;
}

int signing_key_create(signing_session *s, char *pub_text, size_t pub_cap)
{
    uint8_t *sk = sodium_malloc(64), *payload = NULL;
    uint8_t key_id[8];
    minisig_pubkey pk;
    minisig_seckey *key = NULL;
    size_t made = 0;
    int rc;
    if (sk == NULL)
        return err_set(RL_ENOMEM, "cannot allocate protected memory");
    randombytes_buf(key_id, sizeof key_id);
    crypto_sign_keypair(pk.pk, sk);
    memcpy(pk.key_id, key_id, 8);
    char kid[17];
    minisig_key_id_hex(key_id, kid);
    if ((rc = minisig_seckey_from_raw(sk, key_id, &key)) != RL_OK ||
        (rc = key_payload(sk, key_id, &payload)) != RL_OK ||
        (rc = minisig_pubkey_format(&pk, "Reservlon appliance signing key", pub_text, pub_cap)))
        goto cleanup;
    if ((rc = vault_begin(s->v)) != RL_OK)
        goto cleanup;
    char at[21];
    vault_now(at);
    const char *retire[] = {at};
    const char *ins[] = {kid, pub_text, at, s->m[0].name, s->m[1].name};
    snprintf(s->key_id, sizeof s->key_id, "%s", kid);
    char detail[300];
    if ((rc = exec_bind(s->v, "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at IS NULL",
                        retire, 1, NULL, 0, "retiring the signing key")) != RL_OK ||
        (rc = exec_bind(s->v,
                        "INSERT INTO signing_keys(key_id, public_key, created_at, created_by,"
                        " cosigned_by) VALUES(?,?,?,?,?)",
                        ins, 5, NULL, 0, "storing the signing key")) != RL_OK ||
        (rc = seal_missing(s, payload, &made)) != RL_OK)
        goto rollback;
    snprintf(detail, sizeof detail,
             "appliance signing key %s created by %s with %s; sealed for %zu approver pair(s);"
             " earlier keys retired", kid, s->m[0].name, s->m[1].name, made);
    if ((rc = vault_audit(s->v, "key.create", detail)) != RL_OK ||
        (rc = vault_commit(s->v)) != RL_OK)
        goto rollback;
    minisig_seckey_free(s->key);
    s->key = key;
    key = NULL;
    goto cleanup;
rollback:
    vault_rollback(s->v);
    s->key_id[0] = '\0';
cleanup:
    sodium_free(sk);
    sodium_free(payload);
    minisig_seckey_free(key);
    return rc;
}

int signing_unlock(signing_session *s)
{
    sqlite3_stmt *st = NULL;
    uint8_t *payload = sodium_malloc(PAYLOAD_LEN), *inner = sodium_malloc(INNER_LEN);
    int rc;
    const member *a = &s->m[0], *b = &s->m[1];
    if (strcmp(a->name, b->name) > 0) {
        a = &s->m[1];
        b = &s->m[0];
    }
    if (payload == NULL || inner == NULL) {
        rc = err_set(RL_ENOMEM, "cannot allocate protected memory");
        goto cleanup;
    }
    int src = sqlite3_prepare_v2(
        vault_db(s->v),
        "SELECT k.key_id, w.wrap FROM signing_keys k LEFT JOIN signing_wraps w ON"
        " w.key_id = k.key_id AND w.a = ?1 AND w.b = ?2 WHERE k.retired_at IS NULL",
        -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, b->name, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "the appliance has no signing key yet: two approvers create it "
                               "with 'key create' (docs/signing.md)");
        goto cleanup;
    }
    if (src != SQLITE_ROW) {
        rc = vault_sql_error(s->v, src, "reading the signing key");
        goto cleanup;
    }
    if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
        rc = err_set(RL_EAUTH, "the signing key has not been granted to %s and %s together: "
                               "two approvers who can sign run 'key grant' (docs/signing.md)",
                     a->name, b->name);
        goto cleanup;
    }
    if (sqlite3_column_bytes(st, 1) != OUTER_LEN) {
        rc = err_set(RL_EINTEGRITY, "the signing key's seal for %s and %s is damaged", a->name,
                     b->name);
        goto cleanup;
    }
    snprintf(s->key_id, sizeof s->key_id, "%s", (const char *)sqlite3_column_text(st, 0));
    if (crypto_box_seal_open(inner, sqlite3_column_blob(st, 1), OUTER_LEN, a->pk, a->sk) != 0 ||
        crypto_box_seal_open(payload, inner, INNER_LEN, b->pk, b->sk) != 0) {
        rc = err_set(RL_EINTEGRITY, "the signing key's seal for %s and %s does not open: it "
                                    "was altered", a->name, b->name);
        goto cleanup;
    }
    minisig_seckey_free(s->key);
    s->key = NULL;
    if ((rc = minisig_seckey_from_raw(payload, payload + 64, &s->key)) != RL_OK)
        goto cleanup;
    minisig_pubkey mine;
    char kid[17];
    minisig_seckey_pubkey(s->key, &mine);
    minisig_key_id_hex(mine.key_id, kid);
    if (strcmp(kid, s->key_id) != 0) {
        rc = err_set(RL_EINTEGRITY, "the signing key's seal holds another key than %s",
                     s->key_id);
        minisig_seckey_free(s->key);
        s->key = NULL;
    }
cleanup:
    if (rc != RL_OK)
        s->key_id[0] = '\0';
    sqlite3_finalize(st);
    sodium_free(payload);
    sodium_free(inner);
    return rc;
}

int signing_grant(signing_session *s, size_t *made)
{
    uint8_t *payload = NULL;
    int rc;
    *made = 0;
    if (s->key == NULL)
        return err_set(RL_EDATA, "the signing key is not unlocked");
    /* minisig keeps the key in its own layout: reseal from a fresh export of it. */
    uint8_t *raw = sodium_malloc(64);
    uint8_t key_id[8];
    if (raw == NULL)
        return err_set(RL_ENOMEM, "cannot allocate protected memory");
    minisig_seckey_raw(s->key, raw, key_id);
    rc = key_payload(raw, key_id, &payload);
    sodium_free(raw);
    if (rc != RL_OK)
        return rc;
    if ((rc = vault_begin(s->v)) != RL_OK)
        goto cleanup;
    char detail[300];
    if ((rc = seal_missing(s, payload, made)) != RL_OK)
        goto rollback;
    snprintf(detail, sizeof detail, "signing key %s granted to %zu more approver pair(s) by %s "
                                    "and %s", s->key_id, *made, s->m[0].name, s->m[1].name);
    if ((rc = vault_audit(s->v, "key.grant", detail)) != RL_OK ||
        (rc = vault_commit(s->v)) != RL_OK)
        goto rollback;
    goto cleanup;
rollback:
    vault_rollback(s->v);
    *made = 0;
cleanup:
    sodium_free(payload);
    return rc;
}

int signing_pubkey(vault *v, minisig_pubkey *pk, char *text, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc;
    int src = sqlite3_prepare_v2(vault_db(v),
                                 "SELECT public_key FROM signing_keys WHERE retired_at IS NULL",
                                 -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = err_set(RL_EDATA, "the appliance has no signing key yet: two approvers create it "
                               "with 'key create' (docs/signing.md)");
    } else if (src != SQLITE_ROW) {
        rc = vault_sql_error(v, src, "reading the signing key");
    } else {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        rc = minisig_pubkey_parse(t, n, pk);
        if (rc == RL_OK && text != NULL) {
            if (n >= cap)
                rc = err_set(RL_EDATA, "public key text too long");
            else
                memcpy(text, t, n + 1);
        }
    }
    sqlite3_finalize(st);
    return rc;
}
