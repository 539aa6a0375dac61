#!/usr/bin/env bash
# The pay run over more employments than one pipeline batch (the rules run on a second
# thread, 256 employments at a time): same-as-last without registrations pays every
# employment employed all month exactly its last net (checked here from the snapshot's
# CSVs); creating the same run twice gives byte-identical results; a rule error deep in
# the run, or an amount no payroll has, names that employment and writes nothing. Then its
# payment file, over more payees than the writer's ring of 1,024 (payfile.c): every payment
# goes to the account of the person whose total it is, each paid person once.
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
# The payment file of run 1: the payees pass through the writer's ring more than once.
for op in "carol appr1" "dave appr2"; do
  set -- $op
  printf '%s passphrase 2026\n' "$2" > "$T/$2"
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role approver "${AD[@]}" --new-passphrase-file "$T/$2"
done
A1=(--as carol --passphrase-file "$T/appr1")
expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A1[@]}"
if grep -q "second, different approver" "$T/out"; then
  expect_exit 0 "$BIN" --vault "$V" payrun approve 1 --as dave --passphrase-file "$T/appr2"
fi
expect_exit 0 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" debtor_clearing 5000 \
  debtor_account "123 4560" "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_exit 0 "$BIN" --vault "$V" payfile write --payrun 1 --out "$T/pay.xml" "${A1[@]}" \
  --second dave --second-passphrase-file "$T/appr2" --leave-out-unpayable
$PY - "$S" "$T/run1.csv" "$T/pay.xml" <<'PYEOF' || fail "payment file and pay run disagree"
import collections, csv, sys, xml.etree.ElementTree as ET
snap, run, pay = sys.argv[1:]
ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
people = {r["personnummer"]: r for r in csv.DictReader(open(f"{snap}/employees.csv"))}
net = collections.Counter()
masked = set()
for r in csv.DictReader(open(run)):
    if r["personnummer"].endswith("****"):
        masked.add(r["personnummer"][:8])
    net[r["personnummer"].replace("-", "")] += int(r["net_ore"])
# The file names a Swedbank account by its 4-digit clearing (the fifth digit is a check).
by_account = {(p["clearing"][:4], p["account"]): k for k, p in people.items() if p["clearing"]}
by_iban = {p["iban"]: k for k, p in people.items() if p["iban"]}
want = {k: v for k, v in net.items()
        if v > 0 and k in people and (people[k]["clearing"] or people[k]["iban"])}
doc = ET.parse(pay).getroot()
txs = doc.findall(".//p:CdtTrfTxInf", ns)
seen = set()
for tx in txs:
    iban = tx.find("p:CdtrAcct/p:Id/p:IBAN", ns)
    if iban is not None:
        who = by_iban.get(iban.text)
    else:
        clr = tx.find("p:CdtrAgt/p:FinInstnId/p:ClrSysMmbId/p:MmbId", ns).text
        who = by_account.get((clr, tx.find("p:CdtrAcct/p:Id/p:Othr/p:Id", ns).text))
    amt = round(float(tx.find("p:Amt/p:InstdAmt", ns).text) * 100)
    assert who is not None, ET.tostring(tx)
    assert who not in seen, ("paid twice", who)
    seen.add(who)
    if who in net:  # a protected identity's rows show a masked personnummer
        assert amt == net[who], (who, amt, net[who])
    else:
        assert who[:8] in masked, who
assert len(txs) > 1024 and set(want) <= seen, (len(txs), len(set(want) - seen))
print("checked", len(txs), "payments")
PYEOF
pass
