#!/usr/bin/env bash
# The emergency pay run end to end on a small hand-made snapshot whose every amount is
# computed here independently: same-as-last and recalculate, a hire on the 15th of a
# 30-day month, a termination, a leave, a one-off, a tax-table band edge; totals equal the
# sum of the lines; the warnings from people's flags (a protected identity without an
# account, until an approved bank change gives one; a hire's own account); two-person
# release; modified or unsigned rules refused.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"; S="$T/snap"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
PY=/usr/bin/python3

# People, org units and tax tables from a generated snapshot; employments and the last pay
# run written here, then the manifest re-signed with the TEST export key.
"$GEN" --employees 8 --seed 77 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
mapfile -t P < <(awk -F, 'NR>1 && $4=="0" && $5!="" {print $1}' "$S/employees.csv" | head -5)
[ "${#P[@]}" = 5 ] || fail "need 5 unprotected people with accounts"
cat > "$S/employments.csv" <<CSV
employment_id,personnummer,org_unit_id,start_date,end_date,pay_type,monthly_salary_ore,hourly_rate_ore,extent_pct,tax_table,tax_column,tax_fixed_pct
E1,${P[0]},OU00001,2020-01-01,,monthly,3000000,,100,32,1,
E2,${P[1]},OU00001,2019-05-01,,monthly,4000000,,50,32,1,
E3,${P[2]},OU00001,2021-03-01,,hourly,,20000,100,33,1,
E4,${P[3]},OU00001,2018-08-01,,monthly,3000100,,100,32,1,
E5,${P[4]},OU00001,2022-02-01,,monthly,2500000,,100,,,30
CSV
cat > "$S/last_payrun.csv" <<CSV
employment_id,period,pay_date,gross_ore,tax_ore,deductions_ore,net_ore
E1,2026-10,2026-10-23,3000000,594500,0,2405500
E2,2026-10,2026-10-23,2000000,343100,0,1656900
E3,2026-10,2026-10-23,1500000,300000,0,1200000
E4,2026-10,2026-10-23,3000100,599700,0,2400400
E5,2026-10,2026-10-23,2500000,750000,10000,1740000
CSV
# E4's person: a protected identity without an account.
$PY - "$S/employees.csv" "${P[3]}" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    if r["personnummer"] == sys.argv[2]:
        r.update(protected_identity="1", clearing="", account="", iban="")
w = csv.DictWriter(open(sys.argv[1], "w", newline=""), fieldnames=rows[0].keys(), lineterminator="\n")
w.writeheader(); w.writerows(rows)
PYEOF
$PY - "$S" <<'PYEOF'
import hashlib, json, sys
d = sys.argv[1]
m = json.load(open(f"{d}/manifest.json"))
for name in m["files"]:
    data = open(f"{d}/{name}", "rb").read()
    m["files"][name] = {"rows": data.count(b"\n") - 1, "sha256": hashlib.sha256(data).hexdigest()}
json.dump(m, open(f"{d}/manifest.json", "w"), indent=2)
PYEOF
rm -f "$S/manifest.json.minisig"
minisign -S -s "$TOP/keys/test/export-TEST.key" -m "$S/manifest.json" -t "payrun test snapshot" </dev/null >/dev/null 2>&1 ||
  fail "signing the test snapshot"

expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done

# The shipped rule file must carry a valid signature by the TEST rules key.
minisign -V -q -p "$TOP/keys/test/rules-TEST.pub" -m "$TOP/app/rules/payroll.lua" ||
  fail "app/rules/payroll.lua.minisig is missing or stale: re-sign it (docs/pay-rules.md)"

today=$(date -u +%F)
approve_registered() { # every registered document, approved by carol
  uuids=$("$BIN" --vault "$V" register list --status registered --json "${R[@]}" | $PY -c 'import json,sys; print(" ".join(r["uuid"] for r in json.load(sys.stdin)))')
  expect_exit 0 "$BIN" --vault "$V" register approve $uuids "${A1[@]}"
}
# A new hire on the 15th of a 30-day month, a termination on the 10th, ten days' unpaid
# leave, a one-off payment.
NEWP=199003151231
expect_exit 0 "$BIN" --vault "$V" register hire --personnummer "$NEWP" --given-name Ny --family-name Anställd \
  --employment-id H1 --org-unit-id OU00001 --start-date 2026-11-15 --pay-type monthly \
  --monthly-salary-ore 3000000 --extent-pct 100 --tax-table 32 --tax-column 1 --iban SE4550000000058398257466 "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" register termination --employment-id E2 --last-day 2026-11-10 --reason resignation "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" register leave --employment-id E1 --from-date 2026-11-03 --to-date 2026-11-12 "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" register one_off --employment-id E5 --amount-ore 50000 --pay-code OB \
  --reason "paper overtime" --period 2026-11 "${R[@]}"
