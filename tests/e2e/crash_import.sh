#!/usr/bin/env bash
# kill -9 during a large snapshot import, at several points: every time the vault must open,
# pass its full check, and hold exactly the snapshot it held before the import.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"
printf 'correct horse battery\n' > "$T/admin"
A=(--as alice --passphrase-file "$T/admin")
"$GEN" --employees 300 --seed 1 --out "$T/small" >/dev/null 2>&1 || fail "gen small"
"$GEN" --employees 40000 --seed 2 --out "$T/large" >/dev/null 2>&1 || fail "gen large"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$T/small" "${A[@]}"
"$BIN" --vault "$V" status --json "${A[@]}" > "$T/before.json" || fail "status"

# Time the unlock (Argon2id) and one full import (on a copy) to spread the kill points over
# the import itself.
start=$(date +%s%N)
"$BIN" --vault "$V" status "${A[@]}" >/dev/null || fail "status"
open_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cp -r "$V" "$T/timing"
start=$(date +%s%N)
"$BIN" --vault "$T/timing" snapshot import "$T/large" --replace "${A[@]}" >/dev/null 2>&1 || fail "timing import"
total_ms=$(( ($(date +%s%N) - start) / 1000000 ))
rm -rf "$T/timing"

killed=0
for frac in 10 25 40 55 70 85 95; do
  delay_ms=$(( open_ms + (total_ms - open_ms) * frac / 100 ))
  "$BIN" --vault "$V" snapshot import "$T/large" --replace "${A[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null
  expect_exit 0 "$BIN" --vault "$V" check "${A[@]}"
  "$BIN" --vault "$V" status --json "${A[@]}" > "$T/after.json" || fail "status after kill at $frac%"
  if ! cmp -s "$T/before.json" "$T/after.json"; then
    # The import finished before the kill: that is the other allowed state; go back.
    grep -q '"employees":40000' "$T/after.json" || { cat "$T/after.json"; fail "partial state after kill at $frac%"; }
    expect_exit 0 "$BIN" --vault "$V" snapshot import "$T/small" --replace "${A[@]}"
    "$BIN" --vault "$V" status --json "${A[@]}" | sed 's/"imported_at":"[^"]*",//; s/"audit_entries":[0-9]*//' > "$T/b2"
    sed 's/"imported_at":"[^"]*",//; s/"audit_entries":[0-9]*//' "$T/before.json" > "$T/b1"
    cmp -s "$T/b1" "$T/b2" || fail "could not restore the small snapshot"
    "$BIN" --vault "$V" status --json "${A[@]}" > "$T/before.json"
  fi
done
echo "kills landed mid-import: $killed of 7 (unlock ${open_ms} ms, unlock + import ${total_ms} ms)"
[ "$killed" -ge 4 ] || fail "too few kills landed during the import"
pass
