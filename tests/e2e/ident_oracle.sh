#!/usr/bin/env bash
# ident against independent implementations, on several thousand generated cases:
#   personnummer/samordningsnummer -> python3-stdnum 1.18 stdnum.se.personnummer
#                                     (+ npm personnummer 3.2.1 for samordningsnummer)
#   organisationsnummer            -> stdnum.se.orgnr
#   IBAN                           -> stdnum.iban
#   bank accounts                  -> npm kontonummer 6.0.1
# Generation is deterministic (fixed seeds, fixed reference date 2026-11-24, with stdnum's
# "today" pinned to it). Every case must give exactly the output the test expects. Where an
# oracle is known to differ from our documented rules (docs/identity-and-accounts.md,
# "Oracle discrepancies"), the case carries the name of that discrepancy, the expected output
# follows our rule, and the oracle's different verdict is asserted too; any other
# disagreement fails the test. Needs /usr/bin/python3 with python3-stdnum (Debian's, not a
# pyenv python on PATH) and tests/oracle/node_modules (npm ci --prefix tests/oracle).
set -u
. "$TOP/tests/e2e/lib.sh"

PY=/usr/bin/python3
CHECK="$B/tests/ident-check"
ORACLE="$TOP/tests/oracle"
[ -x "$CHECK" ] || fail "$CHECK is not built (make B=$B all)"
"$PY" -c 'import stdnum.se.personnummer, stdnum.iban' 2>/dev/null ||
  fail "$PY lacks python3-stdnum (scripts/install-deps)"
command -v node >/dev/null || fail "node is not installed (scripts/install-deps)"
[ -f "$ORACLE/node_modules/kontonummer/package.json" ] &&
  [ -f "$ORACLE/node_modules/personnummer/package.json" ] ||
  fail "oracle packages missing: run npm ci --prefix tests/oracle"

# ---- identity numbers, orgnr and IBAN against python3-stdnum --------------------------------
# Output: one TSV line per case: input, expected output, oracle output, category, where the
# category is "agree" (expected == oracle) or the name of a documented discrepancy.
cat >"$T/gen.py" <<'PY'
import datetime, random, re, sys
import stdnum, stdnum.iban, stdnum.luhn
import stdnum.se.orgnr as orgnr
import stdnum.se.personnummer as pnr_mod

TODAY = datetime.date(2026, 11, 24)

class _FixedDate(datetime.date):
    @classmethod
    def today(cls):
        return cls(TODAY.year, TODAY.month, TODAY.day)

class _Clock:  # stdnum.se.personnummer calls datetime.date.today(): pin it to TODAY
    date = _FixedDate

pnr_mod.datetime = _Clock
assert stdnum.__version__ == "1.18", stdnum.__version__  # the discrepancies are per version

out_dir = sys.argv[1]
rows = []
snr12 = []  # samordningsnummer cases for the npm personnummer cross-check

def add(kind, text, want, oracle, cat):
    if want == oracle:
        cat = "agree"
    elif cat == "agree":
        sys.exit("generator: %s %r: oracle %r differs from expectation %r without a "
                 "documented reason" % (kind, text, oracle, want))
    rows.append(("%s %s" % (kind, text), want, oracle, cat))

# -- personnummer --------------------------------------------------------------------------
def stdnum_pnr(text):
    try:
        c = pnr_mod.validate(text)
    except stdnum.exceptions.ValidationError:
        return "ERR"
    d = re.sub(r"[-+]", "", c)[-10:]
    return "OK %04d%s P" % (pnr_mod.get_birth_date(text).year, d[2:])

def our_year(yy, mm, dd, plus):
    """Our documented rule: the latest century that puts the birth date on or before
    TODAY, 100 years earlier with '+'. (stdnum compares the year only.)"""
    y = TODAY.year - TODAY.year % 100 + yy
    if (y, mm, dd) > (TODAY.year, TODAY.month, TODAY.day):
        y -= 100
    return y - 100 if plus else y

