#!/usr/bin/env bash
# The restore journal end to end (docs/journal-format.md): an outage's registrations of
# several types, a correction, approvals and a rejection, a released pay run and a payment
# file are exported by two approvers; the file is checked by `journal verify`, by Debian's
# minisign -V and by an independent reading in Python (hash chain recomputed with hashlib);
# a later export extends the earlier one byte for byte (cmp) and `journal diff` says what it
# adds; a status decided after an export arrives as a new line. Tampering (a line removed,
# swapped, edited, duplicated, the file cut short, another key) fails with exit 3 naming the
# line; one approver alone cannot export.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"; S="$T/snap"
for who in admin reg appr1 appr2; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
PAIR=("${A1[@]}" --second dave --second-passphrase-file "$T/appr2")
PY=/usr/bin/python3
uuid() { grep -o '[0-9a-f-]\{36\}' "$T/out" | head -1; }

"$GEN" --employees 60 --seed 21 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done

# Documents of several types; approvals, a rejection and an approved correction.
emp=$(awk -F, 'NR>1 && $5=="" && $6=="monthly" {print $1; exit}' "$S/employments.csv")
expect_exit 0 "$BIN" --vault "$V" register hire --personnummer 900315-1231 --given-name Åsa \
  --family-name "Öberg \"Q\"" --org-unit-id OU00001 --start-date 2026-12-01 --pay-type monthly \
  --monthly-salary-ore 3150000 --extent-pct 100 --tax-table 33 --tax-column 1 \
  --iban "SE45 5000 0000 0583 9825 7466" "${R[@]}"
hire=$(uuid)
expect_exit 0 "$BIN" --vault "$V" register leave --employment-id "$emp" --from-date 2026-12-02 --to-date 2026-12-06 "${R[@]}"
leave=$(uuid)
expect_exit 0 "$BIN" --vault "$V" register termination --employment-id "$emp" --last-day 2026-12-31 --reason resignation "${R[@]}"
term=$(uuid)
expect_exit 0 "$BIN" --vault "$V" register one_off --employment-id "$emp" --amount-ore -25000 --pay-code AVDRAG \
  --reason "advance repaid" --period 2026-12 "${R[@]}"
oneoff=$(uuid)
expect_exit 0 "$BIN" --vault "$V" register approve "$hire" "$term" "$oneoff" "${A2[@]}"
expect_exit 0 "$BIN" --vault "$V" register reject "$leave" --reason "sent twice on paper" "${A1[@]}"
expect_exit 0 "$BIN" --vault "$V" register termination --corrects "$term" --employment-id "$emp" \
  --last-day 2026-12-15 --reason resignation "${R[@]}"
corr=$(uuid)
expect_exit 0 "$BIN" --vault "$V" register approve "$corr" "${A1[@]}"

# A released pay run and its payment file, signed by the two-approver key.
period=$($PY -c 'import csv,sys; p=next(csv.DictReader(open(sys.argv[1])))["period"]; y,m=map(int,p.split("-")); print("%04d-%02d" % (y+(m==12), m%12+1))' "$S/last_payrun.csv")
expect_exit 0 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$(date +%F)" --policy same-as-last "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A1[@]}"
if grep -q "second, different approver" "$T/out"; then
  expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A2[@]}"
fi
expect_exit 0 "$BIN" --vault "$V" key create "${PAIR[@]}" --out "$T/appliance.pub"
for kv in "debtor_name:Exempel kommun" "debtor_clearing:5000" "debtor_account:123 4560" \
          "debtor_bic:ESSESESS" "agreement_id:AGR-12345" "profile:seb"; do
  expect_exit 0 "$BIN" --vault "$V" payfile config set "${kv%%:*}" "${kv#*:}" "${AD[@]}"
done
expect_exit 0 "$BIN" --vault "$V" payfile write --payrun 1 --out "$T/pay.xml" "${PAIR[@]}" --leave-out-unpayable

# One approver alone, or a registrar as one of the two, cannot export; nothing is written.
J1="$T/j1.jsonl"; J2="$T/j2.jsonl"; J3="$T/j3.jsonl"
expect_exit 2 "$BIN" --vault "$V" journal export --out "$J1" "${A1[@]}"
expect_grep "second" "$T/err"
expect_exit 3 "$BIN" --vault "$V" journal export --out "$J1" "${R[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_exit 3 "$BIN" --vault "$V" journal export --out "$J1" "${A1[@]}" --second bob --second-passphrase-file "$T/reg"
[ -e "$J1" ] || [ -e "$J1.minisig" ] && fail "a refused export left a file behind"

