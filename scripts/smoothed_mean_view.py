#!/usr/bin/env python3
# The reference transcription of Vigil's `smoothed_mean` view (WittenBellSurprise.swift, whose
# tests check its numbers against this script's; docs/eval.md, "Mean surprise does not
# generalise"): whole-trace mean surprise, bits per call, under an interpolated Witten-Bell n-gram model
# (orders 1..N over syscall numbers as opaque symbols, a base distribution uniform over the
# training alphabet plus one "unknown" symbol, every process started from N-1 start symbols;
# no request boundaries). Unlike the shipped model's PPM-C escapes (a call never seen after a
# context pays every escape, a never-seen syscall 8 more bits), interpolation gives every
# call a share of each shorter context's estimate, so one rare call moves a short trace's mean
# less. Per-trace AUC of the view, for each corpus in the layout train/ validation/ attack/,
# negatives as `vigil eval` takes them (validation, else 5-fold cross-validated train).
# With --dump OUT it also writes OUT/NAME.smoothed<N>.json: per set, the cross-validated
# train values (folds i % 5 as TraceDetector) and the validation and attack values, for
# scripts/loco_select.py --extra.
#
#   python3 scripts/smoothed_mean_view.py [--order N] [--dump OUT] NAME=CORPUS...
import json, math, os, sys
from collections import defaultdict


def files(d):
    out = []
    for e in sorted(os.listdir(d)):
        if e.startswith("."):
            continue
        p = os.path.join(d, e)
        out += files(p) if os.path.isdir(p) else ([p] if os.path.isfile(p) else [])
    return out


def read(p):
    return [int(x) for x in open(p).read().split()]


class WB:
    START = -1

    def __init__(self, traces, order):
        self.n = order
        self.count = defaultdict(int)      # (context tuple, symbol) -> count
        self.total = defaultdict(int)      # context -> count
        self.types = defaultdict(int)      # context -> distinct followers
        alphabet = set()
        for t in traces:
            h = [self.START] * (order - 1)
            for s in t:
                alphabet.add(s)
                for k in range(order):     # contexts of length 0..order-1
                    ctx = tuple(h[len(h) - k:]) if k else ()
                    key = (ctx, s)
                    if self.count[key] == 0:
                        self.types[ctx] += 1
                    self.count[key] += 1
                    self.total[ctx] += 1
                h = h[1:] + [s]
        self.base = 1.0 / (len(alphabet) + 1)

    def prob(self, h, s):
        p = self.base
        for k in range(self.n):            # shortest context first, interpolating up
            ctx = tuple(h[len(h) - k:]) if k else ()
            tot = self.total.get(ctx, 0)
            if tot == 0:
                break                      # a longer context is unseen too
            typ = self.types[ctx]
            p = (self.count.get((ctx, s), 0) + typ * p) / (tot + typ)
        return p

    def mean_bits(self, t):
        if not t:
            return 0.0
        h = [self.START] * (self.n - 1)
        bits = 0.0
        for s in t:
            bits -= math.log2(self.prob(h, s))
            h = h[1:] + [s]
        return bits / len(t)


def auc(pos, neg):
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j < len(allv) and allv[j][0] == allv[i][0]:
            j += 1
        rank_sum += (i + 1 + j) / 2.0 * sum(1 for k in range(i, j) if allv[k][1])
        i = j
    P, N = len(pos), len(neg)
    return (rank_sum - P * (P + 1) / 2.0) / (P * N) if P and N else None


def main(argv):
    order, dump = 6, None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--order":
            order, argv = int(argv[1]), argv[2:]
        elif argv[0] == "--dump":
            dump, argv = argv[1], argv[2:]
    for arg in argv:
        name, root = arg.split("=", 1)
        train = [read(f) for f in files(root + "/train")]
        k = min(5, len(train))
        cv = [None] * len(train)
        for fold in range(k if k >= 2 else 0):
            m = WB([t for i, t in enumerate(train) if i % k != fold], order)
            for i in range(fold, len(train), k):
                cv[i] = m.mean_bits(train[i])
        cv = [x for x in cv if x is not None]
        has_val = os.path.isdir(root + "/validation")
        full = WB(train, order)
        val = [full.mean_bits(read(f)) for f in files(root + "/validation")] if has_val else []
        att = [full.mean_bits(read(f)) for f in files(root + "/attack")]
        neg = val if has_val else cv
        # (without validation the attacks face the full model here, not one fold's; noted)
        print(f"{name}: smoothed{order} mean-surprise AUC {auc(att, neg):.3f}  (train {len(train)}, negatives {len(neg)}, attack {len(att)})")
        if dump:
            json.dump({"train": cv, "validation": val, "attack": att},
                      open(f"{dump}/{name}.smoothed{order}.json", "w"))


if __name__ == "__main__":
    main(sys.argv[1:])
