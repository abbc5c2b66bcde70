#!/usr/bin/env python3
"""Sink outage campaign: `vigil trace` delivers to a real rsyslog (TCP), a real HTTPS
collector and a real nats-server (JetStream) while each is stopped, slowed, refused TLS or
black-holed and restarted; then every sink's receipts are counted against the events the
agent accepted (its file output, which never goes down).

Usage (as root, from the repository):
    scripts/outage_campaign.py --vigil .build/debug/vigil --seconds 240 [--rate 40] [--json OUT]

Each sink is reached through a fault proxy of this script's own (netem is not available on
this kernel): `pass` forwards, `slow` forwards 512 bytes every 20 ms, `refuse` accepts and
closes at once, `garbage` answers a TLS client with plain text, `blackhole` accepts and
never answers. A mode change drops the proxy's open connections, as a failing network does.
A fourth output, HTTPS with a 64 KiB spool, is held down long enough to overflow: what it
could not keep must be reported as lost (Application Error 6008 events), not vanish.

Verdicts (exit 1 if any fails):
  nats          every accepted event arrives exactly once (the stream de-duplicates by
                Nats-Msg-Id = metadata.uid)
  https, syslog every accepted event arrives at least once; copies of a retried batch are
                counted (they carry the same metadata.uid, for the SIEM to drop)
  overflow      every accepted event arrives or is reported lost, exactly as many as lost
"""
import argparse, asyncio, json, os, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unblock():
    # A test runner's thread may have SIGTERM blocked; receivers must see it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])


class Proxy:
    """A TCP forwarder with a fault mode, run on its own asyncio loop thread."""

    def __init__(self, name, upstream_port):
        self.name, self.upstream_port, self.mode = name, upstream_port, "pass"
        self.port = free_port()
        self.conns = set()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    def set(self, mode):
        def apply():
            self.mode = mode
            for w in list(self.conns):
                w.close()
            self.conns.clear()
        self.loop.call_soon_threadsafe(apply)

    async def _client(self, reader, writer):
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError):
            writer.close()

    async def _serve(self, reader, writer):
        mode = self.mode
        if mode == "refuse":
            writer.close()
            return
        if mode == "garbage":
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        self.conns.add(writer)
        if mode == "blackhole":
            while await reader.read(65536):
                pass
            return
        port = self.upstream_port() if callable(self.upstream_port) else self.upstream_port
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        self.conns.add(uw)

        async def pipe(r, w, slow):
            try:
                while True:
                    data = await r.read(512 if slow else 65536)
                    if not data:
                        break
                    w.write(data)
                    await w.drain()
                    if slow:
                        await asyncio.sleep(0.02)
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()
        await asyncio.gather(pipe(reader, uw, mode == "slow"), pipe(ur, writer, False))


class Rsyslog:
    def __init__(self, d):
        self.d, self.port, self.proc = d, free_port(), None
        self.received = d + "/syslog.log"
        with open(d + "/rsyslog.conf", "w") as f:
            f.write(f'global(workDirectory="{d}" maxMessageSize="64k")\nmodule(load="imtcp")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n'
                    'template(name="msgonly" type="string" string="%msg%\\n")\n'
                    f'*.* action(type="omfile" file="{self.received}" template="msgonly")\n')

    def start(self):
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", self.d + "/rsyslog.conf", "-i", self.d + "/rsyslog.pid"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=unblock)
        wait_port(self.port)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class HTTPSReceiver:
    def __init__(self, d, name):
        self.d, self.name, self.proc, self.port = d, name, None, None
        self.received = f"{d}/{name}.ndjson"

    def start(self):
        port_file = f"{self.d}/{self.name}.port"
        if os.path.exists(port_file):
            os.remove(port_file)
        self.proc = subprocess.Popen([sys.executable, ROOT + "/scripts/https_test_receiver.py", port_file,
                                      self.d + "/cert.pem", self.d + "/key.pem", self.received],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=unblock)
        for _ in range(100):
            if os.path.exists(port_file):
                self.port = int(open(port_file).read())
                return
            time.sleep(0.05)
        raise SystemExit(f"the HTTPS receiver {self.name} did not start")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


