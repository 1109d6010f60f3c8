extension SummaryWindow {
    /// The largest count (requests, bytes, dropped ...) one window may claim: far above what any
    /// slave measures in a window, far below what sums of many windows would overflow.
    public static let maximumCount: UInt64 = 1 << 48
    /// At most this many error kinds per window, each at most this many bytes.
    public static let maximumErrorKinds = 64
    public static let maximumErrorKindBytes = 64

    /// Why this window cannot be stored, or nil if it can. A peer can send anything: the master
    /// checks every window before it touches the database.
    public var problem: String? {
        if let problem = Names.problem(slave: slave) { return problem }
        if runId <= 0 { return "run id \(runId) is not a run" }
        if seq > UInt64(Int64.max) { return "seq \(seq) is out of range" }
        if endedAt < startedAt { return "the window ends (\(endedAt)) before it starts (\(startedAt))" }
        if let problem = Self.countsProblem(
            requests: requests, successes: successes, failures: failures, bytes: [bytesReceived, bytesSent, dropped, connections],
            statusCodes: statusCodes, errors: errors, latencies: encodedLatency.count)
        {
            return problem
        }
        if let uncorrected = encodedUncorrectedLatency, uncorrected.count != encodedLatency.count {
            return "the uncorrected histogram holds \(uncorrected.count) latencies, the corrected one \(encodedLatency.count)"
        }
        if let failed = encodedFailureLatency, failed.count > failures {
            return "the failure histogram holds \(failed.count) times for \(failures) failures"
        }
        if let handshakes = encodedHandshakeLatency, handshakes.count > connections {
            return "the handshake histogram holds \(handshakes.count) times for \(connections) connections"
        }
        if late > requests {
            return "\(late) late requests out of \(requests)"
        }
        return byName.isEmpty ? nil : namesProblem
    }

    /// Why the per-name counts do not hold together, or nil: each name as valid as a window,
    /// names unique, and their counts adding up to the window's.
    private var namesProblem: String? {
        if byName.count > PlannedRequest.maximumNames {
            return "\(byName.count) request names; a plan has at most \(PlannedRequest.maximumNames)"
        }
        var seen: Set<String> = []
        var requests: UInt64 = 0
        var successes: UInt64 = 0
        var failures: UInt64 = 0
        var latencies: UInt64 = 0
        var received: UInt64 = 0
        var sent: UInt64 = 0
        var codes: [Int: UInt64] = [:]
        var kinds: [String: UInt64] = [:]
        for part in byName {
            if let problem = Names.problem(part.name, what: "request name", maximumBytes: PlannedRequest.maximumNameBytes) {
                return problem
            }
            let name = "request name \"\(Names.quoted(part.name))\""
            guard seen.insert(part.name).inserted else { return "\(name) comes twice" }
            if let problem = Self.countsProblem(
                requests: part.requests, successes: part.successes, failures: part.failures,
                bytes: [part.bytesReceived, part.bytesSent], statusCodes: part.statusCodes, errors: part.errors,
                latencies: part.latency.count)
            {
                return "\(name): \(problem)"
            }
            // Each part is at most 2^48 and there are at most 64: no sum overflows.
            requests += part.requests
            successes += part.successes
            failures += part.failures
            latencies += part.latency.count
            received += part.bytesReceived
            sent += part.bytesSent
            codes.merge(part.statusCodes, uniquingKeysWith: +)
            kinds.merge(part.errors, uniquingKeysWith: +)
        }
        if requests != self.requests || successes != self.successes || failures != self.failures {
            return "the request names count \(requests) requests (\(successes) successes, \(failures) failures), the window \(self.requests) (\(self.successes), \(self.failures))"
        }
        if received > bytesReceived || sent > bytesSent {
            return "the request names count more bytes than the window"
        }
        if latencies != encodedLatency.count {
            return "the request names' histograms hold \(latencies) latencies, the window's \(encodedLatency.count)"
        }
        if codes.filter({ $0.value != 0 }) != statusCodes.filter({ $0.value != 0 }) {
            return "the request names' status codes do not add up to the window's"
        }
        if kinds.filter({ $0.value != 0 }) != errors.filter({ $0.value != 0 }) {
            return "the request names' error kinds do not add up to the window's"
        }
        return nil
    }

    /// The rules for the counts of a window, or of one request name's part of it.
    static func countsProblem(
        requests: UInt64, successes: UInt64, failures: UInt64, bytes: [UInt64], statusCodes: [Int: UInt64],
        errors: [String: UInt64], latencies: UInt64
    ) -> String? {
        let (sum, overflow) = successes.addingReportingOverflow(failures)
        if overflow || sum != requests {
            return "successes (\(successes)) + failures (\(failures)) != requests (\(requests))"
        }
        let limit = maximumCount
        if requests > limit || bytes.contains(where: { $0 > limit }) {
            return "counts out of range (a window holds at most \(limit) requests, bytes, dropped requests or connections)"
        }
        if latencies > requests {
            return "the histogram holds \(latencies) latencies for \(requests) requests"
        }
        guard let responses = Self.sum(statusCodes.values), responses <= requests else {
            return "status codes count more responses than the \(requests) requests"
        }
        guard let errored = Self.sum(errors.values), errored <= failures else {
            return "error kinds count more failures than the \(failures) failures"
        }
        if let bad = statusCodes.keys.first(where: { !(100...999).contains($0) }) {
            return "status code \(bad) is not an HTTP status"
        }
        if errors.count > maximumErrorKinds {
            return "\(errors.count) error kinds; at most \(maximumErrorKinds)"
        }
        for kind in errors.keys {
            if let problem = Names.problem(kind, what: "error kind", maximumBytes: maximumErrorKindBytes) {
                return problem
            }
        }
        return nil
    }

    /// The sum, or nil if it overflows.
    private static func sum(_ counts: some Sequence<UInt64>) -> UInt64? {
        var total: UInt64 = 0
        for count in counts {
            let (next, overflow) = total.addingReportingOverflow(count)
            if overflow { return nil }
            total = next
        }
        return total
    }
}

