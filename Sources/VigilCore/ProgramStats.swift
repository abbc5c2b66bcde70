/// What the kernel counted for one loaded BPF program: how often it ran and how long it
/// took in total. The kernel counts only while run-time statistics are enabled
/// (`Sensor.enableRunTimeStats()`); both figures are cumulative.
public struct ProgramStats: Sendable, Hashable {
    /// The program's name in the BPF object (e.g. `vg_sys_enter`).
    public var name: String
    /// Total time spent running the program, in nanoseconds.
    public var runTimeNanos: UInt64
    /// Number of times it ran.
    public var runCount: UInt64

    public init(name: String, runTimeNanos: UInt64, runCount: UInt64) {
        self.name = name
        self.runTimeNanos = runTimeNanos
        self.runCount = runCount
    }

    /// Mean run time in nanoseconds, or nil before the first counted run.
    public var averageNanos: Double? { runCount == 0 ? nil : Double(runTimeNanos) / Double(runCount) }
}
