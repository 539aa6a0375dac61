#!/usr/bin/env bash
# The pay run over more employments than one pipeline batch (the rules run on a second
# thread, 256 employments at a time): same-as-last without registrations pays every
# employment employed all month exactly its last net (checked here from the snapshot's
# CSVs); creating the same run twice gives byte-identical results; a rule error deep in
# the run, or an amount no payroll has, names that employment and writes nothing.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"; S="$T/snap"
printf 'admin passphrase 2026\n' > "$T/admin"; printf 'registrar passphrase 2026\n' > "$T/reg"
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
PY=/usr/bin/python3
"$GEN" --employees 1500 --seed 5 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" operator add bob --role registrar "${AD[@]}" --new-passphrase-file "$T/reg"
period=$($PY -c 'import csv,sys; p=next(csv.DictReader(open(sys.argv[1])))["period"]; y,m=map(int,p.split("-")); print("%04d-%02d" % (y+(m==12), m%12+1))' "$S/last_payrun.csv")
today=$(date +%F)

# A rule file that fails at the 1,200th employment in id order (batch 5).
bad=$(tail -n +2 "$S/employments.csv" | cut -d, -f1 | sort | sed -n 1200p)
cp "$TOP/app/rules/payroll.lua" "$T/bad.lua"
cat >> "$T/bad.lua" <<LUA
local ship = pay
function pay(e, run)
  if e.employment_id == "$bad" then error("refusing $bad on purpose") end
  return ship(e, run)
end
LUA
minisign -S -s "$TOP/keys/test/rules-TEST.key" -m "$T/bad.lua" -t "TEST" </dev/null >/dev/null 2>&1 || fail "signing"
expect_exit 1 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$today" --policy same-as-last --rules "$T/bad.lua" "${R[@]}"
expect_grep "pay run aborted at employment $bad (nothing was written)" "$T/err"
expect_grep "refusing $bad on purpose" "$T/err"
expect_exit 1 "$BIN" --vault "$V" payrun show 1 "${R[@]}"
"$BIN" --vault "$V" audit list "${AD[@]}" | grep -q payrun.create && fail "a failed pay run was audited as created"

# A rule that returns a line of 10,000,000,000.01 SEK (one öre beyond any amount) at the
# 300th employment: refused there, before anything is summed or stored.
huge=$(tail -n +2 "$S/employments.csv" | cut -d, -f1 | sort | sed -n 300p)
cp "$TOP/app/rules/payroll.lua" "$T/huge.lua"
cat >> "$T/huge.lua" <<LUA
local ship2 = pay
function pay(e, run)
  local lines = ship2(e, run)
  if e.employment_id == "$huge" then
    lines[#lines + 1] = {code = "GROSS_BONUS", amount_ore = 1000000000001, text = "too much"}
  end
  return lines
end
LUA
minisign -S -s "$TOP/keys/test/rules-TEST.key" -m "$T/huge.lua" -t "TEST" </dev/null >/dev/null 2>&1 || fail "signing"
expect_exit 1 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$today" --policy same-as-last --rules "$T/huge.lua" "${R[@]}"
expect_grep "pay run aborted at employment $huge (nothing was written): the rules returned a GROSS_BONUS line of 1000000000001 öre" "$T/err"
expect_exit 1 "$BIN" --vault "$V" payrun show 1 "${R[@]}"

for run in 1 2; do
  expect_exit 0 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$today" --policy same-as-last "${R[@]}"
  "$BIN" --vault "$V" payrun show "$run" --csv "${R[@]}" > "$T/run$run.csv" || fail "payrun show --csv"
done
cmp -s "$T/run1.csv" "$T/run2.csv" || fail "the same pay run twice gave different results"
$PY - "$S" "$T/run1.csv" "$period" <<'PYEOF' || fail "same-as-last differs from the last run"
import calendar, csv, sys
snap, run, period = sys.argv[1:]
y, m = map(int, period.split("-"))
first, last = f"{period}-01", f"{period}-{calendar.monthrange(y, m)[1]:02d}"
emps = {r["employment_id"]: r for r in csv.DictReader(open(f"{snap}/employments.csv"))}
lastrun = {r["employment_id"]: r for r in csv.DictReader(open(f"{snap}/last_payrun.csv"))}
got = {r["employment_id"]: r for r in csv.DictReader(open(run))}
assert len(got) == len(emps), (len(got), len(emps))
full = 0
for eid, e in emps.items():
    if eid in lastrun and e["start_date"] <= first and (not e["end_date"] or e["end_date"] >= last):
        want = int(lastrun[eid]["net_ore"])
        have = int(got[eid]["net_ore"])
        assert have == want, (eid, have, want)
        full += 1
assert full > 1000, full
print("checked", full, "employments")
PYEOF
pass
