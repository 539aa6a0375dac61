#!/usr/bin/env bash
# The signed payment file from the command line: the key ceremony by two approvers, the
# debtor settings, writing and signing a pay run's pain.001 (checked by xmllint against the
# official XSD and by Debian's minisign -V; `payfile verify` without a vault on it and on
# tampered copies), people without an account left out only when
# asked, and the two-person rules: one approver alone, a registrar as the second, a wrong
# second passphrase, an approver added after the ceremony until the key is granted.
# Then the bank's pain.002 status reports: imported and summarised (the rejected named by
# employment and masked personnummer), refused when repeated, for an unknown file, with an
# EndToEndId not in the file or a count not the file's.
set -u
. "$TOP/tests/e2e/lib.sh"
V="$T/vault"; S="$T/snap"
for who in admin reg appr1 appr2 appr3; do printf '%s passphrase 2026\n' "$who" > "$T/$who"; done
printf 'not the passphrase\n' > "$T/wrong"
AD=(--as alice --passphrase-file "$T/admin")
R=(--as bob --passphrase-file "$T/reg")
A1=(--as carol --passphrase-file "$T/appr1")
A2=(--as dave --passphrase-file "$T/appr2")
A3=(--as erin --passphrase-file "$T/appr3")
PY=/usr/bin/python3
"$GEN" --employees 60 --seed 21 --out "$S" >/dev/null 2>&1 || fail "gen-snapshot"
nacc=$(awk -F, 'NR>1 && $6=="" && $7=="" {n++} END {print n+0}' "$S/employees.csv")
[ "$nacc" -ge 1 ] || fail "the test needs a person without an account (seed 21 has one)"
expect_exit 0 "$BIN" --vault "$V" init --admin alice --passphrase-file "$T/admin" \
  --export-pubkey "$TOP/keys/test/export-TEST.pub" --rules-pubkey "$TOP/keys/test/rules-TEST.pub"
expect_exit 0 "$BIN" --vault "$V" snapshot import "$S" "${AD[@]}"
for op in "bob registrar reg" "carol approver appr1" "dave approver appr2"; do
  set -- $op
  expect_exit 0 "$BIN" --vault "$V" operator add "$1" --role "$2" "${AD[@]}" --new-passphrase-file "$T/$3"
done
period=$($PY -c 'import csv,sys; p=next(csv.DictReader(open(sys.argv[1])))["period"]; y,m=map(int,p.split("-")); print("%04d-%02d" % (y+(m==12), m%12+1))' "$S/last_payrun.csv")
expect_exit 0 "$BIN" --vault "$V" payrun create --period "$period" --pay-date "$(date +%F)" --policy same-as-last "${R[@]}"
expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A1[@]}"
if grep -q "second, different approver" "$T/out"; then
  expect_exit 0 "$BIN" --vault "$V" payrun approve 1 "${A2[@]}"
fi

# Debtor settings: administrators only, checked as they are set.
expect_exit 3 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" "${A1[@]}"
expect_exit 2 "$BIN" --vault "$V" payfile config set debtor_colour blue "${AD[@]}"
expect_exit 1 "$BIN" --vault "$V" payfile config set profile "bank of nowhere" "${AD[@]}"
expect_grep "unknown bank profile" "$T/err"
expect_exit 1 "$BIN" --vault "$V" payfile config set debtor_name "$(printf 'Exempel\tkommun')" "${AD[@]}"
expect_grep "payfile.debtor_name" "$T/err"
# Several settings in one command: all checked first, then stored together (or none).
expect_exit 1 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" profile nowhere "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" payfile config show "${R[@]}"
expect_grep "debtor_name *(not set)" "$T/out"
expect_exit 2 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" profile "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" payfile config set debtor_name "Exempel kommun" debtor_clearing 5000 \
  debtor_account "123 4560" debtor_bic ESSESESS agreement_id AGR-12345 profile seb "${AD[@]}"
expect_exit 0 "$BIN" --vault "$V" payfile config show "${R[@]}"
expect_grep "debtor_bic *ESSESESS" "$T/out"

