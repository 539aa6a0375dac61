#!/usr/bin/env bash
# The bad-input catalogue (tests/bad-input/README.md): every row of tests/bad-input/cases.tsv
# runs one command against one vault that is set up once, and must give the expected exit
# code and message; after every case the vault must be unchanged, byte for byte (the sealed
# database, the commit record, the keyring and the list of files), and at the end the app's
# own views (status, register list, check) must agree.
#
#   B=build TOP=$PWD BIN=$PWD/build/bin/reservlon GEN=$PWD/build/bin/gen-snapshot \
#     bash tests/e2e/bad_input.sh [CASE-ID-REGEX]
set -u
. "$TOP/tests/e2e/lib.sh"
CASES="$TOP/tests/bad-input/cases.tsv"
STATIC="$TOP/tests/bad-input/files"
PY=/usr/bin/python3
ONLY=${1:-}
command -v minisign >/dev/null || fail "minisign is not installed (scripts/install-deps)"

# --- the vault, set up once ---------------------------------------------------------------
V="$T/vault"
F="$T/files"
MAIN_V="$V"
mkdir -p "$F"
for who in alice bob carol; do printf '%s passphrase 2026\n' "$who" > "$T/pass-$who"; done
AD=(--as alice --passphrase-file "$T/pass-alice")   # administrator
R=(--as bob --passphrase-file "$T/pass-bob")        # registrar
C=(--as carol --passphrase-file "$T/pass-carol")    # approver
"$GEN" --employees 60 --seed 8 --out "$T/snap" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/pass-alice" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$T/snap" "${AD[@]}"
cp "$V/vault.db" "$T/vault.db.after-import"   # for the rolled-back-database case
expect_exit 0 "$BIN" --vault "$V" operator add bob --role registrar "${AD[@]}" --new-passphrase-file "$T/pass-bob"
expect_exit 0 "$BIN" --vault "$V" operator add carol --role approver "${AD[@]}" --new-passphrase-file "$T/pass-carol"
expect_exit 0 "$BIN" --vault "$V" status --json "${R[@]}"
cp "$T/out" "$T/status-before.json"

# Values the cases refer to: a monthly, open-ended employment of the snapshot, and a valid
# personnummer that is not in it.
EMP=$(awk -F, 'NR>1 && $5=="" && $6=="monthly" && $4<"2026-01-01" {print $1; exit}' "$T/snap/employments.csv")
[ -n "$EMP" ] || fail "no suitable employment in the snapshot"
NEWPNR=199003151231
grep -q "^$NEWPNR," "$T/snap/employees.csv" && fail "$NEWPNR collides with the snapshot"
# A hire's fields other than the person (cases add the personnummer and names).
HIRE=(--org-unit-id OU00001 --start-date 2026-12-01 --pay-type monthly --monthly-salary-ore 3000000
      --extent-pct 100 --tax-table 33 --tax-column 1)
PAYDATE=$(date +%F)    # a pay run's pay date may not be in the past
PERIOD=$(date +%Y-%m)

