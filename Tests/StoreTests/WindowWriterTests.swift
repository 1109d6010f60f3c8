import Dispatch
import Foundation
@testable import Store
import Testing

/// Group commit with a bounded queue: what waits is limited in windows and bytes, what does
/// not fit is refused as busy with nothing stored, and batches keep their order.
@Suite("WindowWriter")
struct WindowWriterTests {
    /// A store with one run of slaves `a`, `b`, `c`, `d`.
    static func store(in folder: TemporaryDirectory) async throws -> (RunStore, Int64) {
        let store = try RunStore.open(path: folder.path("runs.db"))
        let runId = try await store.createRun(
            master: "m", slaves: ["a", "b", "c", "d"].map { ($0, Fixture.plan) }, startedAt: 1)
        return (store, runId)
    }

    /// Holds the store's write transaction until `release` is called: windows then wait.
    final class Hold: Sendable {
        private let entered = DispatchSemaphore(value: 0)
        private let gate = DispatchSemaphore(value: 0)
        let task: Task<Void, any Error>

        init(_ store: RunStore) {
            let entered = self.entered
            let gate = self.gate
            task = Task { try await store.write { _ in entered.signal(); gate.wait() } }
        }

        func waitUntilHeld() async {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    self.entered.wait()
                    continuation.resume()
                }
            }
        }

        func release() async throws {
            gate.signal()
            try await task.value
        }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition())
    }

    @Test("windows beyond the queue's room are refused as busy, nothing of them stored; the queued ones are stored")
    func busyBeyondTheQueue() async throws {
        let folder = try TemporaryDirectory()
        let (store, runId) = try await Self.store(in: folder)
        let writer = WindowWriter(store: store, maximumQueued: 2)
        let hold = Hold(store)
        await hold.waitUntilHeld()
        // a leads (its batch is out of the queue, waiting for the transaction), b and c queue.
        let a = Task { await writer.record(Fixture.window(runId, "a", seq: 0)) }
        try await Self.waitUntil { writer.isWriting && writer.queuedWindows == 0 }
        let b = Task { await writer.record(Fixture.window(runId, "b", seq: 0)) }
        try await Self.waitUntil { writer.queuedWindows == 1 }
        let c = Task { await writer.record(Fixture.window(runId, "c", seq: 0)) }
        try await Self.waitUntil { writer.queuedWindows == 2 }
        let refused = await writer.record(Fixture.window(runId, "d", seq: 0))
        #expect(refused == .failure(.busy(queued: 2)))
        let batch = await writer.record([(Fixture.window(runId, "d", seq: 0), nil), (Fixture.window(runId, "d", seq: 1), nil)])
        #expect(batch == [.failure(.busy(queued: 2)), .failure(.busy(queued: 2))])
        #expect(StoreError.busy(queued: 2).description.contains("send it again"))
        try await hold.release()
        #expect(await a.value == .success(true))
        #expect(await b.value == .success(true))
        #expect(await c.value == .success(true))
        #expect(try Fixture.windows(store, run: runId, slave: "d").isEmpty)
        #expect(writer.queuedWindows == 0)
        // With room again, d is taken.
        #expect(await writer.record(Fixture.window(runId, "d", seq: 0)) == .success(true))
        #expect(try Fixture.windows(store, run: runId).count == 4)
    }

    @Test("the byte bound refuses what the count would take; an empty queue takes a batch larger than the bound")
    func byteBound() async throws {
        let folder = try TemporaryDirectory()
        let (store, runId) = try await Self.store(in: folder)
        let window = Fixture.window(runId, "a", seq: 0)
        let writer = WindowWriter(store: store, maximumQueued: 1_000, maximumQueuedBytes: window.approximateBytes)
        let hold = Hold(store)
        await hold.waitUntilHeld()
        let first = Task { await writer.record(window) }
        try await Self.waitUntil { writer.isWriting && writer.queuedWindows == 0 }
        // Queued alone although over the bound in bytes: the queue was empty.
        let second = Task {
            await writer.record([(Fixture.window(runId, "b", seq: 0), nil), (Fixture.window(runId, "b", seq: 1), nil)])
        }
        try await Self.waitUntil { writer.queuedWindows == 2 }
        #expect(await writer.record(Fixture.window(runId, "c", seq: 0)) == .failure(.busy(queued: 2)))
        try await hold.release()
        #expect(await first.value == .success(true))
        #expect(await second.value == [.success(true), .success(true)])
        #expect(try Fixture.windows(store, run: runId).count == 3)
    }

    @Test("a batch gets an outcome per window in its order: new, repeat, refused")
    func batchOutcomes() async throws {
        let folder = try TemporaryDirectory()
        let (store, runId) = try await Self.store(in: folder)
        let writer = WindowWriter(store: store)
        let outcomes = await writer.record([
            (Fixture.window(runId, "a", seq: 0), nil),
            (Fixture.window(runId, "a", seq: 0), nil),
            (Fixture.window(runId, "a", seq: 1, isFinal: true), 6),
            (Fixture.window(runId, "a", seq: 2), nil),
            (Fixture.window(runId, "ghost", seq: 0), nil),
        ])
        #expect(outcomes == [
            .success(true), .success(false), .success(true),
            .failure(.afterFinalWindow(runId: runId, slave: "a", finalSeq: 1)),
            .failure(.unknownRunSlave(runId: runId, slave: "ghost")),
        ])
        #expect(try Fixture.windows(store, run: runId).map(\.seq) == [0, 1])
        #expect(try store.runSlaves(runId).first { $0.slave == "a" }?.reportedRequests == 6)
        #expect(await writer.record([]) == [])
    }

    @Test("many concurrent callers, each window stored once, in batches of at most the limit")
    func concurrentCallers() async throws {
        let folder = try TemporaryDirectory()
        let (store, runId) = try await Self.store(in: folder)
        let writer = WindowWriter(store: store, maximumBatch: 3)
        let outcomes = await withTaskGroup(of: [WindowWriter.Outcome].self) { group in
            for slave in ["a", "b", "c", "d"] {
                group.addTask {
                    var outcomes: [WindowWriter.Outcome] = []
                    for seq in 0..<25 { outcomes.append(await writer.record(Fixture.window(runId, slave, seq: UInt64(seq)))) }
                    return outcomes
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(outcomes.count == 100)
        #expect(outcomes.allSatisfy { $0 == .success(true) })
        #expect(try Fixture.windows(store, run: runId).count == 100)
    }
}
