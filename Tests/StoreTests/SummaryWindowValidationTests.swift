import Store
import Testing

/// One way a peer can send a window that must not be stored.
struct BadWindow: Sendable, CustomTestStringConvertible {
    var testDescription: String
    /// A word the problem must contain, so the user learns which rule was broken.
    var mentions: String
    var damage: @Sendable (inout SummaryWindow) -> Void

    static let good = Fixture.window(1, "slave-1", seq: 4, requests: 3)

    var window: SummaryWindow {
        var window = Self.good
        damage(&window)
        return window
    }
}

@Suite("SummaryWindow validation")
struct SummaryWindowValidationTests {
    static let bad: [BadWindow] = [
        BadWindow(testDescription: "successes + failures != requests", mentions: "successes") { $0.successes = 3 },
        BadWindow(testDescription: "successes + failures overflow", mentions: "successes") {
            $0.successes = .max
            $0.failures = 4
        },
        BadWindow(testDescription: "more latencies than requests", mentions: "histogram") {
            $0.latency.record(microseconds: 5)
        },
        BadWindow(testDescription: "ends before it starts", mentions: "before") { $0.endedAt = $0.startedAt - 1 },
        BadWindow(testDescription: "status code 42", mentions: "42") { $0.statusCodes = [42: 1] },
        BadWindow(testDescription: "status code 1000", mentions: "1000") { $0.statusCodes = [200: 1, 1000: 1] },
        BadWindow(testDescription: "more responses than requests", mentions: "status codes") {
            $0.statusCodes = [200: 4]
        },
        BadWindow(testDescription: "response counts that overflow", mentions: "status codes") {
            $0.statusCodes = [200: .max, 503: 2]
        },
        BadWindow(testDescription: "empty slave name", mentions: "slave") { $0.slave = "" },
        BadWindow(testDescription: "run id 0", mentions: "run id") { $0.runId = 0 },
        BadWindow(testDescription: "seq beyond Int64", mentions: "seq") { $0.seq = UInt64(Int64.max) + 1 },
        BadWindow(testDescription: "bytes beyond Int64", mentions: "range") { $0.bytesReceived = .max },
    ]

    @Test("a window a slave really sends has no problem")
    func goodWindow() {
        #expect(BadWindow.good.problem == nil)
        #expect(Fixture.window(7, "s", seq: 0, requests: 1_000, isFinal: true).problem == nil)
        #expect(SummaryWindow(runId: 1, slave: "idle", seq: 0, startedAt: 5, endedAt: 5).problem == nil)
    }

    @Test("each broken rule is reported, saying which", arguments: bad)
    func badWindow(_ bad: BadWindow) throws {
        let problem = try #require(bad.window.problem)
        #expect(problem.contains(bad.mentions), "\(problem)")
    }
}
