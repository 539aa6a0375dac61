#!/usr/bin/env bash
# reservlon preflight: the workstation checklist against a fake sysfs network tree, swap
# table and clock (the RL_TEST_* seams): an interface up fails naming it, loopback alone
# passes; a vault directory others can reach fails; with a login a sound vault passes, a
# missing rules key or signing key fails (exit 1), a clock behind the vault's last write
# fails, and a tampered vault or a wrong passphrase is exit 3.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"
for who in admin appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
printf 'not the passphrase\n' > "$T/wrong"
AD=(--as alice --passphrase-file "$T/admin")

# A fake /sys/class/net: lo always, eth0 as each case needs.
NET="$T/net"
iface() { mkdir -p "$NET/$1"; printf '%s\n' "$2" > "$NET/$1/flags"; printf '%s\n' "$3" > "$NET/$1/operstate"; }
iface lo 0x9 unknown
printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' > "$T/swaps"
export RL_TEST_SYSFS_NET="$NET" RL_TEST_PROC_SWAPS="$T/swaps"

# Only loopback, no vault: no FAIL, the vault checks named as skipped.
expect_exit 0 "$BIN" preflight
expect_grep "^OK    network .*no interface up besides loopback" "$T/out"
expect_grep "test source $NET" "$T/out"
expect_grep "^OK    core dumps" "$T/out"
expect_grep "^OK    swap " "$T/out"
expect_grep "^SKIP  vault .*no --vault given" "$T/out"
expect_grep "^preflight: .* 0 FAIL" "$T/out"

# An interface up fails and names it; one enabled without a link only warns.
iface eth0 0x1003 up
expect_exit 1 "$BIN" preflight
expect_grep "^FAIL  network .*eth0 (operstate up, flag UP).*ip link set eth0 down" "$T/out"
expect_grep "1 check(s) failed" "$T/err"
iface wlan0 0x1003 unknown
expect_exit 1 "$BIN" preflight
expect_grep "^FAIL  network .*eth0 (operstate up, flag UP), wlan0 (operstate unknown" "$T/out"
rm -r "$NET/wlan0"
iface eth0 0x1003 down
expect_exit 0 "$BIN" preflight
expect_grep "^WARN  network .*enabled without a link: eth0" "$T/out"
iface eth0 0x1002 down
expect_exit 0 "$BIN" preflight
expect_grep "^OK    network .*(2 checked)" "$T/out"
# An unreadable tree is a warning that says how to check by hand.
RL_TEST_SYSFS_NET="$T/nonexistent" expect_exit 0 "$BIN" preflight
expect_grep "^WARN  network .*cannot read $T/nonexistent" "$T/out"

# Swap in use warns (secrets are mlocked, the rest is not); the exit code stays 0.
printf '/dev/vda3 partition\t8388604\t\t0\t\t-2\n' >> "$T/swaps"
expect_exit 0 "$BIN" preflight
expect_grep "^WARN  swap .*1 swap area(s) in use (/dev/vda3)" "$T/out"
printf 'Filename\tType\tSize\tUsed\tPriority\n' > "$T/swaps"

# The clock: before this program was built, or absurdly far ahead.
RL_TEST_NOW=2020-01-01T00:00:00Z expect_exit 1 "$BIN" preflight
expect_grep "^FAIL  clock .*2020-01-01T00:00:00Z is before this program was built" "$T/out"
RL_TEST_NOW=2099-01-01T00:00:00Z expect_exit 1 "$BIN" preflight
expect_grep "^FAIL  clock .*more than ten years after" "$T/out"
RL_TEST_NOW=yesterday expect_exit 2 "$BIN" preflight
expect_grep "RL_TEST_NOW must be a UTC time" "$T/err"

# Usage errors.
expect_exit 2 "$BIN" preflight now
expect_exit 2 "$BIN" preflight --as alice --passphrase-file "$T/admin"
expect_grep "needs --vault" "$T/err"
expect_exit 2 "$BIN" preflight --bogus x

