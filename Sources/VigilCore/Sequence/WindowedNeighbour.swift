import Foundation

/// The `neighbour_windows` view: the neighbour view (``NeighbourIndex``) made fair to length.
///
/// A trace is cut into windows of ``windowLength`` calls (``WindowBagCounter``); each window's
/// 1/2-gram bag is compared with the nearest *window* bag of the training traces, cut the same
/// way. The worst window's distance `d` becomes a tail probability against the distances of
/// the training windows themselves, each measured leave-one-trace-out (to the nearest window of
/// another training trace): `p = (1 + #{normal >= d}) / (1 + N)`. A trace of `m` windows has
/// `m` draws at a small `p`, so its worst window is corrected for their number (Šidák):
/// `P = 1 - (1 - p)^m`, the chance that the worst of `m` normal windows is at least as
/// extreme. The value is `-ln P` (0 for an unremarkable trace), plus ``distanceWeight`` `* d`
/// so that traces whose worst window lies beyond every normal one still rank by distance.
///
/// Why this is fair to length: a normal window of a long trace is compared with normal
/// windows of the same size, so the bag does not drift with length; and more windows raise
/// the chance of one odd window, which `P` pays back. Windows of one trace are not
/// independent (they repeat one another), so the correction is conservative for long traces:
/// it errs towards calling them normal.
///
/// The window length is fixed, not fitted: 100 calls, five of the window view's 20-call
/// locality frames, long enough for a mix of calls to show (a request of a service is 5 to 20
/// calls) and short enough that a typical training process (median 185 to 731 calls on the
/// eligible corpora) yields several windows, so training holds windows from the middle of
/// processes, not only whole short ones.
struct WindowedNeighbour: Sendable {
    /// Calls per window.
    static let windowLength = 100
    /// Weight of the worst window's distance (at most 1) added to `-ln P`: below the smallest
    /// step of `-ln P` between two counts of a single window, `ln((N + 1) / N) > 1 / (N + 1)`,
    /// for fewer than ten million training windows.
    static let distanceWeight = 1e-7

    /// The index of every training window's bag, owned by the trace it was cut from.
    let index: NeighbourIndex
    /// The leave-one-trace-out distance of every training window, ascending.
    let normal: [Double]

    /// - Parameter windows: per training trace, the bags of its windows.
    init(windows: [[[(key: UInt64, count: UInt32)]]]) {
        var bags: [[(key: UInt64, count: UInt32)]] = [], owners: [Int] = []
        for (t, ws) in windows.enumerated() {
            for w in ws { bags.append(w); owners.append(t) }
        }
        let index = NeighbourIndex(bags: bags, owners: owners)
        var scratch: [Float] = []
        var normal: [Double] = []
        normal.reserveCapacity(bags.count)
        for (w, owner) in zip(bags, owners) {
            normal.append(index.distance(w, excluding: owner, scratch: &scratch))
        }
        self.index = index
        self.normal = normal.sorted()
    }

    /// The view's value for a trace of `windows` windows whose worst window is at `worst`
    /// (0 for a trace without calls).
    func value(worst: Double, windows: Int) -> Double {
        Self.value(worst: worst, windows: windows, normal: normal)
    }

    /// `-ln(1 - (1 - p)^m) + distanceWeight * worst`, `p` the worst window's tail probability
    /// against `normal` (ascending); 0 for `m = 0`.
    static func value(worst: Double, windows m: Int, normal: [Double]) -> Double {
        guard m > 0 else { return 0 }
        let p = TraceDetector.tailProbability(worst, normal: normal)
        // 1 - (1 - p)^m without cancellation for small p; exactly 1 when p = 1.
        let corrected = p >= 1 ? 1 : -expm1(Double(m) * log1p(-p))
        return -log(corrected) + distanceWeight * worst
    }

    /// Bytes held: the window index and the normal distances.
    var memoryBytes: Int { index.memoryBytes + normal.count * 8 }
}

/// One caller's windowed-neighbour measurement of the trace being scanned: the worst window
/// distance so far and the number of windows, fed by a ``WindowBagCounter``.
final class WindowedNeighbourQuery {
    let neighbour: WindowedNeighbour
    private let query = NeighbourQuery()
    private var worst = 0.0
    private var windows = 0
    /// The nearest training window of the last window measured in full, and its weights by
    /// column.
    private var lastNearest = -1
    private var nearestWeights: [Float]

    init(_ neighbour: WindowedNeighbour) {
        self.neighbour = neighbour
        nearestWeights = Array(repeating: 0, count: neighbour.index.columnCount)
    }

    /// Measures one finished window. Only the worst window counts, so a window is measured
    /// in full only when it might be the worst: its distance to the previous window's nearest
    /// training window bounds its distance to the nearest, and when that bound is already
    /// below the worst so far (by more than float rounding) the walk of the postings is
    /// skipped. The windows of one process resemble each other, so most are skipped.
    func add(_ bag: [(key: UInt64, count: UInt32)]) {
        windows += 1
        if windows > 1, lastNearest >= 0,
           neighbour.index.distance(bag, dense: nearestWeights) + Self.roundingMargin <= worst {
            return
        }
        let (d, r) = neighbour.index.nearest(bag, query: query)
        worst = max(worst, d)
        setNearest(r)
    }

    private func setNearest(_ r: Int) {
        guard r != lastNearest else { return }
        neighbour.index.scatter(reference: lastNearest, into: &nearestWeights, clear: true)
        neighbour.index.scatter(reference: r, into: &nearestWeights)
        lastNearest = r
    }

    /// Above the float rounding of two ways of summing one cosine (a few dozen products).
    static let roundingMargin = 1e-5

    /// The value of the trace whose windows were added; starts the next trace.
    func take() -> (value: Double, worst: Double, windows: Int) {
        let r = (neighbour.value(worst: worst, windows: windows), worst, windows)
        worst = 0
        windows = 0
        setNearest(-1)
        return r
    }
}
