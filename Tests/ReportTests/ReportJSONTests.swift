import Foundation
import Report
import Store
import TestKit
import Testing

@Suite("JSON report")
struct ReportJSONTests {
    func object(_ report: RunReport) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(report.json.utf8))
        return try #require(parsed as? [String: Any])
    }

    @Test("parses with JSONSerialization into run, slaves, total and precision")
    func topLevelKeys() async throws {
        let json = try object(try await GoldenRun.report())
        #expect(Set(json.keys) == ["run", "slaves", "total", "precision"])
        let precision = try #require(json["precision"] as? [String: Any])
        #expect(precision["unit"] as? String == "ms")
        #expect(precision["resolutionMicroseconds"] as? Int == 1)
        #expect(precision["significantDigits"] as? Int == 3)
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
        #expect(total["slave"] == nil && total["status"] == nil && total["plan"] == nil)
    }

    @Test("latency objects have count, min, mean, p50, p90, p95, p99, p99.9 and max in ms")
    func latencyKeys() async throws {
        let json = try object(try await GoldenRun.report())
        let slaves = try #require(json["slaves"] as? [[String: Any]])
        let total = try #require(json["total"] as? [String: Any])
        for row in slaves + [total] {
            let latency = try #require(row["latency"] as? [String: Any])
            #expect(
                Set(latency.keys) == [
                    "count", "minMs", "meanMs", "p50Ms", "p90Ms", "p95Ms", "p99Ms", "p99_9Ms", "maxMs",
                ])
            #expect(row["uncorrectedLatency"] == nil, "not a rate-driven run")
        }
        // beta's p50 is 5000 µs, the top of its bucket 5003 µs (see ReportGoldenTests).
        let beta = try #require(slaves.last?["latency"] as? [String: Any])
        #expect(beta["p50Ms"] as? Double == 5.003)
        #expect(beta["maxMs"] as? Double == 120)
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
            let run = RunRecord(
                id: 7, master: "m", status: .aborted, startedAt: startedAt, finishedAt: startedAt + 1_000_000)
            let json = try object(RunReport(run: run, slaves: [], windows: []))
            let times = try #require(json["run"] as? [String: Any])
            let digits = String(1_000 + millisecond).dropFirst()
            #expect(times["startedAt"] as? String == "2023-11-14T22:13:20.\(digits)Z")
            let next = millisecond == 999 ? "21.000" : "20." + String(1_001 + millisecond).dropFirst()
            #expect(times["finishedAt"] as? String == "2023-11-14T22:13:\(next)Z")
        }
    }

    /// "2024-02-29T12:34:56.789Z" for `nanoseconds` since the epoch, computed with Foundation's
    /// Gregorian calendar in UTC (milliseconds truncated, towards the past).
    static func calendarISO(_ nanoseconds: Int64) -> String {
        let (seconds, nanos) =
            nanoseconds >= 0 || nanoseconds % 1_000_000_000 == 0
            ? (nanoseconds / 1_000_000_000, nanoseconds % 1_000_000_000)
            : (nanoseconds / 1_000_000_000 - 1, nanoseconds % 1_000_000_000 + 1_000_000_000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? -1)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T\(pad(parts.hour, 2)):"
            + "\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(Int(nanos / 1_000_000), 3))Z"
    }

    @Test("times match the Gregorian calendar: leap days, century years, before 1970, seeded instants")
    func calendarTimes() throws {
        let second: Int64 = 1_000_000_000
        var instants: [Int64] = [
            0, -1, 1, 999_999, 1_000_000, -second, 951_782_400 * second, 951_868_799 * second + 999_999_999,
            1_709_210_096 * second + 789_000_000, 4_107_542_400 * second, 4_102_444_800 * second - 1,
            .max, .min, -86_400 * second * 366,
        ]
        var random = SplitMix64(seed: 7)
        for _ in 0..<500 {
            // Anywhere from 1900 to 2200.
            instants.append(Int64.random(in: -2_208_988_800 * second...7_258_118_400 * second, using: &random))
        }
        for instant in instants {
            let run = RunRecord(id: 1, master: "m", status: .running, startedAt: instant, finishedAt: nil)
            let json = try object(RunReport(run: run, slaves: [], windows: []))
            let times = try #require(json["run"] as? [String: Any])
            #expect(times["startedAt"] as? String == Self.calendarISO(instant), "\(instant) ns")
        }
        // Two hand-checked instants: 2000-02-29 is a leap day (divisible by 400); 2024-02-29 too.
        #expect(Self.calendarISO(951_782_400 * second) == "2000-02-29T00:00:00.000Z")
        #expect(Self.calendarISO(1_709_210_096 * second + 789_000_000) == "2024-02-29T12:34:56.789Z")
        #expect(Self.calendarISO(-1) == "1969-12-31T23:59:59.999Z")
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
