import Foundation
import GRPCCore
import Store
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// The master's gRPC face and run coordination, driven by raw calls over the in-process transport.
@Suite("Master over the in-process transport")
struct MasterInProcessTests {
    let store: RunStore

    init() throws {
        store = try RunStore.inMemory()
    }

    @Test("a slave that connects is welcomed with the master's name and listed by status")
    func registration() async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let slave = master.connect(.slave("s1", tasks: 250, batch: 5))
                let welcome = try await slave.next()
                #expect(welcome.kind == .welcome)
                #expect(welcome.message == "testmaster")

                let status = try await master.ask("status")
                #expect(status.contains("1 slave(s) connected"))
                #expect(status.contains("s1: 250 requests, 5 at a time"))
            }
        }
    }

    @Test("a second slave with a name already connected is refused and the first keeps its place")
    func duplicateNameRefused() async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let first = try await master.connectWelcomed("s1")
                let second = master.connect(.slave("s1", session: "another-process"))
                let error = try await second.refusal()
                #expect(error.code == .alreadyExists)
                #expect(error.message.contains("\"s1\""))
                #expect(second.pending.isEmpty)

                let runId = try await master.start([first])
                #expect(try master.store.runSlaves(runId).map(\.slave) == ["s1"])
                try await master.finish(run: runId, ["s1"])
            }
        }
    }

    @Test("the same slave process reconnecting takes its place back; another process with its name is refused")
    func reconnectWithSession() async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let first = master.connect(.slave("s1", session: testSession("s1")))
                #expect(try await first.next().kind == .welcome)
                let impostor = master.connect(.slave("s1", session: "process-b"))
                #expect(try await impostor.refusal().code == .alreadyExists)

                let again = master.connect(.slave("s1", session: testSession("s1")))
                #expect(try await again.next().kind == .welcome)
                guard case .closed = try await first.outcome.next("the old stream to close") else {
                    Issue.record("the old stream of s1 failed instead of closing")
                    return
                }
                let status = try await master.ask("status")
                #expect(status.contains("1 slave(s) connected"))

                let runId = try await master.start([again])
                #expect(try master.store.runSlaves(runId).map(\.slave) == ["s1"])
                try await master.finish(run: runId, ["s1"])
            }
        }
    }

    @Test("with a token, slaves without it or with a wrong one are refused and recorded nowhere")
    func tokenRequired() async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(.testMaster(token: "s3cret"), store: store) { master in
                let anonymous = master.connect(.slave("anonymous"))
                #expect(try await anonymous.refusal().code == .unauthenticated)
                let impostor = master.connect(.slave("impostor"), token: "guess")
                #expect(try await impostor.refusal().code == .unauthenticated)

                let answer = try await master.ask("start")
                #expect(answer.contains("no slaves are connected"))
                #expect(try master.store.runIds().isEmpty)

                let friend = master.connect(.slave("friend"), token: "s3cret")
                #expect(try await friend.next().kind == .welcome)
                let runId = try await master.start([friend])
                #expect(try master.store.runSlaves(runId).map(\.slave) == ["friend"])

                // Every call needs the token, not just Connect.
                let window = testWindow(runId: runId, slave: "friend", seq: 0, isFinal: true)
                let error = try await #require(throws: RPCError.self) { try await master.post(window) }
                #expect(error.code == .unauthenticated)
                #expect(try storedWindows(master.store, run: runId).isEmpty)
                #expect(try await master.post(window, total: 10, token: "s3cret").newlyStored)
            }
        }
    }

    @Test("start sends START with one run id to every slave and records the run and its slaves")
    func startBroadcast() async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let s1 = try await master.connectWelcomed("s1", tasks: 100, batch: 10)
                let s2 = try await master.connectWelcomed("s2", tasks: 300, batch: 3)
                let runId = try await master.start([s1, s2])
                #expect(runId > 0)

                let run = try master.store.run(runId)
                #expect(run.status == .running)
                #expect(run.master == "testmaster")
                let slaves = try master.store.runSlaves(runId)
                #expect(slaves.map(\.slave) == ["s1", "s2"])
                #expect(slaves.map(\.status) == [.running, .running])
                #expect(slaves.map(\.plan.tasks) == [100, 300])
                #expect(slaves.map(\.plan.batch) == [10, 3])

                let status = try await master.ask("status")
                #expect(status.contains("run \(runId): 0/400 requests"))
                try await master.finish(run: runId, ["s1", "s2"])
            }
        }
    }

    @Test("windows are acknowledged once stored, repeats are stored once, and final windows complete the run")
    func windowsAcknowledged() async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let s1 = try await master.connectWelcomed("s1")
                let s2 = try await master.connectWelcomed("s2")
                let runId = try await master.start([s1, s2])

                let first = testWindow(runId: runId, slave: "s1", seq: 0, successes: 90, failures: 10)
                let ack = try await master.post(first)
                #expect(ack.newlyStored)
                #expect(ack.runID == runId)
                #expect(ack.seq == 0)
                let again = try await master.post(first)
                #expect(!again.newlyStored)
                #expect(try storedWindows(master.store, run: runId, slave: "s1") == [first])

                let last = testWindow(runId: runId, slave: "s1", seq: 1, successes: 50, isFinal: true)
                #expect(try await master.post(last, total: 150).newlyStored)
                #expect(try master.store.run(runId).status == .running)
                #expect(master.finishedRuns.pending.isEmpty)
                let s1Row = try #require(try master.store.runSlaves(runId).first { $0.slave == "s1" })
                #expect(s1Row.status == .finished)
                #expect(s1Row.reportedRequests == 150)

                let only = testWindow(runId: runId, slave: "s2", seq: 0, successes: 7, isFinal: true)
                #expect(try await master.post(only, total: 7).newlyStored)
                let finished = try await master.finishedRuns.next("the end of the run")
                #expect(finished == FinishedRun(runId: runId, status: .completed))
                let run = try master.store.run(runId)
                #expect(run.status == .completed)
                #expect(run.finishedAt != nil)
                let stored = try storedWindows(master.store, run: runId)
                #expect(stored.count == 3)
                #expect(stored.reduce(0) { $0 + $1.requests } == 157)
            }
        }
    }

    @Test("a refused window is not stored and leaves the run as it was", arguments: BadSummary.all)
    func badSummaryRefused(_ bad: BadSummary) async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let s1 = try await master.connectWelcomed("s1")
                let runId = try await master.start([s1])

                var message = Result_Summary(
                    testWindow(runId: runId, slave: "s1", seq: 0, successes: 10, isFinal: true), totalRequests: 10)
                bad.spoil(&message, runId)
                let error = try await #require(throws: RPCError.self) { try await master.post(message) }
                #expect(error.code == bad.code, "\(error)")
                #expect(!error.message.isEmpty)

                #expect(try storedWindows(master.store, run: runId).isEmpty)
                #expect(try master.store.run(runId).status == .running)
                let row = try #require(try master.store.runSlaves(runId).first)
                #expect(row.status == .running)
                #expect(row.reportedRequests == nil)
                #expect(master.finishedRuns.pending.isEmpty)

                // The run carries on: the good window is still welcome.
                let good = testWindow(runId: runId, slave: "s1", seq: 0, successes: 10, isFinal: true)
                #expect(try await master.post(good, total: 10).newlyStored)
                #expect(try await master.finishedRuns.next() == FinishedRun(runId: runId, status: .completed))
            }
        }
    }

    @Test("a connect with a bad name or plan is refused and the slave is not registered", arguments: BadConnect.all)
    func badConnectRefused(_ bad: BadConnect) async throws {
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let slave = master.connect(bad.request)
                let error = try await slave.refusal()
                #expect(error.code == bad.code)
                #expect(error.message.contains(bad.mentions), "\(error.message)")
                #expect(slave.pending.isEmpty)
                #expect(try await master.ask("status").contains("no slaves connected"))
            }
        }
    }
}

