#!/usr/bin/env bash
# The terminal interface driven for real in tmux at 80x24 (send-keys, capture-pane): log in,
# register a hire with an invalid field corrected (one caught as it is typed, one when
# saved), approve it as a second operator, create a pay run, review it and release it by two
# approvers who each log in on the same screen; the screen text is checked at each step and
# the vault afterwards through the CLI. Then: a terminal closed mid-form saves nothing, and
# English is available. UI_SCREENS=DIR keeps the captures of the main screens there.
set -u
. "$TOP/tests/e2e/lib.sh"
command -v tmux >/dev/null || fail "tmux is required (scripts/install-deps installs it)"
PY=/usr/bin/python3
V="$T/vault"; S="$T/snap"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
"$GEN" --employees 12 --seed 5 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done
# Any change in the net total then needs two approvers: the release is two-person.
expect_exit 0 "$BIN" --vault "$V" config set payrun.second_approval_pct 0 "${AD[@]}"
last=$(awk -F, 'NR==2 {print $2}' "$S/last_payrun.csv")
period=$($PY -c "y,m=map(int,'$last'.split('-')); print(f'{y+(m==12):04d}-{m%12+1:02d}')")

# One tmux server (socket) per terminal started, so a closing one never races the next.
nsock=0; sock="$T/tmux0.sock"
trap 'for s in "$T"/tmux*.sock; do tmux -S "$s" kill-server 2>/dev/null; done; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
tm() { tmux -S "$sock" "$@"; }
start() { # start ARGS...: the interface in a fresh 80x24 terminal
  tm kill-server 2>/dev/null
  nsock=$((nsock + 1)); sock="$T/tmux$nsock.sock"
  tm new-session -d -x 80 -y 24 -s rl \
    "env LANG=C.UTF-8 ASAN_OPTIONS='$ASAN_OPTIONS' '$BIN' $* 2>'$T/ui.err'; echo EXIT=\$?; sleep 600"
}
keys() { tm send-keys -t rl "$@"; }
text() { tm send-keys -t rl -l "$1"; } # literally, never as key names
cap() { tm capture-pane -p -t rl > "$T/screen"; }
# wait_for TEXT [SECONDS]: until the screen shows TEXT (Argon2id logins take seconds, more
# under ASan); prints the screen and fails on timeout.
wait_for() {
  local i
  for ((i = 0; i < ${2:-60} * 10; i++)); do
    cap; grep -qF -- "$1" "$T/screen" && return 0
    sleep 0.1
  done
  cat "$T/screen" >&2; cat "$T/ui.err" >&2 2>/dev/null; fail "timed out waiting for '$1' on the screen"
}
# wait_gone TEXT: until the screen no longer shows TEXT.
wait_gone() {
  local i
  for ((i = 0; i < 300; i++)); do
    cap; grep -qF -- "$1" "$T/screen" || return 0
    sleep 0.1
  done
  cat "$T/screen" >&2; fail "'$1' is still on the screen"
}
shows() { grep -qF -- "$1" "$T/screen" || { cat "$T/screen" >&2; fail "the screen lacks '$1'"; }; }
lacks() { grep -qF -- "$1" "$T/screen" && { cat "$T/screen" >&2; fail "the screen shows '$1'"; }; return 0; }
keep() { [ -n "${UI_SCREENS:-}" ] && cp "$T/screen" "$UI_SCREENS/$1.txt"; return 0; }
fits() { # nothing drawn beyond 80 columns or 24 rows
  [ "$(wc -l < "$T/screen")" -le 24 ] || fail "more than 24 rows"
  $PY -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 80 for l in open(sys.argv[1], encoding="utf-8")))' \
    "$T/screen" || fail "a row wider than 80 columns"
}
login() { # login NAME PASSFILE
  wait_for "Lösenfras"
  text "$1"; keys Enter
  text "$(cat "$2")"; keys Enter
  wait_for "Inloggad $1"
  lacks "passphrase 2026"
}

# --- 1. log in as the registrar; the home screen ----------------------------------------
start --vault "'$V'" ui
wait_for "Logga in"; shows "Valv (katalog)"; keep login
text "bob"; keys Enter
text "wrong passphrase"; keys Enter
wait_for "Inloggningen misslyckades"
lacks "wrong passphrase"
login bob "$T/reg"
wait_for "Token"
shows "Inloggad bob (registrerare)"; shows "Ögonblicksbild"; shows "gen-snapshot"
shows "0 väntar på attest"; shows "Lönekörningar    inga ännu"; shows "Attestkö (0)"
fits; keep home

# --- 2. a hire: a wrong check digit caught as it is typed, an unknown org unit at saving --
keys 1; wait_for "Välj dokumenttyp"; shows "Nyanställning"; keep choose-type
keys 1; wait_for "Personnummer *"
text "19900315-1232"
wait_for "kontrollsiffran stämmer inte"; shows "✗"
keys BSpace; text "1"
wait_gone "kontrollsiffran"
keys Tab; text "Ny"; keys Tab; text "Anställd"; keys Tab Tab; text "H1"
keys Tab; text "OU99999"; keys Tab; text "$period-15"; keys Tab Tab; text "monthly"
keys Tab; text "3000000"; keys Tab Tab; text "100"; keys Tab; text "32"; keys Tab; text "1"
keys Tab Tab Tab Tab; text "SE4550000000058398257466"
keep hire-form
keys F2
wait_for "ingen sådan organisationsenhet"
shows "inget registrerades"
fits; keep hire-error
# The cursor is on the bad field: clear it and type a known unit.
keys C-u; text "OU00002"
wait_gone "ingen sådan organisationsenhet"
keys F2
wait_for "Registrerat"; shows "Ska godkännas av en annan attestant"; keep registered
keys Enter; wait_for "1 väntar på attest"

