/* token.h: the public API of the token firmware core (firmware/core).
 *
 * A platform's main loop (firmware/hal/<target>/main.c, the host simulator, the emulated
 * device in the end-to-end tests) does:
 *
 *     static token_storage mem;             // no malloc anywhere in the core
 *     token *t = token_open(&mem, dev);     // mounts the flash store
 *     for (;;) token_poll(t);               // or: while (token_poll(t)) {} between events
 *
 * token_poll() moves at most one USB packet in each direction, answers complete request
 * frames, and enforces the upload timeout. All protocol behaviour is in firmware/README.md
 * and proto.h. Several tokens may live in one process, each with its own storage and
 * hal_dev. */
#ifndef TOKEN_TOKEN_H
#define TOKEN_TOKEN_H

#include <stdint.h>

#include "hal.h"

#define TOKEN_FW_MAJOR 0u
#define TOKEN_FW_MINOR 1u
#define TOKEN_FW_PATCH 0u
#define TOKEN_MODEL "RLTK-1"

#define TOKEN_SERIAL_LEN 16u
#define TOKEN_MAX_PAGE 4096u           /* largest flash page the core supports */
#define TOKEN_MAX_PACKET 512u          /* largest USB bulk wMaxPacketSize supported */
#define TOKEN_UPLOAD_TIMEOUT_MS 60000u /* an upload idle this long is abandoned */

/* Caller-provided memory for one token (the core never allocates). Its size is checked
 * against the real state at compile time in core/token.c. */
#define TOKEN_STATE_BYTES 24576u
typedef struct {
    _Alignas(16) unsigned char opaque[TOKEN_STATE_BYTES];
} token_storage;

typedef struct token token;

/* The protocol state machine (firmware/README.md, "State machine"). */
typedef enum {
    TOKEN_NO_SESSION = 0, /* after power-up or USB reset: only HELLO is served */
    TOKEN_IDLE = 1,       /* session open */
    TOKEN_RECEIVING = 2,  /* between PUT_BEGIN and PUT_COMMIT/PUT_ABORT */
    TOKEN_FAULT = 3,      /* the store could not be mounted: every command but HELLO and
                             INFO is answered PROTO_E_FAULT; HELLO retries the mount */
} token_state;

/* Initialises a token in *mem over the platform device dev and mounts its flash store.
 * Returns the handle (pointing into mem; valid until token_close). Never fails for valid
 * arguments: if the store cannot be mounted the token starts in TOKEN_FAULT and says so.
 * Returns NULL only for NULL arguments. */
token *token_open(token_storage *mem, hal_dev *dev);

/* Wipes the token's RAM state. Accepts NULL. Flash is untouched: a later token_open on the
 * same device finds everything committed. */
void token_close(token *t);

/* Does one step of work: sends a pending IN packet if the endpoint accepts it, otherwise
 * takes one OUT packet and, when it completes a frame, executes the request and queues the
 * response. Returns 1 if anything happened, 0 if there was nothing to do (the caller may
 * sleep until the next USB interrupt). */
int token_poll(token *t);

/* Current protocol state (for tests, the simulator's display and the LED). */
token_state token_get_state(const token *t);

#endif
