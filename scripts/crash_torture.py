#!/usr/bin/env python3
"""Crash-consistency torture: SIGKILL `vigil learn` and `vigil run` at random moments while
they save every second on a busy host, then check what a crash may not break.

Usage (as root, from the repository):
    scripts/crash_torture.py --vigil .build/debug/vigil --kills 200 [--json OUT]

After every kill:
  - every profile in the models directory loads (`vigil profile list` exits 0: none torn);
  - no profile that was there before is gone (none lost beyond the last save);
  - only profiles and hidden temporary files are in the directory.
At the end, learning continues from the directory (one clean run that exits 0 and sweeps the
temporary files), and for `run` the spool: its syslog output points at a port where nothing
listens during the kills, so every event waits in the spool across all of them; then a
receiver (a real rsyslog) comes up and one more run delivers the spool. Every event the file
output holds must arrive, except those accepted within the last second before a kill (the
spool syncs every 200 ms; what was appended since is allowed to be lost, and nothing else).
"""
import argparse, json, os, random, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from outage_campaign import Rsyslog, free_port, uids_of_lines, unblock  # noqa: E402


def churn(d):
    """Programs of the torture's own starting all the time, so every save has work."""
    progs = []
    for name, src in (("vg-crash-a", "/bin/true"), ("vg-crash-b", "/bin/date"), ("vg-crash-c", "/bin/ls")):
        subprocess.run(["cp", src, f"{d}/{name}"], check=True)
        progs.append(f"{d}/{name}")
    loop = "while :; do " + "; ".join(f"{p} >/dev/null" for p in progs) + "; sleep 0.05; done"
    return progs, subprocess.Popen(["/bin/bash", "-c", loop])


def check_models(vigil, models, seen):
    r = subprocess.run([vigil, "profile", "list", "--models", models], capture_output=True, text=True)
    problems = []
    if r.returncode != 0:
        problems.append(f"a profile does not load: {r.stderr.strip()[:400]}")
    ids = {f[:-5] for f in os.listdir(models) if f.endswith(".json")} if os.path.isdir(models) else set()
    if not seen <= ids:
        problems.append(f"profiles saved before were lost: {sorted(seen - ids)}")
    odd = [f for f in (os.listdir(models) if os.path.isdir(models) else []) if not f.endswith(".json") and not f.startswith(".")]
    if odd:
        problems.append(f"unexpected files: {odd}")
    return ids, problems


def torture(vigil, cmd, models, kills, rng, problems):
    seen, kill_times, died = set(), [], 0
    for _ in range(kills):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=unblock)
        time.sleep(rng.uniform(1.2, 3.2))
        kill_times.append(time.time())
        p.kill()
        died += p.wait() == -signal.SIGKILL
        ids, found = check_models(vigil, models, seen)
        problems += found
        seen |= ids
    return seen, kill_times, died


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vigil", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".build/debug/vigil"))
    ap.add_argument("--kills", type=int, default=200, help="kills of each of learn and run")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("crash_torture.py loads eBPF probes: run it as root")
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    d = tempfile.mkdtemp(prefix="vigil-torture-")
    progs, gen = churn(d)
    only = sum((["--only", p] for p in progs), [])
    report = {"seed": seed, "kills": a.kills}
    problems = []
    started = time.time()
    try:
        # learn
        models = d + "/learn-models"
        seen, _, died = torture(a.vigil, [a.vigil, "learn", "--models", models, "--save-interval", "1"] + only, models, a.kills, rng, problems)
        r = subprocess.run([a.vigil, "learn", "--models", models, "--duration", "3", "--save-interval", "1"] + only, capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"learn after the kills failed: {r.stderr[-400:]}")
        temps = [f for f in os.listdir(models) if ".tmp-" in f]
        if temps:
            problems.append(f"temporary files not swept: {temps}")
        report["learn"] = {"killed_mid_work": died, "profiles": len(seen)}

        # run, with a spooled syslog output nobody receives during the kills
        port = free_port()
        events = d + "/run-events.jsonl"
        config = d + "/run.yaml"
        with open(config, "w") as f:
            f.write(f"models: {d}/run-models\nstate: {d}/run-state\nmode: learn\nevents: true\nmetrics: null\n"
                    f"workloads:\n  torture: [{', '.join('exe:' + p for p in progs)}]\n"
                    f"learn:\n  only: [{', '.join(progs)}]\n  save-interval-seconds: 1\n"
                    f"outputs:\n  - file:{events}\n  - syslog+tcp://127.0.0.1:{port}\n")
        os.makedirs(d + "/run-state", mode=0o700)
        seen, kill_times, died = torture(a.vigil, [a.vigil, "run", "--config", config], d + "/run-models", a.kills, rng, problems)
        accepted = uids_of_lines(events)
        rs = Rsyslog(d)
        rs.port = port
        with open(d + "/rsyslog.conf", "w") as f:  # the same receiver, on the port the spool waits for
            f.write(f'global(workDirectory="{d}" maxMessageSize="64k")\nmodule(load="imtcp")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{port}")\n'
                    'template(name="msgonly" type="string" string="%msg%\\n")\n'
                    f'*.* action(type="omfile" file="{rs.received}" template="msgonly")\n')
        rs.start()
        last = subprocess.Popen([a.vigil, "run", "--config", config], stdout=subprocess.DEVNULL, stderr=open(d + "/last-run.err", "w"), preexec_fn=unblock)
        time.sleep(10)
        last.send_signal(signal.SIGTERM)
        if last.wait(60) != 0:
            problems.append(f"the run after the kills exited {last.returncode}: {open(d + '/last-run.err').read()[-400:]}")
        time.sleep(2)
        rs.stop()
        got = set(uids_of_lines(rs.received))
        times = {}
        for line in open(events):
            try:
                e = json.loads(line)
                times[e["metadata"]["uid"]] = e["time"] / 1000
            except (ValueError, KeyError):
                pass
        missing = [u for u in set(accepted) if u not in got]
        unexcused = [u for u in missing if not any(0 <= k - times.get(u, 0) <= 1.0 for k in kill_times)]
        if unexcused:
            problems.append(f"{len(unexcused)} spooled events lost that were accepted more than 1 s before any kill")
        report["run"] = {"killed_mid_work": died, "profiles": len(seen), "events_accepted_before_the_end": len(set(accepted)),
                         "delivered_after_restart": len(set(accepted) & got), "lost_within_1s_of_a_kill": len(missing) - len(unexcused),
                         "lost_otherwise": len(unexcused)}
    finally:
        gen.kill()
        gen.wait()
    report["seconds"] = round(time.time() - started)
    report["problems"] = problems
    text = json.dumps(report, indent=1)
    print(text)
    if a.json:
        open(a.json, "w").write(text)
    if problems:
        print(f"kept {d} for inspection", file=sys.stderr)
        sys.exit(1)
    subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
