/// The ROC curve of anomaly scores (higher is more anomalous), as `vigil eval --roc` draws
/// it: one point per distinct score, from nothing flagged to everything flagged, under the
/// same rule as ``ROC`` (a threshold just below a score flags every trace scoring that or
/// more, so tied traces move together and the curve's area is ``ROC/auc(positives:negatives:)``).
public struct ROCCurve: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        /// Traces scoring at least this are flagged (`+infinity` at the first point).
        public var threshold: Double
        public var falseAlarmRate: Double
        public var detectionRate: Double
    }

    /// A named point where the detector would be run (e.g. "1% false alarms").
    public struct OperatingPoint: Sendable, Equatable {
        public var label: String
        public var falseAlarmRate: Double
        public var detectionRate: Double
    }

    public let points: [Point]
    /// The points `vigil eval` reports as figures: the thresholds for 1% and 5% false
    /// alarms and the lowest false-alarm rate reaching 90% detection.
    public let operatingPoints: [OperatingPoint]

    /// nil when either side is empty (there is no curve).
    public init?(positives: [Double], negatives: [Double]) {
        guard !positives.isEmpty, !negatives.isEmpty else { return nil }
        let p = Double(positives.count), n = Double(negatives.count)
        let pos = positives.sorted(by: >), neg = negatives.sorted(by: >)
        var points = [Point(threshold: .infinity, falseAlarmRate: 0, detectionRate: 0)]
        var i = 0, j = 0
        while i < pos.count || j < neg.count {
            let s = max(i < pos.count ? pos[i] : -.infinity, j < neg.count ? neg[j] : -.infinity)
            while i < pos.count, pos[i] >= s { i += 1 }
            while j < neg.count, neg[j] >= s { j += 1 }
            points.append(Point(threshold: s, falseAlarmRate: Double(j) / n, detectionRate: Double(i) / p))
        }
        self.points = points

        var marks: [OperatingPoint] = []
        for rate in [0.01, 0.05] {
            if let t = ROC.threshold(falseAlarmRate: rate, negatives: negatives),
               let far = ROC.flaggedRate(negatives, threshold: t), let dr = ROC.flaggedRate(positives, threshold: t) {
                marks.append(OperatingPoint(label: "\(Int(rate * 100))% false alarms", falseAlarmRate: far, detectionRate: dr))
            }
        }
        if let far = ROC.falseAlarmRate(atDetectionRate: 0.9, positives: positives, negatives: negatives) {
            let k = max(1, Int((0.9 * p - 1e-9).rounded(.up)))
            let dr = Double(pos.lazy.filter { $0 >= pos[k - 1] }.count) / p
            marks.append(OperatingPoint(label: "90% detection", falseAlarmRate: far, detectionRate: dr))
        }
        operatingPoints = marks
    }

    /// The area under the curve by the trapezoid rule (equals ``ROC/auc(positives:negatives:)``).
    public var area: Double {
        zip(points, points.dropFirst()).reduce(0) { sum, pair in
            sum + (pair.1.falseAlarmRate - pair.0.falseAlarmRate) * (pair.0.detectionRate + pair.1.detectionRate) / 2
        }
    }

    /// `threshold,false_alarm_rate,detection_rate`, one line per point (threshold `inf` first).
    public func csv() -> String {
        var out = "threshold,false_alarm_rate,detection_rate\n"
        for pt in points {
            let t = pt.threshold.isInfinite ? "inf" : "\(pt.threshold)"
            out += "\(t),\(pt.falseAlarmRate),\(pt.detectionRate)\n"
        }
        return out
    }

    /// A self-contained SVG: the curve, the chance line, the operating points, axes with
    /// ticks at every 0.2, and `title` above (escaped; e.g. the corpus and the AUC).
    public func svg(title: String) -> String {
        let size = 400.0, left = 60.0, top = 40.0
        func x(_ far: Double) -> String { fmt(left + far * size) }
        func y(_ dr: Double) -> String { fmt(top + (1 - dr) * size) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(left + size + 30))" height="\(fmt(top + size + 60))" \
        viewBox="0 0 \(fmt(left + size + 30)) \(fmt(top + size + 60))" font-family="sans-serif" font-size="12">
        <title>\(XMLText.escape(title))</title>
        <rect x="0" y="0" width="100%" height="100%" fill="white"/>
        <text x="\(fmt(left))" y="24" font-size="14">\(XMLText.escape(title))</text>

        """
        for k in 0...5 {
            let v = Double(k) / 5
            s += "<line class=\"grid\" x1=\"\(x(v))\" y1=\"\(y(0))\" x2=\"\(x(v))\" y2=\"\(y(1))\" stroke=\"#ddd\"/>\n"
            s += "<line class=\"grid\" x1=\"\(x(0))\" y1=\"\(y(v))\" x2=\"\(x(1))\" y2=\"\(y(v))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(x(v))\" y=\"\(fmt(top + size + 18))\" text-anchor=\"middle\">\(fmt(v))</text>\n"
            s += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(top + (1 - v) * size + 4))\" text-anchor=\"end\">\(fmt(v))</text>\n"
        }
        s += "<rect x=\"\(x(0))\" y=\"\(y(1))\" width=\"\(fmt(size))\" height=\"\(fmt(size))\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(fmt(left + size / 2))\" y=\"\(fmt(top + size + 40))\" text-anchor=\"middle\">false-alarm rate (normal traces flagged)</text>\n"
        s += "<text transform=\"translate(16 \(fmt(top + size / 2))) rotate(-90)\" text-anchor=\"middle\">detection rate (attack traces flagged)</text>\n"
        s += "<line id=\"chance\" x1=\"\(x(0))\" y1=\"\(y(0))\" x2=\"\(x(1))\" y2=\"\(y(1))\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>\n"
        let coords = points.map { "\(x($0.falseAlarmRate)),\(y($0.detectionRate))" }.joined(separator: " ")
        s += "<polyline id=\"roc\" points=\"\(coords)\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\"/>\n"
        for (i, m) in operatingPoints.enumerated() {
            s += "<circle class=\"operating-point\" cx=\"\(x(m.falseAlarmRate))\" cy=\"\(y(m.detectionRate))\" r=\"4\" fill=\"#c03020\"/>\n"
            let label = "\(m.label): \(fmt(m.detectionRate * 100))% detected at \(fmt(m.falseAlarmRate * 100))% false alarms"
            s += "<text x=\"\(fmt(left + size - 6))\" y=\"\(fmt(top + size - 12 - Double(operatingPoints.count - 1 - i) * 16))\" text-anchor=\"end\" fill=\"#c03020\">\(XMLText.escape(label))</text>\n"
        }
        return s + "</svg>\n"
    }

    private func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}