/// The rules for names that travel on the wire and end up in reports (slave names, error
/// kinds): one check everywhere, and messages that quote a name only in part and escaped.
public enum Names {
    public static let maximumSlaveNameBytes = 100

    public static func problem(slave name: String) -> String? {
        problem(name, what: "slave name", maximumBytes: maximumSlaveNameBytes)
    }

    /// Why `name` is not acceptable, or nil: empty, longer than `maximumBytes` of UTF-8, or
    /// holding control characters.
    public static func problem(_ name: String, what: String, maximumBytes: Int) -> String? {
        if name.isEmpty { return "the \(what) is empty; use a short name of letters, digits, - and _" }
        if name.utf8.count > maximumBytes {
            return "the \(what) \"\(quoted(name))\" is \(name.utf8.count) bytes long; keep it to \(maximumBytes)"
        }
        if name.unicodeScalars.contains(where: isUnsafe) {
            return "the \(what) \"\(quoted(name))\" contains control characters; use letters, digits, - and _"
        }
        return nil
    }

    /// Control characters (C0, DEL, C1) and the bidirectional overrides that can disguise text
    /// in a terminal.
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || (0x202A...0x202E).contains(scalar.value)
            || (0x2066...0x2069).contains(scalar.value)
    }

    /// At most 32 characters of `name`, control characters shown as `\u{…}`: safe to print.
    public static func quoted(_ name: String, limit: Int = 32) -> String {
        let scalars = name.unicodeScalars
        guard scalars.count > limit else { return escaped(name) }
        var head = String.UnicodeScalarView()
        head.append(contentsOf: scalars.prefix(limit))
        return escaped(String(head)) + "…"
    }

    /// `text` with every control character shown as `\u{…}`: for printing stored names (a
    /// database written by an older version or by hand may hold anything).
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            out += isUnsafe(scalar) ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return out
    }
}
