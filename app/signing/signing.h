/* signing: the appliance's Ed25519 signing key under two-person control.
 *
 * The key signs payment files (and journals) in the minisign format. No single person can
 * use it: its secret half is stored only sealed for pairs of approvers, to one approver's
 * X25519 key and then to the other's, and each approver's X25519 secret is wrapped under a
 * key derived from their own passphrase (vault_share_key). Signing therefore needs two
 * approvers to authenticate in the same session. docs/signing.md describes the scheme, the
 * key ceremony and what it does and does not protect against.
 *
 * A session is the logged-in approver plus a second approver authenticated with
 * signing_pair_open. Within it the key can be created or rotated (signing_key_create),
 * unlocked for signing (signing_unlock) and granted to approver pairs that lack it
 * (signing_grant). Every step is audited with both names. */
#ifndef RL_SIGNING_H
#define RL_SIGNING_H

#include <stddef.h>

#include "sig/minisig.h"
#include "vault/vault.h"

typedef struct signing_session signing_session;

/* Authenticates second (an approver other than the logged-in one, who must also be an
 * approver) for action and opens both approvers' X25519 secrets. Returns 0 and *out, or
 * RL_EAUTH (roles, same person, wrong passphrase, a share revoked by a passphrase reset). */
int signing_pair_open(vault *v, const char *second, const char *pass, size_t pass_len,
                      const char *action, signing_session **out) __attribute__((warn_unused_result));

/* Wipes and frees. Accepts NULL. */
void signing_close(signing_session *s);

/* Creates a new appliance signing key (the first, or a rotation that retires the current
 * one), seals it for every pair of approvers that have key pairs, audits it, and leaves it
 * unlocked in the session. pub_text (>= 512 bytes) receives the public key file to give to
 * the bank and to enrol on tokens. */
int signing_key_create(signing_session *s, char *pub_text, size_t pub_cap)
    __attribute__((warn_unused_result));

/* Opens the current signing key for the session's pair. RL_EDATA if there is none yet
 * ("key create"), RL_EAUTH if it was never granted to this pair ("key grant"). */
int signing_unlock(signing_session *s) __attribute__((warn_unused_result));

/* With the key unlocked, seals it for every approver pair that lacks it (new approvers,
 * reset passphrases); *made counts the new seals. Audited. */
int signing_grant(signing_session *s, size_t *made) __attribute__((warn_unused_result));

/* The unlocked key (NULL before signing_unlock/signing_key_create) and its id (hex). */
const minisig_seckey *signing_seckey(const signing_session *s);
const char *signing_key_id(const signing_session *s);
/* The second approver's name. */
const char *signing_second(const signing_session *s);

/* The current public key (no authentication needed: it is public). RL_EDATA if none. */
int signing_pubkey(vault *v, minisig_pubkey *pk, char *text, size_t cap)
    __attribute__((warn_unused_result));

#endif
