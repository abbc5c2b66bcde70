# Per-trace AUC of the tie-breaking variants compared in docs/eval.md ("Breaking the ties"),
# computed from `vigil eval CORPUS --dump-features DUMP.jsonl` output.
# Usage: python3 scripts/score_variants.py NAME=DUMP.jsonl [NAME=DUMP.jsonl ...]
# Negatives are the dump's validation traces (its cross-validated train traces when there
# are none), positives its attack traces, as `vigil eval` counts them. Each variant orders
# traces by a key; keys are tuples, compared in order (a lexicographic tie-breaker).
import json, sys

VARIANTS = [
    ("novel alone (before)", lambda f: (f["novel_ngrams"],)),
    ("novel, then rare (adopted)", lambda f: (f["novel_ngrams"], f["rare_ngrams"])),
    ("novel, then mean_bits", lambda f: (f["novel_ngrams"], f["mean_bits"])),
    ("novel, then window", lambda f: (f["novel_ngrams"], f["window"])),
    ("rare alone", lambda f: (f["rare_ngrams"],)),
]

def auc(pos, neg):
    # Mann-Whitney U over all pairs, ties count one half.
    if not pos or not neg:
        return None
    u = 0.0
    for p in pos:
        for n in neg:
            u += 1.0 if p > n else 0.5 if p == n else 0.0
    return u / (len(pos) * len(neg))

def main():
    names, cols = [], []
    for arg in sys.argv[1:]:
        name, path = arg.split("=", 1)
        rows = [json.loads(l) for l in open(path) if l.strip()]
        neg = [r["features"] for r in rows if r["set"] == "validation"]
        if not neg:
            neg = [r["features"] for r in rows if r["set"] == "train"]
        pos = [r["features"] for r in rows if r["set"] == "attack"]
        names.append(name)
        cols.append([auc([k(f) for f in pos], [k(f) for f in neg]) for _, k in VARIANTS])
    print("| variant | " + " | ".join(names) + " | mean |")
    print("|---|" + "---|" * (len(names) + 1))
    for i, (label, _) in enumerate(VARIANTS):
        vals = [c[i] for c in cols]
        got = [v for v in vals if v is not None]
        cells = ["n/a" if v is None else "%.3f" % v for v in vals]
        mean = "%.3f" % (sum(got) / len(got)) if got else "n/a"
        print("| " + label + " | " + " | ".join(cells) + " | " + mean + " |")

main()
