#!/usr/bin/env bash
# The reconciliation report (reconcile --payrun ID --out DIR) on a small hand-made snapshot
# whose last run is exactly what a recalculation pays, so an employment nothing happened to
# shows no difference. A same-as-last run is released, then a salary change and a hire are
# approved and an extent change left pending; a recalculate run made after them is the
# independent "should have been" for every employment. Checked in python against
# `payrun show --json/--csv`: paid totals to the öre, should-have-been per employment, the
# differences, payment file and left-out people, registrations in and not in the run,
# protected identities masked in both files; the HTML well-formed and escaped; refusals.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"; S="$T/snap"; OUT="$T/report"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
PY=/usr/bin/python3
today=$(date +%F)

"$GEN" --employees 10 --seed 77 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
mapfile -t P < <(awk -F, 'NR>1 && $4=="0" && $5!="" {print $1}' "$S/employees.csv" | head -7)
[ "${#P[@]}" = 7 ] || fail "need 7 unprotected people with accounts"
# P[0]'s name carries markup (it must come out escaped); P[5] is a protected identity; P[6]
# has no account (left out of the payment file).
$PY - "$S" "${P[0]}" "${P[5]}" "${P[6]}" <<'PYEOF' || fail "editing the snapshot"
import csv, sys
d, markup, prot, noacc = sys.argv[1:5]
rows = list(csv.DictReader(open(f"{d}/employees.csv", encoding="utf-8")))
for r in rows:
    if r["personnummer"] == markup:
        r["given_name"], r["family_name"] = "Åsa <script>x</script>", "O'Brien & \"Co\""
    if r["personnummer"] == prot:
        r["protected_identity"] = "1"
        r["given_name"], r["family_name"] = "Hemlig", "Skyddadsson"
    if r["personnummer"] == noacc:
        r["clearing"] = r["account"] = r["iban"] = ""
w = csv.DictWriter(open(f"{d}/employees.csv", "w", encoding="utf-8", newline=""), fieldnames=list(rows[0]), lineterminator="\n")
w.writeheader(); w.writerows(rows)
PYEOF
cat > "$S/employments.csv" <<CSV
employment_id,personnummer,org_unit_id,start_date,end_date,pay_type,monthly_salary_ore,hourly_rate_ore,extent_pct,tax_table,tax_column,tax_fixed_pct
E1,${P[0]},OU00001,2020-01-01,,monthly,3000000,,100,32,1,
E2,${P[1]},OU00001,2019-05-01,,monthly,4000000,,50,32,1,
E3,${P[2]},OU00001,2021-03-01,,monthly,3500000,,100,32,1,
E4,${P[3]},OU00001,2018-08-01,,monthly,2800000,,100,32,1,
E5,${P[4]},OU00001,2022-02-01,,monthly,2500000,,100,32,1,
E6,${P[5]},OU00001,2017-06-01,,monthly,3200000,,100,32,1,
E7,${P[6]},OU00001,2016-09-01,,monthly,2700000,,100,32,1,
CSV
# The last run as a recalculation pays it: gross = salary x extent, tax from table 32 col 1.
$PY - "$S" <<'PYEOF' || fail "writing the last run"
import csv, hashlib, json, sys
d = sys.argv[1]
tax = [r for r in csv.DictReader(open(f"{d}/tax_tables.csv")) if r["table"] == "32"]
def table(sek):
    for r in tax:
        if int(r["income_from"]) <= sek and (r["income_to"] == "" or sek <= int(r["income_to"])):
            return (sek * int(r["col1"]) // 100 if r["kind"] == "30%" else int(r["col1"])) * 100
    return 0
with open(f"{d}/last_payrun.csv", "w") as f:
    f.write("employment_id,period,pay_date,gross_ore,tax_ore,deductions_ore,net_ore\n")
    for e in csv.DictReader(open(f"{d}/employments.csv")):
        g = int(e["monthly_salary_ore"]) * int(e["extent_pct"]) // 100
        t = table(g // 100)
        f.write(f"{e['employment_id']},2026-11,2026-11-25,{g},{t},0,{g - t}\n")
m = json.load(open(f"{d}/manifest.json"))
for name in m["files"]:
    data = open(f"{d}/{name}", "rb").read()
    m["files"][name] = {"rows": data.count(b"\n") - 1, "sha256": hashlib.sha256(data).hexdigest()}
json.dump(m, open(f"{d}/manifest.json", "w"), indent=2)
PYEOF
rm -f "$S/manifest.json.minisig"
minisign -S -s "$TOP/keys/test/export-TEST.key" -m "$S/manifest.json" -t "reconcile test snapshot" </dev/null >/dev/null 2>&1 ||
  fail "signing the test snapshot"

expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done
reg() { expect_exit 0 "$BIN" --vault "$V" register "$@" "${R[@]}"; awk '{print $3; exit}' "$T/out"; }

# Before the run: a termination on the period's last day (changes nothing) and a leave.
U_TERM=$(reg termination --employment-id E5 --last-day 2026-12-31 --reason resignation)
U_LEAVE=$(reg leave --employment-id E4 --from-date 2026-12-03 --to-date 2026-12-12)
expect_exit 0 "$BIN" --vault "$V" register approve "$U_TERM" "$U_LEAVE" "${A1[@]}"
expect_exit 0 "$BIN" --vault "$V" payrun create --period 2026-12 --pay-date "$today" --policy same-as-last "${R[@]}"
expect_grep "pay run 1 created" "$T/out"

# After it: a salary change and a hire approved, an extent change left pending.
U_SAL=$(reg salary_change --employment-id E3 --from-date 2026-12-01 --monthly-salary-ore 3800000)
U_HIRE=$(reg hire --personnummer 199003151231 --given-name Ny --family-name Anställd --employment-id H1 \
  --org-unit-id OU00001 --start-date 2026-12-15 --pay-type monthly --monthly-salary-ore 3000000 \
  --extent-pct 100 --tax-table 32 --tax-column 1 --iban SE4550000000058398257466)
expect_exit 0 "$BIN" --vault "$V" register approve "$U_SAL" "$U_HIRE" "${A1[@]}"
U_EXT=$(reg extent_change --employment-id E2 --from-date 2026-12-01 --extent-pct 80)

# Not released yet: refused, nothing written.
mkdir -p "$OUT"
expect_exit 1 "$BIN" --vault "$V" reconcile --payrun 1 --out "$OUT" "${A1[@]}"
expect_grep "not released" "$T/err"
[ -z "$(ls -A "$OUT")" ] || fail "a refused reconciliation left files behind"

# The independent should-have-been: a recalculate run with the same documents (never released).
expect_exit 0 "$BIN" --vault "$V" payrun create --period 2026-12 --pay-date "$today" --policy recalculate --include-pending "${R[@]}"
expect_grep "pay run 2 created" "$T/out"
expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A1[@]}"
if grep -q "second, different approver" "$T/out"; then
  expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A2[@]}"