# No key yet; the ceremony needs two different approvers who know their passphrases.
W=(--vault "$V" payfile write --payrun 1 --out "$T/pay.xml")
expect_exit 1 "$BIN" "${W[@]}" "${A1[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_grep "no signing key yet" "$T/err"
expect_exit 3 "$BIN" --vault "$V" key create "${A1[@]}" --second carol --second-passphrase-file "$T/appr1"
expect_grep "two different people" "$T/err"
expect_exit 3 "$BIN" --vault "$V" key create "${A1[@]}" --second bob --second-passphrase-file "$T/reg"
expect_grep "not an approver" "$T/err"
expect_exit 3 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/wrong"
expect_grep "wrong passphrase for operator 'dave'" "$T/err"
expect_exit 3 "$BIN" --vault "$V" key create "${R[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_exit 0 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/appr2" --out "$T/appliance.pub"
expect_grep "created by carol and dave" "$T/out"
expect_exit 1 "$BIN" --vault "$V" key create "${A1[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_grep "key rotate" "$T/err"
expect_exit 0 "$BIN" --vault "$V" key show "${R[@]}"
cmp -s "$T/out" "$T/appliance.pub" || fail "key show differs from the exported public key"

# One approver, or a registrar, cannot write a file; nothing is left behind.
expect_exit 2 "$BIN" "${W[@]}" "${A1[@]}"
expect_exit 3 "$BIN" "${W[@]}" "${R[@]}" --second dave --second-passphrase-file "$T/appr2"
# Someone has no account: refused, named by employment and masked personnummer...
expect_exit 1 "$BIN" "${W[@]}" "${A1[@]}" --second dave --second-passphrase-file "$T/appr2"
expect_grep "no bank account" "$T/err"
[ -e "$T/pay.xml" ] || [ -e "$T/pay.xml.minisig" ] && fail "a refused file was left behind"
# ... or left out on request, listed, counted and signed.
expect_exit 0 "$BIN" "${W[@]}" "${A1[@]}" --second dave --second-passphrase-file "$T/appr2" --leave-out-unpayable
expect_grep "left out: .* SEK: employment .* (........-\*\*\*\*): no bank account" "$T/out"
expect_grep "NOT in the file" "$T/out"
xmllint --noout --schema "$TOP/app/data/iso20022/pain.001.001.03.xsd" "$T/pay.xml" 2>"$T/lint" || { cat "$T/lint" >&2; fail "XSD"; }
minisign -V -m "$T/pay.xml" -p "$T/appliance.pub" > "$T/v" 2>&1 || { cat "$T/v" >&2; fail "minisign -V refused our signature"; }
grep -qi "trusted comment: reservlon payfile mode=production seq=1 file=pay.xml msgid=RL.* payrun=1 .* left_out=$nacc .* by=carol+dave key=" "$T/v" ||
  { cat "$T/v" >&2; fail "trusted comment"; }
