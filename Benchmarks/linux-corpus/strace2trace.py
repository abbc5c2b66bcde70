#!/usr/bin/env python3
"""strace2trace.py - convert `strace -f -ff -o DIR/t` output into ADFA-LD style traces.

Usage:
  strace2trace.py RAWDIR OUTDIR PREFIX [--min 10] [--split train,validation]

RAWDIR holds files t.<pid> (one per process/thread, as written by strace -ff).
Each one becomes one line of space-separated x86_64 syscall NUMBERS.
Files are ordered by pid and named PREFIX_pNNN.trace (NNN = rank of the pid
within RAWDIR, so names are stable across re-recordings).

  * "--- SIG..." (signal delivery), "+++ exited/killed" lines are dropped;
  * "foo(... <unfinished ...>" counts foo once; "<... foo resumed> ..." adds nothing;
  * "syscall_0x1b6(...)" (unknown to strace) is decoded from the hex number;
  * traces with fewer than --min calls are dropped.

With --split A,B the traces go to OUTDIR/A (~40%) or OUTDIR/B (~60%), chosen
deterministically by md5(file name) so the split never depends on run order.
"""
import hashlib
import os
import re
import sys

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
_table = None


def table():
    global _table
    if _table is None:
        _table = {}
        with open(UNISTD) as f:
            for line in f:
                m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
                if m:
                    _table[m.group(1)] = int(m.group(2))
    return _table


CALL_RE = re.compile(r"^(?:\[pid\s+\d+\]\s+)?([a-z_][a-z0-9_]*)\(")


def parse(path, unknown):
    t = table()
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            s = line.lstrip()
            if not s or s.startswith("---") or s.startswith("+++") or s.startswith("<..."):
                continue
            m = CALL_RE.match(s)
            if not m:
                continue
            name = m.group(1)
            if name in t:
                out.append(t[name])
            elif name.startswith("syscall_0x"):
                out.append(int(name[len("syscall_"):], 16))
            else:
                unknown[name] = unknown.get(name, 0) + 1
    return out


def main(argv):
    args = [a for a in argv[1:]]
    minlen = 10
    split = None
    if "--min" in args:
        i = args.index("--min"); minlen = int(args[i + 1]); del args[i:i + 2]
    if "--split" in args:
        i = args.index("--split"); split = args[i + 1].split(","); del args[i:i + 2]
    rawdir, outdir, prefix = args
    files = []
    for fn in os.listdir(rawdir):
        m = re.match(r"^t\.(\d+)$", fn)
        if m:
            files.append((int(m.group(1)), fn))
    files.sort()
    unknown = {}
    kept = dropped = 0
    for rank, (pid, fn) in enumerate(files):
        calls = parse(os.path.join(rawdir, fn), unknown)
        if len(calls) < minlen:
            dropped += 1
            continue
        name = "%s_p%03d.trace" % (prefix, rank)
        d = outdir
        if split:
            h = int(hashlib.md5(name.encode()).hexdigest(), 16) % 10
            d = os.path.join(outdir, split[0] if h < 4 else split[1])
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write(" ".join(map(str, calls)) + "\n")
        kept += 1
    if unknown:
        sys.stderr.write("strace2trace: unknown names in %s: %s\n" % (rawdir, unknown))
    print("%s: %d processes kept, %d dropped (<%d calls)" % (prefix, kept, dropped, minlen))


if __name__ == "__main__":
    main(sys.argv)