# A registrar cannot decide: the queue says so.
keys 3; wait_for "Nyanställning"; shows "19900315-1231"; shows "bob"
keys Enter; wait_for "Förnamn"; shows "Ny"; shows "OU00002"
keys g; wait_for "Bara attestanter"
keys Enter Escape; wait_for "Typ"; keys Escape; wait_for "Attestkö (1)"

# --- 3. the approver logs in on the same screen and approves ----------------------------
keys F9; login carol "$T/appr1"
shows "attestant"; shows "Attestkö (1)"
keys 3; wait_for "19900315-1231"; fits; keep queue
keys Enter; wait_for "Förnamn"; fits; keep queue-item
keys g; wait_for "Godkänd"
keys Enter; wait_for "Inga registreringar väntar"
keys Escape; wait_for "1 godkända"

# Find the new employee by personnummer (a wrong one is refused as it is typed).
keys 2; wait_for "Sök anställd"
text "19900315-1232"; wait_for "kontrollsiffran stämmer inte"
keys C-u; text "19900315-1231"; keys Enter
wait_for "Ny Anställd"; shows "H1"; shows "OU00002"; shows "Historik"; fits; keep search
keys Escape; wait_for "Personnummer"; keys Escape; wait_for "1 godkända"

# --- 4. the registrar creates the pay run; review; release by carol and then dave --------
keys F9; login bob "$T/reg"
keys 4; wait_for "inga ännu"
keys n; wait_for "Utbetalningsdag"; shows "$period"; shows "same-as-last"; keep payrun-form
keys Enter Enter Enter Enter
wait_for "Granskning" 120
shows "Period $period"; shows "skapad, ej attesterad"; shows "Kräver attest av två"
shows "Brutto"; shows "Netto"; shows "Skillnad"; shows "H1"
fits; keep review
keys End Enter; wait_for "Lönerader"; shows "H1"; keep review-detail
keys Escape; wait_for "Granskning"
keys s; wait_for "loggar in här"; keep release
text "carol"; keys Enter; text "$(cat "$T/appr1")"; keys Enter
wait_for "Första attesten klar"; shows "Inloggad nu: carol"
keys Enter; wait_for "attesterad en gång"; shows "Väntar på en andra"
# carol again: refused (a different approver must give the second approval)
keys s; wait_for "loggar in här"
text "carol"; keys Enter; text "$(cat "$T/appr1")"; keys Enter
wait_for "den andra attesten måste komma"
keys C-u; text "dave"; keys Enter; text "$(cat "$T/appr2")"; keys Enter
wait_for "attesterad och släppt"; shows "Inloggad nu: dave"
keys Enter; wait_for "Släppt för betalfil"; keep released
keys Escape; wait_for "Lönekörningar"; keys Escape
wait_for "#1 $period, släppt"; shows "Inloggad dave"; fits; keep home-after
keys F10; wait_for "EXIT=0"

# --- 5. the vault afterwards, through the command line ------------------------------------
expect_exit 0 "$BIN" --vault "$V" register list --json "${AD[@]}"
$PY - "$T/out" <<'PYEOF' || fail "registrations after the interface"
import json, sys
regs = json.load(open(sys.argv[1]))
assert len(regs) == 1, regs
r = regs[0]
assert r["type"] == "hire" and r["status"] == "approved", r
assert r["author"] == "bob" and r["decided_by"] == "carol", r
f = r["fields"]
assert f["personnummer"] == "199003151231" and f["org_unit_id"] == "OU00002", f
assert f["given_name"] == "Ny" and f["family_name"] == "Anställd" and f["monthly_salary_ore"] == 3000000, f
PYEOF
expect_exit 0 "$BIN" --vault "$V" payrun show 1 --json "${AD[@]}"
$PY - "$T/out" <<'PYEOF' || fail "the pay run after the interface"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["status"] == "approved" and p["created_by"] == "bob", p
assert p["approved_by"] == "carol" and p["approved2_by"] == "dave", p
assert any(c["employment_id"] == "H1" for c in p["changed"]), p["changed"]
PYEOF

# --- 6. the terminal closed mid-form: the program ends, nothing is saved ------------------
start --vault "'$V'"   # no command on a terminal: the interface too
login bob "$T/reg"
keys 1; wait_for "Välj dokumenttyp"; keys 2; wait_for "Sista anställningsdag"
text "E0000001"; keys Tab; text "$period-20"; keys Tab; text "resignation"
pid=$(pgrep -n -f -- "--vault $V") || fail "the interface process was not found"
tm kill-server   # the terminal goes away: SIGHUP
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the interface did not end when its terminal closed"
expect_exit 0 "$BIN" --vault "$V" register list --json "${AD[@]}"
[ "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/out")" = 1 ] ||
  fail "the unsaved termination was stored"
expect_exit 0 "$BIN" --vault "$V" check "${AD[@]}"

# --- 7. English, and usage errors ----------------------------------------------------------
start --vault "'$V'" --lang en ui
wait_for "Log in"; shows "Passphrase"; keys F10; wait_for "EXIT=0"
expect_exit 2 "$BIN" --vault "$V" --lang fi ui
expect_exit 2 "$BIN" --vault "$V" ui extra
expect_exit 2 "$BIN" --vault "$V" ui </dev/null
expect_grep "needs a terminal" "$T/err"
pass
