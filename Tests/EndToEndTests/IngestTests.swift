import Foundation
import GRPCCore
import Protocol
import Store
import Synchronization
import TestKit
import Testing

/// The master's ingest through the real binary: batches of windows in one call, and a full
/// queue answered as busy, the window kept by its sender and stored when it comes again.
@Suite("Ingest: batches and a busy master")
struct IngestTests {
    @Test("a batch is refused whole only for what concerns all of it; otherwise each window gets its own outcome, and only the valid ones are stored, once")
    func batches() async throws {
        let folder = try TemporaryDirectory()
        let run = try await TwoSlaveRun.start(in: folder.url)
        defer { run.master.terminate() }
        let (peer, runId) = (run.peer, run.runId)
        func window(_ seq: UInt64, slave: String = "a", session: String = "session-a") -> Result_Summary {
            hostileWindow(run: runId, slave: slave, session: session, seq: seq)
        }

        // Refused as a whole, nothing stored.
        var wholes: [(String, [Result_Summary], RPCError.Code)] = [
            ("an empty batch", [], .invalidArgument),
            ("257 windows", (0..<257).map { window($0) }, .invalidArgument),
            ("two slaves", [window(0), window(0, slave: "b", session: "session-b")], .invalidArgument),
            ("two sessions", [window(0), window(1, session: "session-b")], .invalidArgument),
            ("a bad slave name", [window(0, slave: "a\u{0}", session: "session-a")], .invalidArgument),
        ]
        var large = window(0)
        large.histogram = Data(count: 600_000)
        wholes.append(("1.2 MB in one call", [large, large], .resourceExhausted))
        for (what, batch, expected) in wholes {
            switch await peer.post(batch: batch) {
            case .success(let outcomes): Issue.record("\(what) was taken: \(outcomes)")
            case .failure(let error): #expect(error.code == expected, "\(what): \(error)")
            }
        }

        // One call, each window on its own.
        var garbled = window(1)
        garbled.histogram = Data([0xFF, 0x13])
        var future = window(3)
        future.startedAtNs = 4_102_444_800_000_000_000
        future.endedAtNs = future.startedAtNs + 1_000_000_000
        let mixed = [window(0), garbled, window(2), window(0), future, hostileWindow(run: runId + 5, slave: "a", session: "session-a", seq: 4)]
        guard case .success(let outcomes) = await peer.post(batch: mixed) else {
            Issue.record("the mixed batch was refused whole")
            return
        }
        #expect(outcomes.map(\.code) == [0, 3, 0, 0, 3, 5], "\(outcomes)")  // OK, INVALID_ARGUMENT, NOT_FOUND
        #expect(outcomes.map(\.ack.newlyStored) == [true, false, true, false, false, false])
        #expect(outcomes[0].ack.seq == 0 && outcomes[2].ack.seq == 2 && outcomes[0].ack.runID == runId)
        #expect(outcomes[1].message.contains("summary 1"), "\(outcomes[1].message)")
        #expect(outcomes[4].message.contains("clock"), "\(outcomes[4].message)")

        // The same batch again: the stored ones are repeats now.
        guard case .success(let again) = await peer.post(batch: [window(0), window(2)]) else {
            Issue.record("the repeat was refused")
            return
        }
        #expect(again.map(\.code) == [0, 0])
        #expect(again.map(\.ack.newlyStored) == [false, false])

        // b's final window in a batch ends b; a's final ends the run.
        guard case .success(let last) = await peer.post(batch: [
            window(0, slave: "b", session: "session-b"),
            hostileWindow(run: runId, slave: "b", session: "session-b", seq: 1, isFinal: true, total: 20),
            hostileWindow(run: runId, slave: "b", session: "session-b", seq: 2),
        ]) else {
            Issue.record("b's batch was refused")
            return
        }
        #expect(last.map(\.code) == [0, 0, 9], "\(last)")  // FAILED_PRECONDITION after the final window
        #expect(await peer.post(hostileWindow(run: runId, slave: "a", session: "session-a", seq: 3, isFinal: true, total: 30)).isStored)
        #expect(try await run.storedSeqs() == ["a": [0, 2, 3], "b": [0, 1]])
    }