def luhn9(s):
    return s + stdnum.luhn.calc_check_digit(s)

def forms(y, body10):
    """All usual written forms of a number with full year y and 10 digits body10."""
    yy = body10[:6]
    return [("%04d%s-%s" % (y, body10[2:6], body10[6:]), "12-"),
            ("%04d%s" % (y, body10[2:]), "12"),
            ("%s-%s" % (yy, body10[6:]), "10-"),
            (body10, "10"),
            ("%s+%s" % (yy, body10[6:]), "10+")]

def expect_pnr(text, form, y, body10, snr):
    """Expected output of our implementation for a well-formed number whose 10 digits are
    Luhn-valid, and the documented category when stdnum disagrees."""
    mm, dd = int(body10[2:4]), int(body10[4:6])
    real = dd - 60 if snr else dd
    if form == "12+":
        return "ERR", "plus12"
    if form.startswith("10"):
        y = our_year(int(body10[:2]), mm, real, form == "10+")
    try:
        datetime.date(y, mm, real)
    except ValueError:
        return "ERR", "agree"
    if body10[6:9] == "000":
        return "ERR", "bn000"
    cat = "snr" if snr else "agree"
    if form.startswith("10") and int(body10[:2]) == TODAY.year % 100 and \
            (mm, real) > (TODAY.month, TODAY.day):
        cat = "century"
    return "OK %04d%s %s" % (y, body10[2:], "S" if snr else "P"), cat

rnd = random.Random(20261124)
def rand_date(lo=datetime.date(1900, 1, 1), hi=TODAY):
    return lo + datetime.timedelta(days=rnd.randrange((hi - lo).days + 1))

def gen_number(date, snr=False, bn=None):
    bn = bn if bn is not None else rnd.randrange(1, 1000)
    day = date.day + (60 if snr else 0)
    return luhn9("%02d%02d%02d%03d" % (date.year % 100, date.month, day, bn))

def add_valid(date, snr=False, bn=None, only=None):
    body = gen_number(date, snr, bn)
    for text, form in forms(date.year, body):
        if only and form not in only:
            continue
        want, cat = expect_pnr(text, form, date.year, body, snr)
        add("pnr", text, want, stdnum_pnr(text), cat)
        if snr and form == "12-" and want.startswith("OK"):
            snr12.append((text, want.split()[1]))

# Valid personnummer over the whole range of dates, every form.
for _ in range(500):
    add_valid(rand_date())
# Leap days, century years and the last days before/after today.
for y in (1904, 1948, 1996, 2000, 2004, 2024):
    add_valid(datetime.date(y, 2, 29))
for d in (datetime.date(1926, 11, 24), datetime.date(1926, 11, 25), datetime.date(2026, 11, 24),
          datetime.date(1900, 1, 1), datetime.date(1999, 12, 31), datetime.date(2000, 1, 1)):
    add_valid(d)
# The century boundary: born in 2026 after today -> 1926 by our rule, 2026 by stdnum.
for _ in range(40):
    add_valid(rand_date(datetime.date(1926, 11, 25), datetime.date(1926, 12, 31)),
              only=("10-", "10", "10+"))
# '+' with 12 digits.
for _ in range(30):
    d = rand_date(datetime.date(1900, 1, 1), datetime.date(1926, 11, 24))
    body = gen_number(d)
    text = "%04d%s+%s" % (d.year, body[2:6], body[6:])
    want, cat = expect_pnr(text, "12+", d.year, body, False)
    add("pnr", text, want, stdnum_pnr(text), cat)
# Samordningsnummer (day + 60): stdnum 1.18 rejects them all.
for _ in range(300):
    add_valid(rand_date(), snr=True)
for y in (1996, 2000, 2024):
    add_valid(datetime.date(y, 2, 29), snr=True)
