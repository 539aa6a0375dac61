#!/usr/bin/env bash
# scripts/gen-snapshot: deterministic per seed, different across seeds, signed so that the
# real minisign verifies it, hashes and row counts as in the manifest, every identity
# number, account and IBAN valid by independent oracles (python3-stdnum, and npm
# kontonummer/personnummer when tests/oracle is installed), references and amounts
# consistent; and each --bad kind plants exactly the one bad record it reports.
set -u
. "$TOP/tests/e2e/lib.sh"
PY=/usr/bin/python3 # Debian's python3, which has python3-stdnum (a pyenv one may not)
PUB="$TOP/keys/test/export-TEST.pub"
N=1000

# check.py DIR [BADKIND FILE LINE]: validates a snapshot; with BADKIND, expects exactly the
# one bad record at FILE:LINE and nothing else wrong.
cat >"$T/check.py" <<'EOF'
import csv, hashlib, json, sys, datetime
from stdnum.se import personnummer
from stdnum import iban, luhn
d = sys.argv[1]
bad_kind, bad_file, bad_line = (sys.argv[2], sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else (None, None, 0)
problems = []  # (file, line, what)
def problem(f, line, what): problems.append((f, line, what))

HEADERS = {
    'org_units.csv': 'org_unit_id,name,parent_id',
    'employees.csv': 'personnummer,given_name,family_name,protected_identity,clearing,account,iban',
    'employments.csv': 'employment_id,personnummer,org_unit_id,start_date,end_date,pay_type,'
                       'monthly_salary_ore,hourly_rate_ore,extent_pct,tax_table,tax_column,tax_fixed_pct',
    'last_payrun.csv': 'employment_id,period,pay_date,gross_ore,tax_ore,deductions_ore,net_ore',
    'tax_tables.csv': 'year,kind,table,income_from,income_to,col1,col2,col3,col4,col5,col6,col7',
}
m = json.load(open(f'{d}/manifest.json', encoding='utf-8'))
assert m['format'] == 'reservlon-snapshot' and m['version'] == 1, m
assert sorted(m['files']) == sorted(HEADERS), m['files']
assert len(m['employer_orgnr']) == 10 and luhn.is_valid(m['employer_orgnr']), m['employer_orgnr']
datetime.datetime.strptime(m['export_time'], '%Y-%m-%dT%H:%M:%SZ')
rows = {}
for name, header in HEADERS.items():
    raw = open(f'{d}/{name}', 'rb').read()
    assert hashlib.sha256(raw).hexdigest() == m['files'][name]['sha256'], f'{name}: sha256'
    text = raw.decode('utf-8')  # strict UTF-8
    assert not text.startswith('\ufeff'), f'{name}: BOM'
    recs = list(csv.reader(text.splitlines(), strict=True))
    assert ','.join(recs[0]) == header, f'{name}: header {recs[0]}'
    ncol = len(recs[0])
    for i, r in enumerate(recs[1:]):
        assert len(r) == ncol, f'{name} line {i + 2}: {len(r)} fields'
    assert len(recs) - 1 == m['files'][name]['rows'], f'{name}: rows {len(recs) - 1} != manifest'
    rows[name] = [(i + 2, r) for i, r in enumerate(recs[1:])]

def valid_date(s):
    try:
        datetime.date.fromisoformat(s); return len(s) == 10
    except ValueError:
        return False

units = {r[0] for _, r in rows['org_units.csv']}
for line, (uid, name, parent) in rows['org_units.csv']:
    if parent and parent not in units: problem('org_units.csv', line, 'parent')
people = set()
for line, (pnr, given, family, prot, clearing, account, ib) in rows['employees.csv']:
    if not (len(pnr) == 12 and pnr.isdigit()): problem('employees.csv', line, 'pnr form'); continue
    if pnr in people: problem('employees.csv', line, 'duplicate pnr')
    people.add(pnr)
    if int(pnr[6:8]) > 60:  # samordningsnummer: stdnum 1.18 rejects them; check date and Luhn
        try:
            datetime.date(int(pnr[:4]), int(pnr[4:6]), int(pnr[6:8]) - 60)
            ok = luhn.is_valid(pnr[2:])
        except ValueError:
            ok = False
    else:
        ok = personnummer.is_valid(pnr)
    if not ok: problem('employees.csv', line, 'personnummer')
    if not given or not family: problem('employees.csv', line, 'name')
    if prot not in '0123' or len(prot) != 1: problem('employees.csv', line, 'protected_identity')
    if ib and (clearing or account or not iban.is_valid(ib)): problem('employees.csv', line, 'iban')
    if bool(clearing) != bool(account): problem('employees.csv', line, 'clearing/account')

emps = {}
for line, r in rows['employments.csv']:
    eid, pnr, unit, start, end, ptype, sal, rate, ext, tab, col, fixed = r
    if eid in emps: problem('employments.csv', line, 'duplicate id')
    emps[eid] = r
    if pnr not in people: problem('employments.csv', line, 'dangling personnummer')
    if unit not in units: problem('employments.csv', line, 'org unit')
    if not valid_date(start) or (end and (not valid_date(end) or end < start)):
        problem('employments.csv', line, 'date'); continue
    if ptype == 'monthly':
        if not (sal.isdigit() and int(sal) > 0 and rate == ''): problem('employments.csv', line, 'monthly')
        elif not 2200000 <= int(sal) <= 7500000: problem('employments.csv', line, 'salary range')
    elif ptype == 'hourly':
        if not (rate.isdigit() and 15000 <= int(rate) <= 26000 and sal == ''): problem('employments.csv', line, 'hourly')
    else:
        problem('employments.csv', line, 'pay_type')
    if not 0 < float(ext) <= 100: problem('employments.csv', line, 'extent')
    if fixed:
        if tab or col or not 0 <= float(fixed) <= 100: problem('employments.csv', line, 'tax fixed')
    elif not (29 <= int(tab) <= 42 and 1 <= int(col) <= 6): problem('employments.csv', line, 'tax table')

seen = set(); periods = set()
for line, (eid, period, paydate, g, t, de, net) in rows['last_payrun.csv']:
    if eid not in emps or eid in seen: problem('last_payrun.csv', line, 'employment id')
    seen.add(eid); periods.add((period, paydate))
    if int(net) != int(g) - int(t) - int(de) or int(net) < 0: problem('last_payrun.csv', line, 'net')
assert len(periods) == 1, periods

if bad_kind is None:
    assert not problems, problems[:10]
    print('ok', {k: len(v) for k, v in rows.items()})
else:
    want = {'pnr-checksum': 'personnummer', 'dangling-employment': 'dangling personnummer',
            'net-mismatch': 'net', 'bad-date': 'date'}.get(bad_kind)
    if bad_kind == 'account-checksum':
        assert not problems, problems  # stdnum has no Swedish account check: node does it
    else:
        assert problems == [(bad_file, bad_line, want)], problems
    print('ok: exactly', bad_file, bad_line, want)
EOF

# oracle_accounts FILE [EXPECT_BAD_LINE]: npm kontonummer, if the oracle is installed.
ORACLE="$TOP/tests/oracle"
have_node=0
if command -v node >/dev/null && [ -d "$ORACLE/node_modules/kontonummer" ]; then have_node=1; fi
oracle_accounts() {
  (cd "$ORACLE" && node -e '
    const k = require("kontonummer"), P = require("personnummer"), fs = require("fs");
    const lines = fs.readFileSync(process.argv[1], "utf8").split("\n");
    const bad = [];
    for (let i = 1; i < lines.length; i++) {
      if (!lines[i]) continue;
      const f = lines[i].split(",");
      if (!P.valid(f[0])) bad.push(i + 1);
      else if (f[4] && !k.valid(f[4], f[5])) bad.push(i + 1);
    }
    const want = process.argv[2] ? [Number(process.argv[2])] : [];
    if (JSON.stringify(bad) !== JSON.stringify(want)) {
      console.error("kontonummer/personnummer oracle: bad lines", bad.slice(0, 10), "expected", want);
      process.exit(1);
    }' "$1" "${2:-}")
}

# --- determinism and differences ------------------------------------------------------
expect_exit 0 "$GEN" --employees $N --seed 42 --out "$T/a"
expect_exit 0 "$GEN" --employees $N --seed 42 --out "$T/b"
diff -r "$T/a" "$T/b" >/dev/null || fail "same seed gave different output"
expect_exit 0 "$GEN" --employees $N --seed 43 --out "$T/c"
for f in employees.csv employments.csv last_payrun.csv manifest.json manifest.json.minisig; do
  cmp -s "$T/a/$f" "$T/c/$f" && fail "seeds 42 and 43 gave the same $f"
done
# The wrapper script builds (a no-op here) and runs the same generator.
B="$B" "$TOP/scripts/gen-snapshot" --employees 50 --seed 1 --out "$T/w" >/dev/null ||
  fail "scripts/gen-snapshot wrapper failed"

# --- signature, hashes, rows, identity numbers ---------------------------------------------
for d in a c w; do
  minisign -Vm "$T/$d/manifest.json" -p "$PUB" >"$T/out" 2>&1 || { cat "$T/out"; fail "minisign rejects $d"; }
  "$PY" "$T/check.py" "$T/$d" >"$T/out" 2>&1 || { cat "$T/out"; fail "snapshot $d invalid"; }
  if [ $have_node = 1 ]; then oracle_accounts "$T/$d/employees.csv" || fail "oracle: $d"; fi
done
[ "$(wc -l <"$T/a/employees.csv")" -eq $((N + 1)) ] || fail "employees.csv is not $N rows"
# A tampered CSV no longer matches the manifest (the checker is not a rubber stamp).
cp -r "$T/a" "$T/t"
sed -i '2s/,0,/,1,/' "$T/t/employees.csv"
"$PY" "$T/check.py" "$T/t" >/dev/null 2>&1 && fail "checker accepted a changed CSV"

# --- each --bad kind: one reported bad record, still a valid signature and hashes ----------
for kind in pnr-checksum account-checksum dangling-employment net-mismatch bad-date; do
  expect_exit 0 "$GEN" --employees $N --seed 42 --out "$T/bad-$kind" --bad "$kind"
  where=$(sed -n "s/^gen-snapshot: --bad $kind: \([a-z_]*\.csv\) line \([0-9]*\).*/\1 \2/p" "$T/err")
  [ -n "$where" ] || { cat "$T/err"; fail "--bad $kind: no file/line on stderr"; }
  minisign -Vm "$T/bad-$kind/manifest.json" -p "$PUB" >/dev/null 2>&1 || fail "--bad $kind: signature"
  # shellcheck disable=SC2086
  "$PY" "$T/check.py" "$T/bad-$kind" "$kind" $where >"$T/out" 2>&1 ||
    { cat "$T/out"; fail "--bad $kind: not exactly the reported record"; }
  if [ $have_node = 1 ]; then
    case $kind in
      pnr-checksum|account-checksum) oracle_accounts "$T/bad-$kind/employees.csv" "${where#* }" ;;
      *) oracle_accounts "$T/bad-$kind/employees.csv" ;;
    esac || fail "--bad $kind: oracle"
  fi
  # Deterministic too.
  "$GEN" --employees $N --seed 42 --out "$T/bad2" --bad "$kind" >/dev/null 2>&1
  diff -r "$T/bad-$kind" "$T/bad2" >/dev/null || fail "--bad $kind is not deterministic"
done

# --- refusals -------------------------------------------------------------------------
expect_exit 2 "$GEN" --employees 10 --seed 1
expect_exit 2 "$GEN" --employees 0 --seed 1 --out "$T/z"
expect_exit 2 "$GEN" --employees 10 --seed x --out "$T/z"
expect_exit 2 "$GEN" --employees 10 --seed 1 --out "$T/z" --bad nonsense
# Synthetic data must not be signed with a key that is not marked TEST.
cp "$TOP/keys/test/export-TEST.key" "$T/export.key"
expect_exit 2 "$GEN" --employees 10 --seed 1 --out "$T/z" --key "$T/export.key"
expect_grep "TEST" "$T/err"
expect_exit 0 "$GEN" --employees 10 --seed 1 --out "$T/z" --key "$T/export.key" --allow-any-key
pass
