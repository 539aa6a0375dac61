/* registry: employment documents registered during an outage.
 *
 * Document types, their fields and rules are in docs/registrations.md. Every document gets
 * a UUID, its author, the time it was recorded, the date it takes effect and a status:
 * registered -> approved or rejected (by a different operator with the approver role)
 * -> exported (by the journal). A correction is a new document of the same type that
 * names the one it corrects; nothing is ever edited or deleted. Each change is one vault
 * transaction with its audit entry. */
#ifndef RL_REGISTRY_H
#define RL_REGISTRY_H

#include <stddef.h>
#include <stdio.h>

#include "vault/vault.h"

typedef struct {
    const char *name;  /* field name, e.g. "start_date" */
    const char *value; /* as entered */
} reg_field;

/* Registers one document of type with the given fields (and, if corrects is not NULL, as
 * a correction of that UUID). Every bad field is written to report ("field F: problem");
 * nothing is stored unless all are good. On success writes the new UUID into uuid[37].
 * Needs the registrar or approver role. Returns 0, RL_EDATA, RL_EAUTH. */
int registry_register(vault *v, const char *type, const reg_field *fields, size_t n,
                      const char *corrects, FILE *report, char uuid[37])
    __attribute__((warn_unused_result));

/* Registers every document in a JSON Lines or CSV file (first column `type`), all or
 * nothing: every bad line is reported as "FILE line N field F: problem". */
int registry_batch(vault *v, const char *path, FILE *report, size_t *count)
    __attribute__((warn_unused_result));

/* Approves or rejects a registered document. The decider must have the approver role and
 * must not be its author. A reason is required to reject. */
int registry_approve(vault *v, const char *uuid) __attribute__((warn_unused_result));
int registry_reject(vault *v, const char *uuid, const char *reason)
    __attribute__((warn_unused_result));

/* Lists registrations, optionally only those with status and/or for one person (any
 * usual personnummer form). Protected identities are marked, their names never shown. */
int registry_list(vault *v, const char *status, const char *pnr, int json, FILE *out)
    __attribute__((warn_unused_result));

/* Shows one person's current state (snapshot + approved registrations) and the history of
 * every registration that concerns them. A protected identity's name is masked unless
 * reveal is set, which is audited. */
int registry_employee_show(vault *v, const char *pnr, int json, int reveal, FILE *out)
    __attribute__((warn_unused_result));

/* Finds people by name: every word of name (at least 2 letters in all; case folded for
 * ASCII and Å Ä Ö É ...) must occur in "given family". Snapshot people and live hires of
 * people not in the snapshot; a protected identity is never matched (nor shown). Writes
 * {"matches":[{"personnummer","name","source"}...],"more":bool} to out, at most max
 * matches by family name. Returns 0, RL_EDATA (name too short or long). Not audited:
 * showing one of them is (registry_employee_show). */
int registry_employee_find(vault *v, const char *name, size_t max, FILE *out)
    __attribute__((warn_unused_result));

/* How much registry_state_write wrote. */
typedef struct {
    size_t persons, employments, documents; /* documents: live leave and one-off */
} registry_state_counts;

/* Writes the vault's current employment state (snapshot + live approved documents) to out
 * as the canonical CSV of docs/restore.md: persons by personnummer, employments by id with
 * their documents applied as `employee show` applies them, live leave and one-off
 * documents. The main system's reference importer (app/restore) writes the same bytes from
 * the snapshot and the journal. Holds personnummer and accounts unmasked (like the
 * journal). Not audited: see registry_state_save. Any operator. */
int registry_state_write(vault *v, FILE *out, registry_state_counts *counts)
    __attribute__((warn_unused_result));

/* registry_state_write into path, atomically and mode 0600, audited as employee.state. */
int registry_state_save(vault *v, const char *path, registry_state_counts *counts)
    __attribute__((warn_unused_result));

/* The known document types, NULL-terminated (for usage messages). */
const char *const *registry_types(void);

/* The fields of a document type in their order (names point into static tables), with
 * required[k] set for required ones (required may be NULL). Returns how many (at most
 * cap), or 0 for an unknown type. For forms that list every field. */
size_t registry_type_fields(const char *type, const char **names, int *required, size_t cap);

/* Checks one field's value on its own, by the same rules registry_register applies to it
 * (an empty value is absent: an error only for a required field). Rules that need other
 * fields or the vault are checked when the document is registered. Returns 0, or RL_EDATA
 * with the problem in msg ("must be a date YYYY-MM-DD that exists", no field name), or
 * RL_EUSAGE if field is not one of type's. */
int registry_check_field(const char *type, const char *field, const char *value, char *msg,
                         size_t cap) __attribute__((warn_unused_result));

#endif
