import Store
extension Timeline: Renderable {
    public static let csvColumns = [
        "run", "slave", "name", "bucket_start", "offset_s", "requests", "failures", "requests_per_s", "p50_ms", "p90_ms",
        "p99_ms", "max_ms",
    ]

    static let percentiles: [Double] = [50, 90, 99]

    public var text: String {
        var scope = slave.map { "slave \($0)" } ?? "all slaves"
        if let name { scope += " · request name \(name)" }
        var lines = ["run \(runId) timeline · every \(Formatting.seconds(Double(every) / 1e9)) · \(scope)"]
        var rows = [["time", "offset", "requests", "failures", "req/s", "p50", "p90", "p99", "max"]]
        for bucket in buckets {
            var cells = [
                Formatting.clock(nanoseconds: bucket.start), "+" + Formatting.seconds(offset(bucket)),
                String(bucket.requests), String(bucket.failures), Formatting.decimal(bucket.requestsPerSecond, places: 1),
            ]
            cells += Self.percentiles.map { Formatting.milliseconds(bucket.latency.milliseconds(atPercentile: $0)) }
            cells.append(Formatting.milliseconds(bucket.latency.maxMilliseconds))
            rows.append(cells)
        }
        lines += Formatting.table(rows, leftAligned: 1)
        lines.append("latency in ms; " + Precision.text)
        return lines.map(Names.escaped).joined(separator: "\n") + "\n"
    }

    public var csv: String {
        var rows = [Self.csvColumns]
        for bucket in buckets {
            var cells = [
                String(runId), slave ?? "", name ?? "", Formatting.iso8601(nanoseconds: bucket.start),
                Formatting.decimal(offset(bucket), places: 3), String(bucket.requests), String(bucket.failures),
                Formatting.decimal(bucket.requestsPerSecond, places: 1),
            ]
            cells += Self.percentiles.map { Formatting.decimal(bucket.latency.milliseconds(atPercentile: $0), places: 3) }
            cells.append(Formatting.decimal(bucket.latency.maxMilliseconds, places: 3))
            rows.append(cells)
        }
        return Formatting.csv(rows)
    }

    public var json: String {
        struct Bucket: Encodable {
            var start: String
            var offsetSeconds: Double
            var requests: UInt64
            var failures: UInt64
            var requestsPerSecond: Double
            var latency: JSONLatency
        }
        struct Document: Encodable {
            var run: Int64
            var slave: String?
            var name: String?
            var everySeconds: Double
            var buckets: [Bucket]
        }
        return Formatting.json(
            Document(
                run: runId, slave: slave, name: name, everySeconds: Double(every) / 1e9,
                buckets: buckets.map {
                    Bucket(
                        start: Formatting.iso8601(nanoseconds: $0.start), offsetSeconds: offset($0),
                        requests: $0.requests, failures: $0.failures,
                        requestsPerSecond: ($0.requestsPerSecond * 10).rounded() / 10, latency: JSONLatency($0.latency))
                }))
    }

    func offset(_ bucket: Bucket) -> Double { Double(bucket.start - runStartedAt) / 1e9 }
}
