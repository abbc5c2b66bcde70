#!/usr/bin/env python3
"""A minimal service-manager stand-in for hosts (and tests) where PID 1 is not systemd.

It does what deploy/vigil.service asks of systemd, and no more:

  Type=notify, NotifyAccess=main   creates a NOTIFY_SOCKET, starts COMMAND with it, and
                                   counts the service as started on READY=1 from the main
                                   process only (the sender's pid comes from SCM_CREDENTIALS);
  WatchdogSec=N                    sets WATCHDOG_USEC and WATCHDOG_PID for the child; after
                                   READY=1, N seconds without WATCHDOG=1 kill it (SIGKILL: a
                                   wedged or stopped process may not act on SIGABRT);
  Restart=on-failure, RestartSec   restarts it after a non-zero exit, a signal, a watchdog
                                   timeout or no READY=1 within --start-timeout; a clean
                                   exit (status 0) ends supervision;
  StartLimitBurst                  gives up after --max-restarts restarts;
  KillSignal=SIGTERM, TimeoutStopSec  SIGTERM or SIGINT to the supervisor stops the service
                                   the same way, then exits;
  ExecReload=kill -HUP $MAINPID    SIGHUP to the supervisor is passed to the main process
                                   (`systemctl reload`); RELOADING=1 ... READY=1 are logged.

Every transition is one JSON line on stdout (or --log FILE), flushed at once:
  {"time": 1765000000.123, "event": "started", "pid": 4242, "start": 1}
Events: started, ready, status, reload-requested, reloading, reloaded, stopping, watchdog, watchdog-timeout,
start-timeout, exited, restarting, gave-up, stopped, ignored (a message from another pid).
"watchdog" lines are written only with --log-pings.

Usage:
  scripts/supervise.py [--watchdog-sec 2] [--restart-sec 0.2] [--log FILE] -- COMMAND ARGS...
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import time


class Log:
    def __init__(self, path, pings):
        self.out = open(path, "a", buffering=1) if path else sys.stdout
        self.pings = pings

    def __call__(self, event, **fields):
        if event == "watchdog" and not self.pings:
            return
        line = {"time": round(time.time(), 3), "event": event}
        line.update(fields)
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()


def notify_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(path)
    os.chmod(path, 0o600)
    return s


def receive(sock):
    """One datagram: (sender pid or None, {key: value})."""
    data, ancillary, _flags, _addr = sock.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(payload) >= 12:
            pid = struct.unpack("iII", payload[:12])[0]
    fields = {}
    for line in data.decode("utf-8", "replace").split("\n"):
        if "=" in line:
            k, v = line.split("=", 1)
            fields[k] = v
    return pid, fields


def spawn(command, notify_path, watchdog_usec):
    pid = os.fork()
    if pid == 0:
        try:
            # A clean signal state, as systemd gives its services: whatever the supervisor
            # inherited blocked (threads of a test runner block SIGTERM) is not passed on.
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(s, signal.SIG_DFL)
            env = dict(os.environ)
            env["NOTIFY_SOCKET"] = notify_path
            if watchdog_usec:
                env["WATCHDOG_USEC"] = str(watchdog_usec)
                env["WATCHDOG_PID"] = str(os.getpid())
            os.execvpe(command[0], command, env)
        except OSError as e:
            sys.stderr.write(f"supervise.py: cannot run {command[0]}: {e}\n")
        os._exit(127)
    return pid


def describe(status):
    if os.WIFSIGNALED(status):
        return {"signal": signal.Signals(os.WTERMSIG(status)).name}
    return {"code": os.WEXITSTATUS(status)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--watchdog-sec", type=float, default=0, help="WatchdogSec= (0: no watchdog)")
    ap.add_argument("--restart-sec", type=float, default=0.2, help="RestartSec=")
    ap.add_argument("--start-timeout", type=float, default=30, help="TimeoutStartSec=: seconds to wait for READY=1")
    ap.add_argument("--stop-timeout", type=float, default=30, help="TimeoutStopSec=: seconds from SIGTERM to SIGKILL")
    ap.add_argument("--max-restarts", type=int, default=5, help="restarts before giving up")
    ap.add_argument("--log", help="append the JSON lines to this file instead of stdout")
    ap.add_argument("--log-pings", action="store_true", help="log every WATCHDOG=1 too")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        ap.error("no command to supervise (after --)")
    if a.watchdog_sec < 0 or a.restart_sec < 0 or a.start_timeout <= 0 or a.stop_timeout <= 0 or a.max_restarts < 0:
        ap.error("times must be positive and --max-restarts not negative")

    log = Log(a.log, a.log_pings)
    directory = tempfile.mkdtemp(prefix="vigil-supervise-")
    notify_path = os.path.join(directory, "notify.sock")
    sock = notify_socket(notify_path)
    sock.setblocking(False)
    watchdog_usec = int(a.watchdog_sec * 1_000_000)

    stop = {"requested": False, "reload": False}
    def on_stop(signum, _frame):
        stop["requested"] = True
    def on_reload(signum, _frame):
        stop["reload"] = True
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_reload)
    # Started from a thread that blocks them (a test runner's), they would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD})

    starts = 0
    result = 0
    try:
        while True:
            starts += 1
            pid = spawn(command, notify_path, watchdog_usec)
            log("started", pid=pid, start=starts, notify_socket=notify_path, watchdog_usec=watchdog_usec)
            started_at = time.monotonic()
            ready = False
            reloading = False
            last_ping = None
            status = None
            failure = None
            stop_sent_at = None
            while True:
                now = time.monotonic()
                done, wait_status = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = wait_status
                    break
                if stop["reload"]:
                    stop["reload"] = False
                    if stop_sent_at is None:
                        os.kill(pid, signal.SIGHUP)
                        log("reload-requested", pid=pid, signal="SIGHUP")
                if stop["requested"] and stop_sent_at is None:
                    os.kill(pid, signal.SIGTERM)
                    stop_sent_at = now
                    log("stopping", pid=pid, by="supervisor", signal="SIGTERM")
                if stop_sent_at is not None and now - stop_sent_at > a.stop_timeout:
                    os.kill(pid, signal.SIGKILL)
                    log("stop-timeout", pid=pid, seconds=a.stop_timeout)
                    stop_sent_at = float("inf")
                if stop_sent_at is None:
                    if not ready and now - started_at > a.start_timeout:
                        failure = "start-timeout"
                        log("start-timeout", pid=pid, seconds=a.start_timeout)
                        os.kill(pid, signal.SIGKILL)
                        stop_sent_at = float("inf")
                    elif ready and watchdog_usec and now - last_ping > a.watchdog_sec:
                        failure = "watchdog"
                        log("watchdog-timeout", pid=pid, seconds_since_ping=round(now - last_ping, 3))
                        os.kill(pid, signal.SIGKILL)
                        stop_sent_at = float("inf")
                try:
                    sender, fields = receive(sock)
                except BlockingIOError:
                    time.sleep(0.05)
                    continue
                if sender != pid:
                    log("ignored", sender=sender, expected=pid, message=list(fields))
                    continue
                if fields.get("RELOADING") == "1":
                    reloading = True
                    log("reloading", pid=pid, monotonic_usec=fields.get("MONOTONIC_USEC"))
                if fields.get("READY") == "1" and reloading:
                    reloading = False
                    log("reloaded", pid=pid, status=fields.get("STATUS"))
                elif fields.get("READY") == "1":
                    ready = True
                    last_ping = time.monotonic()
                    log("ready", pid=pid, start=starts, seconds=round(last_ping - started_at, 3), status=fields.get("STATUS"))
                elif "STATUS" in fields:
                    log("status", pid=pid, status=fields["STATUS"])
                if fields.get("WATCHDOG") == "1":
                    last_ping = time.monotonic()
                    log("watchdog", pid=pid)
                if fields.get("STOPPING") == "1":
                    log("stopping", pid=pid, by="service")
            log("exited", pid=pid, ready=ready, **describe(status), **({"because": failure} if failure else {}))
            if stop["requested"]:
                log("stopped", pid=pid)
                result = 0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1
                break
            clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and failure is None
            if clean:
                log("stopped", pid=pid, reason="exited cleanly (Restart=on-failure does not restart)")
                break
            if starts > a.max_restarts:
                log("gave-up", restarts=starts - 1)
                result = 1
                break
            log("restarting", after_seconds=a.restart_sec)
            deadline = time.monotonic() + a.restart_sec
            while time.monotonic() < deadline and not stop["requested"]:
                time.sleep(0.02)
            if stop["requested"]:
                log("stopped", reason="stop requested before the restart")
                break
    finally:
        sock.close()
        try:
            os.unlink(notify_path)
            os.rmdir(directory)
        except OSError:
            pass
    return result


if __name__ == "__main__":
    sys.exit(main())
