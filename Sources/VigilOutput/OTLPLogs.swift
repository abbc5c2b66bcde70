import Foundation

/// OTLP/HTTP JSON encoding of OCSF events as log records (`otlp+http://`): one
/// `ExportLogsServiceRequest` per batch, one `LogRecord` per event.
///
/// - body: the OCSF event, as the JSON text other outputs send (a collector's processors
///   can parse it; Loki, Elastic and Splunk exporters keep it whole);
/// - `timeUnixNano`: the event's `time`; `observedTimeUnixNano`: when the batch was encoded;
/// - severity: from the event's OCSF `severity_id` (a finding's severity), with the OCSF
///   name as `severityText`;
/// - attributes `ocsf.class_uid`, `ocsf.class_name`, `ocsf.activity_id`,
///   `ocsf.activity_name`, `ocsf.type_uid` and `ocsf.uid` (`metadata.uid`, the event's
///   identity, for de-duplication downstream);
/// - resource attributes `host.name` and `service.name` = `vigil`; scope `vigil`.
///
/// 64-bit integers are JSON strings and enums numbers, as the OTLP JSON mapping specifies.
enum OTLPLogs {
    /// OCSF `severity_id` → OTLP `SeverityNumber` (1-24; 0 unspecified).
    static func severityNumber(ocsf id: Int) -> Int {
        switch id {
        case 1: 9    // Informational → INFO
        case 2: 13   // Low → WARN
        case 3: 17   // Medium → ERROR
        case 4: 19   // High → ERROR3
        case 5: 21   // Critical → FATAL
        case 6: 24   // Fatal → FATAL4
        default: 0   // Unknown (0), Other (99)
        }
    }

    /// The fields of an event line the record needs (the line is Vigil's own JSON, so a
    /// failed parse only leaves them out; the body is sent in any case).
    struct Fields {
        var timeMillis: Int64?
        var severityID: Int?
        var severity: String?
        var classUID: Int?
        var className: String?
        var activityID: Int?
        var activityName: String?
        var typeUID: Int64?
        var uid: String?

        init(_ line: OutputLine) {
            classUID = line.classUID
            uid = line.eventUID
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.bytes)) as? [String: Any] else { return }
            timeMillis = (o["time"] as? NSNumber)?.int64Value
            severityID = (o["severity_id"] as? NSNumber)?.intValue
            severity = o["severity"] as? String
            className = o["class_name"] as? String
            activityID = (o["activity_id"] as? NSNumber)?.intValue
            activityName = o["activity_name"] as? String
            typeUID = (o["type_uid"] as? NSNumber)?.int64Value
            if uid == nil { uid = (o["metadata"] as? [String: Any])?["uid"] as? String }
        }
    }

    /// The request body for a batch.
    static func body(_ lines: ArraySlice<OutputLine>, hostname: String, serviceVersion: String?, nowNanos: UInt64) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: lines.reduce(512) { $0 + $1.bytes.count * 2 + 400 })
        w.object { w in
            w.array("resourceLogs") { w in
                w.object { w in
                    w.object("resource") { w in
                        w.array("attributes") { w in
                            attribute(&w, "host.name", string: hostname)
                            attribute(&w, "service.name", string: "vigil")
                            if let serviceVersion { attribute(&w, "service.version", string: serviceVersion) }
                        }
                    }
                    w.array("scopeLogs") { w in
                        w.object { w in
                            w.object("scope") { w in
                                w.field("name", "vigil")
                                if let serviceVersion { w.field("version", serviceVersion) }
                            }
                            w.array("logRecords") { w in
                                for line in lines { record(&w, line, nowNanos: nowNanos) }
                            }
                        }
                    }
                }
            }
        }
        return w.bytes
    }

    private static func record(_ w: inout JSONWriter, _ line: OutputLine, nowNanos: UInt64) {
        let f = Fields(line)
        w.object { w in
            if let ms = f.timeMillis, ms >= 0 { w.field("timeUnixNano", String(UInt64(ms) * 1_000_000)) }
            w.field("observedTimeUnixNano", String(nowNanos))
            if let id = f.severityID {
                w.field("severityNumber", severityNumber(ocsf: id))
            }
            w.field("severityText", ifPresent: f.severity)
            w.object("body") { w in
                w.key("stringValue")
                w.string(utf8: line.bytes)
            }
            w.array("attributes") { w in
                if let v = f.classUID { attribute(&w, "ocsf.class_uid", int: Int64(v)) }
                if let v = f.className { attribute(&w, "ocsf.class_name", string: v) }
                if let v = f.activityID { attribute(&w, "ocsf.activity_id", int: Int64(v)) }
                if let v = f.activityName { attribute(&w, "ocsf.activity_name", string: v) }
                if let v = f.typeUID { attribute(&w, "ocsf.type_uid", int: v) }
                if let v = f.uid { attribute(&w, "ocsf.uid", string: v) }
            }
        }
    }

    private static func attribute(_ w: inout JSONWriter, _ key: String, string value: String) {
        w.object { w in
            w.field("key", key)
            w.object("value") { w in w.field("stringValue", value) }
        }
    }

    private static func attribute(_ w: inout JSONWriter, _ key: String, int value: Int64) {
        w.object { w in
            w.field("key", key)
            w.object("value") { w in w.field("intValue", String(value)) }
        }
    }
}
