#!/usr/bin/env bash
# kill -9 during a large snapshot import, at several points: every time the vault must open,
# pass its full check, and hold exactly the snapshot it held before the import.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"
printf 'correct horse battery\n' > "$T/admin"
A=(--as alice --passphrase-file "$T/admin")
"$GEN" --employees 300 --seed 1 --out "$T/small" >/dev/null 2>&1 || fail "gen small"
"$GEN" --employees 60000 --seed 2 --out "$T/large" >/dev/null 2>&1 || fail "gen large"
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

# Kill points spread over the import; under load an import may finish before its kill
# (the other allowed state: then the small snapshot is put back). Keep going until enough
# kills have landed mid-import, and check the vault after every one.
landed=0; attempts=0
fracs=(15 30 45 60 75 90 20 40 55 70 85 35 50 65 80)
while [ "$landed" -lt 5 ] && [ "$attempts" -lt "${#fracs[@]}" ]; do
  frac=${fracs[$attempts]}; attempts=$((attempts + 1))
  delay_ms=$(( open_ms + (total_ms - open_ms) * frac / 100 ))
  "$BIN" --vault "$V" snapshot import "$T/large" --replace "${A[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  expect_exit 0 "$BIN" --vault "$V" check "${A[@]}"
  "$BIN" --vault "$V" status --json "${A[@]}" > "$T/after.json" || fail "status after kill at $frac%"
  if cmp -s "$T/before.json" "$T/after.json"; then
    landed=$((landed + 1))
  else
    grep -q '"employees":60000' "$T/after.json" || { cat "$T/after.json"; fail "partial state after kill at $frac%"; }
    expect_exit 0 "$BIN" --vault "$V" snapshot import "$T/small" --replace "${A[@]}"
    "$BIN" --vault "$V" status --json "${A[@]}" > "$T/before.json"
  fi
done
echo "kills that left the vault as before: $landed of $attempts (unlock ${open_ms} ms, unlock + import ${total_ms} ms)"
[ "$landed" -ge 3 ] || fail "too few kills landed before the import committed"
pass
