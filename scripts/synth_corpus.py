# Synthetic corpus: a random Markov "program" with modes. Attacks: (a) normal prefix plus an
# injected run of rare-but-known transitions, (b) altered mode frequencies (one mode looped),
# (c) normal calls from another program mode mixture (a spawned shell) appended.
import numpy as np, os, sys, shutil
seed=int(sys.argv[2]) if len(sys.argv)>2 else 1
rng=np.random.default_rng(seed)
out=sys.argv[1]; shutil.rmtree(out, ignore_errors=True)
V=60
modes=[]
for m in range(6):
    syms=rng.choice(V, size=12, replace=False)
    P=np.zeros((12,12))
    for i in range(12):
        k=rng.integers(1,4)
        nxt=rng.choice(12,size=k,replace=False)
        w=rng.dirichlet(np.ones(k)*0.7)
        P[i,nxt]=w
        # rare transitions
        r=rng.choice(12); P[i,r]+=0.01
        P[i]/=P[i].sum()
    modes.append((syms,P))
modeP=rng.dirichlet(np.ones(6)*0.8)
def run_mode(m, steps, rare=False):
    syms,P=modes[m]; s=0; o=[]
    for _ in range(steps):
        o.append(int(syms[s]))
        p=P[s]
        if rare:
            q=np.where(p>0, 1.0/np.maximum(p,1e-9), 0); q/=q.sum(); s=rng.choice(12,p=q)
        else: s=rng.choice(12,p=p)
    return o
def normal(mp=modeP, length=None):
    t=[1,2,3]
    nblocks=rng.integers(2,12) if length is None else length
    for _ in range(nblocks):
        m=rng.choice(6,p=mp); t+=run_mode(m, rng.integers(5,40))
    return t+[4,5]
def attack(kind):
    t=normal()
    cut=rng.integers(3,len(t)-2)
    if kind==0:
        m=rng.integers(6); inj=run_mode(m, rng.integers(8,25), rare=True)
        return t[:cut]+inj+t[cut:]
    if kind==1:
        mp=np.zeros(6); mp[rng.integers(6)]=1
        return [1,2,3]+run_mode(int(np.argmax(mp)), rng.integers(100,400))+[4,5]
    if kind==2:
        # reorder blocks of normal calls: take a normal trace and shuffle chunks of 3
        chunks=[t[i:i+3] for i in range(0,len(t),3)]; rng.shuffle(chunks)
        return [c for ch in chunks for c in ch]
def write(d, name, t):
    os.makedirs(d, exist_ok=True); open(f"{d}/{name}.trace","w").write(" ".join(map(str,t))+"\n")
for i in range(300): write(f"{out}/train", i, normal())
for i in range(150): write(f"{out}/validation", i, normal())
for c in range(3):
    for i in range(40): write(f"{out}/attack/kind{c}-{i//10}", i, attack(c))
# like UNM: attack cases also contain normal processes
for i in range(40): write(f"{out}/attack/mixed-{i//10}", 1000+i, normal())
