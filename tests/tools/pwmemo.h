/* pwmemo: a memo of libsodium's crypto_pwhash for test tools only (tamper, crashtest).
 * TEST-ONLY: never linked into the appliance; the memo holds derived keys in the clear.
 *
 * Linking pwmemo.o into a tool replaces crypto_pwhash for the whole program (the vault's
 * keyring calls it through the static library): the same passphrase, salt, limits,
 * algorithm and output length give the output of an earlier real call; anything else runs
 * the real Argon2id (found with dlsym(RTLD_NEXT)). This is what the real function returns
 * for the same inputs, so a memoised unlock accepts and refuses exactly what a real one
 * does; only the ~0.6 s of CPU and 256 MiB per unlock are saved. */
#ifndef RL_TEST_PWMEMO_H
#define RL_TEST_PWMEMO_H

/* Keeps the memo also in files under dir (created 0700 if missing; one 0600 file per
 * input, written to a temporary name and renamed into place), so that separate processes
 * of one test run share it. NULL: memory only (the default). Returns 0, or -1 if dir
 * cannot be made (errno set). */
int pwmemo_use_dir(const char *dir);

/* Calls of the real function, and calls answered from the memo, in this process. */
void pwmemo_stats(unsigned long *real, unsigned long *memoised);

#endif
