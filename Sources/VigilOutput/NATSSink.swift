/// Publishes each line to a NATS JetStream subject and waits for the stream's
/// acknowledgement before counting it delivered (`nats://HOST:PORT/SUBJECT`).
///
/// Each message carries the event's `metadata.uid` as `Nats-Msg-Id`, and the stream (created
/// if missing, file-backed) keeps a duplicate window of ``duplicateWindowSeconds``: a line
/// sent again after a lost acknowledgement, a reconnect or a spool replay within the window
/// is stored once. The sink never reconnects behind the worker's back: any failure closes
/// the connection, the worker spools and retries, and the next delivery connects afresh.
/// A batch is published without waiting between messages, then the sink waits for every
/// acknowledgement; the messages not acknowledged are the ones retried.
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
        let r = c.publishBatch(subject: subject, lines.map { ($0.bytes, $0.eventUID) }, stream: stream)
        duplicates += r.duplicates
        guard let error = r.error else {
            if r.acknowledged.allSatisfy({ $0 }) { return }
            throw DeliveryFailure(.transient(retryAfter: nil), "stream \(stream) on \(settings.url) acknowledged \(r.acknowledged.filter { $0 }.count) of \(lines.count) events")
        }
        c.close()
        connection = nil
        let failure = DeliveryFailure(error.unauthorized ? .unauthorized : .transient(retryAfter: nil), error.description)
        guard r.acknowledged.contains(true) else { throw failure }
        // The acknowledged ones are delivered: only the rest are sent again.
        var failed: [Int: DeliveryFailure] = [:]
        for (i, ok) in r.acknowledged.enumerated() where !ok { failed[i] = failure }
        throw PartialDelivery(failed: failed)
    }

    func close() {
        connection?.close()
        connection = nil
    }
}