    @Test("on one window stream each window gets its own outcome, in order, as PostSummary would answer it; a refusal does not end the stream; only the valid windows are stored, once")
    func windowStream() async throws {
        let folder = try TemporaryDirectory()
        let run = try await TwoSlaveRun.start(in: folder.url)
        defer { run.master.terminate() }
        let (peer, runId) = (run.peer, run.runId)
        func window(_ seq: UInt64, slave: String = "a", session: String = "session-a") -> Result_Summary {
            hostileWindow(run: runId, slave: slave, session: session, seq: seq)
        }
        var garbled = window(1)
        garbled.histogram = Data([0xFF, 0x13])
        var future = window(3)
        future.startedAtNs = 4_102_444_800_000_000_000
        future.endedAtNs = future.startedAtNs + 1_000_000_000
        var large = window(3)
        large.histogram = Data(count: 1_100_000)
        let sent: [(what: String, window: Result_Summary, code: UInt32, newlyStored: Bool)] = [
            ("a's first window", window(0), 0, true),
            ("a garbled histogram", garbled, 3, false),  // INVALID_ARGUMENT
            ("a's next window", window(2), 0, true),
            ("a repeat", window(0), 0, false),
            ("a window from the future", future, 3, false),
            ("a window of another run", hostileWindow(run: runId + 5, slave: "a", session: "session-a", seq: 3), 5, false),  // NOT_FOUND
            ("a bad slave name", window(3, slave: "a\u{0}"), 3, false),
            ("another session's window", window(3, session: "session-b"), 7, false),  // PERMISSION_DENIED
            ("1.1 MB", large, 8, false),  // RESOURCE_EXHAUSTED
            ("a window after the refusals", window(3), 0, true),
            // Another slave's windows on the same stream are taken as PostSummary would take them.
            ("b's first window", window(0, slave: "b", session: "session-b"), 0, true),
            ("b's final window", hostileWindow(run: runId, slave: "b", session: "session-b", seq: 1, isFinal: true, total: 20), 0, true),
            ("b's window after its final one", window(2, slave: "b", session: "session-b"), 9, false),  // FAILED_PRECONDITION
        ]
        let outcomes = try await peer.stream(sent.map(\.window)).get()
        try #require(outcomes.count == sent.count, "\(outcomes)")
        for (entry, outcome) in zip(sent, outcomes) {
            #expect(outcome.code == entry.code, "\(entry.what): \(outcome)")
            #expect(outcome.ack.newlyStored == entry.newlyStored, "\(entry.what): \(outcome)")
            #expect(!outcome.busy, "\(entry.what): \(outcome)")
            if entry.code == 0 {
                #expect(outcome.ack.runID == runId && outcome.ack.seq == entry.window.seq, "\(entry.what): \(outcome)")
            } else {
                #expect(!outcome.message.isEmpty && !outcome.hasAck, "\(entry.what): \(outcome)")
            }
        }
        #expect(outcomes[1].message.contains("summary 1"), "\(outcomes[1].message)")
        #expect(outcomes[4].message.contains("clock"), "\(outcomes[4].message)")
        #expect(outcomes[8].message.contains("at most"), "\(outcomes[8].message)")

        // a's final window, on a stream of its own, ends the run.
        let last = try await peer.stream([hostileWindow(run: runId, slave: "a", session: "session-a", seq: 4, isFinal: true, total: 40)]).get()
        #expect(last.map(\.code) == [0], "\(last)")
        #expect(try await run.storedSeqs() == ["a": [0, 2, 3, 4], "b": [0, 1]])
    }

