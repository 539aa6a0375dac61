#!/usr/bin/env bash
# The terminal interface's search by name, payment file to the token and journal export,
# driven for real in tmux at 80x24 (docs/ui.md). A protected identity is never found by name
# (only by personnummer, masked and audited); the payment file is refused before the pay run
# is released and before the key ceremony; two approvers sign it on one screen, it is put on
# an emulated USB token (token-sim under umockdev) with a progress bar and read back; the
# token is then listed through the CLI. The journal is exported by two approvers and checked
# with `journal verify`. UI_SCREENS=DIR keeps captures of the new screens there.
set -u
. "$TOP/tests/e2e/lib.sh"
command -v tmux >/dev/null || fail "tmux is required (scripts/install-deps installs it)"
PY=/usr/bin/python3
SIM="$(cd "$B" && pwd)/tests/token-sim"
# Under ASan, umockdev's preload comes before the ASan runtime.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
V="$T/vault"; S="$T/snap"; OUT="$T/pay"; mkdir -p "$OUT"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
# Enough people for a payment file of about a megabyte: the token transfer then lasts long
# enough to see the progress bar move.
"$GEN" --employees 3000 --seed 7 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done
last=$(awk -F, 'NR==2 {print $2}' "$S/last_payrun.csv")
period=$($PY -c "y,m=map(int,'$last'.split('-')); print(f'{y+(m==12):04d}-{m%12+1:02d}')")
paydate=$($PY -c "import datetime; print(max(datetime.date.today(), datetime.date.fromisoformat('$period-25')))")
# A protected identity, hired and approved through the CLI.
PROT=19850505-1238
expect_exit 0 "$BIN" --vault "$V" register hire --personnummer "$PROT" --given-name Hemlig \
  --family-name Skyddadsson --protected-identity 1 --employment-id HP1 --org-unit-id OU00001 \
  --start-date "$period-01" --pay-type monthly --monthly-salary-ore 3000000 --extent-pct 100 \
  --tax-table 32 --tax-column 1 --iban SE4550000000058398257466 "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" register list --status registered --json "${AD[@]}"
uuid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["uuid"])' "$T/out")
expect_exit 0 "$BIN" --vault "$V" register approve "$uuid" "${A1[@]}"
expect_exit 0 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$paydate" \
  --policy same-as-last "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" payfile config set debtor_name "Test kommun" debtor_clearing 5000 \
  debtor_account "123 4560" debtor_bic ESSESESS profile generic "${AD[@]}"
# A known person to find by name (lower case, without the diacritics' capitals).
read -r known_pnr known_given known_family < <($PY - "$S/employees.csv" <<'PYEOF'
import csv, sys
for p in csv.DictReader(open(sys.argv[1], encoding="utf-8")):
    if p["protected_identity"] == "0" and len(p["family_name"]) >= 5:
        print(p["personnummer"], p["given_name"], p["family_name"]); break
PYEOF
)
[ -n "$known_family" ] || fail "no person to search for"

nsock=0; sock="$T/tmux0.sock"
trap 'for s in "$T"/tmux*.sock; do tmux -S "$s" kill-server 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
tm() { tmux -S "$sock" "$@"; }
start() { # start [sim] ARGS...: the interface in a fresh 80x24 terminal (with the token: sim)
  local pre=""
  if [ "$1" = sim ]; then
    pre="umockdev-wrapper '$SIM' --serial RLUI01 --state '$T/flash' --flash-mib 8 --"; shift
  fi
  tm kill-server 2>/dev/null
  nsock=$((nsock + 1)); sock="$T/tmux$nsock.sock"
  tm new-session -d -x 80 -y 24 -s rl -c "$T" \
    "env LANG=C.UTF-8 ASAN_OPTIONS='$ASAN_OPTIONS' $pre '$BIN' $* 2>'$T/ui.err'; echo EXIT=\$?; sleep 600"
}
keys() { tm send-keys -t rl "$@"; }
text() { tm send-keys -t rl -l "$1"; }
cap() { tm capture-pane -p -t rl > "$T/screen"; }
wait_for() {
  local i
  for ((i = 0; i < ${2:-60} * 10; i++)); do
    cap; grep -qF -- "$1" "$T/screen" && return 0
    sleep 0.1
  done
  cat "$T/screen" >&2; cat "$T/ui.err" >&2 2>/dev/null; fail "timed out waiting for '$1' on the screen"
}
shows() { grep -qF -- "$1" "$T/screen" || { cat "$T/screen" >&2; fail "the screen lacks '$1'"; }; }
lacks() { grep -qF -- "$1" "$T/screen" && { cat "$T/screen" >&2; fail "the screen shows '$1'"; }; return 0; }
keep() { [ -n "${UI_SCREENS:-}" ] && cp "$T/screen" "$UI_SCREENS/$1.txt"; return 0; }
fits() {
  [ "$(wc -l < "$T/screen")" -le 24 ] || fail "more than 24 rows"
  $PY -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 80 for l in open(sys.argv[1], encoding="utf-8")))' \
    "$T/screen" || fail "a row wider than 80 columns"
}
login() { # login NAME PASSFILE
  wait_for "Lösenfras"
  text "$1"; keys Enter
  text "$(cat "$2")"; keys Enter
  wait_for "Inloggad $1"
}
# payfile_form SECOND PASSFILE: fill the payment file form (directory $OUT; the generated
# snapshot has people without an account: they are left out) and save.
payfile_form() {
  wait_for "Andra attestant"
  keys C-u; text "$OUT"; keys Tab Tab Tab; keys C-u; text j; keys Tab
  text "$1"; keys Tab; text "$(cat "$2")"; keys Enter
}

