#!/usr/bin/env bash
# The import puts the large files' rows in key order (docs/performance.md, "Growth"), keeps
# the employments' personnummer index by dropping and rebuilding it, and checks duplicates
# and references in memory. Evidence that none of that shows: a snapshot whose three large
# files are shuffled imports to the same state, index and pay run as the sorted export;
# duplicates in each file are still reported at the later line, in file order among the
# other bad records, and import nothing; a bad record makes the import insert nothing.
set -u
. "$TOP/tests/e2e/lib.sh"
PY=/usr/bin/python3
printf 'admin passphrase 2026\n' > "$T/admin"; printf 'registrar passphrase 2026\n' > "$T/reg"
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
"$GEN" --employees 700 --seed 21 --out "$T/snap" >/dev/null 2>&1 || fail "gen-snapshot"

resign() { # resign DIR: hashes and row counts recomputed, signed again with the TEST key
  "$PY" - "$1" <<'PY' || return 1
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
for name, e in m["files"].items():
    data = open(os.path.join(d, name), "rb").read()
    e["sha256"] = hashlib.sha256(data).hexdigest()
    e["rows"] = max(len([l for l in data.split(b"\n") if l.strip()]) - 1, 0)
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(m, indent=2) + "\n")
PY
  minisign -S -W -s "$TOP/keys/test/export-TEST.key" -m "$1/manifest.json" -t "order test" \
    </dev/null >/dev/null 2>&1
}
variant() { # variant NAME PYTHON: a copy of the snapshot edited by PYTHON (rows: data lines)
  local d="$T/$1"
  rm -rf "$d"; cp -r "$T/snap" "$d"
  "$PY" - "$d" "$2" <<'PY' || fail "variant $d"
import random, sys
d, code = sys.argv[1], sys.argv[2]
def edit(name, fn):
    lines = open(f"{d}/{name}").read().splitlines(True)
    lines[1:] = fn(lines[1:])
    open(f"{d}/{name}", "w").write("".join(lines))
random.seed(7)
exec(code)
PY
  resign "$d" || fail "re-signing $d"
}
vault() { # vault NAME: a fresh vault with bob as registrar
  expect_exit 0 "$BIN" --vault "$T/v-$1" init --admin alice --passphrase-file "$T/admin" \
    --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
  expect_exit 0 "$BIN" --vault "$T/v-$1" operator add bob --role registrar "${AD[@]}" --new-passphrase-file "$T/reg"
}

# Shuffled: every row of the three large files in a random order; and mostly sorted, a few
# rows moved (some go in at once, the rest after the sort).
variant shuffled 'for f in ("employees.csv", "employments.csv", "last_payrun.csv"):
    edit(f, lambda rows: random.sample(rows, len(rows)))'
variant moved 'def move(rows):
    for _ in range(25):
        rows.insert(random.randrange(len(rows)), rows.pop(random.randrange(len(rows))))
    return rows
for f in ("employees.csv", "employments.csv", "last_payrun.csv"):
    edit(f, move)'
period=$($PY -c 'import csv,sys; p=next(csv.DictReader(open(sys.argv[1])))["period"]; y,m=map(int,p.split("-")); print("%04d-%02d" % (y+(m==12), m%12+1))' "$T/snap/last_payrun.csv")
today=$(date +%F)
for name in snap shuffled moved; do
  vault "$name"
  expect_exit 0 "$BIN" --vault "$T/v-$name" snapshot import "$T/$name" "${AD[@]}"
  expect_exit 0 "$BIN" --vault "$T/v-$name" check "${AD[@]}"
  expect_exit 0 "$BIN" --vault "$T/v-$name" employee state --out "$T/state-$name.csv" "${R[@]}"
  expect_exit 0 "$BIN" --vault "$T/v-$name" status --json "${R[@]}"
  sed 's/"imported_at":"[^"]*"//; s/"audit_entries":[0-9]*//; s/"commits":[0-9]*//; s/"signature_comment":"[^"]*"//' \
    "$T/out" > "$T/status-$name.json"
  expect_exit 0 "$BIN" --vault "$T/v-$name" payrun create --period "$period" --pay-date "$today" \
    --policy recalculate "${R[@]}"
  "$BIN" --vault "$T/v-$name" payrun show 1 --csv "${R[@]}" > "$T/run-$name.csv" || fail "payrun show"
done
for name in shuffled moved; do
  # (the first line names the snapshot by its manifest's hash, which differs)
  cmp -s <(tail -n +2 "$T/state-snap.csv") <(tail -n +2 "$T/state-$name.csv") ||
    fail "$name: employment state differs"
  cmp -s "$T/status-snap.json" "$T/status-$name.json" || fail "$name: status differs"
  cmp -s "$T/run-snap.csv" "$T/run-$name.csv" || fail "$name: pay run differs"
done
[ "$(wc -l < "$T/run-snap.csv")" -gt 700 ] || fail "the pay run is too short"
# The personnummer index is back (the same definition as a new vault's), and used: a
# person's employments are found by it. The state file lists the person's employments.
pnr=$(sed -n 2p "$T/snap/employments.csv" | cut -d, -f2)
expect_exit 0 "$BIN" --vault "$T/v-shuffled" employee show "$pnr" --json "${R[@]}"
expect_grep "$(sed -n 2p "$T/snap/employments.csv" | cut -d, -f1)" "$T/out"

# Duplicates: the later line is reported, in file order among the other bad records.
variant dups 'def weekly(row):
    f = row.split(",")
    f[5] = "weekly"
    return ",".join(f)
edit("employees.csv", lambda r: r[:10] + [r[3]] + r[10:] + [r[5]])
edit("employments.csv", lambda r: r[:20] + [r[2]] + r[20:25] + [weekly(r[25])] + r[26:])
edit("last_payrun.csv", lambda r: r + [r[0]])'
vault dups
expect_exit 1 "$BIN" --vault "$T/v-dups" snapshot import "$T/dups" "${AD[@]}"
grep ' line ' "$T/err" > "$T/got"
{
  echo "employees.csv line 12 field personnummer: duplicate personnummer"
  echo "employees.csv line 703 field personnummer: duplicate personnummer"
  echo "employments.csv line 22 field employment_id: duplicate employment_id"
  echo "employments.csv line 28 field pay_type: must be monthly or hourly"
  # The employment rejected on line 28 leaves its last-run line (if it has one) dangling.
  bad_id=$(sed -n 28p "$T/dups/employments.csv" | cut -d, -f1)
  grep -n "^$bad_id," "$T/dups/last_payrun.csv" | cut -d: -f1 | while read -r l; do
    echo "last_payrun.csv line $l field employment_id: no such employment in employments.csv"
  done
  echo "last_payrun.csv line $(wc -l < "$T/dups/last_payrun.csv") field employment_id: duplicate employment_id"
} > "$T/want"
diff "$T/want" "$T/got" >&2 || fail "the duplicates were not reported as expected"
expect_grep "snapshot rejected: $(wc -l < "$T/want") bad records; nothing was imported" "$T/err"
expect_exit 0 "$BIN" --vault "$T/v-dups" status --json "${R[@]}"
expect_grep '"employees":0,"employments":0,"last_payrun_lines":0' "$T/out"
pass
