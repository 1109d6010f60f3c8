import Store

extension RunsList: Renderable {
    public static let csvColumns = [
        "id", "master", "status", "started_at", "duration_s", "slaves", "requests", "failures", "requests_per_s", "p99_ms",
    ]

    public var text: String {
        guard !entries.isEmpty else { return "no runs yet\n" }
        var rows = [["id", "master", "status", "started", "took", "sl", "requests", "fails", "req/s", "p99 ms"]]
        for entry in entries {
            rows.append([
                String(entry.id), Formatting.fit(entry.master, 10), entry.status.rawValue,
                Formatting.minute(nanoseconds: entry.startedAt), Formatting.seconds(entry.durationSeconds),
                String(entry.slaves), String(entry.requests), String(entry.failures),
                Formatting.decimal(entry.requestsPerSecond, places: 1), Formatting.milliseconds(entry.p99Milliseconds),
            ])
        }
        return Formatting.table(rows, leftAligned: 0, gap: 1).map(Names.escaped).joined(separator: "\n") + "\n"
    }

    public var csv: String {
        var rows = [Self.csvColumns]
        for entry in entries {
            rows.append([
                String(entry.id), entry.master, entry.status.rawValue, Formatting.iso8601(nanoseconds: entry.startedAt),
                entry.durationSeconds.map { Formatting.decimal($0, places: 3) } ?? "", String(entry.slaves),
                String(entry.requests), String(entry.failures), Formatting.decimal(entry.requestsPerSecond, places: 1),
                Formatting.decimal(entry.p99Milliseconds, places: 3),
            ])
        }
        return Formatting.csv(rows)
    }

    public var json: String {
        struct Entry: Encodable {
            var id: Int64
            var master: String
            var status: String
            var startedAt: String
            var durationSeconds: Double?
            var slaves: Int
            var requests: UInt64
            var failures: UInt64
            var requestsPerSecond: Double
            var p99Ms: Double
        }
        return Formatting.json(
            ["runs": entries.map {
                Entry(
                    id: $0.id, master: $0.master, status: $0.status.rawValue,
                    startedAt: Formatting.iso8601(nanoseconds: $0.startedAt), durationSeconds: $0.durationSeconds,
                    slaves: $0.slaves, requests: $0.requests, failures: $0.failures,
                    requestsPerSecond: ($0.requestsPerSecond * 10).rounded() / 10, p99Ms: $0.p99Milliseconds)
            }])
    }
}
