import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import VigilCore

/// `vigil eval --roc`: the curve's points, its area, and the SVG and CSV it is drawn as.
@Suite struct ROCCurveTests {
    @Test func pointsAreWorkedByHandAndTiesMoveTogether() throws {
        // Scores 3 and 2 for attacks, 2 and 1 for normal traces: the tie at 2 is one step.
        let c = try #require(ROCCurve(positives: [3, 2], negatives: [2, 1]))
        #expect(c.points.map(\.falseAlarmRate) == [0, 0, 0.5, 1])
        #expect(c.points.map(\.detectionRate) == [0, 0.5, 1, 1])
        #expect(c.points.map(\.threshold) == [.infinity, 3, 2, 1])
        #expect(c.area == 0.875)
        #expect(ROCCurve(positives: [], negatives: [1]) == nil)
        #expect(ROCCurve(positives: [1], negatives: []) == nil)
    }

    @Test func itsAreaIsTheAUCTheFiguresReport() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let pos = (0..<Int.random(in: 1...40, using: &rng)).map { _ in Double(Int.random(in: 0...12, using: &rng)) }
            let neg = (0..<Int.random(in: 1...60, using: &rng)).map { _ in Double(Int.random(in: 0...9, using: &rng)) }
            let c = try #require(ROCCurve(positives: pos, negatives: neg))
            let auc = try #require(ROC.auc(positives: pos, negatives: neg))
            #expect(abs(c.area - auc) < 1e-12, "pos \(pos) neg \(neg)")
            #expect(c.points.first?.falseAlarmRate == 0 && c.points.last?.falseAlarmRate == 1 && c.points.last?.detectionRate == 1)
        }
    }

    @Test func operatingPointsAreTheReportedFigures() throws {
        let neg = (0..<100).map(Double.init)        // 0 ... 99
        let pos = (0..<10).map { Double(95 + $0) }  // 95 ... 104
        let c = try #require(ROCCurve(positives: pos, negatives: neg))
        let byLabel = Dictionary(uniqueKeysWithValues: c.operatingPoints.map { ($0.label, $0) })
        #expect(byLabel["1% false alarms"]?.falseAlarmRate == 0.01)
        #expect(byLabel["1% false alarms"]?.detectionRate == ROC.detectionRate(atFalseAlarmRate: 0.01, positives: pos, negatives: neg))
        #expect(byLabel["5% false alarms"]?.detectionRate == 1)
        #expect(byLabel["90% detection"]?.falseAlarmRate == ROC.falseAlarmRate(atDetectionRate: 0.9, positives: pos, negatives: neg))
        #expect(byLabel["90% detection"]?.detectionRate == 0.9)
    }

    @Test func theCSVHasOneLinePerPoint() throws {
        let c = try #require(ROCCurve(positives: [3, 2], negatives: [2, 1]))
        #expect(c.csv() == "threshold,false_alarm_rate,detection_rate\ninf,0.0,0.0\n3.0,0.0,0.5\n2.0,0.5,1.0\n1.0,1.0,1.0\n")
    }

    /// What an XML parser finds in the SVG.
    final class SVGShape: NSObject, XMLParserDelegate {
        var root: String?
        var polyline: [(Double, Double)] = []
        var chance: [String: String] = [:]
        var circles = 0
        var frame: [String: String] = [:]
        var title = ""
        private var inTitle = false
        func parser(_ p: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String]) {
            if root == nil { root = name }
            switch name {
            case "polyline" where a["id"] == "roc":
                polyline = (a["points"] ?? "").split(separator: " ").map { pair in
                    let xy = pair.split(separator: ",").map { Double($0) ?? .nan }
                    return (xy.first ?? .nan, xy.last ?? .nan)
                }
            case "line" where a["id"] == "chance": chance = a
            case "circle": circles += 1
            case "rect" where a["fill"] == "none": frame = a
            case "title": inTitle = true
            default: break
            }
        }
        func parser(_ p: XMLParser, foundCharacters s: String) { if inTitle { title += s } }
        func parser(_ p: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { if name == "title" { inTitle = false } }
    }

    @Test func theSVGIsValidXMLWithTheCurveTheChanceLineAndTheOperatingPoints() throws {
        let neg = (0..<50).map { Double($0 % 17) }, pos = (0..<12).map { Double(10 + $0) }
        let c = try #require(ROCCurve(positives: pos, negatives: neg))
        let svg = c.svg(title: "corpus <a&b>: per-trace AUC 0.9")
        let parser = XMLParser(data: Data(svg.utf8))
        let shape = SVGShape()
        parser.delegate = shape
        #expect(parser.parse(), "the SVG parses as XML: \(parser.parserError.map { "\($0)" } ?? "")")
        #expect(shape.root == "svg")
        #expect(shape.title == "corpus <a&b>: per-trace AUC 0.9", "the title is escaped and reads back")
        #expect(shape.circles == c.operatingPoints.count && shape.circles == 3)
        // The curve: one vertex per point, inside the frame, from its bottom-left to its top-right.
        let x0 = try #require(Double(shape.frame["x"] ?? "")), y0 = try #require(Double(shape.frame["y"] ?? ""))
        let w = try #require(Double(shape.frame["width"] ?? "")), h = try #require(Double(shape.frame["height"] ?? ""))
        #expect(shape.polyline.count == c.points.count)
        #expect(shape.polyline.allSatisfy { $0.0 >= x0 && $0.0 <= x0 + w && $0.1 >= y0 && $0.1 <= y0 + h })
        #expect(shape.polyline.first.map { $0 == (x0, y0 + h) } == true)
        #expect(shape.polyline.last.map { $0 == (x0 + w, y0) } == true)
        // The chance line joins the same two corners.
        #expect([shape.chance["x1"], shape.chance["y1"], shape.chance["x2"], shape.chance["y2"]].compactMap { $0.flatMap(Double.init) } == [x0, y0 + h, x0 + w, y0])
    }
}