# The export, checked three ways.
expect_exit 0 "$BIN" --vault "$V" journal export --out "$J1" "${PAIR[@]}"
expect_grep "journal .*j1.jsonl written: 13 lines, 13 new (lines 1-13: 5 registrations, 5 decisions, 1 pay runs, 1 payment files, 0 snapshot changes)" "$T/out"
expect_exit 0 "$BIN" journal verify "$J1" --pubkey "$T/appliance.pub"
expect_grep "OK (signature, 13 lines, hash chain, signed comment)" "$T/out"
expect_grep "^signed by  carol+dave" "$T/out"
minisign -V -m "$J1" -p "$T/appliance.pub" > "$T/v" 2>&1 || { cat "$T/v" >&2; fail "minisign -V refused our signature"; }
grep -qi "trusted comment: reservlon journal lines=13 last=[0-9a-f]\{64\} exported=.*Z by=carol+dave key=" "$T/v" ||
  { cat "$T/v" >&2; fail "trusted comment"; }
expect_exit 0 "$BIN" journal verify "$J1" --pubkey "$T/appliance.pub" --json
$PY - "$J1" "$T/v" "$T/out" "$hire" "$leave" "$term" "$corr" <<'PYEOF' || fail "independent reading of the journal"
import hashlib, json, re, sys
path, v, out, hire, leave, term, corr = sys.argv[1:]
raw = open(path, "rb").read()
assert raw.endswith(b"\n")
lines = raw[:-1].split(b"\n")
prev = "0" * 64
recs = []
for n, b in enumerate(lines, 1):
    r = json.loads(b)
    assert r["seq"] == n and r["prev"] == prev, (n, r)
    prev = hashlib.blake2b(b, digest_size=32).hexdigest()
    recs.append(r)
assert ("last=%s " % prev) in open(v).read()
assert json.load(open(out))["last"] == prev
h = recs[0]
assert h["kind"] == "header" and h["format"] == "reservlon-journal" and h["version"] == 1, h
assert len(h["snapshot_manifest_sha256"]) == 64 and "exported" not in h
kinds = [r["kind"] for r in recs]
assert kinds == ["header"] + ["registration"] * 5 + ["decision"] * 5 + ["payrun", "payfile"], kinds
regs = [r for r in recs if r["kind"] == "registration"]
assert [r["vault_seq"] for r in regs] == sorted(r["vault_seq"] for r in regs)
byid = {r["id"]: r for r in recs}
assert byid[hire]["fields"]["family_name"] == 'Öberg "Q"' and byid[hire]["author"] == "bob"
assert byid[hire]["type"] == "hire" and byid[hire]["personnummer"] == "199003151231"
assert byid[corr]["corrects"] == term and byid[corr]["effective_date"] == "2026-12-15"
assert "status" not in byid[hire]
d = byid[leave + "/decision"]
assert d["decision"] == "rejected" and d["reason"] == "sent twice on paper" and d["decided_by"] == "carol"
assert byid[hire + "/decision"]["decision"] == "approved" and byid[hire + "/decision"]["decided_by"] == "dave"
pr = byid["payrun/1"]; pf = [r for r in recs if r["kind"] == "payfile"][0]
assert pr["created_by"] == "bob" and pr["approved_by"] == "carol" and len(pr["rules_sha256"]) == 64
assert pf["payrun"] == 1 and pf["written_by"] == "carol" and pf["cosigned_by"] == "dave" and pf["drill"] is False
assert pf["left_out"] >= 1 and pf["id"] == pf["msg_id"]
PYEOF
# Approved documents are marked exported in the vault; the journal itself has no status.
expect_exit 0 "$BIN" --vault "$V" register list --status exported --json "${R[@]}"
[ "$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/out")" = 4 ] || fail "exported status"

# A later export is the earlier one plus new lines; a decision after an export is a new line.
expect_exit 0 "$BIN" --vault "$V" register salary_change --employment-id "$emp" --from-date 2026-12-01 \
  --monthly-salary-ore 3300000 "${R[@]}"
late=$(uuid)
expect_exit 0 "$BIN" --vault "$V" journal export --out "$J2" "${PAIR[@]}"
expect_grep "14 lines, 1 new (lines 14-14: 1 registrations" "$T/out"
cmp -n "$(stat -c %s "$J1")" "$J1" "$J2" || fail "the second export does not start with the first"
expect_exit 0 "$BIN" --vault "$V" register approve "$late" "${A2[@]}"
expect_exit 0 "$BIN" --vault "$V" journal export --out "$J3" "${PAIR[@]}"
expect_grep "15 lines, 1 new (lines 15-15: 0 registrations, 1 decisions" "$T/out"
cmp -n "$(stat -c %s "$J2")" "$J2" "$J3" || fail "the third export does not start with the second"
tail -n 1 "$J3" | grep -q "\"id\":\"$late/decision\"" || fail "the late decision is not the new line"
expect_exit 0 "$BIN" journal verify "$J3" --pubkey "$T/appliance.pub"
expect_exit 0 "$BIN" journal diff "$J1" "$J3"
expect_grep "adds 2 lines (seq 14-15): 1 registrations, 1 decisions, 0 pay runs" "$T/out"
expect_exit 0 "$BIN" journal diff "$J3" "$J3"
expect_grep "nothing added" "$T/out"
expect_exit 3 "$BIN" journal diff "$J3" "$J1"
expect_grep "line 14 is missing" "$T/err"
# An export with nothing new re-signs the same lines.
expect_exit 0 "$BIN" --vault "$V" journal export --out "$T/j4.jsonl" "${PAIR[@]}"
expect_grep "nothing new since the last export" "$T/out"
cmp -s "$J3" "$T/j4.jsonl" || fail "an export with nothing new changed the lines"
expect_exit 0 "$BIN" --vault "$V" audit list "${R[@]}"
expect_grep "journal.export" "$T/out"

