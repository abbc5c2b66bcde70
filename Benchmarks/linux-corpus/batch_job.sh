#!/bin/bash
# batch_job.sh J WORKDIR : one cron-like maintenance/ETL job; J picks the kind and its inputs
set -u
j=$1; base=$2/job$j
rm -rf "$base"; mkdir -p "$base"; cd "$base" || exit 1
python3 - "$j" <<'PY'
import random, sys
j = int(sys.argv[1]); random.seed(1000 + j)
with open("data.csv", "w") as f:
    f.write("id,host,status,bytes\n")
    for i in range(200 + 50 * j):
        f.write("%d,host%d,%s,%d\n" % (i, random.randint(1, 9), random.choice(["200", "404", "500", "301"]), random.randint(10, 99999)))
PY
case $((j % 5)) in
0)  # log rotation / archive
    mkdir -p logs && for k in 1 2 3; do cp data.csv logs/app.$k.log; done
    gzip logs/app.2.log logs/app.3.log; ls -l logs
    tar czf archive.tgz logs && tar tzf archive.tgz | sort && gunzip -c logs/app.2.log.gz | wc -l
    find . -name '*.gz' -size +1k | xargs -r rm -f ;;
1)  # report
    awk -F, 'NR>1{s[$3]+=$4; n[$3]++} END{for(k in s) print k, n[k], s[k]}' data.csv | sort -k3 -n -r > report.txt
    sort -t, -k4 -n data.csv | tail -n 5; cut -d, -f2 data.csv | sort | uniq -c | sort -rn | head -n 3
    cat report.txt ;;
2)  # sqlite load + query
    sqlite3 db.sqlite "create table t(id int, host text, status text, bytes int);" ".mode csv" ".import --skip 1 data.csv t" \
        "select status, count(*), sum(bytes) from t group by status;" "select host, max(bytes) from t group by host order by 2 desc limit 3;"
    python3 -c "import sqlite3; c=sqlite3.connect('db.sqlite'); print(c.execute('select count(*) from t where bytes>$((j*1000))').fetchone())" ;;
3)  # git snapshot of config
    git init -q repo && cd repo && git config user.email ops@vigil.local && git config user.name ops
    cp ../data.csv . && printf 'threads=%d\n' $j > app.conf && git add -A && git commit -q -m "snapshot $j"
    sed -i 's/threads=.*/threads=8/' app.conf && git commit -q -am "tune threads" && git log --oneline | cat && git diff HEAD~1 --stat | cat ;;
4)  # health check against the local web app + backup copy
    curl -s http://127.0.0.1:8080/ | grep -c li; curl -s "http://127.0.0.1:8080/cgi-bin/search.py?q=alpha$((j % 7))" | wc -l
    curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:8080/about.html
    mkdir -p backup && cp -r data.csv backup/ && find backup -type f | xargs md5sum
    python3 -c "import json,csv; r=list(csv.DictReader(open('data.csv'))); json.dump(r[:$((10+j))], open('sample.json','w')); print(len(r))" ;;
esac
cd /; rm -rf "$base"
