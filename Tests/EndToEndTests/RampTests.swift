import Foundation
import Store
import Testing

/// `--stages`: the rate ramps linearly through the stages (open model), and the stored
/// one-second windows follow the ramp. Timed: runs in the timed pass, alone.
@Suite("A rate that ramps through stages", .serialized)
struct RampTests {
    /// Requests meant in the first `t` seconds of 3s:400,3s:0 (1,200 in all).
    static func meant(by t: Double) -> Double {
        let t = min(max(t, 0), 6)
        if t <= 3 { return 400.0 / 3 * t * t / 2 }
        let after = t - 3
        return 600 + 400 * after - 400.0 / 3 * after * after / 2
    }

    /// Each stored window against the ramp, from the earliest window's start.
    static func expectFollowsRamp(_ store: RunStore, run: Int64, slaves: Int) throws {
        var windows: [SummaryWindow] = []
        try store.forEachWindow(ofRun: run) { windows.append($0) }
        let start = try #require(windows.map(\.startedAt).min())
        var total: UInt64 = 0
        var dropped: UInt64 = 0
        for window in windows {
            total += window.requests
            dropped += window.dropped
            let from = Double(window.startedAt - start) / 1e9
            let to = Double(window.endedAt - start) / 1e9
            let expected = (meant(by: to) - meant(by: from)) / Double(slaves)
            // Measured on 2 cores: within a few requests; the tolerance leaves room for a late tick.
            #expect(abs(Double(window.requests) - expected) <= max(25, expected * 0.15),
                "\(window.slave) window \(window.seq) (\(from)…\(to) s): \(window.requests) requests, the ramp means \(expected)")
        }
        #expect(total + dropped == 1200, "\(total) sent, \(dropped) dropped")
        #expect(dropped <= 12, "\(dropped) dropped")
    }

    @Test("run --stages 3s:400,3s:0: per-second counts follow the ramp up and down, 1,200 requests in all")
    func ramp() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let run = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/", "--stages", "3s:400,3s:0", "--batch", "32"],
            in: folder.url)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("stages 3s:400,3s:0 req/s"), "\(run.stdout)")
        try Self.expectFollowsRamp(try RunStore.openReadOnly(path: folder.path("runs.db")), run: 1, slaves: 1)
    }

    @Test("a master's stages: each of 2 slaves ramps to half of every target, together")
    func masterStages() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, masterPort) = try await startMaster(
            ["--expect-slaves", "2", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/", "--stages", "3s:400,3s:0",
             "--batch", "32"],
            in: folder.url)
        defer { master.terminate() }
        let slaves = try MasterPlanTests.slaves(["a", "b"], port: masterPort, in: folder.url)
        defer { slaves.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "\(master.stderr)")
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.runSlaves(1).allSatisfy { $0.plan.stages.map(\.target) == [200, 0] })
        try Self.expectFollowsRamp(store, run: 1, slaves: 2)
    }

    @Test("run --connection-stages 2s:8,2s:8,2s:0 against /delay/50: the requests a second follow the connections in use")
    func connectionRamp() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let run = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/delay/50", "--connection-stages", "2s:8,2s:8,2s:0"],
            in: folder.url)
        #expect(run.status == 0, "\(run.stderr)")
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.runSlaves(1).first?.plan.connectionStages.map(\.target) == [8, 8, 0])
        #expect(try store.runSlaves(1).first?.plan.batch == 8)
        var windows: [SummaryWindow] = []
        try store.forEachWindow(ofRun: 1) { windows.append($0) }
        let start = try #require(windows.map(\.startedAt).min())
        // Connections in use (0→8 over 2 s, 8 for 2 s, 8→0 over 2 s), each about 20 requests a
        // second at 50 ms: the requests a window means are 20 × the connection-seconds in it.
        func connectionSeconds(by t: Double) -> Double {
            let t = min(max(t, 0), 6)
            if t <= 2 { return 2 * t * t }
            if t <= 4 { return 8 + 8 * (t - 2) }
            let down = t - 4
            return 24 + 8 * down - 2 * down * down
        }
        for window in windows {
            let from = Double(window.startedAt - start) / 1e9
            let to = Double(window.endedAt - start) / 1e9
            let expected = 20 * (connectionSeconds(by: to) - connectionSeconds(by: from))
            #expect(abs(Double(window.requests) - expected) <= max(20, expected * 0.25),
                "window \(window.seq) (\(from)…\(to) s): \(window.requests) requests, the ramp means about \(expected)")
        }
        let connections = windows.reduce(0) { $0 + $1.connections }
        #expect(connections <= 8, "\(connections) connections opened for a ramp to 8")
    }
}
