#!/usr/bin/env bash
# Registrations end to end: single documents and batches, bad input named by field and
# changing nothing, separation of duties, corrections, a batch killed mid-way leaving
# nothing half-registered, and no protected identity in any output.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
"$GEN" --employees 400 --seed 21 --out "$T/snap" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$T/snap" "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" operator add bob --role registrar "${AD[@]}" --new-passphrase-file "$T/reg"
expect_exit 0 "$BIN" --vault "$V" operator add carol --role approver "${AD[@]}" --new-passphrase-file "$T/appr1"
expect_exit 0 "$BIN" --vault "$V" operator add dave --role approver "${AD[@]}" --new-passphrase-file "$T/appr2"

OUT="$T/all-output"; : > "$OUT"
# run CODE CMD...: expect_exit, and keep everything the appliance printed.
run() { expect_exit "$@"; cat "$T/out" "$T/err" >> "$OUT"; }
count() { "$BIN" --vault "$V" register list --json "${R[@]}" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

emp=$(awk -F, 'NR>1 && $5=="" && $6=="monthly" {print $1; exit}' "$T/snap/employments.csv")
start=$(awk -F, -v e="$emp" '$1==e {print $4}' "$T/snap/employments.csv")
pnr_new=199003151231   # a valid personnummer not in the snapshot (seed 21)
grep -q "^$pnr_new," "$T/snap/employees.csv" && fail "test personnummer collides with the snapshot"

# Bad single documents: exit 1, the field named, nothing stored.
run 1 "$BIN" --vault "$V" register termination --employment-id NOPE --last-day 2026-11-30 --reason resignation "${R[@]}"
expect_grep "field employment_id: no such employment" "$T/err"
run 1 "$BIN" --vault "$V" register termination --employment-id "$emp" --last-day 1999-01-01 --reason resignation "${R[@]}"
expect_grep "field last_day: is before the employment starts" "$T/err"
run 1 "$BIN" --vault "$V" register salary_change --employment-id "$emp" --from-date 2026-12-01 --monthly-salary-ore 0 "${R[@]}"
expect_grep "field monthly_salary_ore: must be between 1" "$T/err"
run 1 "$BIN" --vault "$V" register hire --personnummer 19900315-1232 --org-unit-id OU00001 --start-date 2026-12-01 \
  --pay-type monthly --monthly-salary-ore 3000000 --extent-pct 100 --tax-table 33 --tax-column 1 "${R[@]}"
expect_grep "field personnummer: check digit" "$T/err"
run 1 "$BIN" --vault "$V" register bank_change --personnummer "$pnr_new" --from-date 2026-12-01 --clearing 5000 --account 1234567 "${R[@]}"
expect_grep "field account: check digit" "$T/err"
run 2 "$BIN" --vault "$V" register list --bogus x "${R[@]}"
[ "$(count)" = 0 ] || fail "a refused document was stored"

# Good documents, one per type, by CLI.
run 0 "$BIN" --vault "$V" register hire --personnummer 900315-1231 --given-name Åsa --family-name Öberg \
  --org-unit-id OU00001 --start-date 2026-12-01 --pay-type monthly --monthly-salary-ore 3150000 \
  --extent-pct 100 --tax-table 33 --tax-column 1 --iban "SE45 5000 0000 0583 9825 7466" "${R[@]}"
hire=$(grep -o '[0-9a-f-]\{36\}' "$T/out")
run 0 "$BIN" --vault "$V" register leave --employment-id "$emp" --from-date 2026-12-02 --to-date 2026-12-06 "${R[@]}"
leave=$(grep -o '[0-9a-f-]\{36\}' "$T/out")
run 1 "$BIN" --vault "$V" register leave --employment-id "$emp" --from-date 2026-12-05 --to-date 2026-12-09 "${R[@]}"
expect_grep "field from_date: overlaps leave 2026-12-02..2026-12-06" "$T/err"
run 0 "$BIN" --vault "$V" register termination --employment-id "$emp" --last-day 2026-12-31 --reason resignation "${R[@]}"
term=$(grep -o '[0-9a-f-]\{36\}' "$T/out")
run 1 "$BIN" --vault "$V" register termination --employment-id "$emp" --last-day 2026-12-31 --reason resignation "${R[@]}"
expect_grep "duplicate" "$T/err"
run 0 "$BIN" --vault "$V" register one_off --employment-id "$emp" --amount-ore -25000 --pay-code AVDRAG \
  --reason "advance repaid" --period 2026-12 "${R[@]}"
[ "$(count)" = 4 ] || fail "expected 4 registrations"

# Separation of duties.
run 3 "$BIN" --vault "$V" register approve "$hire" "${R[@]}"
expect_grep "needs the approver role" "$T/err"
run 0 "$BIN" --vault "$V" register leave --employment-id "$emp" --from-date 2026-12-10 --to-date 2026-12-11 "${A1[@]}"
own=$(grep -o '[0-9a-f-]\{36\}' "$T/out")
run 3 "$BIN" --vault "$V" register approve "$own" "${A1[@]}"
expect_grep "a different approver must decide" "$T/err"
run 0 "$BIN" --vault "$V" register approve "$own" "$hire" "$term" "${A2[@]}"
run 1 "$BIN" --vault "$V" register approve "$hire" "${A1[@]}"
expect_grep "already approved" "$T/err"
run 2 "$BIN" --vault "$V" register reject "$leave" "${A1[@]}"
run 0 "$BIN" --vault "$V" register reject "$leave" --reason "sent twice on paper" "${A1[@]}"
run 0 "$BIN" --vault "$V" register list --status rejected "${R[@]}"
expect_grep "$leave" "$T/out"

# A correction of the termination: a new document; once approved the old one stops counting.
run 0 "$BIN" --vault "$V" register termination --corrects "$term" --employment-id "$emp" --last-day 2026-12-15 --reason resignation "${R[@]}"
corr=$(grep -o '[0-9a-f-]\{36\}' "$T/out")
run 1 "$BIN" --vault "$V" register termination --corrects "$term" --employment-id "$emp" --last-day 2026-12-20 --reason resignation "${R[@]}"
expect_grep "already corrected by registration $corr" "$T/err"
run 0 "$BIN" --vault "$V" register approve "$corr" "${A1[@]}"
# A correction cannot move a document to another employment; a termination cannot extend
# an employment that has already ended.
other=$(awk -F, -v e="$emp" 'NR>1 && $5=="" && $1!=e {print $1; exit}' "$T/snap/employments.csv")
run 1 "$BIN" --vault "$V" register one_off --corrects "$(grep -o '[0-9a-f-]\{36\}' <<<"$term")" \
  --employment-id "$other" --amount-ore 100 --pay-code X --reason moved "${R[@]}"
run 1 "$BIN" --vault "$V" register leave --corrects "$own" --employment-id "$other" \
  --from-date 2026-12-10 --to-date 2026-12-12 "${R[@]}"
expect_grep "field employment_id: differs from the document it corrects" "$T/err"
ended=$(awk -F, 'NR>1 && $5!="" && $5<"2026-11-01" {print $1; exit}' "$T/snap/employments.csv")
if [ -n "$ended" ]; then
  run 1 "$BIN" --vault "$V" register termination --employment-id "$ended" --last-day 2030-01-01 --reason other "${R[@]}"
  expect_grep "field last_day: is after the employment ends" "$T/err"
fi
pnr_emp=$(awk -F, -v e="$emp" '$1==e {print $2}' "$T/snap/employments.csv")
run 0 "$BIN" --vault "$V" employee show "$pnr_emp" "${R[@]}"
expect_grep "from $start to 2026-12-15" "$T/out"
run 0 "$BIN" --vault "$V" employee show "${pnr_new:2:6}-${pnr_new:8:4}" --json "${R[@]}"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["employments"][0]["start_date"]=="2026-12-01", d' "$T/out" ||
  fail "employee show --json"

# Batches: a good JSONL batch; a CSV batch with one bad line stores nothing and names it.
"$TOP/scripts/gen-registrations" --snapshot "$T/snap" --out "$T/batch.jsonl" --mix 3 --seed 3 2>/dev/null
before=$(count)
run 0 "$BIN" --vault "$V" register --batch "$T/batch.jsonl" "${R[@]}"
expect_grep "registered 24 documents" "$T/out"
[ "$(count)" = $((before + 24)) ] || fail "batch count"
e2=$(awk -F, 'NR>1 && $5=="" {print $1}' "$T/snap/employments.csv" | sed -n 40p)
printf 'type,employment_id,amount_ore,pay_code,reason,period\none_off,%s,1000,X1,ok,2026-12\none_off,%s,0,X1,zero,2026-12\none_off,NOPE,5,X1,bad,2026-12\n' "$e2" "$e2" > "$T/bad.csv"
before=$(count)
run 1 "$BIN" --vault "$V" register --batch "$T/bad.csv" "${R[@]}"
expect_grep "bad.csv line 3 field amount_ore: must not be zero" "$T/err"
expect_grep "bad.csv line 4 field employment_id: no such employment" "$T/err"
expect_grep "nothing was registered" "$T/err"
[ "$(count)" = "$before" ] || fail "a rejected batch stored documents"

# A large batch killed mid-way: nothing of it is stored, the vault checks clean.
"$TOP/scripts/gen-registrations" --snapshot "$T/snap" --out "$T/big.jsonl" --one-offs 20000 2>/dev/null
"$BIN" --vault "$V" status "${R[@]}" >/dev/null
start_ms=$(date +%s%N)
cp -r "$V" "$T/timing"
"$BIN" --vault "$T/timing" register --batch "$T/big.jsonl" "${R[@]}" >/dev/null 2>&1 || fail "timing batch"
total_ms=$(( ($(date +%s%N) - start_ms) / 1000000 ))
rm -rf "$T/timing"
for frac in 60 75 90; do
  "$BIN" --vault "$V" register --batch "$T/big.jsonl" "${R[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ms=$(( total_ms * frac / 100 )) 'BEGIN {printf "%.3f", ms / 1000}')"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  n=$(count)
  [ "$n" = "$before" ] || [ "$n" = $((before + 20000)) ] || fail "half a batch stored after kill at $frac%: $n"
  [ "$n" = "$before" ] || break
done
run 0 "$BIN" --vault "$V" check "${AD[@]}"
run 0 "$BIN" --vault "$V" audit verify "${A1[@]}"
run 0 "$BIN" --vault "$V" audit list "${AD[@]}"

# Protected identities: list everything and show a protected person; their names and full
# personnummer must not appear in anything the appliance printed.
prot=$(awk -F, 'NR>1 && $4!="0" {print $1}' "$T/snap/employees.csv" | head -1)
[ -n "$prot" ] || fail "no protected identity in the snapshot"
pemp=$(awk -F, -v p="$prot" '$2==p && $5=="" {print $1; exit}' "$T/snap/employments.csv")
if [ -n "$pemp" ]; then
  run 0 "$BIN" --vault "$V" register one_off --employment-id "$pemp" --amount-ore 1000 --pay-code X2 --reason test "${R[@]}"
fi
run 0 "$BIN" --vault "$V" register list "${R[@]}"
run 0 "$BIN" --vault "$V" register list --json "${R[@]}"
run 0 "$BIN" --vault "$V" employee show "$prot" "${R[@]}"
expect_grep "skyddad identitet" "$T/out"
run 0 "$BIN" --vault "$V" employee show "$prot" --json "${R[@]}"
run 0 "$BIN" --vault "$V" status "${R[@]}"
awk -F, 'NR>1 && $4!="0" {print $2 " " $3; print $1}' "$T/snap/employees.csv" > "$T/secrets"
grep -a -F -f "$T/secrets" "$OUT" && fail "a protected identity appeared in the output"
# ...while a revealed show does print it (so the grep above can fail) and is audited.
"$BIN" --vault "$V" employee show "$prot" --reveal "${R[@]}" > "$T/revealed"
grep -q -a -F -f "$T/secrets" "$T/revealed" || fail "reveal did not show the name"
"$BIN" --vault "$V" audit list "${AD[@]}" | grep -q "employee.reveal" || fail "reveal not audited"
pass
