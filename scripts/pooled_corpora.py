#!/usr/bin/env python3
# Program-mixed corpora for choosing the per-trace score (docs/eval.md, "Choosing the score
# over program-mixed pools"). The corpora that judge Vigil pool many programs into one
# train/validation set; UNM gives one corpus per program. This writes pools of UNM programs
# in the same layout `vigil eval` reads (symbolic links only, nothing copied):
#
#   OUT/pool-unm-a   sendmail, login, ps, named
#   OUT/pool-unm-b   lpr-unm, lpr-mit, xlock, inetd
#   OUT/pool-linux   the Linux recording whole (already program-mixed), if given
#
# In a pool, every member's train traces are one train set, every member's validation
# traces one validation set, and every attack case stays a case of its own
# (attack/PROGRAM--CASE/). File names get the program as a prefix (PROGRAM--NAME), so no two
# members collide and a reader can tell where a trace came from.
#
# Why these two groups: they share no program (lpr-unm and lpr-mit are one program, lpr,
# from two sites, so they stay together), so a choice made with one pool held out has seen
# none of its programs, provided the one-program corpora of its members are held out with
# it (Benchmarks/loco.sh puts each pool and its members in one group). Each group has a
# large program with many cases (sendmail; lpr), small interactive or daemon programs
# (login, ps; xlock) and one program with too little training to calibrate alone (named,
# two train traces; inetd, one), which a pool can now judge against everyone's normal work.
# UNM's numbers are SunOS ones, opaque symbols, so the UNM pools get no corpus.json; the
# Linux pool keeps the recording's own (linux-x86_64: request boundaries apply).
#
# Deterministic: directory listings are sorted and an existing pool directory is replaced.
#
#   python3 scripts/pooled_corpora.py OUT UNM_ROOT [LINUX_RECORDING]
#   python3 scripts/pooled_corpora.py --pool OUT/NAME CORPUS...   any corpora without a
#       corpus.json (UNM programs, scripts/synth_corpus.py seeds), pooled the same way, each
#       member's files prefixed by its directory's name (issue 14, sixth round)
import os, shutil, sys

POOLS = {
    "pool-unm-a": ["sendmail", "login", "ps", "named"],
    "pool-unm-b": ["lpr-unm", "lpr-mit", "xlock", "inetd"],
}


def fail(msg):
    print(f"pooled_corpora.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def trace_files(d):
    """Every regular file (or link to one) under d, relative to d, sorted; dot files skipped."""
    out = []
    for root, dirs, files in os.walk(d, followlinks=True):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for f in sorted(files):
            if not f.startswith(".") and os.path.isfile(os.path.join(root, f)):
                out.append(os.path.relpath(os.path.join(root, f), d))
    return out


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        fail(f"two traces would both be {dst}")
    os.symlink(os.path.abspath(src), dst)


def flat(rel):
    return rel.replace(os.sep, "_")


def write_pool(d, members):
    """Pools `members`, (prefix, corpus root) pairs, into the corpus directory d."""
    if os.path.lexists(d):
        shutil.rmtree(d) if os.path.isdir(d) and not os.path.islink(d) else os.remove(d)
    counts = {"train": 0, "validation": 0, "attack": 0, "cases": 0}
    if len({prog for prog, _ in members}) != len(members):
        fail(f"two members of {d} have the same name: {', '.join(prog for prog, _ in members)}")
    for prog, root in members:
        if not os.path.isdir(os.path.join(root, "train")):
            fail(f"{root}/train: no such directory (a member corpus needs train/, and may have validation/ and attack/)")
        if os.path.exists(os.path.join(root, "corpus.json")):
            fail(f"{root}/corpus.json: members are expected to have none (opaque numbers, as UNM programs and synthetic seeds); "
                 "pooling corpora of different numberings is not supported")
        for part in ("train", "validation"):
            src = os.path.join(root, part)
            if not os.path.isdir(src):
                continue  # named has no validation set
            for rel in trace_files(src):
                link(os.path.join(src, rel), os.path.join(d, part, f"{prog}--{flat(rel)}"))
                counts[part] += 1
        att = os.path.join(root, "attack")
        for case in sorted(os.listdir(att)) if os.path.isdir(att) else []:
            cdir = os.path.join(att, case)
            if not os.path.isdir(cdir) or case.startswith("."):
                continue
            counts["cases"] += 1
            for rel in trace_files(cdir):
                link(os.path.join(cdir, rel), os.path.join(d, "attack", f"{prog}--{case}", flat(rel)))
                counts["attack"] += 1
    os.makedirs(os.path.join(d, "validation"), exist_ok=True)
    print(f"{os.path.basename(d)}: {'+'.join(prog for prog, _ in members)}: {counts['train']} train, "
          f"{counts['validation']} validation, {counts['attack']} attack traces in {counts['cases']} cases")


def main(argv):
    if argv[:1] == ["--pool"]:
        if len(argv) < 4:
            print("usage: pooled_corpora.py --pool OUT/NAME CORPUS CORPUS...", file=sys.stderr)
            sys.exit(2)
        roots = [os.path.normpath(r) for r in argv[2:]]
        os.makedirs(os.path.dirname(os.path.abspath(argv[1])), exist_ok=True)
        write_pool(argv[1], [(os.path.basename(r), r) for r in roots])
        return
    if len(argv) not in (2, 3):
        print("usage: pooled_corpora.py OUT UNM_ROOT [LINUX_RECORDING] | --pool OUT/NAME CORPUS...", file=sys.stderr)
        sys.exit(2)
    out, unm = argv[0], argv[1]
    if not os.path.isdir(unm):
        fail(f"{unm}: no such directory (UNM_ROOT: one directory per program)")
    os.makedirs(out, exist_ok=True)
    for name, members in POOLS.items():
        write_pool(os.path.join(out, name), [(prog, os.path.join(unm, prog)) for prog in members])
    if len(argv) == 3:
        linux = os.path.abspath(argv[2])
        for part in ("train", "validation", "attack"):
            if not os.path.isdir(os.path.join(linux, part)):
                fail(f"{linux}/{part}: no such directory (expected a recording of Benchmarks/linux-corpus/record.sh)")
        d = os.path.join(out, "pool-linux")
        if os.path.lexists(d):
            shutil.rmtree(d) if os.path.isdir(d) and not os.path.islink(d) else os.remove(d)
        os.symlink(linux, d)
        print(f"pool-linux: {linux}")


if __name__ == "__main__":
    main(sys.argv[1:])
