import Foundation
import Report
import Store
import Testing

@Suite("JSON report")
struct ReportJSONTests {
    func object(_ report: RunReport) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(report.json.utf8))
        return try #require(parsed as? [String: Any])
    }

    @Test("parses with JSONSerialization into run, slaves and total")
    func topLevelKeys() async throws {
        let json = try object(try await GoldenRun.report())
        #expect(Set(json.keys) == ["run", "slaves", "total"])
        let run = try #require(json["run"] as? [String: Any])
        #expect(run["id"] as? Int == 1)
        #expect(run["master"] as? String == "testmaster")
        #expect(run["status"] as? String == "partial")
        let slaves = try #require(json["slaves"] as? [[String: Any]])
        #expect(slaves.map { $0["slave"] as? String } == ["alpha", "beta"])
        #expect(slaves.map { $0["status"] as? String } == ["finished", "lost"])
        #expect(json["total"] is [String: Any])
    }

    @Test("total requests, successes, failures and bytes are the sums over the slaves")
    func totalIsSum() async throws {
        let json = try object(try await GoldenRun.report())
        let slaves = try #require(json["slaves"] as? [[String: Any]])
        let total = try #require(json["total"] as? [String: Any])
        for key in ["requests", "successes", "failures", "bytesReceived"] {
            let values = slaves.compactMap { $0[key] as? Int }
            #expect(values.count == slaves.count, "\(key)")
            #expect(total[key] as? Int == values.reduce(0, +), "\(key)")
        }
        #expect(total["requests"] as? Int == 10)
        let totalLatency = try #require(total["latency"] as? [String: Any])
        #expect(totalLatency["count"] as? Int == 10)
    }

    @Test("times are ISO-8601 UTC strings ending in Z, for the instants stored")
    func isoTimes() async throws {
        let json = try object(try await GoldenRun.report())
        let run = try #require(json["run"] as? [String: Any])
        let started = try #require(run["startedAt"] as? String)
        let finished = try #require(run["finishedAt"] as? String)
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for (text, nanoseconds) in [(started, Fixture.t0), (finished, Fixture.t0 + 5 * Fixture.second)] {
            #expect(text.hasSuffix("Z"))
            let date = try #require(parser.date(from: text), "\(text)")
            #expect(date == Date(timeIntervalSince1970: TimeInterval(nanoseconds / Fixture.second)))
        }
        #expect(started == "2023-11-14T22:13:20.000Z")
        #expect(finished == "2023-11-14T22:13:25.000Z")
    }

    @Test("times with milliseconds print those milliseconds exactly, for every millisecond of a second")
    func fractionalTimes() throws {
        for millisecond in 0..<1_000 as Range<Int64> {
            let startedAt = Fixture.t0 + millisecond * 1_000_000
            let run = RunRecord(id: 7, master: "m", status: .aborted, startedAt: startedAt, finishedAt: startedAt + 1_000_000)
            let json = try object(RunReport(run: run, slaves: [], windows: []))
            let times = try #require(json["run"] as? [String: Any])
            let digits = String(1_000 + millisecond).dropFirst()
            #expect(times["startedAt"] as? String == "2023-11-14T22:13:20.\(digits)Z")
            let next = millisecond == 999 ? "21.000" : "20." + String(1_001 + millisecond).dropFirst()
            #expect(times["finishedAt"] as? String == "2023-11-14T22:13:\(next)Z")
        }
    }

    @Test("a run still going has no finishedAt and the slave is running")
    func running() async throws {
        let store = try RunStore.inMemory()
        let runId = try await store.createRun(master: "m", slaves: [("a", Fixture.plan)], startedAt: Fixture.t0)
        let json = try object(try RunReport(store: store, runId: runId))
        let run = try #require(json["run"] as? [String: Any])
        #expect(run["status"] as? String == "running")
        #expect(run["finishedAt"] == nil || run["finishedAt"] is NSNull)
        let slaves = try #require(json["slaves"] as? [[String: Any]])
        #expect(slaves.map { $0["status"] as? String } == ["running"])
        let total = try #require(json["total"] as? [String: Any])
        #expect(total["requests"] as? Int == 0)
    }
}