# Birth number 000 with a correct check digit: stdnum accepts.
for _ in range(60):
    add_valid(rand_date(), bn=0)
# Wrong check digits: every wrong digit for some numbers.
for _ in range(120):
    d = rand_date()
    body = gen_number(d)
    for wrong in rnd.sample([c for c in "0123456789" if c != body[-1]], 3):
        b = body[:-1] + wrong
        for text, form in forms(d.year, b):
            add("pnr", text, "ERR", stdnum_pnr(text), "agree")
# Same for samordningsnummer (both reject: stdnum for the date, we for the check digit).
for _ in range(40):
    d = rand_date()
    body = gen_number(d, snr=True)
    b = body[:-1] + str((int(body[-1]) + 1) % 10)
    add("pnr", "%04d%s" % (d.year, b[2:]), "ERR", stdnum_pnr("%04d%s" % (d.year, b[2:])), "agree")
# Impossible dates with a correct check digit.
bad_dates = [(1999, 2, 29), (1900, 2, 29), (2023, 2, 29), (1990, 4, 31), (1990, 6, 31),
             (1990, 13, 1), (1990, 0, 10), (1990, 5, 0), (1990, 5, 32), (1990, 12, 60),
             (1990, 1, 92), (1999, 2, 89), (2001, 11, 91)]
for (y, m, dd) in bad_dates:
    for _ in range(6):
        body = luhn9("%02d%02d%02d%03d" % (y % 100, m, dd, rnd.randrange(1, 1000)))
        for text, form in forms(y, body):
            want = "ERR"
            if form.startswith("10"):  # the 10-digit forms may land in another century
                snr = dd > 60
                want, _ = expect_pnr(text, form, y, body, snr)
            add("pnr", text, want, stdnum_pnr(text), "agree" if not want.startswith("OK")
                else ("snr" if dd > 60 else "agree"))
# Adjacent transpositions of valid numbers (Luhn misses 09<->90).
for _ in range(300):
    d = rand_date()
    t = "%04d%s" % (d.year, gen_number(d)[2:])
    i = rnd.randrange(len(t) - 1)
    t = t[:i] + t[i + 1] + t[i] + t[i + 2:]
    if int(t[6:8]) > 60 or t[8:11] == "000":  # documented points, covered above
        continue
    o = stdnum_pnr(t)
    add("pnr", t, o, o, "agree")
# Random digit strings of the usual lengths, garbage, empty and overlong input.
for _ in range(300):
    n = rnd.choice((10, 12))
    t = "".join(rnd.choice("0123456789") for _ in range(n))
    o = stdnum_pnr(t)
    # Leave out what the documented points decide (covered above): a day over 60
    # (samordningsnummer), birth number 000 and, for 10 digits, a 2026 date.
    if int(t[-6:-4]) > 60 or t[-4:-1] == "000" or (n == 10 and t[:2] == "26"):
        continue
    add("pnr", t, o, o, "agree")
for t in ["", "hello", "19811228-987X", "811228-98745", "1981122898741", "198112289874123",
          "811228/9874", "811228-T874", "8112289874x", "x8112289874", "abcdefghij",
          "19811228-98744444444444444444444444444"]:
    add("pnr", t, "ERR", stdnum_pnr(t), "agree")
# stdnum drops '-' and '+' anywhere before the last five characters and spaces anywhere;
# we accept one separator, in its place, and trim only the ends.
for t in ["19811228--9874", "1981-12-28-9874", "811228 9874", "81 12 28-9874", "8112-28-9874"]:
    add("pnr", t, "ERR", stdnum_pnr(t), "pnr_separators")

# -- organisationsnummer -------------------------------------------------------------------
def stdnum_org(text):
    try:
        return "OK " + orgnr.compact(orgnr.validate(text))
    except stdnum.exceptions.ValidationError:
        return "ERR"