# Tampering. Another key to re-sign with (keeping the trusted comment), so that the line
# checks are seen through a valid signature too.
minisign -G -W -f -p "$T/other.pub" -s "$T/other.key" >/dev/null 2>&1 || fail "minisign -G"
tc=$(sed -n 's/^trusted comment: //p' "$J3.minisig")
# tamper NAME PYTHON-EXPR: writes $T/NAME.jsonl from J3's lines L (a list of bytes), keeps
# J3's signature (now stale) and also makes $T/NAME-other.jsonl re-signed with the other key.
tamper() {
  $PY - "$J3" "$T/$1.jsonl" "$2" <<'PYEOF' || fail "tamper $1"
import sys
L = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
L = eval(sys.argv[3])
open(sys.argv[2], "wb").write(b"".join(l + b"\n" for l in L))
PYEOF
  cp "$J3.minisig" "$T/$1.jsonl.minisig"
  cp "$T/$1.jsonl" "$T/$1-other.jsonl"
  minisign -S -s "$T/other.key" -m "$T/$1-other.jsonl" -t "$tc" >/dev/null 2>&1 || fail "minisign -S"
}
# check NAME MESSAGE [stale-sig-only]: exit 3 both ways; the line problem is named (under the
# stale signature too unless the chain itself holds).
check() {
  expect_exit 3 "$BIN" journal verify "$T/$1.jsonl" --pubkey "$T/appliance.pub"
  expect_grep "signature" "$T/err"
  [ -n "${3:-}" ] || expect_grep "$2" "$T/err"   # a cut or a last line changed: the chain holds
  expect_exit 3 "$BIN" journal verify "$T/$1-other.jsonl" --pubkey "$T/appliance.pub"
  expect_exit 3 "$BIN" journal verify "$T/$1-other.jsonl" --pubkey "$T/other.pub"
  expect_grep "$2" "$T/err"
}
tamper removed 'L[:6] + L[7:]'
check removed "line 7: seq is 8, expected 7 (a line was removed or moved)"
tamper swapped 'L[:3] + [L[4], L[3]] + L[5:]'
check swapped "line 4: seq is 5, expected 4"
tamper edited 'L[:1] + [L[1].replace(b"\"author\":\"bob\"", b"\"author\":\"bod\"")] + L[2:]'
cmp -s "$J3" "$T/edited.jsonl" && fail "the edit did not change the file"
check edited "line 3: prev does not match line 2 (a line was removed, reordered or edited)"
tamper duplicated 'L[:5] + [L[4]] + L[5:]'
check duplicated "line 6: seq is 5, expected 6 (a line was duplicated or moved)"
tamper cut 'L[:-1]'
check cut "the signed comment says lines=15 but the file has 14 lines" stale-sig-only
tamper lastedit 'L[:-1] + [L[-1].replace(b"\"decided_by\":\"dave\"", b"\"decided_by\":\"eve\"")]'
check lastedit "line 15: its hash is not the signed comment's last=" stale-sig-only
head -c -20 "$J3" > "$T/short.jsonl"; cp "$J3.minisig" "$T/short.jsonl.minisig"
expect_exit 3 "$BIN" journal verify "$T/short.jsonl" --pubkey "$T/appliance.pub"
expect_grep "line 15: no newline at its end (the file was cut short)" "$T/err"
expect_exit 3 "$BIN" journal diff "$J1" "$T/edited-other.jsonl"
expect_grep "line 3" "$T/err"
# No signature at all; a vault or a missing --pubkey is a usage error.
cp "$J3" "$T/nosig.jsonl"
expect_exit 3 "$BIN" journal verify "$T/nosig.jsonl" --pubkey "$T/appliance.pub"
expect_grep "no usable signature" "$T/err"
expect_exit 2 "$BIN" --vault "$V" journal verify "$J3" --pubkey "$T/appliance.pub"
expect_exit 2 "$BIN" journal verify "$J3"
expect_exit 2 "$BIN" journal frobnicate
pass
