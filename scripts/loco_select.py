#!/usr/bin/env python3
# Leave-one-corpus-out choice of the per-trace score (docs/eval.md, "Choosing the score by
# leave-one-corpus-out"). Reads what Benchmarks/loco.sh wrote for each corpus NAME:
#   OUT/NAME.jsonl       `vigil eval C --dump-features`: every train (cross-validated),
#                        validation and attack trace's features and length
#   OUT/NAME.stide.json  `vigil eval C --json --stide`
#   OUT/NAME.json        `vigil eval C --json` (the default score's own report, tabled last)
# and prints, as Markdown:
#   1. per corpus, the per-trace AUC of every candidate (all 63 non-empty sets of the six
#      views, each combined as TraceDetector combines them, plus the two-tier score);
#   2. the leave-one-corpus-out table: for each eligible corpus H, the candidate the rule
#      picks on the other eligible corpora, its AUC on H, STIDE's AUC on H;
#   3. the candidate the rule picks on all eligible corpora (the one to ship), and its AUC
#      by length tercile on every corpus.
# The rule (fixed before any figure was computed): highest mean per-trace AUC over the
# corpora it may see; ties by the higher worst case, then fewer views, then name. Eligible:
# corpora with a validation set and at least two train traces (the others have no
# calibration or no held-out negatives; they are reported, not used to choose). `--rule
# worst` picks by the worst case instead (ties by the mean), as a check of the criterion.
#
#   python3 scripts/loco_select.py [--rule mean|worst] OUT NAME[@GROUP][!]...
#
# GROUP (default: the name) ties corpora that share data: holding one out holds out its
# whole group. A trailing ! marks a corpus reported but never used to choose.
import itertools, json, math, sys

VIEWS = ["window", "mean_bits", "novel_ngrams", "novel_syscalls", "neighbour", "rare_ngrams"]  # TraceFeatures.names order
TIE = 1e-3  # TraceDetector.tieBreakWeight


def auc(pos, neg):
    """Mann-Whitney U / (P N), ties one half (ROC.auc)."""
    if not pos or not neg:
        return None
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        r = (i + 1 + j) / 2.0  # mean rank of the tie block, 1-based
        rank_sum += r * sum(1 for k in range(i, j) if allv[k][1])
        i = j
    P, N = len(pos), len(neg)
    return (rank_sum - P * (P + 1) / 2.0) / (P * N)