/// A summary spoiled in one way, and the code the master must refuse it with.
struct BadSummary: Sendable, CustomTestStringConvertible {
    let name: String
    let code: RPCError.Code
    let spoil: @Sendable (inout Result_Summary, _ runId: Int64) -> Void

    var testDescription: String { name }

    static let all: [BadSummary] = [
        BadSummary(name: "histogram bytes that do not decode", code: .invalidArgument) { message, _ in
            message.histogram = Data([0xFF, 0xFF, 0x03, 0x42])
        },
        BadSummary(name: "an empty histogram field", code: .invalidArgument) { message, _ in
            message.histogram = Data()
        },
        BadSummary(name: "successes + failures != requests", code: .invalidArgument) { message, _ in
            message.failures = 1
        },
        BadSummary(name: "a window that ends before it starts", code: .invalidArgument) { message, _ in
            message.endedAtNs = message.startedAtNs - 1
        },
        BadSummary(name: "a status code that is not HTTP", code: .invalidArgument) { message, _ in
            message.statusCodes = [42: 10]
        },
        BadSummary(name: "more latencies than requests", code: .invalidArgument) { message, _ in
            message.requests = 2
            message.successes = 2
            message.statusCodes = [200: 2]
        },
        BadSummary(name: "run id 0", code: .invalidArgument) { message, _ in
            message.runID = 0
        },
        BadSummary(name: "an unknown run id", code: .notFound) { message, runId in
            message.runID = runId + 100
        },
        BadSummary(name: "a slave that is not in the run", code: .notFound) { message, _ in
            message.slaveName = "stranger"
        },
    ]
}

