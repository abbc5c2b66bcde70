# Real services for the benchmarks: Debian's redis-server and nginx, each in its own
# configuration, on a free loopback port, from a directory the caller owns. Sourced, not run:
#
#   . Benchmarks/services.sh
#   svc_install                      # installs redis-server, redis-tools, nginx, wrk, gdb if missing
#   svc_redis_start DIR PORT         # -> prints the pid; data, config and log under DIR
#   svc_nginx_start DIR PORT         # -> prints the master's pid; html/, logs/ under DIR
#   svc_stop PID                     # TERM, then KILL after 5 s; only pids the caller started
#   svc_free_port                    # a loopback TCP port nothing listens on
#
# Package installs never start the packages' own services (policy-rc.d guard), so nothing
# here touches a system redis or nginx.

svc_log() { echo "services: $*" >&2; }

svc_install() {
    local need=() pkg
    for pkg in redis-server redis-tools nginx wrk gdb curl python3; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    svc_log "installing ${need[*]}"
    local guard=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; guard=1
    fi
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
    local rc=$?
    [ $guard = 1 ] && rm -f /usr/sbin/policy-rc.d
    return $rc
}

svc_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts on 127.0.0.1:PORT (at most 10 s).
svc_wait_port() {
    local port=$1 i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    svc_log "nothing listens on 127.0.0.1:$port after 10 s"
    return 1
}

svc_redis_start() {
    local dir=$1 port=$2
    mkdir -p "$dir/data"
    cat > "$dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
daemonize no
dir $dir/data
dbfilename dump.rdb
# Debian's default snapshot points, as a production redis runs: a learning window under
# write load sees its background saves (a forked child writing temp-PID.rdb, renamed).
save 3600 1 300 100 60 10000
appendonly no
logfile $dir/redis.log
protected-mode yes
# Lets a local client CONFIG SET dir and dbfilename (protected since redis 7): the
# misconfiguration the write-outside attack of false-alarms.sh relies on, as in older redis.
enable-protected-configs local
EOF
    /usr/bin/redis-server "$dir/redis.conf" >/dev/null 2>&1 &
    local pid=$!
    svc_wait_port "$port" || { kill "$pid" 2>/dev/null; return 1; }
    echo "$pid"
}

svc_nginx_start() {
    local dir=$1 port=$2
    mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
    cat > "$dir/nginx.conf" <<EOF
worker_processes 2;
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    sendfile off;
    keepalive_timeout 30;
    server {
        listen 127.0.0.1:$port;
        root $dir/html;
    }
}
EOF
    /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" || return 1
    local i
    for i in $(seq 1 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
    svc_wait_port "$port" || return 1
    cat "$dir/nginx.pid"
}

svc_stop() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
