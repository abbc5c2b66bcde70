/// Publishes each line to a NATS JetStream subject and waits for the stream's
/// acknowledgement before counting it delivered (`nats://HOST:PORT/SUBJECT`).
///
/// Each message carries the event's `metadata.uid` as `Nats-Msg-Id`, and the stream (created
/// if missing, file-backed) keeps a duplicate window of ``duplicateWindowSeconds``: a line
/// sent again after a lost acknowledgement, a reconnect or a spool replay within the window
/// is stored once. The sink never reconnects behind the worker's back: any failure closes
/// the connection, the worker spools and retries, and the next delivery connects afresh.
final class NATSSink: Sink {
    /// The duplicate window the sink gives streams it creates: longer than any outage the
    /// spool is expected to bridge in one go (an existing stream keeps its own).
    static let duplicateWindowSeconds: Int64 = 600

    let name: String
    let settings: NATSSettings
    let subject: String
    let stream: String
    private var connection: NATSConnection?
    /// Lines the stream reported as duplicates (already stored under their id).
    private(set) var duplicates = 0

    init(settings: NATSSettings, subject: String, stream: String) {
        self.settings = settings
        self.subject = subject
        self.stream = stream
        self.name = "\(settings.url)/\(subject)"
    }

    deinit { close() }

    func deliver(_ lines: ArraySlice<OutputLine>) throws {
        let c: NATSConnection
        do {
            if let connection {
                c = connection
            } else {
                c = try NATSConnection(settings)
                try c.ensureStream(name: stream, subject: subject, duplicateWindowNanos: Self.duplicateWindowSeconds * 1_000_000_000)
                connection = c
            }
        } catch {
            connection?.close()
            connection = nil
            throw DeliveryFailure(error.unauthorized ? .unauthorized : .transient(retryAfter: nil), error.description)
        }
        for (i, l) in lines.enumerated() {
            do {
                if try c.publish(subject: subject, bytes: l.bytes, msgID: l.eventUID, stream: stream) { duplicates += 1 }
            } catch {
                c.close()
                connection = nil
                let failure = DeliveryFailure(error.unauthorized ? .unauthorized : .transient(retryAfter: nil), error.description)
                guard i > 0 else { throw failure }
                // The ones before were acknowledged: only the rest are sent again.
                var failed: [Int: DeliveryFailure] = [:]
                for j in i..<lines.count { failed[j] = failure }
                throw PartialDelivery(failed: failed)
            }
        }
    }

    func close() {
        connection?.close()
        connection = nil
    }
}
