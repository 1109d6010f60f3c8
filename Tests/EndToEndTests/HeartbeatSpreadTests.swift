import Foundation
import Protocol
import Synchronization
import Testing

/// The master's heartbeats go out spread over the second, not in one burst. Timed: runs in the
/// timed pass.
@Suite("Heartbeats spread over the second", .serialized)
struct HeartbeatSpreadTests {
    @Test("40 slaves: each gets a heartbeat a second, and in any second they come at many different moments")
    func spread() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(["--db", "runs.db", "--slave-timeout", "60s"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let slaves = (0..<40).map { peer.connect("s\($0)", session: "session-\($0)") }
        defer { slaves.forEach { $0.close() } }
        for slave in slaves { _ = try await slave.next(.welcome) }
        try await Task.sleep(for: .seconds(3.5))
        let times = slaves.map { $0.heartbeats.withLock { $0 } }
        // About one a second each.
        for (index, heard) in times.enumerated() {
            #expect((2...5).contains(heard.count), "s\(index) heard \(heard.count) heartbeats in 3.5 s")
        }
        // In a burst they would all come within a few milliseconds; spread, they fill the second.
        let all = times.flatMap { $0 }.sorted()
        let first = try #require(all.first)
        let oneSecond = all.filter { $0 - first < .seconds(1) }
        let spread = try #require(oneSecond.last) - first
        #expect(spread >= .milliseconds(500), "the heartbeats of one second came within \(spread)")
    }

    @Test("a slave whose windows the master stores every second skips its own heartbeats: the stored window says it is alive")
    func windowsStandForHeartbeats() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let master = BusyMaster(busyFor: .zero, streams: true)
        let (status, stderr) = try await withFakeMaster(master) { port in
            let slave = try ChildProcess(
                ["slave", "--master", "127.0.0.1:\(port)", "--name", "quiet", "--duration", "6s", "--rate", "50",
                 "--url", "http://127.0.0.1:\(targetPort)/"],
                in: folder.url)
            defer { slave.terminate() }
            return (try await slave.waitForExit(timeout: .seconds(60)), slave.stderr)
        }
        #expect(status == 0, "\(stderr)")
        let seen = master.shared.seen.withLock { $0 }
        #expect(seen.stored.count >= 6, "\(seen)")
        // One a second without windows: 6 or 7 in this session.
        #expect(seen.heartbeats <= 3, "\(seen)")
    }
}