# --- input files -----------------------------------------------------------------------------
# Readable ones are stored in tests/bad-input/files (@EMP@ stands for $EMP); bytes that do
# not survive an editor, huge ones and snapshots are made here.
for f in "$STATIC"/*; do sed "s/@EMP@/$EMP/g" "$f" > "$F/$(basename "$f")"; done
HDR='type,employment_id,amount_ore,pay_code,reason'
printf '%s\none_off,%s,100,X1,caf\xe9\n' "$HDR" "$EMP" > "$F/non-utf8.csv"
printf '{"type":"one_off","employment_id":"%s","amount_ore":100,"pay_code":"X1","reason":"caf\xe9"}\n' "$EMP" > "$F/non-utf8.jsonl"
printf '%s\none_off,%s,100,X1,a\0b\n' "$HDR" "$EMP" > "$F/nul-byte.csv"
: > "$F/empty.jsonl"
printf '\n  \r\n\t\n' > "$F/whitespace.jsonl"
printf '\xef\xbb\xbf{"type":"one_off","employment_id":"%s","amount_ore":0,"pay_code":"X1","reason":"bom"}\n' "$EMP" > "$F/bom.jsonl"
printf '\xef\xbb\xbf%s\none_off,%s,0,X1,bom\n' "$HDR" "$EMP" > "$F/bom.csv"
mkdir -p "$F/a-directory"
"$PY" - "$F" "$EMP" <<'PY'
import json, sys
d, emp = sys.argv[1], sys.argv[2]
big = "a" * (1 << 20)   # a 1 MiB reason
with open(f"{d}/huge-field.jsonl", "w") as f:
    f.write(json.dumps({"type": "one_off", "employment_id": emp, "amount_ore": 100,
                        "pay_code": "X1", "reason": big}) + "\n")
with open(f"{d}/huge-field.csv", "w") as f:
    f.write(f"type,employment_id,amount_ore,pay_code,reason\none_off,{emp},100,X1,{big}\n")
cols = ",".join(["type"] + [f"c{i}" for i in range(1, 33)])   # 33 columns, the limit is 32
with open(f"{d}/too-many-columns.csv", "w") as f:
    f.write(cols + "\n" + ",".join(["one_off"] + ["x"] * 32) + "\n")
PY

# Snapshot variants. snapvar NAME CODE: a copy of the good snapshot in $F/snap-NAME, CODE run
# inside it, then the manifest's hashes and row counts recomputed and signed again with the
# TEST export key, so that only the planted problem is wrong. snapvar_unsigned: the same
# without re-signing (tampering after export). Row counts: data lines (non-empty, less the
# header) unless the CODE sets ROWS_<file> (e.g. ROWS_employees=49).
resign() { # resign DIR [KEY=VALUE...]: hashes, counts and a new signature for manifest.json
  "$PY" - "$@" <<'PY' || return 1
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for name, e in m["files"].items():
    p = os.path.join(d, name)
    data = open(p, "rb").read() if os.path.exists(p) else b""
    e["sha256"] = hashlib.sha256(data).hexdigest()
    e["rows"] = max(len([l for l in data.split(b"\n") if l.strip()]) - 1, 0)
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    if k.startswith("rows:"):
        m["files"][k[5:]]["rows"] = int(v)
    else:
        m[k] = v
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(m, indent=2) + "\n")
PY
  minisign -S -W -s "${SIGN_KEY:-$TOP/keys/test/export-TEST.key}" -m "$1/manifest.json" \
    -t "bad-input test" </dev/null >/dev/null 2>&1
}
snapvar() { # snapvar NAME CODE [MANIFEST-KEY=VALUE...]
  local d="$F/snap-$1" code=$2; shift 2
  rm -rf "$d"; cp -r "$T/snap" "$d"
  (cd "$d" && eval "$code") || fail "snapshot variant $d"
  resign "$d" "$@" || fail "re-signing $d"
}
snapvar_unsigned() { # snapvar_unsigned NAME CODE
  local d="$F/snap-$1"
  rm -rf "$d"; cp -r "$T/snap" "$d"
  (cd "$d" && eval "$2") || fail "snapshot variant $d"
}
# Tampered after signing (exit 3).
snapvar_unsigned csv-altered 'sed -i "2s/,0,/,1,/" employees.csv'
snapvar_unsigned no-signature 'rm manifest.json.minisig'
snapvar_unsigned file-missing 'rm org_units.csv'
SIGN_KEY="$TOP/keys/test/appliance-TEST.key" snapvar other-key ':'
snapvar rows-mismatch ':' rows:employees.csv=59
# Signed, but bad data (exit 1).
# Structural errors stop a file, not the import: one in each of three files (the rows that
# depend on them report too, but fewer than the 100 shown).
snapvar structure 'sed -i "3s/,/,\xe9/" org_units.csv
  sed -i "5s/^\([A-Z0-9]*\),/\1,\"/" employments.csv
  sed -i "1s/^employment_id,/employment_id,employment_id,/" last_payrun.csv'
snapvar empty-employees ': > employees.csv; : > employments.csv; : > last_payrun.csv'
snapvar export-time ':' export_time="last tuesday afternoon"
snapvar source-control ':' source_system="$(printf 'Main payroll\033[2J')"
# Several bad records at once, each in its own line (the line numbers are the cases').
snapvar records "$PY"' - <<"PY"
import csv
def edit(name, fn):
    rows = list(csv.reader(open(name, newline="")))
    fn(rows)
    w = csv.writer(open(name, "w", newline=""), lineterminator="\n")
    w.writerows(rows)
def emp(r):
    r[1][1] = "a" * (1 << 20)              # line 2: a 1 MiB given name
    r[2][2] = "Berg\x1b[2J"                # line 3: a terminal escape in family_name
    r[3][0] = r[3][0][:8] + "+" + r[3][0][8:]   # line 4: 12 digits with a + separator
    r[4][3] = "7"                          # line 5: protected_identity out of range
    del r[5][6]                            # line 6: a column missing
    r[7][1] = ""                           # line 8: empty given_name
def empl(r):
    r[1][3] = "2025-02-30"                 # line 2: no such date
    r[2][8] = "62.555"                     # line 3: three decimals
    r[3][6] = "3 120 000" if r[3][5] == "monthly" else r[3][6]   # line 4 (see cases)
    r[3][7] = "3 120 000" if r[3][5] == "hourly" else r[3][7]
    r[4][4] = "2000-01-01"                 # line 5: ends before it starts
def pay(r):
    r[1][3] = str(int(r[1][3])) + ".50"    # line 2: öre with decimals
    r[2][4] = "-1"                         # line 3: a negative tax
    r[3][6] = "99999999999999999999"       # line 4: beyond int64
edit("employees.csv", emp); edit("employments.csv", empl); edit("last_payrun.csv", pay)
PY'
# --- helpers for the prep column ---------------------------------------------------------
flip_byte() { # flip_byte FILE OFFSET: one bit of one byte changed
  "$PY" -c 'import sys; p, o = sys.argv[1], int(sys.argv[2]); b = bytearray(open(p, "rb").read()); b[o] ^= 0x10; open(p, "wb").write(b)' "$1" "$2"
}
uuids_in() { # uuids_in FILE: the UUIDs awaiting approval in a `register list --json` output
  "$PY" -c 'import json, sys; print(" ".join(r["uuid"] for r in json.load(open(sys.argv[1])) if r["status"] == "registered"))' "$1"
}

# --- checks cases can name (after a '!' in the expect column) -------------------------------
vstate() { (cd "$1" && ls -A && sha256sum -- *) 2>&1; }
vstate_db() { (cd "$1" && ls -A && sha256sum -- vault.db commits) 2>&1; }
absent() { [ ! -e "$1" ] || { echo "$1 exists" >&2; return 1; }; }
copy_unchanged() { [ "$(vstate "$W")" = "$W_STATE" ] || { echo "the damaged copy was changed" >&2; return 1; }; }
copy_db_unchanged() { [ "$(vstate_db "$W")" = "$W_STATE_DB" ] || { echo "vault.db or commits changed" >&2; return 1; }; }
full_unchanged() { [ "$(cat "$X/ns-state" 2>/dev/null)" = unchanged ] || { echo "the vault on the full disk changed" >&2; return 1; }; }
stdout_has() { grep -a -q -E -- "$1" "$OUT" || { echo "stdout lacks /$1/" >&2; return 1; }; }
# No CSV cell that a spreadsheet would run as a formula (OWASP: a text cell starting with
# = + - @ tab or CR, unless neutralised with a leading '). Plain numbers are fine.
csv_no_formula() {
  "$PY" - "$OUT" <<'PY'
import csv, re, sys
bad = []
for n, row in enumerate(csv.reader(open(sys.argv[1], newline="")), 1):
    for cell in row:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"-?\d+(\.\d+)?", cell):
            bad.append(f"line {n}: {cell[:40]!r}")
if bad:
    print("formula cells: " + "; ".join(bad[:5]), file=sys.stderr)
    sys.exit(1)
PY
}
# xfail REASON CHECK...: a known, reported defect outside this test's reach. The check must
# still fail (XFAIL); once it passes (XPASS) the case fails, to have the expectation updated.
xfail() {
  local why=$1; shift
  if "$@" 2>>"$T/xfail-detail"; then
    echo "XPASS: '$*' now passes; expect it plainly instead of through xfail ($why)" >&2
    return 1
  fi
  XFAIL_NOTE="$why"
}

# --- mounts for the read-only and full-disk cases ---------------------------------------------
# Both need a private mount namespace (unshare -m) and root; elsewhere those cases are skipped
# with the reason. chmod cannot make a vault read-only for root.
NS_OK=0
NS_WHY="needs root and mount namespaces (unshare -m, tmpfs and read-only bind mounts)"
mkdir -p "$T/probe1" "$T/probe2"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
   unshare -m --propagation private sh -c 'mount -t tmpfs -o size=64k tmpfs "$1" &&
     mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && ! touch "$2/x" 2>/dev/null' \
     _ "$T/probe1" "$T/probe2" 2>/dev/null; then
  NS_OK=1
fi
# ns_run MODE ARGS...: runs reservlon ARGS in a private mount namespace (the mounts vanish
# with it), on a read-only bind mount of the vault at $X/ro (ro) or on a copy of it at
# $X/full/v on a tmpfs filled to the last byte (full; $X/ns-state says whether the copy
# changed). Exit code: the command's, 125 if the mount could not be made.
ns_run() {
  local mode=$1; shift
  local kb=$(( $(du -sk "$MAIN_V" | cut -f1) + 256 ))
  unshare -m --propagation private bash -c '
    mode=$1 main=$2 x=$3 kb=$4; shift 4
    state() { (cd "$1" && ls -A && sha256sum -- *) 2>&1; }
    if [ "$mode" = ro ]; then
      mount --bind "$main" "$x/ro" && mount -o remount,bind,ro "$x/ro" || exit 125
    else
      mount -t tmpfs -o "size=${kb}k,mode=0700" tmpfs "$x/full" && cp -a "$main" "$x/full/v" || exit 125
      dd if=/dev/zero of="$x/full/filler" bs=4k 2>/dev/null
      before=$(state "$x/full/v")
    fi
    "$@"; rc=$?
    if [ "$mode" = full ]; then
      [ "$(state "$x/full/v")" = "$before" ] && echo unchanged > "$x/ns-state" || echo changed > "$x/ns-state"
    fi
    exit $rc' _ "$mode" "$MAIN_V" "$X" "$kb" "$@"
}

# --- the catalogue --------------------------------------------------------------------------
# Rows with the same mode, arguments and preparation as the row before form a group that
# shares one run. Groups are dealt to LANES lanes that run side by side, each on its own copy
# of the vault (Argon2 makes every login cost ~0.5 s; two cores do two at a time). The
# scratch rows depend on each other and stay together in lane 0.
LANES=${BAD_INPUT_LANES:-2}
ids=(); modes=(); wants=(); expects=(); argss=(); preps=(); group=(); lane=()
g=-1; prev_key=""; ngroups_lane=()
for ((l = 0; l < LANES; l++)); do ngroups_lane[l]=0; done
lineno=0
while IFS=$'\t' read -r id mode want expect args prep; do
  lineno=$((lineno + 1))
  case "$id" in ''|'#'*|id) continue ;; esac
  [ -n "$ONLY" ] && ! [[ "$id" =~ $ONLY ]] && continue
  [ -n "${prep:-}" ] || fail "cases.tsv line $lineno: needs 6 tab-separated columns"
  case "$mode" in -|copy|scratch|ro|full) ;; *) fail "cases.tsv line $lineno: unknown mode '$mode'" ;; esac
  key="$mode"$'\t'"$args"$'\t'"$prep"
  i=${#ids[@]}
  ids[i]=$id; modes[i]=$mode; wants[i]=$want; expects[i]=$expect; argss[i]=$args; preps[i]=$prep
  if [ "$key" != "$prev_key" ] || [ "$mode" = copy ]; then
    g=$((g + 1))
    if [ "$mode" = scratch ]; then l=0; else
      l=0; for ((k = 1; k < LANES; k++)); do [ "${ngroups_lane[k]}" -lt "${ngroups_lane[l]}" ] && l=$k; done
    fi
    ngroups_lane[l]=$((ngroups_lane[l] + 1))
  fi
  group[i]=$g; lane[i]=$l; prev_key=$key
done < "$CASES"
[ "${#ids[@]}" -gt 0 ] || fail "no case matched '$ONLY'"
dups=$(printf '%s\n' "${ids[@]}" | sort | uniq -d)
[ -z "$dups" ] || fail "duplicate case ids: $dups"
mkdir -p "$T/results"

# run_lane L: every row of lane L, in catalogue order. Writes $T/results/ROW: a status line
# (ok, XFAIL, SKIP or FAIL) and, for a failure, what the command did.
run_lane() {
  local L=$1 i id mode want expect args prep key got ok why rest item now main_state
  X="$T/lane$L"; mkdir -p "$X/ro" "$X/full"
  MAIN_V="$X/vault"; cp -a "$T/vault" "$MAIN_V"
  OUT="$X/out"; ERR="$X/err"
  local S="" last_group=-1 last_got="" CMD_TEXT=""
  main_state=$(vstate "$MAIN_V")
  for i in "${!ids[@]}"; do
    [ "${lane[i]}" = "$L" ] || continue
    id=${ids[i]} mode=${modes[i]} want=${wants[i]} expect=${expects[i]} args=${argss[i]} prep=${preps[i]}
    res="$T/results/$i"
    XFAIL_NOTE=""
    if { [ "$mode" = ro ] || [ "$mode" = full ]; } && [ "$NS_OK" != 1 ]; then
      echo "SKIP $id: $NS_WHY" > "$res"; continue
    fi
    if [ "${group[i]}" != "$last_group" ]; then
      V="$MAIN_V"; W=""
      case "$mode" in
        copy) W="$X/w-$id"; rm -rf "$W"; cp -a "$MAIN_V" "$W" ;;
        scratch) [ -n "$S" ] || { S="$X/scratch"; cp -a "$MAIN_V" "$S"; } ;;
        ro) V="$X/ro" ;;
        full) V="$X/full/v" ;;
      esac
      if [ "$prep" != - ] && ! eval "$prep" >"$X/prep.log" 2>&1; then
        echo "FAIL $id: preparation failed: $prep: $(head -c 300 "$X/prep.log")" > "$res"; continue
      fi
      if [ -n "$W" ]; then W_STATE=$(vstate "$W"); W_STATE_DB=$(vstate_db "$W"); fi
      if [ "$args" = "(none)" ]; then set --; else eval "set -- $args"; fi
      CMD_TEXT="$*"
      case "$mode" in
        ro|full) rm -f "$X/ns-state"; ns_run "$mode" "$BIN" "$@" </dev/null >"$OUT" 2>"$ERR" ;;
        *) "$BIN" "$@" </dev/null >"$OUT" 2>"$ERR" ;;
      esac
      got=$?
      V="$MAIN_V"
      last_group=${group[i]}; last_got=$got
      if [ "$got" = 125 ] && { [ "$mode" = ro ] || [ "$mode" = full ]; }; then
        echo "SKIP $id: the $mode mount could not be made here" > "$res"; last_group=-1; continue
      fi
    else
      got=$last_got
    fi
    # The exit code, no sanitizer report, a message on stderr for every failure; then each
    # expectation: a regular expression (grep -E) over stdout and stderr, or !CHECK.
    ok=1; why=""
    if [ "$got" != "$want" ]; then ok=0; why="expected exit $want, got $got"
    elif grep -a -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$ERR"; then ok=0; why="sanitizer report"
    elif [ "$want" != 0 ] && [ ! -s "$ERR" ]; then ok=0; why="failed without a message on stderr"
    fi
    rest="$expect"
    while [ "$ok" = 1 ] && [ -n "$rest" ]; do
      item=${rest%% ;; *}
      if [ "$item" = "$rest" ]; then rest=""; else rest=${rest#* ;; }; fi
      if [ "${item:0:1}" = '!' ]; then
        eval "${item:1}" 2>"$X/check.err" || { ok=0; why="check failed: ${item:1}: $(head -c 300 "$X/check.err")"; }
      else
        cat "$OUT" "$ERR" | grep -a -q -E -- "$item" || { ok=0; why="no match for /$item/"; }
      fi
    done
    # Whatever the case, the lane's vault is as it was, byte for byte.
    now=$(vstate "$MAIN_V")
    if [ "$now" != "$main_state" ]; then ok=0; why="${why:+$why; }the vault changed"; main_state=$now; fi
    if [ "$ok" = 1 ] && [ -n "$XFAIL_NOTE" ]; then
      echo "XFAIL $id: $XFAIL_NOTE" > "$res"
    elif [ "$ok" = 1 ]; then
      echo "ok   $id" > "$res"
    else
      { echo "FAIL $id: $why"; echo "  command: reservlon $CMD_TEXT"; echo "  exit: $got"
        echo "  stdout:"; head -c 1500 "$OUT" | sed 's/^/    /'; echo
        echo "  stderr:"; head -c 2500 "$ERR" | sed 's/^/    /'; echo; } > "$res"
    fi
  done
  # The app's own view of the lane's vault: the same status, nothing registered, checks clean.
  if [ -z "$ONLY" ]; then
    local v="$MAIN_V"
    { "$BIN" --vault "$v" status --json "${R[@]}" | cmp -s - "$T/status-before.json" ||
        echo "FAIL lane $L: status --json differs from before the cases"
      [ "$("$BIN" --vault "$v" register list --json "${R[@]}")" = "[]" ] ||
        echo "FAIL lane $L: failing cases stored registrations"
      "$BIN" --vault "$v" check "${AD[@]}" >/dev/null 2>"$X/check-final.err" ||
        echo "FAIL lane $L: check: $(cat "$X/check-final.err")"
    } > "$T/results/lane$L"
  fi
}

start=$(date +%s)
pids=()
for ((l = 0; l < LANES; l++)); do run_lane "$l" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done

passed=0; failed=0; skipped=0; xfailed=0; failures=()
for i in "${!ids[@]}"; do
  f="$T/results/$i"
  [ -s "$f" ] || echo "FAIL ${ids[i]}: no result (the lane died)" > "$f"
  case "$(head -c 5 "$f")" in
    "ok   ") passed=$((passed + 1)); cat "$f" ;;
    "XFAIL") passed=$((passed + 1)); xfailed=$((xfailed + 1)); cat "$f" ;;
    "SKIP ") skipped=$((skipped + 1)); cat "$f" ;;
    *) failed=$((failed + 1)); failures+=("${ids[i]}"); cat "$f" >&2 ;;
  esac
done
for ((l = 0; l < LANES; l++)); do
  if [ -s "$T/results/lane$l" ]; then cat "$T/results/lane$l" >&2; failed=$((failed + 1)); failures+=("lane$l-final-views"); fi
done
echo "bad-input: ${#ids[@]} cases in $((g + 1)) runs, $(( $(date +%s) - start )) s: $passed passed ($xfailed known defects, XFAIL), $failed failed, $skipped skipped"
[ "$failed" = 0 ] || fail "failed: ${failures[*]}"
pass