for _ in range(400):
    nine = "%d%d%d%06d" % (rnd.randrange(1, 10), rnd.randrange(10), rnd.randrange(2, 10),
                           rnd.randrange(10 ** 6))
    ten = luhn9(nine)
    for text in (ten, ten[:6] + "-" + ten[6:]):
        add("orgnr", text, "OK " + ten, stdnum_org(text), "agree")
    for text in ("16" + ten, "16" + ten[:6] + "-" + ten[6:]):
        add("orgnr", text, "OK " + ten, stdnum_org(text), "orgnr16")
    bad = ten[:-1] + str((int(ten[-1]) + rnd.randrange(1, 10)) % 10)
    add("orgnr", bad, "ERR", stdnum_org(bad), "agree")
    add("orgnr", ten[:4] + "-" + ten[4:], "ERR", stdnum_org(ten[:4] + "-" + ten[4:]),
        "orgnr_dash")
for _ in range(100):  # third digit 0 or 1: a personnummer, not an orgnr
    ten = luhn9("%02d%d%06d" % (rnd.randrange(100), rnd.randrange(2), rnd.randrange(10 ** 6)))
    add("orgnr", ten, "ERR", stdnum_org(ten), "orgnr_third")
for t in ["", "556036079", "55603607931", "556036-07930", "5560360793x", "17556036-0793"]:
    add("orgnr", t, "ERR", stdnum_org(t), "agree")

# -- IBAN ------------------------------------------------------------------------------------
def stdnum_iban(text):
    try:
        return "OK " + stdnum.iban.validate(text)
    except stdnum.exceptions.ValidationError:
        try:
            stdnum.iban.validate(text, check_country=False)
            return "ERR national"  # only the country module (BE, ES, ME, NO) rejects it
        except stdnum.exceptions.ValidationError:
            return "ERR"

def iban_cat(want, oracle, default="agree"):
    if oracle == "ERR national":
        return "iban_national"
    return default

registry = []
for line in open(stdnum.__path__[0] + "/iban.dat", encoding="utf-8"):
    m = re.match(r'^([A-Z]{2}) .*bban="([^"]*)"', line)
    if m:
        registry.append((m.group(1), re.findall(r"(\d+)!([nac])", m.group(2))))
CLS = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
       "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}

def with_check(cc, bban):
    return cc + stdnum.iban.calc_check_digits(cc + "00" + bban) + bban

def add_iban(text, want, cat="agree"):
    o = stdnum_iban(text)
    add("iban", text, want, "ERR" if o == "ERR national" else o, iban_cat(want, o, cat))

mutations_accepted = 0
def add_iban_as_oracle(t):
    """Mod 97 misses some letter<->digit substitutions and transpositions (a letter counts
    as two digits), so for these the expectation is simply the oracle's verdict."""
    global mutations_accepted
    o = stdnum_iban(t)
    mutations_accepted += o.startswith("OK")
    add_iban(t, o if o.startswith("OK") else ("OK " + t if o == "ERR national" else "ERR"))

for cc, struct in registry:
    for _ in range(12):
        bban = "".join(rnd.choice(CLS[c]) for n, c in struct for _ in range(int(n)))
        iban = with_check(cc, bban)
        add_iban(iban, "OK " + iban)
        add_iban(" ".join(iban[i:i + 4] for i in range(0, len(iban), 4)), "OK " + iban)
        add_iban(iban.lower(), "OK " + iban)
        # One character changed to another of the same class: mod 97 catches it.
        i = rnd.randrange(4, len(iban))
        pool = [c for c in CLS[[c for n, c in struct for _ in range(int(n))][i - 4]]
                if c != iban[i]]
        add_iban_as_oracle(iban[:i] + rnd.choice(pool) + iban[i + 1:])
        # Adjacent transposition.
        i = rnd.randrange(4, len(iban) - 1)
        add_iban_as_oracle(iban[:i] + iban[i + 1] + iban[i] + iban[i + 2:])
        # Wrong check digits, one character short, one too many.
        cd = "%02d" % ((int(iban[2:4]) + rnd.randrange(1, 95)) % 97 + 2)
        if cd != iban[2:4]:
            add_iban(iban[:2] + cd + iban[4:], "ERR")
        add_iban(iban[:-1], "ERR")
        add_iban(iban + "0", "ERR")
    # A BBAN character of the wrong class (a letter where digits belong), check recomputed.
    flat = [c for n, c in struct for _ in range(int(n))]
    for i, c in enumerate(flat):
        if c == "n":
            bban = "".join(rnd.choice(CLS[k]) for k in flat)
            add_iban(with_check(cc, bban[:i] + "A" + bban[i + 1:]), "ERR")
            break
