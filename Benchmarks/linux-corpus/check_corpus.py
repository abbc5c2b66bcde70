#!/usr/bin/env python3
"""check_corpus.py [ROOT] - validate the corpus format and print counts.
Checks: every .trace is one line of space-separated integers that are valid
x86_64 syscall numbers, >= 10 calls; no train/validation name overlap."""
import collections, os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/vigil-linux-corpus"
valid = {int(m.group(1)) for m in re.finditer(r"#define __NR_\w+\s+(\d+)",
         open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").read())}
bad = 0; rows = collections.OrderedDict(); wl = collections.Counter()
for dp, _, fs in sorted(os.walk(root)):
    for f in sorted(fs):
        if not f.endswith(".trace"): continue
        p = os.path.join(dp, f); txt = open(p).read()
        toks = txt.split()
        ok = txt.count("\n") == 1 and txt.endswith("\n") and "  " not in txt and len(toks) >= 10 \
             and all(t.isdigit() and int(t) in valid for t in toks)
        if not ok: bad += 1; print("BAD", p)
        rel = os.path.relpath(dp, root)
        key = rel if not rel.startswith("attack") else "attack/" + rel.split("/")[1].rsplit("_", 1)[0]
        r = rows.setdefault(key, [0, 0, set()]); r[0] += 1; r[1] += len(toks); r[2].add(rel)
        if not rel.startswith("attack"): wl[(rel, f.split("_")[0])] += 1
print("%-28s %6s %6s %10s" % ("directory", "cases", "procs", "mean_len"))
for k, (n, tot, cases) in rows.items():
    print("%-28s %6s %6d %10.1f" % (k, len(cases) if k.startswith("attack") else "-", n, tot / n))
print("normal processes per workload:", dict(sorted(wl.items())))
tr = set(os.listdir(os.path.join(root, "train"))); va = set(os.listdir(os.path.join(root, "validation")))
print("train/validation name overlap:", len(tr & va), "| malformed traces:", bad)