# A vault without a rules key and without a signing key.
expect_exit 1 "$BIN" preflight --vault "$V"
expect_grep "^FAIL  vault dir .*$V: No such file" "$T/out"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub"
expect_exit 0 "$BIN" preflight --vault "$V"
expect_grep "^OK    vault dir .*mode 0700" "$T/out"
expect_grep "^OK    disk space" "$T/out"
expect_grep "^OK    clock .*after the vault's last write" "$T/out"
expect_grep "^SKIP  integrity .*needs a login.*preflight --as NAME" "$T/out"
expect_exit 1 "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^OK    integrity .*audit chain intact" "$T/out"
expect_grep "^OK    export key .*key id" "$T/out"
expect_grep "^FAIL  rules key .*no pay-rules key is configured.*config set-rules-key" "$T/out"
expect_grep "^SKIP  rules file" "$T/out"
expect_grep "^FAIL  signing key .*key create" "$T/out"
expect_grep "2 check(s) failed" "$T/err"

# Set up completely: rules key, two approvers and the signing key. Then everything passes.
expect_exit 0 "$BIN" --vault "$V" config set-rules-key "$TOP/keys/test/rules-TEST.pub" "${AD[@]}"
for op in "carol appr1" "dave appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role approver "${AD[@]}" --new-passphrase-file "$T/$2"
done
expect_exit 0 "$BIN" --vault "$V" key create --as carol --passphrase-file "$T/appr1" \
  --second dave --second-passphrase-file "$T/appr2"
expect_exit 0 "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^OK    rules key" "$T/out"
expect_grep "^OK    rules file .*payroll.lua: signature valid" "$T/out"
expect_grep "^OK    signing key .*key id" "$T/out"
expect_grep "^OK    audit time" "$T/out"
expect_grep "^OK    token" "$T/out"
grep -q '^FAIL' "$T/out" && fail "a sound vault must pass: $(cat "$T/out")"

# A rule file altered after signing: an integrity failure (exit 3).
cp "$TOP/app/rules/payroll.lua" "$TOP/app/rules/payroll.lua.minisig" "$T/"
printf -- '-- altered\n' >> "$T/payroll.lua"
expect_exit 3 "$BIN" preflight --vault "$V" "${AD[@]}" --rules "$T/payroll.lua"
expect_grep "^FAIL  rules file" "$T/out"

# A clock set back behind the vault's last write.
RL_TEST_NOW=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ) expect_exit 1 "$BIN" preflight --vault "$V"
expect_grep "^FAIL  clock .*before the vault's last write" "$T/out"
RL_TEST_NOW=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ) expect_exit 1 "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^FAIL  audit time .*after the clock: the clock was set back" "$T/out"

# A wrong passphrase is refused like any login (exit 3).
expect_exit 3 "$BIN" preflight --vault "$V" --as alice --passphrase-file "$T/wrong"
expect_grep "^FAIL  login .*wrong passphrase" "$T/out"

# A directory others can reach fails, and no login is attempted in it.
chmod 750 "$V"
expect_exit 1 "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^FAIL  vault dir .*open to other users (mode 0750).*chmod 700" "$T/out"
expect_grep "^SKIP  integrity .*fix the vault directory first" "$T/out"
chmod 700 "$V"
chmod 644 "$V/keyring"
expect_exit 1 "$BIN" preflight --vault "$V"
expect_grep "^FAIL  vault dir .*keyring (mode 0644)" "$T/out"
chmod 600 "$V/keyring"

# A tampered vault: one flipped byte in the database is an integrity failure (exit 3).
expect_exit 0 "$BIN" --vault "$V" check "${AD[@]}" # checkpoints the WAL into vault.db
size=$(stat -c %s "$V/vault.db")
off=$((size - 4096 + 1000))
b=$(od -An -tu1 -j "$off" -N1 "$V/vault.db")
printf "$(printf '\\%03o' $(( (b ^ 0x20) )))" | dd of="$V/vault.db" bs=1 seek="$off" conv=notrunc status=none
expect_exit 3 "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^FAIL  integrity .*integrity" "$T/out"
expect_grep "(integrity or login)" "$T/err"
pass