/// A connect request that must be refused, and a word the refusal must mention.
struct BadConnect: Sendable, CustomTestStringConvertible {
    let name: String
    let request: Result_ConnectRequest
    let mentions: String
    var code: RPCError.Code = .invalidArgument

    var testDescription: String { name }

    static let all: [BadConnect] = [
        BadConnect(name: "an empty slave name", request: .slave(""), mentions: "name"),
        BadConnect(
            name: "a name of 101 characters", request: .slave(String(repeating: "x", count: 101)), mentions: "name"),
        BadConnect(name: "a name with a control character", request: .slave("s\u{7}1"), mentions: "control"),
        BadConnect(name: "tasks 0", request: .slave("s1", tasks: 0), mentions: "tasks"),
        BadConnect(name: "batch 0", request: .slave("s1", batch: 0), mentions: "batch"),
        BadConnect(name: "an empty URL", request: .slave("s1", url: ""), mentions: "URL"),
        // Neither it nor the master has a plan.
        BadConnect(name: "no plan at all", request: noPlan, mentions: "neither this slave nor the master has a plan", code: .failedPrecondition),
    ]

    private static var noPlan: Result_ConnectRequest {
        var request = Result_ConnectRequest()
        request.slaveName = "s1"
        return request
    }
}

@Suite("A run that is over takes nothing more")
struct RunOverTests {
    @Test("after the run: a new window is failedPrecondition, a window stored before is newly_stored=false")
    func windowsAfterTheRun() async throws {
        let store = try RunStore.inMemory()
        try await withTimeout {
            _ = try await withInProcessMaster(store: store) { master in
                let slave = try await master.connectWelcomed("s1")
                let runId = try await master.start([slave])
                #expect(try await master.post(testWindow(runId: runId, slave: "s1", seq: 0)).newlyStored)
                #expect(try await master.post(testWindow(runId: runId, slave: "s1", seq: 1, isFinal: true), total: 20).newlyStored)
                #expect(try await master.finishedRuns.next("run \(runId) to finish").status == .completed)

                let resend = try await master.post(testWindow(runId: runId, slave: "s1", seq: 1, isFinal: true), total: 20)
                #expect(!resend.newlyStored, "a resend after the run is a repeat, not an error")
                await #expect(throws: RPCError.self) {
                    try await master.post(testWindow(runId: runId, slave: "s1", seq: 2))
                }
                do {
                    _ = try await master.post(testWindow(runId: runId, slave: "s1", seq: 1_000_000_000))
                    Issue.record("a window of a finished run was stored")
                } catch let error as RPCError {
                    #expect(error.code == .failedPrecondition, "\(error)")
                }
                #expect(try storedWindows(store, run: runId).map(\.seq) == [0, 1])
                #expect(try receivedTimes(store, run: runId).allSatisfy { $0 != nil })
            }
        }
    }
}
