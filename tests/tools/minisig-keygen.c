/* minisig-keygen: creates an unencrypted minisign key pair with app/sig, for TEST keys.
 *
 * Usage: minisig-keygen PUBFILE SECFILE COMMENT
 * Used to make the keys/test/ TEST key pairs. Unlike `minisign -G -W` it fills in the secret
 * key's checksum, so minisig_seckey_load can check it. Refuses to overwrite either file:
 * replacing a key by accident would orphan everything signed with it. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"
#include "sig/minisig.h"

int main(int argc, char **argv)
{
    char pub[1024];
    char sec[1024];
    if (argc != 4) {
        fprintf(stderr, "usage: minisig-keygen PUBFILE SECFILE COMMENT\n");
        return err_exit_code(RL_EUSAGE);
    }
    if (access(argv[1], F_OK) == 0 || access(argv[2], F_OK) == 0) {
        fprintf(stderr, "minisig-keygen: %s or %s exists; not overwriting\n", argv[1], argv[2]);
        return 1;
    }
    int rc = minisig_keygen(argv[3], pub, sizeof pub, sec, sizeof sec);
    if (rc == RL_OK)
        rc = file_write_atomic(argv[2], sec, strlen(sec), 0600);
    if (rc == RL_OK)
        rc = file_write_atomic(argv[1], pub, strlen(pub), 0644);
    /* The secret text was on our stack: wipe it whatever happened. */
    sodium_memzero(sec, sizeof sec);
    if (rc != RL_OK) {
        fprintf(stderr, "minisig-keygen: %s\n", err_msg());
        return err_exit_code(rc);
    }
    return 0;
}
