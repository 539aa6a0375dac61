#!/usr/bin/env bash
# The tamper campaign at a reduced size (docs/tamper.md; the full run is `make tamper`):
# a fixture made with the CLI (vault, payment files, journals, rule file, snapshot, an older
# copy of each), then every bit of 3 sampled positions per file flipped, cuts, appends, page
# swaps, older pages and older copies, each checked by the appliance's own verifier in
# process. Every counted mutation must be refused; the documented limits are listed apart.
# Also the base64 alias the campaign found in libsodium's decoder ('/' with bit 7 set).
set -u
. "$TOP/tests/e2e/lib.sh"
TOOL="$B/tests/tamper"
B="$B" "$TOP/tests/tamper/prepare" "$T/fx" 12 >"$T/prep" 2>&1 || { cat "$T/prep" >&2; fail "prepare"; }
expect_exit 0 "$TOOL" --fixture "$T/fx" --work "$T/work" --samples 3 --seed 7
expect_grep "^detection: 100% of the counted mutations" "$T/out"
for r in "vault  *vault.db  *bit flip" "vault  *vault.db  *page swap" "vault  *vault.db  *older page replayed" \
         "vault  *commits  *bit flip" "vault  *keyring  *bit flip" "vault  *(older copy)  *older vault.db  *1  *1 " \
         "payment file pay2.xml.minisig  *bit flip" "journal  *j2.jsonl  *truncate" \
         "rule file  *payroll.lua  *append" "snapshot  *manifest.json  *bit flip" "snapshot  *employees.csv  *bit flip" \
         "journal  *(older copy)  *rolled-back vault, diff  *1  *1 "; do
  grep -q -- "^$r" "$T/out" || { cat "$T/out" >&2; fail "row missing or not detected: $r"; }
done
# Every counted row is at 100%, and the whole-vault rollback is listed as a limit.
awk '$NF ~ /%$/ && $NF != "100.0%" {bad=1; print} END {exit bad}' "$T/out" || fail "a rate below 100%"
expect_grep "whole directory: accepted by the vault alone" "$T/out"
# The tool refuses to run without its fixture (usage) and on a fixture that is not one.
expect_exit 2 "$TOOL" --fixture "$T/fx"
expect_exit 2 "$TOOL" --fixture "$T/nothing" --work "$T/w2"

# A '/' or '+' with bit 7 set in the signature lines (libsodium 1.0.18 read it as '/'): refused.
cp "$T/fx/j2.jsonl" "$T/j.jsonl"
/usr/bin/python3 - "$T/fx/j2.jsonl.minisig" "$T/j.jsonl.minisig" <<'PYEOF' || fail "no '/' or '+' in the signature lines"
import sys
b = bytearray(open(sys.argv[1], "rb").read())
lines = b.split(b"\n")
start = len(lines[0]) + 1  # the signature line
i = next(i for i in range(start, len(b)) if b[i] in b"+/" and (i < start + len(lines[1]) or i > len(b) - 90))
b[i] |= 0x80
open(sys.argv[2], "wb").write(b)
PYEOF
expect_exit 3 "$BIN" journal verify "$T/j.jsonl" --pubkey "$T/fx/appliance.pub"
expect_grep "not base64" "$T/err"
pass