# The file's totals agree with the pay run (an independent read of the XML).
"$BIN" --vault "$V" payrun show 1 --json "${R[@]}" > "$T/run.json" || fail "payrun show"
$PY - "$T/pay.xml" "$T/v" <<'PYEOF' || fail "file totals"
import re, sys, xml.etree.ElementTree as ET
ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
doc = ET.parse(sys.argv[1]).getroot()
amts = [round(float(a.text) * 100) for a in doc.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns)]
n = int(doc.find(".//p:GrpHdr/p:NbOfTxs", ns).text); s = round(float(doc.find(".//p:GrpHdr/p:CtrlSum", ns).text) * 100)
assert n == len(amts) and s == sum(amts), (n, len(amts), s, sum(amts))
assert doc.find(".//p:PmtTpInf/p:CtgyPurp/p:Cd", ns).text == "SALA"
tc = open(sys.argv[2]).read()
assert f"count={n} " in tc and re.search(r"total=%d\.%02d SEK" % (s // 100, s % 100), tc), tc
PYEOF
# A tampered file no longer verifies.
cp "$T/pay.xml" "$T/bad.xml"; cp "$T/pay.xml.minisig" "$T/bad.xml.minisig"
sed -i 's/<InstdAmt Ccy="SEK">\([0-9]\)/<InstdAmt Ccy="SEK">9\1/' "$T/bad.xml"
minisign -V -q -m "$T/bad.xml" -p "$T/appliance.pub" 2>/dev/null && fail "a tampered file verified"

# payfile verify: no vault, no operator. The written file passes, with its summary ...
expect_exit 0 "$BIN" payfile verify "$T/pay.xml" --pubkey "$T/appliance.pub"
expect_grep "OK (signature, pain.001.001.03 schema, sums, signed comment)" "$T/out"
expect_grep "^msgid *RL.*(pay run 1)" "$T/out"
expect_grep "^signed by *carol+dave" "$T/out"
expect_grep "^mode *production" "$T/out"
expect_grep "^left out *$nacc person" "$T/out"
expect_exit 0 "$BIN" payfile verify "$T/pay.xml" --pubkey "$T/appliance.pub" --json
$PY - "$T/out" "$T/pay.xml" <<'PYEOF' || fail "verify --json"
import json, sys, xml.etree.ElementTree as ET
j = json.load(open(sys.argv[1])); ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
doc = ET.parse(sys.argv[2]).getroot()
assert j["ok"] and j["mode"] == "production" and j["msg_id"] == doc.find(".//p:GrpHdr/p:MsgId", ns).text, j
assert j["count"] == int(doc.find(".//p:GrpHdr/p:NbOfTxs", ns).text), j
assert j["total_ore"] == round(float(doc.find(".//p:GrpHdr/p:CtrlSum", ns).text) * 100), j
PYEOF
# ... the tampered one fails on its signature (exit 3), as does a missing signature ...
expect_exit 3 "$BIN" payfile verify "$T/bad.xml" --pubkey "$T/appliance.pub"
expect_grep "bad.xml: the signature does not verify with key" "$T/err"
mv "$T/bad.xml.minisig" "$T/bad.sig"
expect_exit 3 "$BIN" payfile verify "$T/bad.xml" --pubkey "$T/appliance.pub"
expect_grep "no usable signature" "$T/err"
# ... and re-signed with another key it still fails against the appliance's key (exit 3);
# checked with that other key, the changed amount no longer adds up (exit 1, line named).
minisign -G -W -f -p "$T/other.pub" -s "$T/other.key" >/dev/null 2>&1 || fail "minisign -G"
tc=$(sed -n 's/^trusted comment: //p' "$T/pay.xml.minisig")
minisign -S -s "$T/other.key" -m "$T/bad.xml" -t "$tc" >/dev/null 2>&1 || fail "minisign -S"
expect_exit 3 "$BIN" payfile verify "$T/bad.xml" --pubkey "$T/appliance.pub"
expect_exit 1 "$BIN" payfile verify "$T/bad.xml" --pubkey "$T/other.pub"
expect_grep "bad.xml: line [0-9]*: PmtInf/CtrlSum is .* but its [0-9]* InstdAmt add up to" "$T/err"
# A file for verify needs no vault: --vault is a usage error.
expect_exit 2 "$BIN" --vault "$V" payfile verify "$T/pay.xml" --pubkey "$T/appliance.pub"

# A new approver signs only after two who can sign grant the key.
expect_exit 0 "$BIN" --vault "$V" operator add erin --role approver "${AD[@]}" --new-passphrase-file "$T/appr3"
expect_exit 3 "$BIN" "${W[@]}" --drill "${A3[@]}" --second carol --second-passphrase-file "$T/appr1" --leave-out-unpayable
expect_grep "key grant" "$T/err"
expect_exit 0 "$BIN" --vault "$V" key grant "${A2[@]}" --second carol --second-passphrase-file "$T/appr1"
expect_grep "sealed for 2 more approver pair" "$T/out"
cp "$T/pay.xml" "$T/pay03.xml" # for the status report below
rm -f "$T/pay.xml" "$T/pay.xml.minisig"
expect_exit 0 "$BIN" "${W[@]}" --drill --format pain.001.001.09 "${A3[@]}" --second carol --second-passphrase-file "$T/appr1" --leave-out-unpayable
expect_grep "msgid DRILL-RL" "$T/out"
xmllint --noout --schema "$TOP/app/data/iso20022/pain.001.001.09.xsd" "$T/pay.xml" 2>"$T/lint" || { cat "$T/lint" >&2; fail "XSD .09"; }
minisign -V -m "$T/pay.xml" -p "$T/appliance.pub" > "$T/v" 2>&1 || fail "minisign -V (drill)"
grep -qi "mode=drill seq=2 " "$T/v" || { cat "$T/v" >&2; fail "drill comment"; }
expect_exit 0 "$BIN" payfile verify "$T/pay.xml" --pubkey "$T/appliance.pub"
expect_grep "^mode *drill" "$T/out"
expect_grep "pain.001.001.09 schema" "$T/out"

expect_exit 0 "$BIN" --vault "$V" payfile list "${R[@]}"
[ "$(grep -c "^RL\|^DRILL" "$T/out")" = 2 ] || { cat "$T/out" >&2; fail "payfile list"; }
"$BIN" --vault "$V" audit list "${AD[@]}" > "$T/audit"
for pat in "key.create.*created by carol with dave" "auth.second.*dave authenticated as second person" \
           "payfile.write.*signed by carol and dave" "key.grant.*by dave and carol" "payfile.write.*signed by erin and carol.*drill"; do
  grep -q "$pat" "$T/audit" || { cat "$T/audit" >&2; fail "audit lacks: $pat"; }
done

# payfile status: the bank's pain.002 status report for the production file (pay03.xml),
# built here from the file itself and checked with xmllint against the official XSD.
cat > "$T/mk002.py" <<'PYEOF'
# mk002.py PAIN001 OUT VER REPORT_MSGID MODE: a bank status report for a written file.
# MODE part: GrpSts PART, the first two payments RJCT (AC01 with AddtlInf in Swedish, AC04),
# the rest ACSC; unknown: OrgnlMsgId of no file; bad-e2e: the last EndToEndId not in the
# file; badcount: OrgnlNbOfTxs one too many; v10: no GrpSts, PmtInfSts PART, the first
# payment RJCT AC04, the rest ACCP. OUT.rej lists the rejected: EndToEndId amount reason.
import sys, xml.etree.ElementTree as ET
src, out, ver, rid, mode = sys.argv[1:6]
root = ET.parse(src).getroot()
ns = {"p": root.tag[1:root.tag.index("}")]}
msgid = root.find(".//p:GrpHdr/p:MsgId", ns).text
nb = int(root.find(".//p:GrpHdr/p:NbOfTxs", ns).text)
ctrl = root.find(".//p:GrpHdr/p:CtrlSum", ns).text
txs = [(t.find("p:PmtId/p:EndToEndId", ns).text, t.find("p:Amt/p:InstdAmt", ns).text)
       for t in root.iterfind(".//p:CdtTrfTxInf", ns)]
assert len(txs) == nb >= 3
orig = "RLFFFFFFFF-990101-000001" if mode == "unknown" else msgid
if mode == "bad-e2e":
    txs[-1] = ("RL1-000000000000", txs[-1][1])
rej = {0: ("AC01", "Kontonumret är felaktigt, kontrollera med mottagaren (åäö ÅÄÖ)"),
       1: ("AC04", "Kontot är avslutat")}
if mode == "v10":
    rej = {0: ("AC04", "Kontot är avslutat")}
ok = "ACCP" if mode == "v10" else "ACSC"
x = ['<?xml version="1.0" encoding="UTF-8"?>',
     '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.%s"><CstmrPmtStsRpt>' % ver,
     "<GrpHdr><MsgId>%s</MsgId><CreDtTm>2026-01-02T09:30:00</CreDtTm></GrpHdr>" % rid,
     "<OrgnlGrpInfAndSts><OrgnlMsgId>%s</OrgnlMsgId><OrgnlMsgNmId>%s</OrgnlMsgNmId>"
     "<OrgnlNbOfTxs>%d</OrgnlNbOfTxs><OrgnlCtrlSum>%s</OrgnlCtrlSum>%s</OrgnlGrpInfAndSts>"
     % (orig, ns["p"].split(":")[-1], nb + (mode == "badcount"), ctrl,
        "" if mode == "v10" else "<GrpSts>PART</GrpSts>"),
     "<OrgnlPmtInfAndSts><OrgnlPmtInfId>%s-1</OrgnlPmtInfId><PmtInfSts>PART</PmtInfSts>" % orig]
with open(out + ".rej", "w", encoding="utf-8") as f:
    for i, (e2e, amt) in enumerate(txs):
        if i in rej:
            cd, info = rej[i]
            x.append("<TxInfAndSts><OrgnlEndToEndId>%s</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
                     "<StsRsnInf><Rsn><Cd>%s</Cd></Rsn><AddtlInf>%s</AddtlInf></StsRsnInf>"
                     "<OrgnlTxRef><Amt><InstdAmt Ccy=\"SEK\">%s</InstdAmt></Amt></OrgnlTxRef>"
                     "</TxInfAndSts>" % (e2e, cd, info, amt))
            f.write("%s %s %s\n" % (e2e, amt, cd))
        else:
            x.append("<TxInfAndSts><OrgnlEndToEndId>%s</OrgnlEndToEndId><TxSts>%s</TxSts>"
                     "</TxInfAndSts>" % (e2e, ok))
x.append("</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>")
open(out, "w", encoding="utf-8").write("\n".join(x) + "\n")
PYEOF
mk002() { $PY "$T/mk002.py" "$@" || fail "mk002.py $*"; }
lint002() { xmllint --noout --schema "$TOP/app/data/iso20022/pain.002.001.$1.xsd" "$2" 2>"$T/lint" || { cat "$T/lint" >&2; fail "XSD pain.002.001.$1: $2"; }; }
ST=(--vault "$V" payfile status)
mk002 "$T/pay03.xml" "$T/st1.xml" 03 BANK-PSR-0001 part; lint002 03 "$T/st1.xml"
# Any operator may import it (a registrar here): the summary names both rejected people by
# employment and masked personnummer, with amount, reason code and the bank's text.
expect_exit 0 "$BIN" "${ST[@]}" "$T/st1.xml" "${R[@]}"
expect_grep "^payment file RL.*, pay run 1:" "$T/out"
expect_grep "^group status PART" "$T/out"
expect_grep "[0-9]* accepted, 2 rejected, 0 pending" "$T/out"
expect_grep "AC01: Kontonumret är felaktigt, kontrollera med mottagaren (åäö ÅÄÖ)" "$T/out"
expect_grep "^what to do: pay the rejected people another way or correct their account with a bank_change and write a new file" "$T/out"
$PY - "$T/out" "$T/st1.xml.rej" "$S/employments.csv" "$S/employees.csv" <<'PYEOF' || { cat "$T/out" >&2; fail "status summary"; }
import csv, re, sys
out = open(sys.argv[1], encoding="utf-8").read()
rej = {l.split()[0]: l.split()[1:] for l in open(sys.argv[2], encoding="utf-8")}
emp_pnr = {r["employment_id"]: r["personnummer"] for r in csv.DictReader(open(sys.argv[3]))}
lines = re.findall(r"^  employment (.+) \((\d{8})-\*\*\*\*\): ([0-9]+\.[0-9]{2}) SEK, (RL\S+), reason (\w+)", out, re.M)
assert len(lines) == 2, lines
for emps, masked, amt, e2e, reason in lines:
    assert rej[e2e] == [amt, reason], (e2e, rej[e2e], amt, reason)
    for e in emps.split(", "):
        assert emp_pnr[e][:8] == masked, (e, masked)
for r in csv.DictReader(open(sys.argv[4])):
    assert r["personnummer"] not in out and r["personnummer"][2:] not in out, "a full personnummer"
PYEOF
# The same report again: refused, naming when and by whom it was imported.
expect_exit 1 "$BIN" "${ST[@]}" "$T/st1.xml" "${A1[@]}"
expect_grep "BANK-PSR-0001 (for payment file RL.*) was already imported on [0-9-]* by bob" "$T/err"
# A report for a MsgId this vault never wrote.
mk002 "$T/pay03.xml" "$T/st2.xml" 03 BANK-PSR-0002 unknown; lint002 03 "$T/st2.xml"
expect_exit 1 "$BIN" "${ST[@]}" "$T/st2.xml" "${R[@]}"
expect_grep "MsgId RLFFFFFFFF-990101-000001, not a payment file written by this appliance" "$T/err"
# An EndToEndId not in the file: refused whole, nothing stored (the same report, corrected,
# then imports under its own new MsgId) ...
mk002 "$T/pay03.xml" "$T/st3.xml" 03 BANK-PSR-0003 bad-e2e; lint002 03 "$T/st3.xml"
expect_exit 1 "$BIN" "${ST[@]}" "$T/st3.xml" "${R[@]}"
expect_grep "EndToEndId RL1-000000000000 is not in payment file RL.*: nothing imported" "$T/err"
mk002 "$T/pay03.xml" "$T/st4.xml" 03 BANK-PSR-0004 part; lint002 03 "$T/st4.xml"
expect_exit 0 "$BIN" "${ST[@]}" "$T/st4.xml" "${A1[@]}"
expect_grep "2 rejected" "$T/out"
# ... and a count that is not the file's.
mk002 "$T/pay03.xml" "$T/st5.xml" 03 BANK-PSR-0005 badcount; lint002 03 "$T/st5.xml"
expect_exit 1 "$BIN" "${ST[@]}" "$T/st5.xml" "${R[@]}"
expect_grep "OrgnlNbOfTxs is [0-9]* but payment file RL.* has [0-9]* payments" "$T/err"
# A pain.002.001.10 report for the drill file (.09), without GrpSts, as JSON.
mk002 "$T/pay.xml" "$T/st10.xml" 10 BANK-PSR-0010 v10; lint002 10 "$T/st10.xml"
expect_exit 0 "$BIN" "${ST[@]}" "$T/st10.xml" "${AD[@]}" --json
$PY - "$T/out" "$T/st10.xml.rej" "$T/pay.xml" <<'PYEOF' || { cat "$T/out" >&2; fail "status --json"; }
import json, re, sys
j = json.load(open(sys.argv[1])); e2e, amt, reason = open(sys.argv[2]).read().split()
assert j["report_msg_id"] == "BANK-PSR-0010" and j["report_format"] == "pain.002.001.10", j
assert j["msg_id"].startswith("DRILL-RL") and j["drill"] is True and j["payrun"] == 1, j
assert j["group_status"] == "PART" and j["rejected"] == 1 and j["pending"] == 0, j
assert j["accepted"] == j["file_count"] - 1 == j["reported"] - 1, j
x = j["rejected_payments"][0]
assert x["end_to_end_id"] == e2e and x["amount"] == amt and x["reason"] == reason, x
assert re.fullmatch(r"\d{8}-\*\*\*\*", x["pnr_masked"]) and x["employments"], x
assert x["info"] == "Kontot är avslutat" and j["advice"].startswith("pay the rejected"), j
PYEOF
# payfile list shows the bank's latest group status; the imports are audited.
expect_exit 0 "$BIN" --vault "$V" payfile list "${R[@]}"
[ "$(grep -c "  bank PART$" "$T/out")" = 2 ] || { cat "$T/out" >&2; fail "payfile list bank status"; }
"$BIN" --vault "$V" audit list "${AD[@]}" > "$T/audit"
grep -q "payfile.status.*status report BANK-PSR-0001 for payment file RL.* (pay run 1): group status PART, [0-9]* accepted, 2 rejected, 0 pending" "$T/audit" ||
  { cat "$T/audit" >&2; fail "audit lacks payfile.status"; }
[ "$(grep -c "payfile.status" "$T/audit")" = 3 ] || { cat "$T/audit" >&2; fail "payfile.status entries"; }
pass