fi
expect_exit 1 "$BIN" --vault "$V" reconcile --payrun 2 --out "$OUT" "${A1[@]}"
expect_grep "pay run 2 is not released" "$T/err"

# No payment file yet: said so per employment.
expect_exit 0 "$BIN" --vault "$V" reconcile --payrun 1 --out "$OUT" "${A1[@]}"
grep -q '"E1",.*,no_file_yet,' "$OUT/reconcile-payrun-1.csv" || fail "E1 should have no payment file yet"

# The payment file, P[6] left out for want of an account.
expect_exit 0 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" debtor_clearing 5000 \
  debtor_account "123 4560" debtor_bic ESSESESS agreement_id AGR-12345 profile seb "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_exit 0 "$BIN" --vault "$V" payfile write --payrun 1 --out "$T/pay.xml" "${A1[@]}" --second dave \
  --second-passphrase-file "$T/appr2" --leave-out-unpayable
"$BIN" --vault "$V" payfile list --json "${R[@]}" > "$T/files.json" || fail "payfile list"

# Refusals: role, unknown run, usage, output directory.
rm -f "$OUT"/*
expect_exit 3 "$BIN" --vault "$V" reconcile --payrun 1 --out "$OUT" "${R[@]}"
expect_exit 1 "$BIN" --vault "$V" reconcile --payrun 99 --out "$OUT" "${A1[@]}"
expect_grep "no pay run 99" "$T/err"
expect_exit 2 "$BIN" --vault "$V" reconcile --payrun 1 "${A1[@]}"
expect_exit 2 "$BIN" --vault "$V" reconcile --payrun one --out "$OUT" "${A1[@]}"
expect_exit 2 "$BIN" --vault "$V" reconcile --payrun 1 --out "$OUT" --colour red "${A1[@]}"
expect_exit 2 "$BIN" --vault "$V" reconcile extra --payrun 1 --out "$OUT" "${A1[@]}"
expect_exit 2 "$BIN" reconcile --payrun 1 --out "$OUT"
expect_exit 1 "$BIN" --vault "$V" reconcile --payrun 1 --out "$T/missing" "${A1[@]}"
expect_grep "not an existing directory" "$T/err"
[ -z "$(ls -A "$OUT")" ] || fail "a refused reconciliation left files behind"

expect_exit 0 "$BIN" --vault "$V" reconcile --payrun 1 --out "$OUT" "${A1[@]}"
expect_grep "need a correction" "$T/out"
C="$OUT/reconcile-payrun-1.csv"; H="$OUT/reconcile-payrun-1.html"
for f in "$C" "$H"; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not mode 0600"
done
"$BIN" --vault "$V" payrun show 1 --json "${R[@]}" > "$T/run1.json" || fail "payrun show 1 --json"
"$BIN" --vault "$V" payrun show 1 --csv "${R[@]}" > "$T/run1.csv" || fail "payrun show 1 --csv"
"$BIN" --vault "$V" payrun show 2 --csv "${R[@]}" > "$T/run2.csv" || fail "payrun show 2 --csv"

$PY - "$C" "$T/run1.json" "$T/run1.csv" "$T/run2.csv" "$T/files.json" "$U_TERM" "$U_LEAVE" "$U_SAL" "$U_HIRE" "$U_EXT" "${P[5]}" <<'PYEOF' || fail "the CSV report is wrong"
import csv, json, sys
path, run1j, run1c, run2c, filesj, u_term, u_leave, u_sal, u_hire, u_ext, prot = sys.argv[1:12]
raw = open(path, "rb").read()
assert raw.count(b"\r\n") == raw.count(b"\n"), "RFC 4180 lines end in CRLF"
rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
emp = {r["employment_id"]: r for r in rows if r["row"] == "employment"}
total = [r for r in rows if r["row"] == "total"]
assert len(total) == 1 and rows[-1]["row"] == "total"
total = total[0]
comps = ("gross", "tax", "deductions", "net")
for k in rows[0]:
    if k.startswith(("paid_", "should_", "difference_")) and not k.endswith("notes"):
        assert k.endswith("_ore"), k
# Paid: the pay run's stored totals to the öre, summed here independently.
tot = json.load(open(run1j))["totals"]
inrun = [r for r in emp.values() if r["in_run"] == "yes"]
assert len(inrun) == json.load(open(run1j))["employments"] == 7
for c in comps:
    s = sum(int(r[f"paid_{c}_ore"]) for r in emp.values())
    assert s == tot[f"{c}_ore"] == int(total[f"paid_{c}_ore"]), (c, s, tot)
run1 = {r["employment_id"]: r for r in csv.DictReader(open(run1c))}
for e, r in emp.items():
    if r["in_run"] == "yes":
        assert int(r["paid_net_ore"]) == int(run1[e]["net_ore"]), e
# Should have been: what the recalculate run made after the same documents pays.
run2 = {r["employment_id"]: r for r in csv.DictReader(open(run2c))}
assert set(run2) == set(emp), (set(run2), set(emp))
for e, r in emp.items():
    for c in comps:
        assert int(r[f"should_{c}_ore"]) == int(run2[e][f"{c}_ore"]), (e, c)
        assert int(r[f"difference_{c}_ore"]) == int(r[f"should_{c}_ore"]) - int(r[f"paid_{c}_ore"]), (e, c)
    assert (r["correction_needed"] == "yes") == any(int(r[f"difference_{c}_ore"]) for c in comps), e
for c in comps:
    assert int(total[f"should_{c}_ore"]) == sum(int(r[f"should_{c}_ore"]) for r in emp.values())
    assert int(total[f"difference_{c}_ore"]) == sum(int(r[f"difference_{c}_ore"]) for r in emp.values())
assert int(total["correction_needed"]) == sum(r["correction_needed"] == "yes" for r in emp.values())
# The salary change approved after the run: the difference is what the recalculate run pays extra.
e3 = emp["E3"]
d = int(run2["E3"]["net_ore"]) - int(run1["E3"]["net_ore"])
assert d > 0 and int(e3["difference_net_ore"]) == d, (d, e3["difference_net_ore"])
assert f"{u_sal} salary_change (approved after the run)" in e3["registrations_not_included"], e3
# Nothing happened, or nothing that changes pay: no difference.
for e in ("E1", "E2", "E5", "E6", "E7"):
    assert emp[e]["correction_needed"] == "no", e
    assert all(int(emp[e][f"difference_{c}_ore"]) == 0 for c in comps), e
assert f"{u_ext} extent_change (pending approval)" in emp["E2"]["registrations_not_included"]
assert f"{u_term} termination" == emp["E5"]["registrations_included"], emp["E5"]
assert f"{u_leave} leave" == emp["E4"]["registrations_included"], emp["E4"]
assert emp["E1"]["registrations_included"] == emp["E1"]["registrations_not_included"] == ""
# The hire approved after the run: not in it, paid nothing, owed the prorated salary.
h = emp["H1"]
assert h["in_run"] == "no" and h["payment"] == "not_in_run" and h["correction_needed"] == "yes"
assert int(h["paid_net_ore"]) == 0 and int(h["should_net_ore"]) > 0
assert f"{u_hire} hire (approved after the run)" in h["registrations_not_included"]
# Payment: the file's MsgId, the person without an account left out.
files = json.load(open(filesj))
msg = files[0]["msg_id"] if isinstance(files, list) else files["files"][0]["msg_id"]
assert emp["E1"]["payment"] == "in_file" and emp["E1"]["payment_msg_id"] == msg, emp["E1"]
assert emp["E7"]["payment"] == "left_out" and emp["E7"]["payment_msg_id"] == "", emp["E7"]
# The protected identity: masked, no name.
e6 = emp["E6"]
assert e6["personnummer"] == prot[:8] + "-****" and e6["name"] == "" and e6["protected_identity"] == "yes", e6
assert prot not in raw.decode() and f"{prot[:8]}-{prot[8:]}" not in raw.decode(), "protected personnummer leaked"
assert "Hemlig" not in raw.decode() and "Skyddadsson" not in raw.decode()
assert emp["E1"]["name"] == "Åsa <script>x</script> O'Brien & \"Co\"", emp["E1"]["name"]
PYEOF

# The HTML: well-formed, self-contained, escaped, the protected identity masked.
xmllint --html --noout "$H" 2>"$T/xmllint" || { cat "$T/xmllint" >&2; fail "the HTML is not well-formed"; }
[ -s "$T/xmllint" ] && { cat "$T/xmllint" >&2; fail "xmllint complained about the HTML"; }
grep -qi "<script" "$H" && fail "unescaped markup in the HTML"
grep -q "&lt;script&gt;x&lt;/script&gt; O&#39;Brien &amp; &quot;Co&quot;" "$H" || fail "the name is not escaped"
grep -qE "src=|href=|@import|url\(" "$H" && fail "the HTML refers to outside resources"
grep -q "Hemlig\|Skyddadsson" "$H" && fail "a protected identity's name is in the HTML"
grep -q "${P[5]:0:8}-\*\*\*\*" "$H" || fail "the protected identity is not shown masked"
grep -q "${P[5]:0:8}-${P[5]:8:4}\|${P[5]}" "$H" && fail "protected personnummer in the HTML"
grep -q '<tr class="corr"><td>E3</td>' "$H" || fail "E3 is not highlighted"
grep -q '<tr><td>E1</td>' "$H" || fail "E1 should not be highlighted"
# Swedish number format: E3's salary 38 000,00 recalculated, minus sign, no-break spaces.
grep -q "38&#160;000,00" "$H" || fail "amounts are not in Swedish format"
"$BIN" --vault "$V" audit list "${AD[@]}" > "$T/audit"
grep -q "payrun.reconcile.*reconciliation of pay run 1" "$T/audit" || fail "the reconciliation is not audited"

# A drill file written later does not replace the production file in the report; an account
# given after the file to the person it left out makes that person's payment undetermined
# (the file records how many it left out, not who), which the report says.
msg=$($PY -c 'import json,sys; f=json.load(open(sys.argv[1])); f=f if isinstance(f,list) else f["files"]; print(f[0]["msg_id"])' "$T/files.json")
expect_exit 0 "$BIN" --vault "$V" payfile write --payrun 1 --out "$T/drill.xml" --drill "${A1[@]}" --second dave \
  --second-passphrase-file "$T/appr2" --leave-out-unpayable
U_BANK=$(reg bank_change --personnummer "${P[6]}" --from-date 2026-12-01 --iban SE4550000000058398257466)
expect_exit 0 "$BIN" --vault "$V" register approve "$U_BANK" "${A2[@]}"
expect_exit 0 "$BIN" --vault "$V" reconcile --payrun 1 --out "$OUT" "${A1[@]}"
grep -q "^employment,\"E1\",.*,in_file,\"$msg\"," "$C" || fail "the report should refer to the production file $msg"
grep -q "^employment,\"E7\",.*,in_file_or_left_out,\"$msg\",\"\",\"$U_BANK bank_change (approved after the run)\"" "$C" ||
  { grep E7 "$C" >&2; fail "E7's payment should be undetermined after its account changed"; }
expect_grep "an account was changed after the file was written" "$H"
xmllint --html --noout "$H" || fail "the HTML is not well-formed"
pass
