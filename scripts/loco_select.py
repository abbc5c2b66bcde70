#!/usr/bin/env python3
# Leave-one-corpus-out choice of the per-trace score (docs/eval.md, "Choosing the score by
# leave-one-corpus-out"). Reads what Benchmarks/loco.sh wrote for each corpus NAME:
#   OUT/NAME.jsonl       `vigil eval C --dump-features`: every train (cross-validated),
#                        validation and attack trace's features and length
#   OUT/NAME.stide.json  `vigil eval C --json --stide`
#   OUT/NAME.json        `vigil eval C --json` (the default score's own report, tabled last)
# and prints, as Markdown:
#   1. per corpus, the per-trace AUC of every candidate (all 255 non-empty sets of the eight
#      views, each under the four combiners of TraceCombination: `fisher`, the sum of -ln p,
#      `rank`, 1 - mean p, and the third round's `local` and `both` (COMBINERS below); plus
#      the two-tier score; the eighth view, `neighbour_windows`, was
#      added as a candidate by issue 14's length round, the rule unchanged);
#   2. the leave-one-corpus-out table: for each eligible corpus H, the candidate the rule
#      picks on the other eligible corpora, its AUC on H, STIDE's AUC on H;
#   3. the candidate the rule picks on all eligible corpora (the one to ship), and its AUC
#      by length tercile on every corpus.
# The rule (docs/eval.md, "Choosing the score over program-mixed pools", fixed before any
# figure was computed): highest mean per-trace AUC over the corpora it may see; ties (to
# three decimals) by the higher worst case, then fewer views, then fisher before rank, then
# name. Eligible: corpora with a validation set and at least two train traces (the others
# have no calibration or no held-out negatives; they are reported, not used to choose).
# `--rule worst` picks by the worst case instead (ties by the mean), as a check of the
# criterion. `--rule bar-mean` (issue 14's fourth round, fixed before it ran): only candidates
# at or above the README table on every corpus of the bar among those seen may be picked, then
# by the mean as above; if none is, the shipped score. Last, the ship condition: the pick's
# AUC on every UNM program and the whole Linux corpus against the README table (BAR below).
#
#   python3 scripts/loco_select.py [--rule mean|worst|bar-mean] OUT NAME[@GROUP][!]...
#
# GROUP (default: the name) ties corpora that share data: holding one out holds out its
# whole group. A trailing ! marks a corpus reported but never used to choose.
import itertools, json, math, sys

VIEWS = ["window", "mean_bits", "novel_ngrams", "novel_syscalls", "neighbour", "rare_ngrams",
         "smoothed_mean", "neighbour_windows"]  # TraceFeatures.names order
TIE = 1e-3  # TraceDetector.tieBreakWeight
# fisher and rank: TraceCombination's combiners; local and both: the third round's local
# calibration (against the k nearest training traces; both: the larger of the global and the
# local tail probability), offered to the same rule.
COMBINERS = ("fisher", "rank", "local", "both")
SHIPPED = ("fisher", ("novel_ngrams", "novel_syscalls", "neighbour"))  # TraceCombination.standard today
# The README table the pick must not fall below (per-trace AUC), by corpus name as loco.sh runs them.
BAR = {"sendmail": 0.907, "lpr-unm": 1.000, "lpr-mit": 1.000, "named": 0.650, "login": 0.774, "ps": 1.000,
       "inetd": 0.266, "xlock": 1.000, "pool-linux": 0.932}


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


