import NIOCore
import NIOPosix
import Store
import Synchronization
import Target
import TestKit
import Testing

@testable import Engine

/// Time- and rate-driven runs against a real target: when they stop, how evenly a rate is
/// spread, and latency that counts from the intended send time.
@Suite("Run shapes: duration and rate", .serialized)
struct LoadShapeTests {
    struct Outcome: Sendable {
        var windows: [WindowCounts]
        var total: WindowCounts
        var elapsed: Duration
    }

    /// Runs one engine run, closing a window every `interval` as a slave does.
    /// `control` is made once the target is up, so its clock starts with the run.
    static func run(
        path: String, concurrency: Int, rateDriven: Bool, interval: Duration = .seconds(1),
        control makeControl: @escaping @Sendable () -> LoadControl
    ) async throws -> Outcome {
        try await withTimeout(.seconds(40)) {
            let target = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let engine = HTTPLoadEngine(group: loops)
            let recorder = engine.makeRecorder(rateDriven: rateDriven)
            let plan = LoadPlan(
                target: try LoadTarget(url: "http://127.0.0.1:\(target.port)\(path)"), tasks: 0,
                concurrency: concurrency, timeout: .seconds(10))
            let windows = WindowLog()
            let started = ContinuousClock.now
            let control = makeControl()
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        let window = recorder.close()
                        windows.append(window)
                    }
                }
                _ = await engine.run(plan, recorder: recorder, control: control)
                group.cancelAll()
            }
            let elapsed = ContinuousClock.now - started
            var total = WindowCounts(rateDriven: rateDriven)
            var all = windows.all
            all.append(recorder.close())
            for window in all { total.merge(window) }
            try? await loops.shutdownGracefully()
            try? await target.stop()
            return Outcome(windows: all, total: total, elapsed: elapsed)
        }
    }

    @Test("--duration 3s stops within 3 s ± 0.2 s, every request answered")
    func durationStopsOnTime() async throws {
        let outcome = try await Self.run(path: "/", concurrency: 8, rateDriven: false) {
            LoadControl(tasks: 0, duration: .seconds(3))
        }
        #expect(outcome.elapsed >= .milliseconds(2_800) && outcome.elapsed <= .milliseconds(3_200), "took \(outcome.elapsed)")
        #expect(outcome.total.requests > 100)
        #expect(outcome.total.failures == 0)
    }

    @Test("--rate 200 --duration 5s sends 1,000 ± 1 % requests, about 200 in every second")
    func rateIsHeldEvenly() async throws {
        let outcome = try await Self.run(path: "/", concurrency: 8, rateDriven: true) {
            LoadControl(tasks: 0, duration: .seconds(5), rate: 200)
        }
        #expect((990...1010).contains(outcome.total.requests), "sent \(outcome.total.requests)")
        #expect(outcome.total.failures == 0)
        // Evenly spaced: the full one-second windows (not the last, partial one) each hold about
        // 200, and almost every request left on time.
        for window in outcome.windows.prefix(4) {
            #expect((170...230).contains(window.requests), "a window held \(window.requests)")
        }
        // Late: more than 1 ms after its time. A debug build on a slow machine misses that by a
        // little now and then (70 of 1,000 seen, the suite alone); a scheduler that drifts or
        // sends in bursts makes most of them late.
        #expect(outcome.total.late <= 100, "\(outcome.total.late) requests started late")
        #expect(outcome.total.uncorrectedLatency?.count == outcome.total.latency.count)
    }

    @Test("a stalling server shows in the corrected percentiles, not in the uncorrected ones")
    func coordinatedOmissionIsCorrected() async throws {
        // Every 3 s the target holds every response for 1 s. At 100 requests/s on 2 connections,
        // about 100 requests are due during each stall: they wait for it, and their latency counts
        // from when they were meant to be sent. Any 7 s holds a whole stall with at least 1 s after
        // it, so its queue drains before the run's hard stop: at least 100 of about 700 requests
        // are corrected by up to 1 s, while only the 2 in flight when a stall begins see it uncorrected.
        let outcome = try await Self.run(path: "/stall/3000/1000", concurrency: 2, rateDriven: true) {
            LoadControl(tasks: 0, duration: .seconds(7), rate: 100)
        }
        let corrected = outcome.total.latency
        let uncorrected = try #require(outcome.total.uncorrectedLatency)
        #expect(corrected.microseconds(atPercentile: 90) >= 250_000, "corrected p90 \(corrected.microseconds(atPercentile: 90)) µs")
        #expect(uncorrected.microseconds(atPercentile: 90) < 100_000, "uncorrected p90 \(uncorrected.microseconds(atPercentile: 90)) µs")
        #expect(outcome.total.late > 0)
        #expect(outcome.total.failures == 0)
    }

    @Test("a stopped rate-driven run ends at once, without sending what was scheduled")
    func stopEndsARateDrivenRun() async throws {
        let outcome = try await Self.run(path: "/", concurrency: 4, rateDriven: true) {
            let control = LoadControl(tasks: 0, duration: .seconds(30), rate: 50)
            Task {
                try await Task.sleep(for: .seconds(1))
                control.stop()
            }
            return control
        }
        #expect(outcome.elapsed < .seconds(3))
        #expect(outcome.total.requests <= 60)
    }
}

final class WindowLog: Sendable {
    private let windows = Mutex<[WindowCounts]>([])
    func append(_ window: WindowCounts) { windows.withLock { $0.append(window) } }
    var all: [WindowCounts] { windows.withLock { $0 } }
}
