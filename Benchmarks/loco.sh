#!/bin/bash
# Leave-one-group-out choice of the per-trace score (docs/eval.md, "Choosing the score over
# program-mixed pools"): runs `vigil eval` on every corpus (features dumped, STIDE-6
# beside), then scripts/loco_select.py.
#
#   bash Benchmarks/loco.sh OUT LINUX_CORPUS [UNM_ROOT] [--rule mean|worst|bar-mean]
#
# LINUX_CORPUS is a recording of Benchmarks/linux-corpus/record.sh; UNM_ROOT holds one
# corpus per program (sendmail lpr-unm lpr-mit named login ps inetd xlock). Program-mixed
# pools (scripts/pooled_corpora.py): pool-unm-a (sendmail login ps named), pool-unm-b
# (lpr-unm lpr-mit xlock inetd) and pool-linux, the Linux recording whole. The recording is
# also split by service into three one-program corpora like UNM's (each learning only from
# that service's normal processes): linux-ssh (sshd; attacks: the ssh brute force cases),
# linux-ftp (vsftpd; the ftp brute force cases and the web shell cases' ftp sessions) and
# linux-web (the CGI web application; the command injection, web shell and reverse shell
# cases). Three groups, each held out whole because its corpora share traces: unm-a (the
# pool and its four programs), unm-b (likewise), linux (pool-linux and the three services).
# With SYNTH_SEEDS="1 2 ...", the synthetic
# corpora of scripts/synth_corpus.py for those seeds are scored too, reported only (never
# used to choose): a check on data no choice saw. Uses .build/release/vigil.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: $0 OUT LINUX_CORPUS [UNM_ROOT] [--rule mean|worst|bar-mean]}
LINUX=${2:?usage: $0 OUT LINUX_CORPUS [UNM_ROOT]}
UNM=${3:-/work/shared/datasets/unm}
RULE=(); [ "${4:-}" = --rule ] && RULE=(--rule "$5")
VIGIL=${VIGIL:-.build/release/vigil}  # another build may be named, e.g. to compare two
[ -x "$VIGIL" ] || { echo "error: $VIGIL missing; run: swift build -c release --product vigil" >&2; exit 2; }
mkdir -p "$OUT"

# One-program corpora from the Linux recording (symbolic links, corpus.json copied).
split() {  # NAME PREFIX CASE-GLOBS...: train/validation files PREFIX_*, attack files PREFIX* of those cases
    local name=$1 prefix=$2 d="$OUT/corpora/$1"; shift 2
    rm -rf "$d"; mkdir -p "$d/train" "$d/validation" "$d/attack"
    [ -f "$LINUX/corpus.json" ] && cp "$LINUX/corpus.json" "$d/"
    ln -s "$LINUX"/train/${prefix}_*.trace "$d/train/"
    ln -s "$LINUX"/validation/${prefix}_*.trace "$d/validation/"
    local g c
    for g in "$@"; do
        for c in "$LINUX"/attack/$g; do
            compgen -G "$c/${prefix}*.trace" >/dev/null || continue
            mkdir -p "$d/attack/$(basename "$c")"
            ln -s "$c"/${prefix}*.trace "$d/attack/$(basename "$c")/"
        done
    done
}
split linux-ssh ssh 'hydra_ssh_*'
split linux-ftp ftp 'hydra_ftp_*' 'webshell_*'
split linux-web web 'adduser_*' 'webshell_*' 'reverse_shell_*'

run() {  # NAME CORPUS
    "$VIGIL" eval "$2" --json --dump-features "$OUT/$1.jsonl" > "$OUT/$1.json"
    "$VIGIL" eval "$2" --json --stide > "$OUT/$1.stide.json"
}
python3 scripts/pooled_corpora.py "$OUT/corpora" "$UNM" "$LINUX" >&2
ARGS=()
for p in sendmail login ps named; do run "$p" "$UNM/$p"; ARGS+=("$p@unm-a"); done
run pool-unm-a "$OUT/corpora/pool-unm-a"; ARGS+=("pool-unm-a@unm-a")
for p in lpr-unm lpr-mit xlock inetd; do run "$p" "$UNM/$p"; ARGS+=("$p@unm-b"); done
run pool-unm-b "$OUT/corpora/pool-unm-b"; ARGS+=("pool-unm-b@unm-b")
for p in linux-ssh linux-ftp linux-web; do
    run "$p" "$OUT/corpora/$p"; ARGS+=("$p@linux")
done
run pool-linux "$LINUX"; ARGS+=("pool-linux@linux")
for s in ${SYNTH_SEEDS:-}; do
    python3 scripts/synth_corpus.py "$OUT/corpora/synth-$s" "$s" >/dev/null
    run "synth-$s" "$OUT/corpora/synth-$s"; ARGS+=("synth-$s@synthetic!")
done
python3 scripts/loco_select.py "${RULE[@]}" "$OUT" "${ARGS[@]}"