# Country codes not in the registry: we accept on mod 97 and a plausible length (the
# registry grows; mod 97 still catches typos); stdnum rejects.
for cc in ("XA", "ZZ", "QQ"):
    for n in (15, 22, 30):
        bban = "".join(rnd.choice("0123456789") for _ in range(n - 4))
        add_iban(with_check(cc, bban), "OK " + with_check(cc, bban), "iban_unknown_cc")
    add_iban(with_check(cc, "1234567890"), "ERR")  # 14 characters: too short
# Check digits 00, 01 and 99: aliases of 97, 98 and 02 under mod 97, outside ISO's 02-98.
aliases = {"97": "00", "98": "01", "02": "99"}
found = {}
for k in range(200000):
    if len(found) == 3:
        break
    iban = with_check("SE", "%020d" % (k * 7919))
    if iban[2:4] in aliases and iban[2:4] not in found:
        found[iban[2:4]] = iban
        add_iban(iban, "OK " + iban)
        add_iban(iban[:2] + aliases[iban[2:4]] + iban[4:], "ERR", "iban_cd_alias")
assert len(found) == 3
print("iban: %d single-character mutations pass mod 97 (letter/digit mix-ups)" % mutations_accepted)
for t in ["", "SE", "SE45", "1E4550000000058398257466", "SE4550000000058398257466!",
          "SE45500000000583982574661234567890123"]:
    add_iban(t, "ERR")

with open(out_dir + "/py.tsv", "w", encoding="utf-8") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
with open(out_dir + "/snr12.tsv", "w", encoding="utf-8") as f:
    for t, d in snr12:
        f.write("%s\t%s\n" % (t, d))
PY

# ---- bank accounts against npm kontonummer; samordningsnummer against npm personnummer -----
cat >"$T/gen.js" <<'JS'
'use strict';
const fs = require('fs');
const { createRequire } = require('module');
const [outDir, oracleDir, csvPath] = process.argv.slice(2);
const req = createRequire(oracleDir + '/package.json');
const kn = req('kontonummer');
const Personnummer = req('personnummer');
const knVersion = JSON.parse(fs.readFileSync(oracleDir + '/node_modules/kontonummer/package.json')).version;
if (knVersion !== '6.0.1') throw new Error('kontonummer ' + knVersion + ': discrepancies are per version');

// Deterministic PRNG (mulberry32).
let seed = 20261124;
const rnd = () => {
  seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const rint = (n) => Math.floor(rnd() * n);
const digits = (n) => Array.from({ length: n }, () => rint(10)).join('');

const rows = [];
const fail = (msg) => { console.error('generator: ' + msg); process.exit(1); };
function add(clearing, account, want, oracle, cat) {
  if (want === oracle) cat = 'agree';
  else if (cat === 'agree') fail(`${clearing} ${account}: oracle '${oracle}' differs from '${want}' without a documented reason`);
  rows.push([`account ${clearing} ${account}`, want, oracle, cat]);
}
function oracle(clearing, account) {
  try {
    const k = kn.parse(clearing, account);
    return `OK ${k.sortingCode.slice(0, 4)} ${k.accountNumber} ${k.type} ${k.comment} 0 ${k.bankName}`;
  } catch (e) {
    return 'ERR';
  }
}
const luhnOk = (s) => {
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let v = +s[s.length - 1 - i] * (i % 2 ? 2 : 1);
    sum += v > 9 ? v - 9 : v;
  }
  return sum % 10 === 0;
};
const luhnDigit = (s) => { for (let d = 0; d < 10; d++) if (luhnOk(s + d)) return String(d); };

