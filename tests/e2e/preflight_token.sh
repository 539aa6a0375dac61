#!/usr/bin/env bash
# A whole vault directory put back to an older copy opens and checks cleanly (its commit
# record went back with it); what has left the appliance tells. `preflight` with the token
# plugged in compares the token's record (the last production seq= it accepted from this
# vault's signing key) with the vault's payment-file counter: a vault behind its token fails
# (exit 3, naming both numbers); the current vault, and a token holding none of the vault's
# keys, pass. The token is the emulated one (token-sim under umockdev).
set -u
. "$TOP/tests/e2e/lib.sh"
SIM="$(cd "$B" && pwd)/tests/token-sim"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
V="$T/vault"; S="$T/snap"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
PY=/usr/bin/python3
# The workstation checks that do not concern this test, faked as in preflight.sh.
mkdir -p "$T/net/lo"; printf '0x9\n' > "$T/net/lo/flags"; printf 'unknown\n' > "$T/net/lo/operstate"
printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' > "$T/swaps"
export RL_TEST_SYSFS_NET="$T/net" RL_TEST_PROC_SWAPS="$T/swaps"

"$GEN" --employees 30 --seed 5 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done
expect_exit 0 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" \
  debtor_clearing 5000 debtor_account "123 4560" "${AD[@]}"
period=$($PY -c 'import csv,sys; p=next(csv.DictReader(open(sys.argv[1])))["period"]; y,m=map(int,p.split("-")); print("%04d-%02d" % (y+(m==12), m%12+1))' "$S/last_payrun.csv")
expect_exit 0 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$(date +%F)" --policy same-as-last "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A1[@]}"
if grep -q "second, different approver" "$T/out"; then
  expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A2[@]}"
fi
expect_exit 0 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/appr2" \
  --out "$T/appliance.pub"
minisign -G -W -p "$T/authority.pub" -s "$T/authority.key" >/dev/null 2>&1 || fail "minisign -G"
sim() { umockdev-wrapper "$SIM" --serial RLPF01 --state "$T/flash" --flash-mib 4 -- "$@"; }
expect_exit 0 sim "$BIN" token enroll set-authority "$T/authority.pub" --authority-key "$T/authority.key" --serial RLPF01

# Not enrolled for this vault's key yet: nothing to compare, no failure.
expect_exit 0 sim "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^OK    token counter .*RLPF01 holds no key of this vault" "$T/out"
expect_exit 0 sim "$BIN" token enroll add "$T/appliance.pub" --authority-key "$T/authority.key" --serial RLPF01

# The copy kept before the first payment file (its counter is 0).
cp -a "$V" "$T/older"
W=(payfile write --payrun 1 --leave-out-unpayable "${A1[@]}" --second dave --second-passphrase-file "$T/appr2")
expect_exit 0 "$BIN" --vault "$V" "${W[@]}" --out "$T/pay1.xml"
expect_exit 0 "$BIN" --vault "$V" "${W[@]}" --out "$T/pay2.xml"
expect_exit 0 sim "$BIN" token put "$T/pay2.xml" --serial RLPF01
expect_grep "production" "$T/out"

# The current vault: its counter (2) is not behind the token's record (2).
expect_exit 0 sim "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^OK    token counter .*RLPF01 has seen no payment file newer than the vault's last (number 2)" "$T/out"
grep -q '^FAIL' "$T/out" && fail "the current vault must pass: $(cat "$T/out")"

# The whole directory put back: it opens and checks cleanly, the token knows better.
rm -rf "$V"; cp -a "$T/older" "$V"
expect_exit 0 "$BIN" --vault "$V" check "${AD[@]}"
expect_exit 3 sim "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^FAIL  token counter .*RLPF01 accepted payment file number 2 signed with this vault's key [0-9A-F]\{16\}, but the vault has issued only 0" "$T/out"
expect_grep "integrity" "$T/err"
# Without the token nothing can tell (documented in docs/threat-model.md).
expect_exit 0 "$BIN" preflight --vault "$V" "${AD[@]}"
expect_grep "^OK    token .*no token plugged in" "$T/out"
pass
