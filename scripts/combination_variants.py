# Per-trace AUC of the pre-declared scoring variants (docs/eval.md), for one corpus list.
# Usage: python3 scripts/combination_variants.py LIST OUT.json, LIST lines "name corpus dump.jsonl",
# dumps from `vigil eval CORPUS --dump-features dump.jsonl`. (a) max z-score, (b) novel_ngrams,
# (c1) sum of the two largest z-scores, (c2) mean z of window/novel_ngrams/neighbour come from
# the dump; (d) length-weighted novel fraction is computed here from the trace files.
import json, sys, os, math
NAMES=["window","mean_bits","novel_ngrams","novel_syscalls","neighbour"]
def auc(pos,neg):
    if not pos or not neg: return None
    u=0.0
    for p in pos:
        for n in neg:
            u+= 1 if p>n else (0.5 if p==n else 0)
    return u/(len(pos)*len(neg))
def files(d):
    out=[]
    for e in sorted(os.listdir(d)):
        if e.startswith('.'): continue
        p=d+'/'+e
        out+= files(p) if os.path.isdir(p) else [p]
    return out
def read(p): return [int(x) for x in open(p).read().split()]
def grams(t):
    s=set()
    for n in range(2,7):
        for i in range(len(t)-n+1): s.add(tuple(t[i:i+n]))
    return s
def dfeat(t, known):
    g=grams(t)
    if not g: return 0.0, 0.0
    nov=[x for x in g if x not in known]
    return sum(len(x) for x in nov)/sum(len(x) for x in g), len(nov)/len(g)
def dscores(root):
    tr=[read(f) for f in files(root+'/train')]
    known=set().union(*[grams(t) for t in tr])
    if os.path.isdir(root+'/validation'):
        neg=[dfeat(read(f),known) for f in files(root+'/validation')]
    else:
        k=min(5,len(tr)); neg=[]
        for fold in range(k):
            kn=set().union(*[grams(tr[i]) for i in range(len(tr)) if i%k!=fold])
            neg+=[dfeat(tr[i],kn) for i in range(len(tr)) if i%k==fold]
    pos=[dfeat(read(f),known) for f in files(root+'/attack')]
    return auc([p[0] for p in pos],[n[0] for n in neg]), auc([p[1] for p in pos],[n[1] for n in neg])
def variants(dump):
    rows=[json.loads(l) for l in open(dump) if l.strip()]
    tr=[r for r in rows if r['set']=='train']
    va=[r for r in rows if r['set']=='validation'] or tr
    at=[r for r in rows if r['set']=='attack']
    cal=len(tr)>=2
    mu=[];sd=[]
    for n in NAMES:
        v=[r['features'][n] for r in tr] or [0]
        m=sum(v)/len(v); mu.append(m); sd.append(max(math.sqrt(sum((x-m)**2 for x in v)/len(v)),1e-6))
    def z(r): return [(r['features'][n]-mu[j])/sd[j] for j,n in enumerate(NAMES)]
    def a(r): return max(z(r)) if cal else r['features']['window']
    def b(r): return r['features']['novel_ngrams']
    def c1(r):
        if not cal: return r['features']['window']
        s=sorted(z(r)); return s[-1]+s[-2]
    def c2(r):
        if not cal: return r['features']['window']
        zz=z(r); return (zz[0]+zz[2]+zz[4])/3
    out={}
    for nm,f in [('a_max',a),('b_novel',b),('c1_top2',c1),('c2_mean3',c2)]:
        out[nm]=auc([f(r) for r in at],[f(r) for r in va])
    out['dump_score']=auc([r['score'] for r in at],[r['score'] for r in va])
    return out
if __name__=='__main__':
    res={}
    for name,root,dump in [l.split() for l in open(sys.argv[1])]:
        v=variants(dump); d,bpy=dscores(root); v['d_weighted']=d; v['b_python_check']=bpy
        res[name]=v; print(name, json.dumps({k:(round(x,3) if x is not None else None) for k,x in v.items()}), flush=True)
    json.dump(res,open(sys.argv[2],'w'),indent=1)
