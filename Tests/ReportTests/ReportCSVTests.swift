import Report
import Store
import Testing

@Suite("CSV report")
struct ReportCSVTests {
    static let oddName = "we,ird \"one\""
    static let lineBreakName = "two\r\nlines"
    static let names = ["alpha", lineBreakName, oddName, "zulu"]

    /// A run whose slaves are `alpha`, `zulu`, a name with a comma and quotes and one with a line
    /// break; large counts so that grouping separators would show.
    func oddReport() async throws -> RunReport {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(
            master: "m", slaves: Self.names.map { ($0, Fixture.plan) }, startedAt: Fixture.t0)
        for (index, name) in Self.names.enumerated() {
            let requests: UInt64 = 1_234_567 * UInt64(index + 1)
            try await store.recordWindow(
                SummaryWindow(
                    runId: runId, slave: name, seq: 0, startedAt: Fixture.t0,
                    endedAt: Fixture.t0 + 7 * Fixture.second / 2, requests: requests, successes: requests,
                    bytesReceived: 9_876_543_210, statusCodes: [200: requests],
                    latency: histogram([(1_234, requests - 1), (2_345_678, 1)]), isFinal: true))
        }
        try await store.finishRun(runId, status: .completed, at: Fixture.t0 + 4 * Fixture.second)
        return try RunReport(store: store, runId: runId)
    }

    func column(_ name: String) throws -> Int {
        try #require(RunReport.csvColumns.firstIndex(of: name), "no column \(name)")
    }

    @Test("the header row is RunReport.csvColumns, with status codes and errors")
    func header() async throws {
        let records = try #require(parseCSV(try await GoldenRun.report().csv))
        #expect(records.first == RunReport.csvColumns)
        #expect(RunReport.csvColumns.count == 25)
        for name in ["error_percent", "bytes_per_s", "mean_ms", "p95_ms", "p99_9_ms", "late", "status_codes", "errors"]
        {
            #expect(RunReport.csvColumns.contains(name), "\(name)")
        }
    }

    @Test("every row has as many fields as the header", arguments: [false, true])
    func sameFieldCount(odd: Bool) async throws {
        let report = odd ? try await oddReport() : try await GoldenRun.report()
        let records = try #require(parseCSV(report.csv))
        #expect(records.count == report.slaves.count + 2)
        for record in records {
            #expect(record.count == RunReport.csvColumns.count, "\(record)")
        }
    }

    @Test("slave names with commas, quotes and line breaks are quoted per RFC 4180 and read back unchanged")
    func quoting() async throws {
        let csv = try await oddReport().csv
        #expect(csv.contains(",\"we,ird \"\"one\"\"\","))
        #expect(csv.contains(",\"two\r\nlines\","))
        let records = try #require(parseCSV(csv))
        let slave = try column("slave")
        #expect(records.dropFirst().map { $0[slave] } == Self.names + [""])
    }

    @Test("every line ends with CRLF, the last one too, and there is no bare CR or LF outside quotes")
    func lineEndings() async throws {
        for report in [try await GoldenRun.report(), try await oddReport()] {
            let csv = report.csv
            let scalars = Array(csv.unicodeScalars)
            #expect(scalars.suffix(2) == ["\r", "\n"])
            #expect(!csv.hasSuffix("\r\n\r\n"))
            for (index, scalar) in scalars.enumerated() {
                if scalar == "\n" { #expect(index > 0 && scalars[index - 1] == "\r", "bare LF at \(index)") }
                if scalar == "\r" {
                    #expect(index + 1 < scalars.count && scalars[index + 1] == "\n", "bare CR at \(index)")
                }
            }
            // One line break per record, plus the one inside the quoted name.
            let inNames = report.slaves.filter { $0.name.unicodeScalars.contains("\n") }.count
            #expect(scalars.filter { $0 == "\n" }.count == report.slaves.count + 2 + inNames)
        }
    }

    @Test("numbers are plain decimals: digits, at most one \".\", no grouping")
    func plainNumbers() async throws {
        let records = try #require(parseCSV(try await oddReport().csv))
        let text = try ["scope", "slave", "name", "status", "status_codes", "errors", "thresholds"].map(column)
        for record in records.dropFirst() {
            for (index, field) in record.enumerated() where !text.contains(index) {
                let parts = field.split(separator: ".", omittingEmptySubsequences: false)
                #expect(
                    (1...2).contains(parts.count)
                        && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) },
                    "\(RunReport.csvColumns[index]) = \(field)")
            }
        }
        // alpha: 1234567 requests in 3.5 s = 352733.43/s; 9876543210 bytes / 3.5 s = 2821869488.57/s;
        // 1234566 latencies of 1234 µs and one of 2345678 µs, which HdrHistogram keeps in
        // 2344960 ... 2347007: mean (1234566 × 1234 + 2345984) / 1234567 = 1235.90 µs.
        let alpha = records[1]
        let expected = [
            "requests": "1234567", "successes": "1234567", "failures": "0", "error_percent": "0.000",
            "duration_s": "3.500",
            "requests_per_s": "352733.4", "bytes_received": "9876543210", "bytes_per_s": "2821869488.6",
            "min_ms": "1.234",
            "mean_ms": "1.236", "p50_ms": "1.234", "p99_9_ms": "1.234", "max_ms": "2345.678", "late": "0",
            "status_codes": "200:1234567", "errors": "",
        ]
        for (name, value) in expected {
            #expect(alpha[try column(name)] == value, "\(name)")
        }
        let total = try #require(records.last)
        #expect(total[try column("requests")] == "12345670")
        #expect(total[try column("bytes_received")] == "39506172840")
        #expect(total[try column("status_codes")] == "200:12345670")
    }

    @Test("status codes are ordered by code, errors by frequency, as \"key:count\" joined by \";\"")
    func countColumns() async throws {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: Fixture.t0)
        try await store.recordWindow(
            Fixture.window(
                runId, "a", seq: 0, startSecond: 0, latencies: Array(repeating: 1_000, count: 12),
                codes: [503: 1, 200: 5, 404: 2], errors: ["timeout": 1, "connect": 3]))
        let records = try #require(parseCSV(try RunReport(store: store, runId: runId).csv))
        for record in records.dropFirst() {
            #expect(record[try column("status_codes")] == "200:5;404:2;503:1")
            #expect(record[try column("errors")] == "connect:3;timeout:1")
            // 503s and errors fail: 1 + 4 of 12.
            #expect(record[try column("failures")] == "5")
            #expect(record[try column("error_percent")] == "41.667")
        }
    }

    @Test("rows are one per slave by name, then the total scope row")
    func rowOrder() async throws {
        let records = try #require(parseCSV(try await oddReport().csv))
        let scope = try column("scope")
        let run = try column("run")
        let status = try column("status")
        #expect(records.dropFirst().map { $0[scope] } == ["slave", "slave", "slave", "slave", "total"])
        #expect(records.dropFirst().map { $0[status] } == ["finished", "finished", "finished", "finished", ""])
        #expect(records.dropFirst().allSatisfy { $0[run] == "1" })
    }
}