# --- 1. no token, no release, no key ceremony: clear refusals ---------------------------
start --vault "'$V'" ui
login carol "$T/appr1"
wait_for "Token"; shows "5  Exportera journal"; fits
# Search by name: a protected identity is never found by name, only by personnummer.
keys 2; wait_for "Personnummer eller namn"; shows "aldrig på namn"
text "Skyddadsson"; keys Enter
wait_for "Ingen träff."; lacks "Hemlig"
keys C-u; text "hemlig"; keys Enter; wait_for "Ingen träff."
keys C-u; text "x"; wait_for "minst 2 tecken"
keys C-u; text "$PROT"; keys Enter
wait_for "(skyddad identitet)"; lacks "Skyddadsson"; lacks "Hemlig"; shows "HP1"
keys Escape; wait_for "Personnummer eller namn"
# A known person by part of the family name in lower case, then the given name too.
fam_lower=$($PY -c 'import sys; print(sys.argv[1].lower()[1:5])' "$known_family")
keys C-u; text "$fam_lower ${known_given:0:2}"; keys Enter
wait_for "Träffar"; shows "$known_given $known_family"; fits; keep search-name
keys Enter; wait_for "Historik"; shows "$known_given $known_family"
keys Escape; wait_for "Träffar"; keys Escape; wait_for "Personnummer eller namn"
keys Escape; wait_for "Exportera journal"
# The journal before the key ceremony.
keys 5; wait_for "Nyckelceremonin är inte genomförd"; keys Enter
# The pay run is not released: the payment file is refused.
keys 4; wait_for "skapad, ej attesterad"; keys Enter; wait_for "Granskning"
shows "b Betalfil"
keys b; wait_for "Lönekörningen är inte släppt"; keys Enter
keys Escape; wait_for "Lönekörningar"; keys Escape; wait_for "Exportera journal"
# A form left with Esc and confirmed saves nothing (the registration form).
keys 1; wait_for "Välj dokumenttyp"; keys 1; wait_for "Personnummer *"
text "19900315-1231"; keys Escape; wait_for "Lämna formuläret utan att spara?"; keys j
wait_for "Exportera journal"; shows "0 väntar på attest"
keys F10; wait_for "EXIT=0"
expect_exit 0 "$BIN" --vault "$V" register list --status registered --json "${AD[@]}"
[ "$(cat "$T/out")" = "[]" ] || fail "a form left with Esc was registered"
# The protected view was audited, as `employee show` does; the name search was not needed.
expect_exit 0 "$BIN" --vault "$V" audit list --json "${AD[@]}"
grep -q 'employee.view' "$T/out" || fail "viewing the protected identity was not audited"
grep -q 'Skyddadsson\|Hemlig' "$T/out" && fail "the audit names the protected identity"

# --- 2. release, key ceremony, token provisioning (CLI) ---------------------------------
expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A1[@]}"
"$BIN" --vault "$V" payrun show 1 --json "${AD[@]}" > "$T/pr.json" || fail "payrun show"
if [ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$T/pr.json")" != approved ]; then
  expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A2[@]}"
fi
expect_exit 0 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/appr2" \
  --out "$T/appliance.pub"
minisign -G -W -p "$T/authority.pub" -s "$T/authority.key" >/dev/null 2>&1 || fail "minisign -G"
sim() { umockdev-wrapper "$SIM" --serial RLUI01 --state "$T/flash" --flash-mib 8 -- "$@"; }
expect_exit 0 sim "$BIN" token enroll set-authority "$T/authority.pub" --authority-key "$T/authority.key" --serial RLUI01
expect_exit 0 sim "$BIN" token enroll add "$T/appliance.pub" --authority-key "$T/authority.key" --serial RLUI01

