#!/usr/bin/env bash
# Installs Vigil on this host: the binary and its kernel object, man pages (one per
# command, generated from the same definitions as --help), bash, zsh and fish completions,
# the systemd unit and, if none is there yet, the example configuration.
#
#   scripts/install.sh                      build (release) and install under /usr/local
#   scripts/install.sh --prefix /usr        another prefix
#   scripts/install.sh --destdir DIR        stage under DIR (packaging; nothing outside DIR is touched)
#   scripts/install.sh --bin-dir DIR        install what is already built in DIR (e.g. .build/release); no build
#   scripts/install.sh --no-unit            no systemd unit, no configuration
#   scripts/install.sh --check              stage the current build into a temporary directory, then
#                                           check every installed file (the test suite runs this)
#
# Afterwards: `man vigil`, `man vigil-run`; completions load in a new shell; `systemctl
# daemon-reload && systemctl enable --now vigil` once /etc/vigil/vigil.yaml says what to guard.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local destdir="" bindir="" unit=1 check=0
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
        --bin-dir) bindir=${2:?--bin-dir needs a directory}; shift 2 ;;
        --no-unit) unit=0; shift ;;
        --check) check=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$prefix" == /* ]] || { echo "install: --prefix must be an absolute path, not '$prefix'" >&2; exit 2; }

if [[ $check -eq 1 ]]; then
    destdir=$(mktemp -d /tmp/vigil-install-check.XXXXXX)
    trap 'rm -rf "$destdir"' EXIT
    [[ -n "$bindir" ]] || bindir=$(swift build --show-bin-path)
fi

if [[ -z "$bindir" ]]; then
    scripts/setup.sh
    echo "install: building (release)..."
    swift build -c release --product vigil 2>&1 | grep -E "error|warning: |Build complete" || true
    bindir=$(swift build -c release --show-bin-path)
fi
vigil="$bindir/vigil" object="$bindir/vigil_VigilSensor.resources/vigil.bpf.o"
for f in "$vigil" "$object"; do
    [[ -f "$f" ]] || { echo "install: $f is missing; build first (swift build -c release) or name --bin-dir" >&2; exit 1; }
done

root="$destdir$prefix"
as_root() {
    if [[ -n "$destdir" || $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "install: need root to run: $*" >&2; exit 1; fi
}
put() {  # MODE SRC DST
    as_root install -D -m "$1" "$2" "$3"
    echo "  $3"
}

echo "install: into ${destdir:+$destdir (staged) }$prefix"
put 0755 "$vigil" "$root/bin/vigil"
put 0644 "$object" "$root/share/vigil/vigil.bpf.o"

# Man pages: swift-argument-parser's generate-manual plugin, from the command definitions.
man=$(mktemp -d)
config=debug; [[ "$bindir" == *release* ]] && config=release
swift package plugin generate-manual --multi-page --configuration "$config" >/dev/null 2>"$man/err" || {
    echo "install: generating the man pages failed:" >&2; cat "$man/err" >&2; exit 1
}
pages=$(find .build/plugins/GenerateManual/outputs -name 'vigil*.1' 2>/dev/null | sort)
[[ -n "$pages" ]] || { echo "install: the man page generator wrote no vigil*.1 pages" >&2; exit 1; }
for p in $pages; do put 0644 "$p" "$root/share/man/man1/$(basename "$p")"; done
rm -rf "$man"

# Completions, from the binary itself.
comp=$(mktemp -d)
"$vigil" --generate-completion-script bash > "$comp/vigil.bash"
"$vigil" --generate-completion-script zsh > "$comp/_vigil"
"$vigil" --generate-completion-script fish > "$comp/vigil.fish"
put 0644 "$comp/vigil.bash" "$root/share/bash-completion/completions/vigil"
put 0644 "$comp/_vigil" "$root/share/zsh/site-functions/_vigil"
put 0644 "$comp/vigil.fish" "$root/share/fish/vendor_completions.d/vigil.fish"
rm -rf "$comp"

if [[ $unit -eq 1 ]]; then
    sed "s|/usr/local/bin/vigil|$prefix/bin/vigil|g" deploy/vigil.service > "${TMPDIR:-/tmp}/vigil.service.$$"
    put 0644 "${TMPDIR:-/tmp}/vigil.service.$$" "$destdir/etc/systemd/system/vigil.service"
    rm -f "${TMPDIR:-/tmp}/vigil.service.$$"
    if [[ -e "$destdir/etc/vigil/vigil.yaml" ]]; then
        echo "  $destdir/etc/vigil/vigil.yaml kept (already there)"
    else
        as_root install -d -m 0700 "$destdir/etc/vigil"
        put 0600 examples/vigil.yaml "$destdir/etc/vigil/vigil.yaml"
    fi
fi

if [[ $check -eq 0 ]]; then
    echo "install: done. man vigil; vigil --help; edit /etc/vigil/vigil.yaml, then systemctl daemon-reload && systemctl enable --now vigil"
    exit 0
fi

# --check: what a user gets works.
fail() { echo "install --check: $*" >&2; exit 1; }
"$root/bin/vigil" --version >/dev/null || fail "the installed binary does not run"
for c in learn monitor enforce run trace eval profile status; do
    page="$root/share/man/man1/vigil.$c.1"
    [[ -f "$root/share/man/man1/vigil-$c.1" ]] && page="$root/share/man/man1/vigil-$c.1"
    [[ -f "$page" ]] || fail "no man page for vigil $c (have: $(ls "$root/share/man/man1" | tr '\n' ' '))"
    grep -q '^\.Dt VIGIL' "$page" || fail "$page has no mdoc .Dt header"
done
grep -q 'Fl -models' "$root"/share/man/man1/vigil*learn*.1 || fail "vigil learn's man page does not document --models"
if command -v man >/dev/null && man -l "$root/share/man/man1/vigil.1" >/dev/null 2>&1; then
    man -l "$root/share/man/man1/vigil.1" 2>/dev/null | grep -q "learn" || fail "man -l vigil.1 does not list the learn command"
fi
# bash: the completion function offers the subcommands and a command's options.
complete_words() {  # WORDS...: what bash completion offers for the last (partial) word
    bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        func=$(complete -p vigil | sed -n "s/.*-F \([^ ]*\).*/\1/p")
        "$func" vigil "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$root/share/bash-completion/completions/vigil" "$@"
}
complete_words vigil pro | grep -qx profile || fail "bash completion of 'vigil pro' does not offer profile"
complete_words vigil learn --mo | grep -qx -- --models || fail "bash completion of 'vigil learn --mo' does not offer --models"
grep -q '#compdef vigil' "$root/share/zsh/site-functions/_vigil" || fail "the zsh completion has no #compdef line"
grep -q '^complete -c .vigil' "$root/share/fish/vendor_completions.d/vigil.fish" || fail "the fish completion defines no completions"
if command -v zsh >/dev/null; then zsh -n "$root/share/zsh/site-functions/_vigil" || fail "the zsh completion does not parse"; fi
if command -v fish >/dev/null; then fish -n "$root/share/fish/vendor_completions.d/vigil.fish" || fail "the fish completion does not parse"; fi
grep -q "ExecStart=$prefix/bin/vigil run" "$destdir/etc/systemd/system/vigil.service" || fail "the unit does not start $prefix/bin/vigil"
echo "install --check: binary, kernel object, $(ls "$root/share/man/man1" | wc -l) man pages, bash/zsh/fish completions and the unit install and work"
