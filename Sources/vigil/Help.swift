/// The long help (`--help` discussion) of the agent commands, kept apart so each command's
/// file holds its flags and the few lines that hand them to the agent.
enum Help {
    static let learn = """
        Run it on a staging host while its services do their normal work. Every program that \
        runs (or only the executables named with --only) gets a profile: the syscalls and \
        syscall sequences (6-grams) it makes, the programs it starts, who starts it, where it \
        connects, which ports it listens on, which users it runs as, and the SHA-256 of its \
        binary. Profiles are JSON files in --models (one per program; Models/README.md), \
        saved atomically every --save-interval seconds and on exit; learning continues from \
        what the directory already holds.

        Only novelty crosses the kernel boundary: the kernel holds each profile's known \
        syscalls and n-grams in BPF maps, counts them in place, and reports only what is new.

        A profile is `stable` once its rate of never-seen behaviour has levelled off over the \
        last --window buckets of --bucket seconds (and no events were dropped meanwhile); \
        `learning` until then. `vigil profile list --models DIR` shows which.

        Examples:
          sudo vigil learn --models /var/lib/vigil/models --duration 3600
          sudo vigil learn --models ./models --only /usr/sbin/nginx --only /usr/bin/redis-server
        """

    static let monitor = """
        Every departure from a process's baseline is a finding that says what happened and \
        what the baseline holds instead: a new syscall or syscall sequence, a new program \
        executed, a new parent, destination, listening port or user, a changed binary, an \
        executable with no profile. Each adds to the process's risk score (0-100, decaying \
        with the policy's half-life); the policy maps the score to a rung of the ladder \
        alert -> deny network -> suspend -> kill. `monitor` reports the rung it would have \
        taken, with outcome "would-have-acted"; `vigil enforce` takes it. With --workload, only \
        the named workloads are judged; each finding names the rule that decided its rung \
        (unmapped.vigil_decision), so a monitor run is the dry run of an enforce run.

        Findings are OCSF Detection Finding (2004) JSON lines.

        Examples:
          sudo vigil monitor --models /var/lib/vigil/models --output file:/var/log/vigil.jsonl
          sudo vigil monitor --models /var/lib/vigil/models --workload unit:nginx --explain
        """

    static let enforce = """
        As `vigil monitor`, and the actions are really done, each reported with its outcome:
          alert         a finding event
          deny network  cgroup connect4/connect6/sendmsg hooks refuse new connections of the
                        process and its new children (they see EPERM)
          suspend       SIGSTOP; released by `vigil resume PID`, or automatically after the
                        policy's suspend-release-seconds unless the risk climbed further
          kill          SIGKILL from the kernel (bpf_send_signal) at the process's next syscall
        A deviating process's children that exec a program no baseline knows are killed at
        exec, before their first instruction. As risk decays the ladder steps back down;
        every step up or down is an event. Caps and exemptions per profile: see --policy.

        Only the declared workloads are acted on (--workload, repeatable); without one,
        enforce refuses to start unless --all-processes is given. Never acted on, whatever
        the policy: PID 1, kernel threads, Vigil and its ancestors, the session that started
        it (when interactive) and the protected programs (sshd, systemd, apt, dpkg) with their
        children, unless a workload selects them. A profile still learning is held at alert,
        and so is evidence that is only statistical (new syscall sequences, new syscalls that
        are not dangerous): acting needs something concrete.

        Examples:
          sudo vigil enforce --models /var/lib/vigil/models --workload exe:/usr/bin/redis-server
          sudo vigil enforce --models DIR --workload unit:nginx --policy /etc/vigil/policy.yaml
          sudo vigil enforce --models DIR --workload unit:nginx --dry-run --explain   # what it would do, and why
          sudo vigil enforce --models DIR --workload exe:/usr/sbin/nginx --segment    # only its learned flows
          sudo vigil enforce --models DIR --workload unit:postgresql --segment-ingress  # only its learned clients
        """

    static let run = """
        Everything the other commands take (models, policy, outputs, spool, metrics) comes \
        from one YAML file; examples/vigil.yaml documents every key. Each profile has its \
        own mode: programs Vigil has not seen start in learn (or monitor, as configured), and \
        a profile moves learn -> monitor once it has been stable (the statistic `vigil learn` \
        reports) for promotion.stable-seconds, and monitor -> enforce after \
        promotion.quiet-seconds without a deviation. Every move is an event and a metric; \
        modes survive restarts (<state>/modes.json). `mode: learn|monitor|enforce` fixes \
        every profile's mode instead.

        Signals:
          SIGHUP   reload configuration, policy and baselines (what a baseline
                   no longer holds is new again, in the kernel too; a deleted
                   baseline is removed); a file that does not load is refused
                   and reported, and what runs stays (a baseline edited into
                   garbage: the copy loaded before)
          SIGTERM  stop: probes detached, learning profiles saved, outputs
                   flushed
          SIGINT   the same

        A baseline that cannot be used (corrupt, unknown format version, unreadable, or \
        missing though modes.json holds it in monitor or enforce) stops the start with exit \
        2, naming the file; `on-bad-baseline: monitor` starts instead, judging its programs' \
        workloads in monitor mode and reporting each as an agent health finding.

        `vigil status` reads the metrics endpoint (metrics.listen) and prints it for a \
        person; GET /healthz there is 200 while the agent's loop runs and its outputs \
        deliver, 503 with the reason otherwise. deploy/vigil.service runs this command \
        under systemd (Type=notify): with NOTIFY_SOCKET set the agent sends READY=1 once \
        its probes and baselines are in, STATUS=, RELOADING=1 around SIGHUP, STOPPING=1, \
        and WATCHDOG=1 from its event loop every half of WATCHDOG_USEC. \
        scripts/supervise.py does the same where PID 1 is not systemd.

        Examples:
          sudo vigil run --config examples/vigil.yaml
          sudo vigil run --config /etc/vigil/vigil.yaml --check
        """

    static let resume = """
        With a PID, sends it SIGCONT; the enforcing agent sees the process run again and keeps \
        judging it. With --workload, asks the running agent (over its control socket) to \
        resume every process of that workload it stopped; --workload all means every workload.

        Examples:
          sudo vigil resume 4242
          sudo vigil resume --workload exe:/usr/sbin/nginx
        """

    static let mode = """
        monitor: the agent stops acting on the workload's processes immediately (the kernel \
        too: no exec guard, kill or network denial), resumes those it stopped, and goes on \
        reporting what it would do. enforce: acts again, and re-arms a workload whose circuit \
        breaker tripped. Without --workload, every workload of the agent. The agent reports \
        each change as a Mode Change event in its stream.

        Examples:
          sudo vigil mode monitor                       # the emergency brake
          sudo vigil mode enforce --workload web
        """
}
