import Report
import Store
import Testing

@Suite("CSV report")
struct ReportCSVTests {
    static let oddName = "we,ird \"one\""

    /// A run whose slaves are `alpha`, `zulu` and a name with a comma and quotes; large counts so
    /// that grouping separators would show.
    func oddReport() async throws -> RunReport {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(
            master: "m", slaves: ["alpha", Self.oddName, "zulu"].map { ($0, Fixture.plan) }, startedAt: Fixture.t0)
        for (index, name) in ["alpha", Self.oddName, "zulu"].enumerated() {
            let requests: UInt64 = 1_234_567 * UInt64(index + 1)
            var latency = LatencyHistogram()
            latency.record(microseconds: 1_234, count: requests - 1)
            latency.record(microseconds: 2_345_678)
            try await store.recordWindow(
                SummaryWindow(
                    runId: runId, slave: name, seq: 0, startedAt: Fixture.t0,
                    endedAt: Fixture.t0 + 7 * Fixture.second / 2, requests: requests, successes: requests,
                    bytesReceived: 9_876_543_210, statusCodes: [200: requests], latency: latency, isFinal: true))
        }
        try await store.finishRun(runId, status: .completed, at: Fixture.t0 + 4 * Fixture.second)
        return try RunReport(store: store, runId: runId)
    }

    @Test("the header row is RunReport.csvColumns")
    func header() async throws {
        let records = try #require(parseCSV(try await GoldenRun.report().csv))
        #expect(records.first == RunReport.csvColumns)
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

    @Test("a slave name with a comma and quotes is quoted per RFC 4180 and reads back unchanged")
    func quoting() async throws {
        let csv = try await oddReport().csv
        #expect(csv.contains(",\"we,ird \"\"one\"\"\","))
        let records = try #require(parseCSV(csv))
        let slaveColumn = try #require(RunReport.csvColumns.firstIndex(of: "slave"))
        #expect(records.dropFirst().map { $0[slaveColumn] } == ["alpha", Self.oddName, "zulu", ""])
    }

    @Test("every line ends with CRLF and there is no bare CR or LF")
    func lineEndings() async throws {
        for report in [try await GoldenRun.report(), try await oddReport()] {
            let csv = report.csv
            let scalars = Array(csv.unicodeScalars)
            #expect(scalars.suffix(2) == ["\r", "\n"])
            for (index, scalar) in scalars.enumerated() {
                if scalar == "\n" { #expect(index > 0 && scalars[index - 1] == "\r", "bare LF at \(index)") }
                if scalar == "\r" { #expect(index + 1 < scalars.count && scalars[index + 1] == "\n", "bare CR at \(index)") }
            }
            #expect(scalars.filter { $0 == "\n" }.count == report.slaves.count + 2)
        }
    }

    @Test("numbers are plain decimals: digits, at most one \".\", no grouping")
    func plainNumbers() async throws {
        let records = try #require(parseCSV(try await oddReport().csv))
        let text = ["scope", "slave", "status"].compactMap { RunReport.csvColumns.firstIndex(of: $0) }
        for record in records.dropFirst() {
            for (column, field) in record.enumerated() where !text.contains(column) {
                let parts = field.split(separator: ".", omittingEmptySubsequences: false)
                #expect(
                    (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) },
                    "\(RunReport.csvColumns[column]) = \(field)")
            }
        }
        // alpha: 1234567 requests in 3.5 s; 9876543210 bytes; max 2345.678 ms.
        let alpha = records[1]
        #expect(alpha[4] == "1234567")
        #expect(alpha[7] == "3.500")
        #expect(alpha[8] == "352733.4")
        #expect(alpha[9] == "9876543210")
        #expect(alpha[14] == "2345.678")
        let total = try #require(records.last)
        #expect(total[4] == "7407402")
        #expect(total[9] == "29629629630")
    }

    @Test("rows are one per slave by name, then the total scope row")
    func rowOrder() async throws {
        let records = try #require(parseCSV(try await oddReport().csv))
        let scope = try #require(RunReport.csvColumns.firstIndex(of: "scope"))
        let slave = try #require(RunReport.csvColumns.firstIndex(of: "slave"))
        let run = try #require(RunReport.csvColumns.firstIndex(of: "run"))
        #expect(records.dropFirst().map { $0[scope] } == ["slave", "slave", "slave", "total"])
        #expect(records.dropFirst().map { $0[slave] } == ["alpha", Self.oddName, "zulu", ""])
        #expect(records.dropFirst().allSatisfy { $0[run] == "1" })
    }
}
