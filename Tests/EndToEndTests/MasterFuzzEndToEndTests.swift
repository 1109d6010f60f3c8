import Protocol
import Foundation
import GRPCCore
import Store
import SwiftProtobuf
import TestKit
import Testing

/// Thousands of random and mutated windows at a real master process, from a peer that holds a
/// real session: the master keeps serving, stores only windows that pass its checks, and every
/// report of what it stored renders.
@Suite("Fuzzing the real master")
struct MasterFuzzEndToEndTests {
    /// The same "random" messages on every run.
    typealias Generator = SplitMix64

    @Test("2,000 fuzzed windows: no crash, every refusal a documented code, reports of what was stored render", arguments: StoreKind.allCases)
    func fuzzThroughTheBinary(store kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let database = try await TestDatabase(kind)
        defer { database.remove() }
        let (master, port) = try await startMaster(
            ["--expect-slaves", "1", "--slave-timeout", "60s", "--db", database.argument], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let slave = peer.connect("a", session: "session-a")
        let runId = try await slave.next(.start).runID
        var random = Generator(seed: 8)
        let valid: [UInt8] = try hostileWindow(run: runId, slave: "a", session: "session-a", seq: 0).serializedBytes()
        let documented: Set<RPCError.Code> = [
            .invalidArgument, .notFound, .permissionDenied, .failedPrecondition, .resourceExhausted,
        ]
        var stored = 0
        for _ in 0..<2_000 {
            var bytes = valid
            for _ in 0..<(1 + random.next() % 6) {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            guard var summary = try? Result_Summary(serializedBytes: bytes) else { continue }
            // Half keep the right session and run, so the lies reach the deeper checks.
            if random.next() % 2 == 0 {
                summary.sessionID = "session-a"
                summary.runID = runId
                summary.slaveName = "a"
            }
            if random.next() % 4 == 0 { summary.seq = random.next() % 50 }
            if random.next() % 8 == 0 { summary.requests = random.next() }
            switch await peer.post(summary) {
            case .success(let ack):
                if ack.newlyStored { stored += 1 }
            case .failure(let error):
                #expect(documented.contains(error.code), "\(error)")
            }
        }
        let final = hostileWindow(run: runId, slave: "a", session: "session-a", seq: 60, isFinal: true)
        if case .failure(let error) = await peer.post(final) { Issue.record("the final window: \(error)") }
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "\(master.stderr.suffix(2000))")
        slave.close()

        let store = try RunStore.openReadOnly(path: try await database.file(in: folder))
        var windows = 0
        try store.forEachWindow(ofRun: runId) { window in
            windows += 1
            #expect(window.problem == nil, "stored an invalid window: \(window)")
        }
        store.close()
        #expect(windows == stored + 1)
        for arguments in [
            ["report", "--run", "1"], ["report", "--run", "1", "--format", "csv"], ["report", "--run", "1", "--format", "json"],
            ["report", "--run", "1", "--timeline"], ["runs"],
        ] {
            let result = try await ChildProcess.run(arguments + ["--db", database.argument], in: folder.url)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
    }
}