class NatsServer:
    def __init__(self, d):
        self.d, self.port, self.proc = d, free_port(), None

    def start(self):
        self.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.d + "/js"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=unblock)
        wait_port(self.port)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def wait_port(port, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def uids_of_lines(path):
    """metadata.uid of every JSON object in a file of lines (anything else is skipped)."""
    out = []
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            uid = json.loads(line[start:]).get("metadata", {}).get("uid")
        except ValueError:
            continue
        if uid:
            out.append(uid)
    return out


async def nats_uids(port, subject):
    import nats
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    js = nc.jetstream()
    sub = await js.subscribe(subject, ordered_consumer=True)
    out = []
    while True:
        try:
            msg = await sub.next_msg(timeout=2)
        except Exception:
            break
        out.append(json.loads(msg.data).get("metadata", {}).get("uid"))
    await nc.close()
    return out


def count(name, got, accepted, exactly_once, lost=0):
    got_set = set(got)
    missing = len(accepted - got_set)
    dups = len(got) - len(got_set)
    if exactly_once:
        ok = missing == lost and dups == 0
    else:
        ok = missing == lost
    return {"sink": name, "accepted": len(accepted), "received": len(got), "unique": len(got_set & accepted),
            "duplicates": dups, "missing": missing, "reported_lost": lost, "ok": ok}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default=ROOT + "/.build/debug/vigil")
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--rate", type=float, default=40, help="generated programs per second")
    ap.add_argument("--json", help="write the report here too")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("outage_campaign.py loads eBPF probes (vigil trace): run it as root")
    d = tempfile.mkdtemp(prefix="vigil-outage-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/key.pem", "-out", d + "/cert.pem",
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rs, http, small, ns = Rsyslog(d), HTTPSReceiver(d, "https"), HTTPSReceiver(d, "overflow"), NatsServer(d)
    agent = None
    stop = threading.Event()  # ends the generator thread
    try:
        for s in (rs, http, small, ns):
            s.start()
        proxies = {"syslog": Proxy("syslog", rs.port), "https": Proxy("https", lambda: http.port),
                   "overflow": Proxy("overflow", lambda: small.port), "nats": Proxy("nats", ns.port)}
        # The generator: a copy of true with its own name, so the trace follows it alone.
        gen = d + "/vg-outage-gen"
        subprocess.run(["cp", "/bin/true", gen], check=True)
        truth = d + "/accepted.jsonl"
        ca = d + "/cert.pem"
        cmd = [a.vigil, "trace", "--comm", "vg-outage-gen", "--spool", d + "/spool", "--output", "file:" + truth,
               "--output", f"syslog+tcp://127.0.0.1:{proxies['syslog'].port}",
               "--output", f"https://127.0.0.1:{proxies['https'].port}/in?ca={ca}",
               "--output", f"https://127.0.0.1:{proxies['overflow'].port}/small?ca={ca}&queue=16&spool-max-bytes=65536",
               "--output", f"nats://127.0.0.1:{proxies['nats'].port}/vigil.outage"]
        agent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(d + "/trace.err", "w"), preexec_fn=unblock)
        time.sleep(2)
        if agent.poll() is not None:
            raise SystemExit(f"vigil trace exited at once ({agent.returncode}): {open(d + '/trace.err').read().strip()}")

        def generate():
            while not stop.is_set():
                subprocess.run([gen])
                time.sleep(1 / a.rate)
        t = threading.Thread(target=generate)
        t.start()
        phase = a.seconds / 8
        log = []

        def step(what, action):
            log.append({"at": round(time.time() - t0, 1), "fault": what})
            action()
        t0 = time.time()
        schedule = [
            ("all up", lambda: None),
            ("rsyslog stopped; https slowed; overflow output refused", lambda: (rs.stop(), proxies["https"].set("slow"), proxies["overflow"].set("refuse"))),
            ("rsyslog restarted; https normal; nats-server killed and restarted",
             lambda: (rs.start(), proxies["https"].set("pass"), ns.stop(), time.sleep(1), ns.start())),
            ("https collector killed; syslog slowed", lambda: (http.stop(), proxies["syslog"].set("slow"))),
            ("https collector restarted behind a proxy refusing TLS; syslog normal",
             lambda: (http.start(), proxies["https"].set("garbage"), proxies["syslog"].set("pass"))),
            ("nats black-holed; https normal", lambda: (proxies["nats"].set("blackhole"), proxies["https"].set("pass"))),
            ("rsyslog killed and restarted; nats normal", lambda: (proxies["nats"].set("pass"), rs.stop(), time.sleep(0.5), rs.start())),
            ("all up; overflow output back", lambda: proxies["overflow"].set("pass")),
        ]
        for what, action in schedule:
            step(what, action)
            time.sleep(phase)
        stop.set()
        t.join()
        agent.send_signal(signal.SIGINT)
        try:
            agent.wait(120)
        except subprocess.TimeoutExpired:
            agent.kill()
            raise SystemExit("vigil trace did not stop within 120 s of SIGINT")
        time.sleep(3)  # receivers write asynchronously

        accepted_all = uids_of_lines(truth)
        accepted = set(accepted_all)
        lost = 0
        for line in open(truth):
            e = json.loads(line)
            if e.get("class_uid") == 6008 and "/small" in e.get("unmapped", {}).get("loss_source", ""):
                lost += int(e.get("count", 0))
        report = {
            "seconds": a.seconds, "rate": a.rate, "agent_exit": agent.returncode, "faults": log,
            "sinks": [
                count("syslog+tcp (rsyslog)", uids_of_lines(rs.received), accepted, exactly_once=False),
                count("https (ndjson)", uids_of_lines(http.received), accepted, exactly_once=False),
                count("nats (JetStream)", asyncio.run(nats_uids(ns.port, "vigil.outage")), accepted, exactly_once=True),
                count("https, 64 KiB spool (overflow)", uids_of_lines(small.received), accepted, exactly_once=False, lost=lost),
            ],
        }
        for s in (rs, http, small, ns):
            s.stop()
        text = json.dumps(report, indent=1)
        print(text)
        if a.json:
            open(a.json, "w").write(text)
        ok = agent.returncode == 0 and len(accepted) > 0 and all(s["ok"] for s in report["sinks"])
        if ok:
            subprocess.run(["rm", "-rf", d])
        else:
            print(f"kept {d} for inspection", file=sys.stderr)
        sys.exit(0 if ok else 1)
    finally:
        # Whatever ended the campaign, nothing it started outlives it (a receiver left
        # behind would also hold the caller's pipes open).
        stop.set()
        if agent is not None and agent.poll() is None:
            agent.kill()
        for s in (rs, http, small, ns):
            s.stop()


if __name__ == "__main__":
    main()
