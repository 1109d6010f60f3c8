extension SummaryWindow {
    /// Why this window cannot be stored, or nil if it can. A peer can send anything: the master
    /// checks every window before it touches the database.
    public var problem: String? {
        if slave.isEmpty { return "the slave name is empty" }
        if runId <= 0 { return "run id \(runId) is not a run" }
        if seq > UInt64(Int64.max) { return "seq \(seq) is out of range" }
        if endedAt < startedAt { return "the window ends (\(endedAt)) before it starts (\(startedAt))" }
        let (sum, overflow) = successes.addingReportingOverflow(failures)
        if overflow || sum != requests {
            return "successes (\(successes)) + failures (\(failures)) != requests (\(requests))"
        }
        if requests > UInt64(Int64.max) || bytesReceived > UInt64(Int64.max) || bytesSent > UInt64(Int64.max) {
            return "counts out of range"
        }
        if latency.count > requests {
            return "the histogram holds \(latency.count) latencies for \(requests) requests"
        }
        if let uncorrected = uncorrectedLatency, uncorrected.count != latency.count {
            return "the uncorrected histogram holds \(uncorrected.count) latencies, the corrected one \(latency.count)"
        }
        if late > requests {
            return "\(late) late requests out of \(requests)"
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
