import Protocol
import Foundation
import GRPCCore
import Store
import Testing

/// Every way a run could wait forever ends it: the master decides, and an `--expect-slaves`
/// master in CI exits non-zero with a message.
@Suite("No run hangs", .serialized)
struct NoHangTests {
    /// What the heartbeats say instead of the run: another run (the slave is still busy with
    /// it and ignores START), or none (it restarted while the master was away).
    enum Busy: String, CaseIterable, Sendable {
        case anotherRun, noRun
    }

    @Test("a connected slave whose heartbeats say it runs another run or none is declared lost; the run ends partial",
        arguments: Busy.allCases)
    func slaveNotExecuting(busyWith: Busy) async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(
            ["--expect-slaves", "1", "--slave-timeout", "1s", "--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let busy = peer.connect("busy", session: "session-busy")
        let runId = try await busy.next(.start).runID
        // Alive, but busy elsewhere: it never executes this run.
        let heartbeats = Task {
            for _ in 0..<200 {
                try? await peer.heartbeat("busy", session: "session-busy", runId: busyWith == .noRun ? 0 : runId + 99)
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { heartbeats.cancel() }
        #expect(try await master.waitForExit(timeout: .seconds(30)) == 1, "master stderr:\n\(master.stderr)")
        #expect(master.stderr.contains("has not been executing run \(runId)"))
        #expect(master.stderr.contains("run \(runId) ended partial"))
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.run(runId).status == .partial)
        #expect(try store.runSlaves(runId).first?.status == .lost)
        busy.close()
    }

    @Test("--expect-slaves 2 --wait-for 1s with one slave: exit 1 saying how many came")
    func waitForMissingSlaves() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(
            ["--expect-slaves", "2", "--wait-for", "1s", "--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let lonely = peer.connect("lonely", session: "session-lonely")
        _ = try await lonely.next(.welcome)
        #expect(try await master.waitForExit(timeout: .seconds(30)) == 1)
        #expect(master.stderr.contains("only 1 of the 2 slave(s)"), "\(master.stderr)")
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.runIds().isEmpty, "no run was started")
        lonely.close()
    }
}