def surprise(x, normal):
    """-ln p, p = (1 + #{normal >= x}) / (1 + n); normal ascending (TraceDetector.surprise)."""
    lo, hi = 0, len(normal)
    while lo < hi:
        mid = (lo + hi) // 2
        if normal[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return math.log((1 + len(normal)) / (1 + len(normal) - lo))


def squash(x, top):
    """x / (x + top), 0 for x <= 0: a bounded, increasing image of a raw value (tie-breaker)."""
    if x <= 0:
        return 0.0
    return x / (x + max(top, 1e-12))


class Corpus:
    def __init__(self, out, arg):
        self.report_only = arg.endswith("!")
        arg = arg.rstrip("!")
        name, _, group = arg.partition("@")
        self.name, self.group = name, group or name
        rows = [json.loads(l) for l in open(f"{out}/{name}.jsonl") if l.strip()]
        self.train = [r for r in rows if r["set"] == "train"]
        val = [r for r in rows if r["set"] == "validation"]
        self.has_validation = bool(val)
        self.neg = val or self.train
        self.pos = [r for r in rows if r["set"] == "attack"]
        self.cal = {v: sorted(r["features"][v] for r in self.train) for v in VIEWS}
        self.stide = json.load(open(f"{out}/{name}.stide.json"))["auc"]
        self.report = json.load(open(f"{out}/{name}.json"))  # vigil eval's default score
        self.eligible = self.has_validation and len(self.train) >= 2 and not self.report_only

    def score(self, cand, f):
        if cand == "novel_then_rare_ngrams" or (len(self.train) < 2 and "novel_ngrams" in cand):
            return 1 + f["novel_ngrams"] if f["novel_ngrams"] > 0 else f["rare_ngrams"]
        if len(self.train) < 2:  # no calibration: the first view, raw (TraceCombination.fallback)
            return f[cand[0]]
        n = len(self.train)
        s = sum(surprise(f[v], self.cal[v]) for v in cand)
        return s + TIE / (n + 1) * sum(squash(f[v], self.cal[v][-1]) for v in cand)

    def auc(self, cand, rows=None):
        pos = [self.score(cand, r["features"]) for r in self.pos]
        neg = [self.score(cand, r["features"]) for r in self.neg]
        return auc(pos, neg)

    def terciles(self, cand):
        """Evaluation.lengthTerciles: thirds of the pooled scored traces by length."""
        neg = [(self.score(cand, r["features"]), r["calls"]) for r in self.neg]
        pos = [(self.score(cand, r["features"]), r["calls"]) for r in self.pos]
        lengths = sorted(c for _, c in neg + pos)
        cuts = [lengths[(len(lengths) - 1) // 3], lengths[(2 * (len(lengths) - 1)) // 3]]
        third = lambda c: 0 if c <= cuts[0] else (1 if c <= cuts[1] else 2)
        out = []
        for t in range(3):
            a = auc([s for s, c in pos if third(c) == t], [s for s, c in neg if third(c) == t])
            out.append(a)
        return out


def name(cand):
    return cand if isinstance(cand, str) else "+".join(cand)


def fmt(x):
    return "—" if x is None else f"{x:.3f}"


def main(argv):
    rule = "mean"
    if argv[:1] == ["--rule"]:
        rule, argv = argv[1], argv[2:]
    out, names = argv[0], argv[1:]
    corpora = [Corpus(out, n) for n in names]
    cands = ["novel_then_rare_ngrams"] + [c for k in range(1, len(VIEWS) + 1) for c in itertools.combinations(VIEWS, k)]
    table = {name(c): {k.name: k.auc(c) for k in corpora} for c in cands}
    by_name = {name(c): c for c in cands}

    def pick(seen):
        def key(c):
            a = [table[name(c)][k.name] for k in seen]
            mean, worst = sum(a) / len(a), min(a)
            size = 1 if isinstance(c, str) else len(c)
            primary = (mean, worst) if rule == "mean" else (worst, mean)
            return (-primary[0], -primary[1], size, name(c))
        return min(cands, key=key)

    eligible = [k for k in corpora if k.eligible]
    print(f"rule: {rule}; eligible corpora: {', '.join(k.name for k in eligible)}\n")

    print("| candidate | " + " | ".join(k.name for k in corpora) + " | mean (eligible) | worst (eligible) |")
    print("|---|" + "---:|" * (len(corpora) + 2))
    rows = []
    for c in cands:
        a = [table[name(c)][k.name] for k in eligible]
        rows.append((sum(a) / len(a), min(a), name(c)))
    for mean, worst, n in sorted(rows, reverse=True):
        print(f"| {n} | " + " | ".join(fmt(table[n][k.name]) for k in corpora) + f" | {mean:.3f} | {worst:.3f} |")
    print("| STIDE-6 | " + " | ".join(fmt(k.stide) for k in corpora) + " | | |\n")

    print("| held-out corpus | chosen on the others | its AUC there | STIDE-6 there | novel_ngrams+neighbour there | best candidate there (not chosen: hindsight) |")
    print("|---|---|---:|---:|---:|---|")
    held = []
    for h in [k for k in corpora if k.eligible or k.report_only]:
        c = pick([k for k in eligible if k.group != h.group])
        best = max(cands, key=lambda c: table[name(c)][h.name])
        if h.eligible:
            held.append((table[name(c)][h.name], h.stide))
        print(f"| {h.name} | {name(c)} | {fmt(table[name(c)][h.name])} | {fmt(h.stide)} | "
              f"{fmt(table['novel_ngrams+neighbour'][h.name])} | {name(best)} {fmt(table[name(best)][h.name])} |")
    ms = sum(a for a, _ in held) / len(held), sum(s for _, s in held) / len(held)
    print(f"| mean / worst (eligible rows) | | {ms[0]:.3f} / {min(a for a, _ in held):.3f} | {ms[1]:.3f} / {min(s for _, s in held):.3f} | | |\n")

    ship = pick(eligible)
    print(f"chosen on all eligible corpora: {name(ship)}\n")
    prev = by_name["novel_ngrams+neighbour"]
    print(f"| corpus | {name(ship)} | STIDE-6 | novel_ngrams+neighbour | by length third, shortest to longest: {name(ship)} | the same, novel_ngrams+neighbour |")
    print("|---|---:|---:|---:|---|---|")
    for k in corpora:
        t, tp = k.terciles(ship), k.terciles(prev)
        print(f"| {k.name} | {fmt(table[name(ship)][k.name])} | {fmt(k.stide)} | {fmt(table[name(prev)][k.name])} | "
              + " / ".join(fmt(x) for x in t) + " | " + " / ".join(fmt(x) for x in tp) + " |")


    print(f"\n`vigil eval`'s own report (OUT/NAME.json, scoring as reported):\n")
    print("| corpus | scoring | auc | auc_ceiling | dr_at_far01 | far_at_dr90 | auc_case | cases detected | auc by length third |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for k in corpora:
        r = k.report
        print(f"| {k.name} | {r['scoring']} | {fmt(r['auc'])} | {fmt(r['auc_ceiling'])} | {fmt(r['dr_at_far01'])} | "
              f"{fmt(r['far_at_dr90'])} | {fmt(r['auc_case'])} | {r['cases_detected']}/{r['attack_cases']} | "
              + " / ".join(fmt(t['auc']) for t in r['auc_by_length']) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
