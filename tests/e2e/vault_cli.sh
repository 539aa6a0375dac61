#!/usr/bin/env bash
# The vault through the command line: init, operators and roles, authentication failures
# with their exit codes, and a flipped byte anywhere in the vault file caught as exit 3.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"
printf 'correct horse battery\n' > "$T/admin"
printf 'registrar passphrase\n' > "$T/reg"
printf 'short\n' > "$T/short"
printf 'wrong passphrase!\n' > "$T/wrong"
A=(--as alice --passphrase-file "$T/admin")

expect_exit 1 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/short"
expect_grep "at least 10 characters" "$T/err"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub"
expect_exit 1 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin"
expect_grep "already holds a vault" "$T/err"
[ "$(stat -c %a "$V")" = 700 ] || fail "vault directory must be mode 0700"
for f in "$V"/*; do [ "$(stat -c %a "$f")" = 600 ] || fail "$f must be mode 0600"; done

expect_exit 0 "$BIN" --vault "$V" operator add bob --role registrar "${A[@]}" --new-passphrase-file "$T/reg"
expect_exit 2 "$BIN" --vault "$V" operator add carol --role boss "${A[@]}" --new-passphrase-file "$T/reg"
expect_grep "unknown role" "$T/err"
expect_exit 3 "$BIN" --vault "$V" operator add eve --role administrator --as bob \
  --passphrase-file "$T/reg" --new-passphrase-file "$T/reg"
expect_grep "needs the administrator role" "$T/err"

expect_exit 3 "$BIN" --vault "$V" status --as bob --passphrase-file "$T/wrong"
expect_grep "wrong passphrase for operator 'bob'" "$T/err"
expect_exit 3 "$BIN" --vault "$V" status --as nobody --passphrase-file "$T/reg"
expect_grep "no operator named 'nobody'" "$T/err"
expect_exit 2 "$BIN" --vault "$V" status --passphrase-file "$T/reg"
expect_exit 2 "$BIN" --vault "$V" frobnicate "${A[@]}"
expect_exit 2 "$BIN" --vault "$V" status --bogus "${A[@]}"
# No terminal and no passphrase file: a usage error, not a hang.
expect_exit 2 "$BIN" --vault "$V" status --as bob < /dev/null

expect_exit 0 "$BIN" --vault "$V" status --json --as bob --passphrase-file "$T/reg"
expect_grep '"operators":2' "$T/out"
expect_exit 0 "$BIN" --vault "$V" check "${A[@]}"

# Flip one byte in each page of the database (a different offset each time): check
# must report an integrity failure (exit 3) every time, and the untouched vault passes.
cp "$V/vault.db" "$T/orig.db"
size=$(stat -c %s "$T/orig.db")
pages=$((size / 4096))
[ "$pages" -ge 5 ] || fail "expected a few pages, got $pages"
for ((p = 0; p < pages; p++)); do
  cp "$T/orig.db" "$V/vault.db"
  off=$((p * 4096 + (p * 1237 + 11) % 4096))
  printf "$(printf '\\%03o' $(( ($(od -An -tu1 -j "$off" -N1 "$T/orig.db") ^ 0x10) )))" |
    dd of="$V/vault.db" bs=1 seek="$off" conv=notrunc status=none
  cmp -s "$T/orig.db" "$V/vault.db" && fail "flip at $off did not change the file"
  expect_exit 3 "$BIN" --vault "$V" check "${A[@]}"
  expect_grep "integrity" "$T/err"
done
cp "$T/orig.db" "$V/vault.db"
expect_exit 0 "$BIN" --vault "$V" check "${A[@]}"
# A vault directory others can read or write is refused (and so is creating one in it).
chmod 755 "$V"
expect_exit 3 "$BIN" --vault "$V" status "${A[@]}"
expect_grep "open to other users (mode 0755).*chmod 700" "$T/err"
chmod 700 "$V"
expect_exit 0 "$BIN" --vault "$V" status "${A[@]}"
mkdir -m 775 "$T/shared"
expect_exit 3 "$BIN" --vault "$T/shared" init --admin x --passphrase-file "$T/admin"
[ -z "$(ls -A "$T/shared")" ] || fail "init left files in a directory it refused"
pass