# Pending registrations block the pay run unless explicitly accepted.
expect_exit 1 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy same-as-last "${R[@]}"
expect_grep "await approval" "$T/err"
approve_registered

# Bad parameters.
expect_exit 1 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date 2020-01-01 --policy same-as-last "${R[@]}"
expect_grep "in the past" "$T/err"
expect_exit 1 "$BIN" --vault "$V" payrun create --period 2026-10 --pay-date "$today" --policy same-as-last "${R[@]}"
expect_grep "already paid" "$T/err"
expect_exit 2 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy guess "${R[@]}"
# Modified and unsigned rule files: integrity failures, nothing created.
cp "$TOP/app/rules/payroll.lua" "$TOP/app/rules/payroll.lua.minisig" "$T/"
printf '\n-- harmless?\n' >> "$T/payroll.lua"
expect_exit 3 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy same-as-last --rules "$T/payroll.lua" "${R[@]}"
rm "$T/payroll.lua.minisig"
expect_exit 3 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy same-as-last --rules "$T/payroll.lua" "${R[@]}"

check_run() { # check_run ID POLICY UNBANKED: every employment's net against the independent
  # computation; UNBANKED the employments warned of no bank account ("" for none)
  "$BIN" --vault "$V" payrun show "$1" --json "${R[@]}" > "$T/show.json" || fail "payrun show --json"
  "$BIN" --vault "$V" payrun show "$1" --csv "${R[@]}" > "$T/show.csv" || fail "payrun show --csv"
  $PY - "$T/show.json" "$T/show.csv" "$S/tax_tables.csv" "$2" "$3" <<'PYEOF' || fail "amounts differ from the hand computation ($2)"
import csv, json, sys
show = json.load(open(sys.argv[1])); rows = {r["employment_id"]: r for r in csv.DictReader(open(sys.argv[2]))}
tax = {}
for r in csv.DictReader(open(sys.argv[3])):
    tax.setdefault(int(r["table"]), []).append(r)
def table(t, col, sek):
    for r in tax[t]:
        if int(r["income_from"]) <= sek and (r["income_to"] == "" or sek <= int(r["income_to"])):
            v = int(r[f"col{col}"])
            return (sek * v // 100 if r["kind"] == "30%" else v) * 100
    return 0
def rnd(a, b, c): return (a * b + c // 2) // c
policy = sys.argv[4]
want = {}
# H1: hired on the 15th of a 30-day month: 16 days of 30 000 SEK.
g = rnd(3000000, 16, 30); want["H1"] = g - table(32, 1, g // 100)
if policy == "same-as-last":
    g, t = rnd(3000000, 20, 30), rnd(594500, 20, 30); want["E1"] = g - t          # 10 days leave
    g, t = rnd(2000000, 10, 30), rnd(343100, 10, 30); want["E2"] = g - t          # last day the 10th
    want["E3"] = 1200000; want["E4"] = 2400400
    want["E5"] = 1740000 + 50000 - (500 * 30 // 100) * 100                        # one-off taxed 30 %
else:
    g = rnd(3000000, 20, 30); want["E1"] = g - table(32, 1, g // 100)
    g = rnd(4000000 * 5000, 10, 10000 * 30); want["E2"] = g - table(32, 1, g // 100)
    want["E3"] = 1500000 - table(33, 1, 15000)                                     # hourly: last gross
    want["E4"] = 3000100 - table(32, 1, 30001)                                     # band edge 30 001
    assert table(32, 1, 30001) != table(32, 1, 30000)
    g = 2500000 + 50000; want["E5"] = g - (g // 100) * 3000 // 10000 * 100 - 10000  # fixed 30 %, standing deduction
bad = [(e, int(rows[e]["net_ore"]), w) for e, w in want.items() if int(rows[e]["net_ore"]) != w]
assert not bad, bad
assert len(rows) == 6, rows.keys()
tot = show["totals"]
for k in ("gross_ore", "tax_ore", "deductions_ore", "net_ore"):
    assert tot[k] == sum(int(r[k]) for r in rows.values()), k
assert tot["net_ore"] == tot["gross_ore"] - tot["tax_ore"] - tot["deductions_ore"]
assert tot["last_net_ore"] == 2405500 + 1656900 + 1200000 + 2400400 + 1740000
for r in rows.values():
    assert int(r["net_ore"]) == int(r["gross_ore"]) - int(r["tax_ore"]) - int(r["deductions_ore"])
# Each changed employment's stored lines (numbers into the run's texts) shown as the rules
# returned them: they add up to its amounts, and every line has its text.
assert show["changed"]
for c in show["changed"]:
    r, ls = rows[c["employment_id"]], c["lines"]
    got = (sum(l["amount_ore"] for l in ls if l["code"].startswith("GROSS_")),
           sum(l["amount_ore"] for l in ls if l["code"] == "TAX"),
           sum(l["amount_ore"] for l in ls if l["code"].startswith("DED_")))
    assert got == (int(r["gross_ore"]), int(r["tax_ore"]), int(r["deductions_ore"])), (c, r)
    assert all(l["text"] for l in ls), ls
# People's flags: E4's person is protected (paid, so counted) and, without an approved bank
# change, has no account; H1's person is not in the snapshot: the hire's IBAN counts.
unbanked = {e for e, r in rows.items() if "no bank account" in r["warnings"]}
assert unbanked == set(filter(None, sys.argv[5].split(","))), unbanked
assert show["protected_identities_paid"] == 1, show["protected_identities_paid"]
assert rows["E4"]["personnummer"].endswith("-****"), rows["E4"]
PYEOF
}

expect_exit 0 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy same-as-last "${R[@]}"
expect_grep "pay run 1 created" "$T/out"
check_run 1 same-as-last E4
expect_exit 0 "$BIN" --vault "$V" payrun show 1 "${R[@]}"
expect_grep "changed employments" "$T/out"
expect_grep "employed 10 of 30 days" "$T/out"
expect_grep "unpaid leave on 10 days" "$T/out"
# Above this change of the net total (here about 3 %) a second approver is needed.
expect_exit 3 "$BIN" --vault "$V" config set payrun.second_approval_pct 1 "${R[@]}"
expect_exit 1 "$BIN" --vault "$V" config set payrun.second_approval_pct 500 "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" config set payrun.second_approval_pct 1 "${AD[@]}"
# An approved bank change gives E4's person an account for the next run.
acct=($(awk -F, -v p="${P[0]}" '$1==p {print $5, $6}' "$S/employees.csv")) # a valid account
expect_exit 0 "$BIN" --vault "$V" register bank_change --personnummer "${P[3]}" --from-date 2026-11-01 \
  --clearing "${acct[0]}" --account "${acct[1]}" "${R[@]}"
approve_registered
expect_exit 0 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy recalculate "${R[@]}"
check_run 2 recalculate ""

# Two-person release: never by the creator; a large change needs two different approvers.
$PY -c 'import json,sys; assert json.load(open(sys.argv[1]))["second_approval_needed"]' "$T/show.json" ||
  fail "expected a second approval for a run whose net moved this much"
expect_exit 3 "$BIN" --vault "$V" payrun approve 2 "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" payrun approve 2 "${A1[@]}"
expect_grep "second, different approver" "$T/out"
expect_exit 3 "$BIN" --vault "$V" payrun approve 2 "${A1[@]}"
expect_grep "different approver" "$T/err"
expect_exit 0 "$BIN" --vault "$V" payrun approve 2 "${A2[@]}"
expect_grep "released" "$T/out"
expect_exit 1 "$BIN" --vault "$V" payrun approve 1 "${A2[@]}"
expect_grep "already has an approved pay run" "$T/err"
"$BIN" --vault "$V" audit list "${AD[@]}" > "$T/audit"
grep -q "payrun.approve.*approved by carol, created by bob" "$T/audit" || fail "first approval not audited"
grep -q "payrun.approve.*second approval by dave after carol" "$T/audit" || fail "second approval not audited"
# Counted when each run was created (E4's person is a protected identity, paid in both).
for run in 1 2; do
  grep -q "pay run $run created: .*, 1 protected identities paid" "$T/audit" || fail "run $run: protected count"
done
expect_exit 1 "$BIN" --vault "$V" payrun create --period 2026-11 --pay-date "$today" --policy recalculate "${R[@]}"
expect_grep "already has an approved emergency pay run" "$T/err"
pass
