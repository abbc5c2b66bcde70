#!/usr/bin/env python3
# Which part of the neighbour view grows with trace length (docs/eval.md, "Length" under
# "Choosing the score over program-mixed pools"). Rebuilds the toy service of the unit test
# aLongNormalTraceDoesNotOutscoreAShortAnomalousOne (same SplitMix generator and request
# shapes), and prints the cosine distance of the 1/2-gram bag of normal traces of growing
# length to the nearest of its 30 training traces, under three term-frequency weights
# (1 + ln tf as NeighbourIndex, sqrt tf, plain counts; idf smoothed as NeighbourIndex), with
# every trace whole and with each trace's fixed start (8 calls) and exit (2 calls) removed.
#
#   python3 scripts/neighbour_length.py
import math

M = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.state = seed & M

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)


def service(seed, requests):
    shapes = [[3, 3, 4, 6], [5, 3, 4, 6], [5, 197, 3, 3, 6, 4], [54, 3, 4]]
    rng, t = SplitMix(seed + 1000), [59, 5, 90, 3, 6, 5, 3, 6]
    for _ in range(requests):
        t += shapes[rng.next() % len(shapes)]
    return t + [6, 1]


def bag(t):
    b = {}
    for i, s in enumerate(t):
        b[(s,)] = b.get((s,), 0) + 1
        if i:
            b[(t[i - 1], s)] = b.get((t[i - 1], s), 0) + 1
    return b


def nearest(train, tf):
    bags = [bag(t) for t in train]
    n, df = len(bags), {}
    for b in bags:
        for k in b:
            df[k] = df.get(k, 0) + 1
    idf = {k: math.log((1 + n) / (1 + v)) + 1 for k, v in df.items()}
    unseen = math.log(1 + n) + 1

    def vec(b):
        v = {k: tf(c) * idf.get(k, unseen) for k, c in b.items()}
        norm = math.sqrt(sum(x * x for x in v.values()))
        return {k: x / norm for k, x in v.items()}

    refs = [vec(b) for b in bags]
    return lambda t: 1 - max(sum(w * r.get(k, 0) for k, w in vec(bag(t)).items()) for r in refs)


def main():
    train = [service(i, 20 + 2 * i) for i in range(30)]
    probes = [("50 requests", service(700, 50)), ("500", service(700, 500)), ("5000", service(700, 5000)),
              ("normal 100", service(100, 20 + 100 % 60)), ("normal 116", service(116, 20 + 116 % 60))]
    weights = [("1 + ln tf", lambda c: 1 + math.log(c)), ("sqrt tf", math.sqrt), ("tf", float)]
    for label, cut in (("whole traces", lambda t: t), ("start and exit removed", lambda t: t[8:-2])):
        print(label)
        for name, tf in weights:
            d = nearest([cut(t) for t in train], tf)
            print(f"  {name:10}" + "".join(f"  {p}: {d(cut(t)):.4f}" for p, t in probes))


if __name__ == "__main__":
    main()
