# summary.py OUTDIR - processes and mean length per directory of a corpus that
# record.sh (linux-corpus, tools-corpus) wrote.
import os, sys
root = sys.argv[1]
def stats(d):
    fs = [os.path.join(d, f) for f in os.listdir(d) if f.endswith(".trace")]
    ls = [len(open(f).read().split()) for f in fs]
    return len(fs), (sum(ls) / len(ls) if ls else 0)
rows = []
for sub in ("train", "validation"):
    p = os.path.join(root, sub)
    if os.path.isdir(p): rows.append((sub,) + stats(p))
att = os.path.join(root, "attack")
if os.path.isdir(att):
    bytype = {}
    for case in sorted(os.listdir(att)):
        n, m = stats(os.path.join(att, case))
        t = case.rsplit("_", 1)[0]
        a = bytype.setdefault(t, [0, 0, 0]); a[0] += 1; a[1] += n; a[2] += n * m
    for t, (cases, n, tot) in sorted(bytype.items()):
        rows.append(("attack/%s_* (%d cases)" % (t, cases), n, tot / n if n else 0))
print("%-38s %8s %12s" % ("directory", "procs", "mean_len"))
for r in rows: print("%-38s %8d %12.1f" % r)
