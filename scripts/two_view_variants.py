# Per-trace AUC of the candidate trace scores compared in docs/eval.md ("Choosing the score"),
# from `vigil eval CORPUS --dump-features DUMP.jsonl` output (its "train" rows are the
# cross-validated training processes, the calibration of the surprises).
# Usage: python3 scripts/two_view_variants.py NAME=DUMP.jsonl ...
import bisect, json, math, sys


def auc(neg, pos):
    """Mann-Whitney U / (P N), ties counted one half."""
    values = sorted([(v, 0) for v in neg] + [(v, 1) for v in pos])
    rank, i = {}, 0
    while i < len(values):
        j = i
        while j < len(values) and values[j][0] == values[i][0]:
            j += 1
        rank[values[i][0]] = (i + j + 1) / 2
        i = j
    p, n = len(pos), len(neg)
    return (sum(rank[v] for v in pos) - p * (p + 1) / 2) / (p * n)


def surprise(normal, x):
    """-ln p, p = (1 + #{normal >= x}) / (1 + n); normal ascending."""
    at_least = len(normal) - bisect.bisect_left(normal, x)
    return math.log((1 + len(normal)) / (1 + at_least))


def two_tier(f):
    return 1 + f["novel_ngrams"] if f["novel_ngrams"] > 0 else f["rare_ngrams"]


def scores(cal, n):
    tie = 1e-3 / (n + 1)

    def s_sum(f, names):
        return sum(surprise(cal[k], f[k]) for k in names) + tie * sum(f[k] for k in names)

    return {
        "previous: two tiers": two_tier,
        "novel n-grams alone": lambda f: f["novel_ngrams"],
        "neighbour alone": lambda f: f["neighbour"],
        "novel + neighbour, raw sum": lambda f: f["novel_ngrams"] + f["neighbour"],
        "surprise sum: novel, neighbour (adopted)": lambda f: s_sum(f, ["novel_ngrams", "neighbour"]),
        "surprise sum: novel, rare, neighbour": lambda f: s_sum(f, ["novel_ngrams", "rare_ngrams", "neighbour"]),
        "largest surprise: novel, neighbour": lambda f: max(surprise(cal[k], f[k]) for k in ["novel_ngrams", "neighbour"])
        + tie * (f["novel_ngrams"] + f["neighbour"]),
    }


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: two_view_variants.py NAME=DUMP.jsonl ...")
    table, names = {}, []
    for arg in sys.argv[1:]:
        name, _, path = arg.partition("=")
        rows = [json.loads(line) for line in open(path) if line.strip()]
        cv = [r["features"] for r in rows if r["set"] == "train"]
        val = [r["features"] for r in rows if r["set"] == "validation"]
        att = [r["features"] for r in rows if r["set"] == "attack"]
        if len(cv) < 2 or not val or not att:
            print(f"{name}: skipped (needs two train traces, a validation set and attacks)", file=sys.stderr)
            continue
        cal = {k: sorted(r[k] for r in cv) for k in cv[0]}
        for label, score in scores(cal, len(cv)).items():
            table.setdefault(label, {})[name] = auc([score(f) for f in val], [score(f) for f in att])
        names.append(name)
    print("| score | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, row in table.items():
        print(f"| {label} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")


main()