    @Test("a master whose queue is full says busy on the window stream, window by window; the ones sent again are all stored, each once")
    func busyOnStream() async throws {
        let folder = try TemporaryDirectory()
        let slaves = 20
        let perSlave: UInt64 = 10
        let (master, port) = try await startMaster(
            ["--expect-slaves", String(slaves), "--slave-timeout", "60s", "--ingest-queue", "1", "--db", "runs.db"],
            in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let names = (0..<slaves).map { "s\($0)" }
        let streams = names.map { peer.connect($0, session: "session-\($0)") }
        let runId = try await streams[0].next(.start).runID

        // Each slave sends all its windows on a stream at once, then again the ones answered
        // busy, until none is; its final window last.
        let results = await withTaskGroup(of: (busy: Int, newlyStored: Int, problem: String?).self) { group in
            for name in names {
                group.addTask {
                    var waiting = (0...perSlave).map {
                        hostileWindow(run: runId, slave: name, session: "session-\(name)", seq: $0, isFinal: $0 == perSlave)
                    }
                    var busy = 0
                    var newlyStored = 0
                    for _ in 0..<1_000 where !waiting.isEmpty {
                        // The final window goes only once every other one is stored.
                        let sending = waiting.count > 1 ? Array(waiting.dropLast()) : waiting
                        guard case .success(let outcomes) = await peer.stream(sending), outcomes.count == sending.count else {
                            return (busy, newlyStored, "\(name): the stream failed")
                        }
                        var again: [Result_Summary] = []
                        for (window, outcome) in zip(sending, outcomes) {
                            if outcome.code == 0 {
                                if outcome.ack.newlyStored { newlyStored += 1 }
                            } else if outcome.busy && outcome.code == 14 && outcome.message.contains("the master is busy") {
                                busy += 1
                                again.append(window)
                            } else {
                                return (busy, newlyStored, "\(name) \(window.seq): \(outcome)")
                            }
                        }
                        waiting = again + (waiting.count > 1 ? [waiting[waiting.count - 1]] : [])
                        if !again.isEmpty { try? await Task.sleep(for: .milliseconds(Int.random(in: 5...30))) }
                    }
                    return (busy, newlyStored, waiting.isEmpty ? nil : "\(name): still busy after 1,000 tries")
                }
            }
            return await group.reduce(into: [(busy: Int, newlyStored: Int, problem: String?)]()) { $0.append($1) }
        }
        let problems = results.compactMap(\.problem)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(results.map(\.busy).reduce(0, +) > 0, "no window was answered busy")
        #expect(results.map(\.newlyStored).reduce(0, +) == slaves * Int(perSlave + 1))
        #expect(try await master.waitForExit(timeout: .seconds(20)) == 0, "\(master.stderr)")
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        defer { store.close() }
        var count = 0
        try store.forEachWindow(ofRun: runId) { _ in count += 1 }
        #expect(count == slaves * Int(perSlave + 1))
    }

    @Test("a master whose queue is full answers busy; the windows posted again are all stored, each once")
    func busy() async throws {
        let folder = try TemporaryDirectory()
        let slaves = 20
        let perSlave: UInt64 = 10
        let (master, port) = try await startMaster(
            ["--expect-slaves", String(slaves), "--slave-timeout", "60s", "--ingest-queue", "1", "--db", "runs.db"],
            in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let names = (0..<slaves).map { "s\($0)" }
        let streams = names.map { peer.connect($0, session: "session-\($0)") }
        let runId = try await streams[0].next(.start).runID

        final class Counts: Sendable {
            let busy = Atomic<Int>(0)
            let newlyStored = Atomic<Int>(0)
            let messages = Mutex<Set<String>>([])
        }
        let counts = Counts()
        // Every window at once: far more than a queue of one holds.
        let failures = await withTaskGroup(of: String?.self) { group in
            for name in names {
                for seq in 0..<perSlave {
                    group.addTask {
                        let summary = hostileWindow(run: runId, slave: name, session: "session-\(name)", seq: seq)
                        for _ in 0..<1_000 {
                            switch await peer.post(summary) {
                            case .success(let ack):
                                if ack.newlyStored { counts.newlyStored.add(1, ordering: .relaxed) }
                                return nil
                            case .failure(let error)
                            where error.code == .unavailable && error.metadata[stringValues: busyMetadataKey].contains(where: { _ in true }):
                                counts.busy.add(1, ordering: .relaxed)
                                counts.messages.withLock { _ = $0.insert(error.message.replacing(/\d+/, with: "N")) }
                                try? await Task.sleep(for: .milliseconds(Int.random(in: 5...30)))
                            case .failure(let error):
                                return "\(name) \(seq): \(error)"
                            }
                        }
                        return "\(name) \(seq): still busy after 1,000 tries"
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(counts.busy.load(ordering: .relaxed) > 0, "no window was answered busy")
        #expect(counts.messages.withLock { $0 }.allSatisfy { $0.contains("the master is busy") && $0.contains("send it again") },
            "\(counts.messages.withLock { $0 })")
        #expect(counts.newlyStored.load(ordering: .relaxed) == slaves * Int(perSlave))

        // The run ends with every slave's final window.
        for name in names {
            let final = hostileWindow(run: runId, slave: name, session: "session-\(name)", seq: perSlave, isFinal: true)
            var stored = false
            for _ in 0..<1_000 where !stored {
                stored = await peer.post(final).isStored
                if !stored { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(stored, "\(name)'s final window")
        }
        #expect(try await master.waitForExit(timeout: .seconds(20)) == 0, "\(master.stderr)")
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        defer { store.close() }
        var count = 0
        try store.forEachWindow(ofRun: runId) { _ in count += 1 }
        #expect(count == slaves * Int(perSlave + 1))
        // Busy is flow control, not a fault: the master does not log each one.
        #expect(!master.stderr.contains("busy"), "\(master.stderr.suffix(500))")
    }

    @Test(
        "a real slave told busy for longer than its --reconnect-for keeps its windows and delivers them all, the ones that waited in one call; on the window stream when the master has it, else a call each",
        arguments: [true, false])
    func slaveWaitsOutBusy(streams: Bool) async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let master = BusyMaster(busyFor: .seconds(4), streams: streams)
        let (status, stderr) = try await withFakeMaster(master) { port in
            let slave = try ChildProcess(
                ["slave", "--master", "127.0.0.1:\(port)", "--name", "patient", "--duration", "3s", "--batch", "2",
                 "--url", "http://127.0.0.1:\(targetPort)/", "--reconnect-for", "1s"],
                in: folder.url)
            defer { slave.terminate() }
            return (try await slave.waitForExit(timeout: .seconds(60)), slave.stderr)
        }
        #expect(status == 0, "\(stderr)")
        let seen = master.shared.seen.withLock { $0 }
        // Told busy again and again for longer than its --reconnect-for (1 s), and never gave up.
        // (Busy for 4 s: a slave starved of CPU on a loaded machine still retries past 1 s.)
        let first = try #require(master.shared.firstPost.withLock { $0 })
        let last = try #require(master.shared.lastBusy.withLock { $0 })
        #expect(seen.busy >= 2 && last - first > .seconds(1), "\(seen), busy for \(last - first)")
        // Every window once, 0 to the final one.
        #expect(!seen.stored.isEmpty && seen.stored == Array(0..<UInt64(seen.stored.count)), "\(seen)")
        #expect(seen.finalSeq == seen.stored.last, "\(seen)")
        #expect(seen.batches >= 1, "the windows that waited came one by one: \(seen)")
        // One at a time: on one stream for the whole run, or in calls to a master without it.
        if streams {
            #expect(seen.streams == 1 && seen.streamed > 0 && seen.posts == 0, "\(seen)")
        } else {
            #expect(seen.streams == 0 && seen.posts > 0, "\(seen)")
        }
    }
}

/// A master expecting slaves "a" and "b", both connected by a peer that speaks only the proto and
/// started in one run: what the batch and stream tests post into.
struct TwoSlaveRun {
    let master: ChildProcess
    let peer: HostilePeer
    let runId: Int64
    let database: String
    /// The two Connect streams, open for the whole test.
    let connections: [HostilePeer.Commands]

    static func start(in folder: URL) async throws -> TwoSlaveRun {
        let (master, port) = try await startMaster(
            ["--expect-slaves", "2", "--slave-timeout", "60s", "--db", "runs.db"], in: folder)
        let peer = try HostilePeer(port: port)
        let a = peer.connect("a", session: "session-a")
        let b = peer.connect("b", session: "session-b")
        let runId = try await a.next(.start).runID
        #expect(try await b.next(.start).runID == runId)
        return TwoSlaveRun(
            master: master, peer: peer, runId: runId, database: folder.appendingPathComponent("runs.db").path,
            connections: [a, b])
    }

    /// Once the master has exited 0 with the run completed: each slave's stored seqs, in order.
    func storedSeqs() async throws -> [String: [UInt64]] {
        #expect(try await master.waitForExit(timeout: .seconds(20)) == 0, "\(master.stderr)")
        let store = try RunStore.openReadOnly(path: database)
        defer { store.close() }
        var stored: [String: [UInt64]] = [:]
        try store.forEachWindow(ofRun: runId) { stored[$0.slave, default: []].append($0.seq) }
        #expect(try store.run(runId).status == .completed)
        return stored.mapValues { $0.sorted() }
    }
}

extension Swift.Result<Result_SummaryAck, RPCError> {
    var isStored: Bool {
        if case .success = self { return true }
        return false
    }
}

/// A master that answers busy to every window for a while after the first one, then stores
/// them (counting each call and batch).
struct BusyMaster: FakeMasterService {
    struct Seen: Sendable, CustomStringConvertible {
        var busy = 0
        var batches = 0
        var heartbeats = 0
        /// Windows posted in a call of their own; streams opened, and windows sent on them.
        var posts = 0
        var streams = 0
        var streamed = 0
        var stored: [UInt64] = []
        var finalSeq: UInt64?
        var description: String {
            "busy \(busy), batches \(batches), posts \(posts), streams \(streams) of \(streamed) windows, heartbeats \(heartbeats), stored \(stored), final \(String(describing: finalSeq))"
        }
    }

    final class Shared: Sendable {
        let seen = Mutex(Seen())
        let firstPost = Mutex<ContinuousClock.Instant?>(nil)
        let lastBusy = Mutex<ContinuousClock.Instant?>(nil)
    }

    let busyFor: Duration
    /// Whether it takes windows on a stream (else it answers UNIMPLEMENTED, as an older master).
    let streams: Bool
    let shared = Shared()

    init(busyFor: Duration, streams: Bool) {
        self.busyFor = busyFor
        self.streams = streams
    }

    func connect(
        request: Result_ConnectRequest, response: RPCWriter<Result_ExecutionCommand>, context: ServerContext
    ) async throws {
        var command = try await welcomeAndStart(response)
        for _ in 0..<300 where shared.seen.withLock({ $0.finalSeq == nil }) {
            try await Task.sleep(for: .milliseconds(100))
            command.kind = .heartbeat
            try await response.write(command)
        }
        try await Task.sleep(for: .milliseconds(300))
        command.kind = .shutdown
        try await response.write(command)
    }

    /// Throws busy while the busy time lasts.
    private func take() throws {
        let now = ContinuousClock.now
        let first = shared.firstPost.withLock { first in
            if first == nil { first = now }
            return first ?? now
        }
        guard now - first >= busyFor else {
            shared.seen.withLock { $0.busy += 1 }
            shared.lastBusy.withLock { $0 = now }
            var metadata = Metadata()
            metadata.addString("1", forKey: busyMetadataKey)
            throw RPCError(code: .unavailable, message: "the master is busy", metadata: metadata)
        }
    }

    private func store(_ summary: Result_Summary) {
        shared.seen.withLock {
            if !$0.stored.contains(summary.seq) { $0.stored.append(summary.seq) }
            if summary.final { $0.finalSeq = summary.seq }
        }
    }

    func heartbeat(request: Result_HeartbeatRequest, context: ServerContext) async throws -> Result_HeartbeatReply {
        shared.seen.withLock { $0.heartbeats += 1 }
        return Result_HeartbeatReply()
    }

    func postSummary(request: Result_Summary, context: ServerContext) async throws -> Result_SummaryAck {
        shared.seen.withLock { $0.posts += 1 }
        try take()
        store(request)
        return stored(request)
    }

    func streamSummaries(
        request: RPCAsyncSequence<Result_Summary, any Error>, response: RPCWriter<Result_WindowOutcome>,
        context: ServerContext
    ) async throws {
        guard streams else { throw RPCError(code: .unimplemented, message: "this master takes windows in calls of their own") }
        shared.seen.withLock { $0.streams += 1 }
        for try await summary in request {
            shared.seen.withLock { $0.streamed += 1 }
            var outcome = Result_WindowOutcome()
            do {
                try take()
                store(summary)
                outcome.ack = stored(summary)
            } catch let error as RPCError {
                outcome.code = UInt32(error.code.rawValue)
                outcome.message = error.message
                outcome.busy = true
            }
            try await response.write(outcome)
        }
    }

    func postSummaries(request: Result_SummaryBatch, context: ServerContext) async throws -> Result_SummaryBatchAck {
        try take()
        shared.seen.withLock { $0.batches += 1 }
        var answer = Result_SummaryBatchAck()
        for summary in request.summaries {
            store(summary)
            var outcome = Result_WindowOutcome()
            outcome.ack = stored(summary)
            answer.outcomes.append(outcome)
        }
        return answer
    }
}

@Suite("--ingest-queue at its extremes")
struct IngestQueueFlagTests {
    @Test("0, 1,000,001 and -1 are refused before the master starts")
    func range() async throws {
        let folder = try TemporaryDirectory()
        for value in ["0", "1000001", "-1"] {
            let master = try await ChildProcess.run(
                ["master", "--port", "0", "--db", "runs.db", "--ingest-queue", value], in: folder.url)
            #expect(master.status == 64, "\(value)")
            #expect(
                master.stderr.contains("--ingest-queue must be between 1 and 1000000") || value == "-1", "\(master.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder.path("runs.db")), "--ingest-queue \(value) created the database")
        }
    }
}