def tail(x, normal):
    """p = (1 + #{normal >= x}) / (1 + n); normal ascending (TraceDetector.tailProbability)."""
    lo, hi = 0, len(normal)
    while lo < hi:
        mid = (lo + hi) // 2
        if normal[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return (1 + len(normal) - lo) / (1 + len(normal))


def surprise(x, normal):
    """-ln p (TraceDetector.surprise)."""
    return -math.log(tail(x, normal))


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
        # Local calibration (issue 14, third round): the k training traces nearest to a trace
        # by the neighbour view (the dump's `neighbours`, nearest first).
        n = len(self.train)
        self.k = min(n, max(8, min(64, math.ceil(math.sqrt(n))))) if n else 0
        self.memo = {}

    def local_normal(self, r, v):
        """The cross-validated values of view v over the k training traces nearest to r, ascending."""
        nb = r.get("neighbours")
        if not nb:
            return self.cal[v]  # a dump from before `neighbours` existed: the global calibration
        return sorted(self.train[i]["features"][v] for i in nb[: self.k])

    def score_row(self, cand, r):
        combiner = None if isinstance(cand, str) else cand[0]
        if combiner not in ("local", "both") or len(self.train) < 2:
            return self.score(cand, r["features"])
        f, views = r["features"], cand[1]
        key = id(r)
        if key not in self.memo:
            self.memo[key] = {v: tail(f[v], self.local_normal(r, v)) for v in VIEWS}
        pl = self.memo[key]
        n = self.k if combiner == "local" else len(self.train)
        tie = TIE / (n + 1) * sum(squash(f[v], self.cal[v][-1]) for v in views)
        if combiner == "local":
            return sum(-math.log(pl[v]) for v in views) + tie
        return sum(-math.log(max(pl[v], tail(f[v], self.cal[v]))) for v in views) + tie

    def score(self, cand, f):
        if cand == "novel_then_rare_ngrams" or (len(self.train) < 2 and "novel_ngrams" in cand[1]):
            return 1 + f["novel_ngrams"] if f["novel_ngrams"] > 0 else f["rare_ngrams"]
        combiner, views = cand
        if len(self.train) < 2:  # no calibration: the first view, raw (TraceCombination.fallback)
            return f[views[0]]
        n = len(self.train)
        tie = TIE / (n + 1) * sum(squash(f[v], self.cal[v][-1]) for v in views)
        if combiner == "fisher":
            return sum(surprise(f[v], self.cal[v]) for v in views) + tie
        k = len(views)  # rank: 1 - mean p (TraceCombination.score)
        return 1 - sum(tail(f[v], self.cal[v]) for v in views) / k + tie / k

    def auc(self, cand, rows=None):
        pos = [self.score_row(cand, r) for r in self.pos]
        neg = [self.score_row(cand, r) for r in self.neg]
        return auc(pos, neg)

    def terciles(self, cand):
        """Evaluation.lengthTerciles: thirds of the pooled scored traces by length."""
        neg = [(self.score_row(cand, r), r["calls"]) for r in self.neg]
        pos = [(self.score_row(cand, r), r["calls"]) for r in self.pos]
        lengths = sorted(c for _, c in neg + pos)
        cuts = [lengths[(len(lengths) - 1) // 3], lengths[(2 * (len(lengths) - 1)) // 3]]
        third = lambda c: 0 if c <= cuts[0] else (1 if c <= cuts[1] else 2)
        out = []
        for t in range(3):
            a = auc([s for s, c in pos if third(c) == t], [s for s, c in neg if third(c) == t])
            out.append(a)
        return out


def name(cand):
    if isinstance(cand, str):
        return cand
    combiner, views = cand
    return ("" if combiner == "fisher" else combiner + ":") + "+".join(views)


def fmt(x):
    return "—" if x is None else f"{x:.3f}"


def main(argv):
    rule = "mean"
    if argv[:1] == ["--rule"]:
        rule, argv = argv[1], argv[2:]
        if rule not in ("mean", "worst", "bar-mean"):
            sys.exit(f"loco_select.py: --rule {rule!r}: expected mean, worst or bar-mean")
    out, names = argv[0], argv[1:]
    corpora = [Corpus(out, n) for n in names]
    sets = [c for k in range(1, len(VIEWS) + 1) for c in itertools.combinations(VIEWS, k)]
    cands = ["novel_then_rare_ngrams"] + [(comb, v) for v in sets for comb in COMBINERS]
    table = {name(c): {k.name: k.auc(c) for k in corpora} for c in cands}
    by_name = {name(c): c for c in cands}

    def pick(seen):
        def key(c):
            a = [table[name(c)][k.name] for k in seen]
            mean, worst = round(sum(a) / len(a), 3), round(min(a), 3)
            size = 1 if isinstance(c, str) else len(c[1])
            second = 0 if isinstance(c, str) else COMBINERS.index(c[0])
            primary = (worst, mean) if rule == "worst" else (mean, worst)
            return (-primary[0], -primary[1], size, second, name(c))
        pool = cands
        if rule == "bar-mean":
            pool = [c for c in cands if meets_bar(c, seen)] or [by_name[name(SHIPPED)]]
        return min(pool, key=key)

    def at_bar(c, k):
        """Whether candidate c's AUC on corpus k (one of BAR's) is at or above the README table."""
        a = table[name(c)][k.name]
        return a is not None and round(a, 3) >= BAR[k.name]

    def meets_bar(c, seen):
        """At or above BAR on every corpus of it in the groups seen, eligible to choose or not (named, inetd)."""
        groups = {k.group for k in seen}
        return all(at_bar(c, k) for k in corpora if k.name in BAR and k.group in groups)

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

    shipped = name(SHIPPED)
    print(f"| held-out corpus (group) | chosen on the other groups | its AUC there | STIDE-6 there | shipped ({shipped}) there | best candidate there (not chosen: hindsight) |")
    print("|---|---|---:|---:|---:|---|")
    held = []
    for h in corpora:
        c = pick([k for k in eligible if k.group != h.group])
        best = max(cands, key=lambda c: table[name(c)][h.name])
        if h.eligible:
            held.append((table[name(c)][h.name], h.stide, table[shipped][h.name]))
        print(f"| {h.name} ({h.group}) | {name(c)} | {fmt(table[name(c)][h.name])} | {fmt(h.stide)} | "
              f"{fmt(table[shipped][h.name])} | {name(best)} {fmt(table[name(best)][h.name])} |")
    ms = [sum(r[i] for r in held) / len(held) for i in range(3)]
    print(f"| mean / worst (eligible rows) | | {ms[0]:.3f} / {min(r[0] for r in held):.3f} | "
          f"{ms[1]:.3f} / {min(r[1] for r in held):.3f} | {ms[2]:.3f} / {min(r[2] for r in held):.3f} | |\n")

    ship = pick(eligible)
    print(f"chosen on all eligible corpora: {name(ship)}\n")
    prev = by_name[shipped]
    print(f"| corpus | {name(ship)} | STIDE-6 | {shipped} | by length third, shortest to longest: {name(ship)} | the same, {shipped} |")
    print("|---|---:|---:|---:|---|---|")
    for k in corpora:
        t, tp = k.terciles(ship), k.terciles(prev)
        print(f"| {k.name} | {fmt(table[name(ship)][k.name])} | {fmt(k.stide)} | {fmt(table[name(prev)][k.name])} | "
              + " / ".join(fmt(x) for x in t) + " | " + " / ".join(fmt(x) for x in tp) + " |")


    print(f"\nShip condition: {name(ship)} at or above the README table on every UNM program and the Linux corpus\n")
    print("| corpus | README | pick | shipped today | pick at or above |")
    print("|---|---:|---:|---:|---|")
    ok = True
    for k in corpora:
        if k.name in BAR:
            a = table[name(ship)][k.name]
            good = at_bar(ship, k)
            ok = ok and good
            print(f"| {k.name} | {BAR[k.name]:.3f} | {fmt(a)} | {fmt(table[shipped][k.name])} | {'yes' if good else 'NO'} |")
    missing = [b for b in BAR if b not in {k.name for k in corpora}]
    if missing:
        ok = False
        print(f"\n(not run: {', '.join(missing)})")
    print(f"\nship {name(ship)}: {'yes' if ok else 'no, keep ' + shipped}")

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