// The ranges come from our CSV (the contract); kontonummer is asked about each number.
const ranges = fs.readFileSync(csvPath, 'utf8').trim().split('\n').slice(1).map((l) => {
  const m = /^(\d+),(\d+),"([^"]*)",(\d),(\d),(\d+)(?:-(\d+))?$/.exec(l);
  if (!m) fail('bad CSV line ' + l);
  return { from: +m[1], to: +m[2], bank: m[3], type: +m[4], comment: +m[5], min: +m[6], max: +(m[7] || m[6]) };
});
const pad4 = (n) => String(n).padStart(4, '0');
// Our documented row choice: among matching rows the latest-starting one (3410-3499 -> Nordea).
function ourRow(c) {
  let best = null;
  for (const r of ranges) if (c >= r.from && c <= r.to && (!best || r.from > best.from)) best = r;
  return best;
}
// A valid account for clearing c of the given length, or null (mod 11 has no digit for 1/11
// of the prefixes): kontonummer itself decides which last digit is right.
function validAccount(c, len, prefix = '') {
  for (let tries = 0; tries < 20; tries++) {
    const base = prefix + digits(len - 1 - prefix.length);
    for (let d = 0; d < 10; d++) if (kn.valid(pad4(c), base + d)) return base + d;
  }
  return null;
}
const okLine = (c, acct, r, warn = 0) => `OK ${pad4(c)} ${acct} ${r.type} ${r.comment} ${warn} ${r.bank}`;

// What we must print for clearing c (4 digits) and account m, given kontonummer's verdict o
// and the documented points where our rules differ; returns [want, category].
function expectFor(c, m, o) {
  const row = ourRow(c);
  const swed8 = row.from === 8000, personkonto = c === 3300;
  const overlap = c >= 3410 && c <= 3499 ? 'overlap3400' : 'agree';
  if (swed8 && m.length === 11) {
    // 4 + 11 digits: accepted only as the clearing's check digit glued to the account.
    if (m[0] !== luhnDigit(pad4(c))) return ['ERR', 'swedbank_11'];
    const rest = m.slice(1);
    if (/^0+$/.test(rest)) return ['ERR', 'all_zero'];
    return [okLine(c, rest, row, luhnOk(rest) ? 0 : 1), 'swedbank_glued'];
  }
  const min = row.type === 1 ? 7 : swed8 ? 10 : row.min;
  const max = row.type === 1 ? 7 : swed8 ? 10 : row.max;
  if (m.length < min || m.length > max) {
    // kontonummer zero-pads type 1 accounts of 2-6 digits; we require the table's 7.
    return ['ERR', row.type === 1 && m.length < 7 ? 'type1_short' : 'agree'];
  }
  if (/^0+$/.test(m)) return ['ERR', 'all_zero'];
  if (swed8 && !luhnOk(m)) return [okLine(c, m, row, 1), 'swedbank_warning'];
  if (personkonto) {
    // kontonummer checks Luhn only; a personkonto is a personnummer: date and birth number.
    const mm = +m.slice(2, 4), dd = +m.slice(4, 6), real = dd > 60 ? dd - 60 : dd;
    const yy = 2000 + +m.slice(0, 2);
    const dateOk = mm >= 1 && mm <= 12 && dd !== 60 && real >= 1 &&
      real <= new Date(Date.UTC(yy, mm, 0)).getUTCDate();
    const ok = o.startsWith('OK') && dateOk && m.slice(6, 9) !== '000';
    return [ok ? okLine(c, m, row) : 'ERR', 'personkonto_date'];
  }
  return [o.startsWith('OK') ? okLine(c, m, row) : 'ERR', overlap];
}
function addCase(clearingText, c, m) {
  const o = oracle(clearingText, m);
  const [want, cat] = expectFor(c, m.replace(/[ .,-]/g, ''), o);
  add(clearingText, m, want, o, cat);
}

