"""Agreement of idv's resident ID check with python-stdnum's stdnum.cn.ric, an independent,
maintained implementation (Debian package python3-stdnum).

Generates valid numbers and corrupts each in every position (a different digit at each of the 18
positions, each adjacent transposition, a dropped character), runs them all through
`idvctl check --json`, and compares with stdnum.cn.ric.is_valid. Every disagreement must fall in
a class with a known cause:

  unlisted-address  idv valid (with note ADDRESS_CODE_UNLISTED), stdnum invalid: stdnum rejects
                    any address code missing from its table; idv only notes it, since new codes
                    appear before any table has them (the issue's rule). Both reject an address
                    code whose first two digits name no province.
  date-range        idv INVALID_DATE, stdnum valid: stdnum accepts birth dates before 1900 and in
                    the future; idv rejects both.

Usage: agreement_test.py IDVCTL [COUNT]        run the comparison (COUNT numbers, default 100000)
       agreement_test.py --generate COUNT      print COUNT numbers, one per line
"""
import collections
import datetime
import json
import random
import subprocess
import sys

from stdnum.cn import ric

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
TODAY = datetime.date.today()  # idv uses China Standard Time; see the date-range class below


def check_char(digits17):
    return "10X98765432"[sum(int(d) * w for d, w in zip(digits17, WEIGHTS)) % 11]


def address_codes():
    codes = []
    with open("/usr/lib/python3/dist-packages/stdnum/cn/loc.dat", encoding="utf-8") as f:
        for line in f:
            if line[:6].isdigit():
                codes.append(line[:6])
    return codes


def generate(count, seed=20261122):
    rng = random.Random(seed)
    codes = address_codes()
    first, last = datetime.date(1890, 1, 1).toordinal(), datetime.date(2030, 12, 31).toordinal()
    out = []
    provinces = sorted({c[:2] for c in codes})
    while len(out) < count:
        roll = rng.random()
        if roll < 0.75:  # a listed code
            code = rng.choice(codes)
        elif roll < 0.95:  # an unlisted code in a real province
            code = rng.choice(provinces) + f"{rng.randint(0, 9999):04d}"
        else:  # anything, most often no province at all
            code = f"{rng.randint(0, 999999):06d}"
        birth = datetime.date.fromordinal(rng.randint(first, last))
        body = f"{code}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
        valid = body + check_char(body)
        out.append(valid)
        for i in range(18):  # a different character in every position
            alphabet = "0123456789X" if i == 17 else "0123456789"
            out.append(valid[:i] + rng.choice(alphabet.replace(valid[i], "")) + valid[i + 1:])
        for i in range(17):  # every adjacent transposition that changes the number
            if valid[i] != valid[i + 1]:
                out.append(valid[:i] + valid[i + 1] + valid[i] + valid[i + 2:])
        drop = rng.randrange(18)
        out.append(valid[:drop] + valid[drop + 1:])
    return out[:count]


def classify(number, idv):
    ours, theirs = idv["valid"], ric.is_valid(number)
    if ours == theirs:
        return "agree"
    if ours and "ADDRESS_CODE_UNLISTED" in idv.get("notes", []):
        try:
            ric.get_birth_place(number)
        except Exception:
            return "unlisted-address"
    if not ours and idv["reason"] == "INVALID_DATE":
        birth = ric.get_birth_date(number)
        # idv judges "future" in China Standard Time: allow a day's slack around today.
        if birth.year < 1900 or birth > TODAY - datetime.timedelta(days=1):
            return "date-range"
    return "unexplained"


def main():
    if sys.argv[1] == "--generate":
        sys.stdout.write("\n".join(generate(int(sys.argv[2]))) + "\n")
        return 0
    idvctl = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    numbers = generate(count)
    run = subprocess.run([idvctl, "check", "--type", "cn_resident_id", "--json"],
                         input="\n".join(numbers) + "\n", capture_output=True, text=True)
    if run.returncode not in (0, 1):
        print(run.stderr)
        return 1
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(numbers), (len(results), len(numbers))
    classes = collections.Counter()
    examples = {}
    for number, idv in zip(numbers, results):
        assert idv["input"] == number
        c = classify(number, idv)
        classes[c] += 1
        examples.setdefault(c, (number, idv))
    valid = sum(1 for r in results if r["valid"])
    print(f"{len(numbers)} numbers ({valid} valid per idv)")
    for c in ("agree", "unlisted-address", "date-range", "unexplained"):
        print(f"  {c:18} {classes[c]}")
    if classes["unexplained"]:
        number, idv = examples["unexplained"]
        print(f"first unexplained: {number} idv={idv} stdnum={ric.is_valid(number)}")
    failed = int(classes["unexplained"] > 0 or len(numbers) < count)
    print(f"{1 - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(main())