# --- 3. the payment file without a token plugged in ---------------------------------------
start --vault "'$V'" ui
login carol "$T/appr1"
keys 4; wait_for "släppt"; keys Enter; wait_for "Släppt för betalfil"
keys b; wait_for "Betalfil till token"; shows "payrun-1.xml"; fits; keep payfile-form
# bob is no approver: refused, nothing written
payfile_form bob "$T/reg"
wait_for "Skriva betalfilen till"; wait_for "/pay/payrun-1.xml?"; keep payfile-confirm; keys j
wait_for "inte attestant"; shows "inget har"
[ ! -e "$OUT/payrun-1.xml" ] || fail "a refused signature left a payment file"
keys Up; keys C-u; text "dave"; keys Tab; text "$(cat "$T/appr2")"; keys Enter
wait_for "Skriva betalfilen"; keys j
wait_for "Anslut USB-token" 120; shows "Betalfilen är skriven och signerad"
shows "Signerad av carol + dave"; shows "INTE med i filen"; fits
keys v; wait_for "left out:"; shows "-****"; keys Escape; wait_for "Anslut USB-token"
keys Enter; wait_for "Ingen token ansluten"; fits; keep payfile-no-token
keys Escape; wait_for "Släppt för betalfil"
keys Escape; wait_for "Lönekörningar"; keys Escape; wait_for "Exportera journal"
keys F10; wait_for "EXIT=0"
[ -f "$OUT/payrun-1.xml" ] && [ -f "$OUT/payrun-1.xml.minisig" ] || fail "no payment file written"
[ "$(stat -c %a "$OUT/payrun-1.xml")" = 600 ] || fail "the payment file is not 0600"
size=$(stat -c %s "$OUT/payrun-1.xml")
[ "$size" -gt 500000 ] || fail "the payment file is only $size bytes: too small to see the bar move"

# --- 4. with the token: the file written again, put on the token, read back ----------------
start sim --vault "'$V'" ui
login carol "$T/appr1"
wait_for "ansluten (RLUI01)"
keys 4; wait_for "släppt"; keys Enter; wait_for "Släppt för betalfil"
keys b; payfile_form dave "$T/appr2"
wait_for "(finns redan: ersätts)"; keys j
wait_for "Anslut USB-token" 120
keys Enter; wait_for "Lägga filen på token RLUI01?"; keys j
# The bar moves: some capture shows it between 0 and 100 %, then both bars end at 100 %.
mid=0
for ((i = 0; i < 1200; i++)); do
  cap
  grep -Eq '(Skriver|Läser tillbaka) +\[[#.]+\] +([1-9]|[1-9][0-9]) %' "$T/screen" && mid=1
  grep -q 'Läser tillbaka .* 100 %' "$T/screen" && grep -q 'På token' "$T/screen" && break
  sleep 0.05
done
wait_for "På token RLUI01"
[ "$mid" = 1 ] || fail "the progress bar was never seen between 0 and 100 %"
shows "Skriver"; grep -q 'Skriver .*\[#*\] 100 %' "$T/screen" || { cat "$T/screen" >&2; fail "upload bar not full"; }
shows "tillbakaläst och kontrollerad"; shows "räknare 1"; shows "klass skarp"; shows "payrun-1.xml, storlek $size byte"
fits; keep payfile-token
keys Escape; wait_for "Släppt för betalfil"; keys Escape; wait_for "Lönekörningar"; keys Escape

# --- 5. the journal export -----------------------------------------------------------------
wait_for "Exportera journal"
keys 5; wait_for "Andra attestant"; fits; keep journal-form
keys C-u; text "$T/nodir/journal.jsonl"; wait_for "katalogen finns inte"
keys C-u; text "$OUT/journal.jsonl"; keys Tab; text "dave"; keys Tab; text "$(cat "$T/appr2")"; keys Enter
wait_for "Skriva journalen till"; wait_for "/pay/journal.jsonl?"; keys j
wait_for "Journalen är exporterad och kontrollerad" 120
shows "signaturen, varje rad, hashkedjan"; shows "carol+dave"; fits
grep -Eq '^ +lönekörningar +1 +1$' "$T/screen" || { cat "$T/screen" >&2; fail "journal summary: pay runs"; }
grep -Eq '^ +betalfiler +2 +2$' "$T/screen" || { cat "$T/screen" >&2; fail "journal summary: payment files"; }
keep journal-done
keys Escape; wait_for "Exportera journal"
keys F10; wait_for "EXIT=0"

# --- 6. checked through the command line -----------------------------------------------------
expect_exit 0 sim "$BIN" token list --serial RLUI01
grep -q "payrun-1.xml" "$T/out" || { cat "$T/out" >&2; fail "the token does not list the payment file"; }
grep "payrun-1.xml" "$T/out" | grep -q production || { cat "$T/out" >&2; fail "not a production file"; }
expect_exit 0 sim "$BIN" token get payrun-1.xml --out "$T/back.xml" --serial RLUI01
cmp -s "$T/back.xml" "$OUT/payrun-1.xml" || fail "the token's copy differs from the file written"
expect_exit 0 "$BIN" payfile verify "$OUT/payrun-1.xml" --pubkey "$T/appliance.pub"
expect_exit 0 "$BIN" journal verify "$OUT/journal.jsonl" --pubkey "$T/appliance.pub" --json
$PY - "$T/out" <<'PYEOF' || fail "journal verify"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] and j["payrun"] == 1 and j["payfile"] == 2 and j["registration"] == 1, j
PYEOF
expect_exit 0 "$BIN" --vault "$V" payfile list --json "${AD[@]}"
[ "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/out")" = 2 ] ||
  fail "two payment files should be recorded"
expect_exit 0 "$BIN" --vault "$V" check "${AD[@]}"
pass