for (const r of ranges) {
  const swed8 = r.from === 8000;
  const personkonto = r.from === 3300;
  const n = personkonto ? 60 : (r.to - r.from > 10 ? 80 : 40);
  for (let i = 0; i < n; i++) {
    const c = r.from + rint(r.to - r.from + 1);
    const len = r.min + rint(Math.min(r.max, swed8 ? 10 : r.max) - r.min + 1);
    let acct;
    if (personkonto) {
      // A real personnummer as account: YYMMDDNNNC with a valid date.
      const d = new Date(Date.UTC(1930 + rint(90), rint(12), 1 + rint(28)));
      const body = String(d.getUTCFullYear() % 100).padStart(2, '0') + String(d.getUTCMonth() + 1).padStart(2, '0') +
        String(d.getUTCDate()).padStart(2, '0') + String(1 + rint(999)).padStart(3, '0');
      acct = body + luhnDigit(body);
    } else {
      acct = validAccount(c, len);
      if (!acct) continue;
    }
    addCase(pad4(c), c, acct);
    addCase(pad4(c), c, acct.replace(/(\d{3})(?=\d)/g, '$1 '));  // written with separators
    if (swed8) {
      const c5 = pad4(c) + luhnDigit(pad4(c));
      addCase(c5, c, acct);
      addCase(c5.slice(0, 4) + '-' + c5[4], c, acct);
      addCase(pad4(c), c, c5[4] + acct);  // the clearing's check digit glued to the account
      // A wrong 5th digit: both reject.
      const bad5 = pad4(c) + String((+c5[4] + 1 + rint(9)) % 10);
      add(bad5, acct, 'ERR', oracle(bad5, acct), 'agree');
      // 5-digit clearing and 11 digits: we reject; kontonummer runs Luhn over all 11.
      const a11 = validAccount(c, 11, '');
      if (a11) add(c5, a11, 'ERR', oracle(c5, a11), 'swedbank_11');
    }
    // Every position changed once to another digit.
    for (let p = 0; p < acct.length; p++)
      addCase(pad4(c), c, acct.slice(0, p) + String((+acct[p] + 1 + rint(9)) % 10) + acct.slice(p + 1));
    // An adjacent transposition.
    const t = rint(acct.length - 1);
    addCase(pad4(c), c, acct.slice(0, t) + acct[t + 1] + acct[t] + acct.slice(t + 2));
    // One digit short, one digit too many.
    addCase(pad4(c), c, acct.slice(1));
    addCase(pad4(c), c, acct + String(rint(10)));
    addCase(pad4(c), c, '0' + acct);
    // A 5th clearing digit on a bank that has none: we reject; kontonummer drops it.
    if (!swed8) {
      const c5 = pad4(c) + String(rint(10));
      add(c5, acct, 'ERR', oracle(c5, acct), 'clearing_extra_digits');
    }
  }
  // Luhn-valid 10-digit numbers that are not dates, as Nordea personkonto: kontonummer
  // accepts them, we require a personnummer.
  if (personkonto) {
    for (let i = 0; i < 60; i++) {
      const body = String(10 + rint(90)) + String(13 + rint(87)) + digits(5);
      const acct = body + luhnDigit(body);
      add('3300', acct, 'ERR', oracle('3300', acct), 'personkonto_date');
    }
  }
}
// Swedbank 8xxx accounts failing Luhn: old accounts without a check digit, accepted with a
// warning; kontonummer rejects.
for (let i = 0; i < 200; i++) {
  const c = 8000 + rint(1000);
  let acct;
  do { acct = digits(10); } while (luhnOk(acct) || /^0+$/.test(acct));
  add(pad4(c), acct, okLine(c, acct, ourRow(c), 1), oracle(pad4(c), acct), 'swedbank_warning');
}
// Clearing numbers in no range (gaps, below 1100, the retired Forex Bank 9400-9449).
for (let i = 0; i < 300; i++) {
  const c = rint(10000);
  if (ourRow(c)) continue;
  const acct = digits(7 + rint(4));
  add(pad4(c), acct, 'ERR', oracle(pad4(c), acct), 'agree');
}
// Malformed clearing numbers and garbage.
// kontonummer discards every non-digit and any clearing digits past the 4th (5th for 8xxx);
// we reject such input rather than guess.
for (const [c, a, cat] of [['123', '1234567', 'agree'], ['50x0', '1234560', 'agree'],
  ['5000', '', 'agree'], ['5000', '12a4560', 'garbage_stripped'], ['5000', '1234560x', 'garbage_stripped'],
  ['500000', '1234560', 'clearing_extra_digits'], ['6000', '1234567890123456789', 'agree']]) {
  add(c, a, 'ERR', oracle(c, a), cat);
}

