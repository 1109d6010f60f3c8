import Foundation
import Report
import Store
import Testing

@Suite("Runs list")
struct RunsListTests {
    /// The golden run (1), then run 2 by master "m,2", still running: one slave, one window
    /// 0 ... 2 s of 4 requests at 1000 µs, one a 503.
    func twoRuns() async throws -> RunStore {
        let store = try RunStore.inMemory()
        _ = try await GoldenRun.store(in: store)
        let second = try await store.createRun(master: "m,2", slaves: [("s", Fixture.plan)], startedAt: Fixture.t0)
        try await store.recordWindow(
            Fixture.window(second, "s", seq: 0, from: 0, to: 2 * Fixture.second, latencies: [(1_000, 4)], failures: 1))
        return store
    }

    /// Hand-checked: run 1 as in `ReportGoldenTests` (5 s from start to finish, 2 slaves, 10
    /// requests, 3 failures, 10 / 3 s of windows = 3.3 req/s, p99 120 ms). Run 2 has no end yet, so
    /// its duration runs to its last window's end, 2 s; 4 requests / 2 s = 2.0 req/s; p99 = the 4th
    /// of 4 = 1000 µs. The master "m,2" is quoted.
    static let csvLines = [
        "id,master,status,started_at,duration_s,slaves,requests,failures,requests_per_s,p99_ms",
        "1,testmaster,partial,2023-11-14T22:13:20.000Z,5.000,2,10,3,3.3,120.000",
        "2,\"m,2\",running,2023-11-14T22:13:20.000Z,2.000,1,4,1,2.0,1.000",
    ]

    @Test("one entry per run, oldest first, with the requests, failures and p99 of its report")
    func oneEntryPerRun() async throws {
        let store = try await twoRuns()
        let third = try await store.createRun(master: "empty", slaves: [("s", Fixture.plan)], startedAt: Fixture.t0)
        let list = try RunsList(store: store)
        #expect(list.entries.map(\.id) == [1, 2, third])
        for entry in list.entries {
            let report = try RunReport(store: store, runId: entry.id)
            #expect(entry.requests == report.total.requests)
            #expect(entry.failures == report.total.failures)
            #expect(entry.p99Milliseconds == report.total.milliseconds(atPercentile: 99))
            #expect(entry.slaves == report.slaves.count)
            #expect(entry.master == report.header.master && entry.status == report.header.status)
        }
        #expect(list.entries.map(\.requests) == [10, 4, 0])
        #expect(list.entries.map(\.failures) == [3, 1, 0])
        #expect(list.entries.map(\.p99Milliseconds) == [120, 1, 0])
        #expect(list.entries.map(\.durationSeconds) == [5, 2, nil])
    }

    @Test("the CSV matches the hand-checked lines; the odd master name reads back unchanged")
    func csv() async throws {
        let list = try RunsList(store: try await twoRuns())
        #expect(list.csv == Self.csvLines.map { $0 + "\r\n" }.joined())
        #expect(RunsList.csvColumns == Self.csvLines[0].split(separator: ",").map(String.init))
        let records = try #require(parseCSV(list.csv))
        #expect(records.map { $0[1] } == ["master", "testmaster", "m,2"])
    }

    @Test("the JSON lists the runs with stable keys")
    func json() async throws {
        let list = try RunsList(store: try await twoRuns())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(list.json.utf8)) as? [String: Any])
        let runs = try #require(object["runs"] as? [[String: Any]])
        #expect(runs.count == 2)
        #expect(
            Set(runs[0].keys) == [
                "id", "master", "status", "startedAt", "durationSeconds", "slaves", "requests", "failures",
                "requestsPerSecond", "p99Ms",
            ])
        #expect(runs.map { $0["p99Ms"] as? Double } == [120, 1])
        #expect(runs.map { $0["requestsPerSecond"] as? Double } == [3.3, 2])
    }

    @Test("the text has a line per run that fits 80 columns")
    func text() async throws {
        let text = try RunsList(store: try await twoRuns()).text
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix(" 1 testmaster partial 2023-11-14 22:13 5.0 s  2       10     3   3.3 120.00"))
        #expect(lines.allSatisfy { $0.count <= 80 })
    }

    @Test("an empty database lists no runs")
    func empty() throws {
        let list = try RunsList(store: try RunStore.inMemory())
        #expect(list.entries.isEmpty)
        #expect(list.text == "no runs yet\n")
        #expect(parseCSV(list.csv) == [RunsList.csvColumns])
    }
}
