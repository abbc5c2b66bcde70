# Helpers the benchmark scripts share; sourced, not run.

# wait_for FILE PATTERN SECONDS PID: until FILE holds PATTERN (0) or PID died / time ran out (1).
wait_for() {
    local i
    for i in $(seq 1 $(($3 * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# bench_nginx DIR PORT: the benchmarks' nginx under DIR (nginx.conf, html/index.html of
# 1 KiB, logs/, tmp/), on 127.0.0.1:PORT: one worker pinned to CPU 1 (where the loops run
# too; the load generator goes on CPU 0), access log off, sendfile, keep-alive.
# Start it with: nginx -p DIR -c DIR/nginx.conf -e DIR/logs/error.log
bench_nginx() {
    local d=$1 port=$2
    mkdir -p "$d/html" "$d/logs" "$d/tmp"
    head -c 1024 /dev/zero | tr '\0' 'v' > "$d/html/index.html"
    cat > "$d/nginx.conf" <<CONF
user root;
worker_processes 1;
worker_cpu_affinity 10;
daemon on;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    server {
        listen 127.0.0.1:$port;
        root $d/html;
    }
}
CONF
}