// Samordningsnummer (12-digit forms): npm personnummer must accept exactly what we accept.
let snrChecked = 0;
for (const line of fs.readFileSync(outDir + '/snr12.tsv', 'utf8').split('\n')) {
  if (!line) continue;
  const [text, want] = line.split('\t');
  let got;
  try { got = Personnummer.parse(text).format(true); } catch (e) { got = 'ERR'; }
  if (got !== want) fail(`npm personnummer: ${text}: ${got}, we expect ${want}`);
  snrChecked++;
}
if (snrChecked < 100) fail('too few samordningsnummer cross-checked: ' + snrChecked);
fs.writeFileSync(outDir + '/js.tsv', rows.map((r) => r.join('\t')).join('\n') + '\n');
console.log(`samordningsnummer cross-checked with npm personnummer: ${snrChecked}`);
JS

# ---- compare ---------------------------------------------------------------------------------
cat >"$T/compare.py" <<'PY'
import collections, sys
cases = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8")]
got = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
if len(got) != len(cases):
    sys.exit("ident-check printed %d lines for %d cases" % (len(got), len(cases)))
bad = []
per_kind = collections.Counter()
disc = collections.Counter()
for (inp, want, oracle, cat), g in zip(cases, got):
    kind = inp.split(" ", 1)[0]
    per_kind[kind] += 1
    if cat != "agree":
        disc[(kind, cat)] += 1
        if oracle == want:
            bad.append("%s: marked %s but the oracle agrees" % (inp, cat))
    elif oracle != want:
        bad.append("%s: unexplained oracle difference" % inp)
    if g != want:
        bad.append("%r: got %r, want %r (oracle %r, %s)" % (inp, g, want, oracle, cat))
for k in sorted(per_kind):
    print("compared %-8s %6d" % (k, per_kind[k]))
print("total            %6d" % len(cases))
for (k, c), n in sorted(disc.items()):
    print("documented discrepancy %-8s %-18s %5d" % (k, c, n))
for b in bad[:30]:
    print("MISMATCH " + b)
if bad:
    sys.exit("%d mismatches" % len(bad))
PY

"$PY" "$T/gen.py" "$T" || fail "case generation (python) failed"
node "$T/gen.js" "$T" "$ORACLE" "$TOP/app/data/clearing-ranges.csv" || fail "case generation (node) failed"
cat "$T/py.tsv" "$T/js.tsv" >"$T/all.tsv"
cut -f1 "$T/all.tsv" | IDENT_TODAY=20261124 "$CHECK" >"$T/got.txt" || fail "ident-check failed"
"$PY" "$T/compare.py" "$T/all.tsv" "$T/got.txt" || fail "ident disagrees with the oracles"
pass
