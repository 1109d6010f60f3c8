import Protocol
import Foundation
import GRPCCore
import Store
import Testing

/// A real master process against a peer that speaks only the proto and lies: every refusal
/// has the documented status code, nothing refused is stored, and what was stored still makes
/// reports.
@Suite("A hostile peer against the real master")
struct HostilePeerTests {
    @Test("windows that lie about time, counts, names or their sender are refused and nothing of them is stored", arguments: StoreKind.allCases)
    func lyingWindows(store kind: StoreKind) async throws {
        let folder = try TemporaryDirectory()
        let database = try await TestDatabase(kind)
        defer { database.remove() }
        // No heartbeats from this peer: a long slave timeout keeps its slaves in the run.
        let (master, port) = try await startMaster(["--expect-slaves", "2", "--slave-timeout", "60s", "--db", database.argument], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let a = peer.connect("a", session: "session-a")
        let b = peer.connect("b", session: "session-b")
        let runId = try await a.next(.start).runID
        #expect(try await b.next(.start).runID == runId)

        func window(_ slave: String = "a", session: String = "session-a", seq: UInt64 = 0) -> Result_Summary {
            hostileWindow(run: runId, slave: slave, session: session, seq: seq)
        }
        var lies: [(String, Result_Summary, RPCError.Code)] = []
        lies.append(("b posting as a", window(session: "session-b"), .permissionDenied))
        lies.append(("no session", window(session: ""), .permissionDenied))
        var old = window()
        old.startedAtNs = -5_000_000_000_000_000_000  // 1811
        old.endedAtNs = 5_000_000_000_000_000_000  // 2128
        lies.append(("a window from 1811 to 2128", old, .invalidArgument))
        var future = window()
        future.startedAtNs = 4_102_444_800_000_000_000  // 2100
        future.endedAtNs = future.startedAtNs + 1_000_000_000
        lies.append(("a window in 2100", future, .invalidArgument))
        var long = window()
        long.startedAtNs = nowNanoseconds() - 7_200_000_000_000
        lies.append(("a window of two hours", long, .invalidArgument))
        var huge = window()
        huge.requests = 1 << 63
        huge.successes = 1 << 63
        lies.append(("2^63 requests", huge, .invalidArgument))
        var ahead = window(seq: 1_000_000_000)
        ahead.seq = 1_000_000_000
        lies.append(("seq 10^9", ahead, .invalidArgument))
        lies.append(("a 10 KB name", window(String(repeating: "x", count: 10_000)), .invalidArgument))
        lies.append(("a name with NUL", window("a\u{0}b"), .invalidArgument))
        var escape = window()
        escape.requests = 11
        escape.failures = 1
        escape.errors = ["\u{1B}[31mred": 1]
        lies.append(("an error kind with a terminal escape", escape, .invalidArgument))
        var handshakes = window()
        handshakes.connections = 1
        var times = LatencyHistogram()
        for value: UInt64 in [100, 200, 300] { times.record(microseconds: value) }
        handshakes.handshakeHistogram = Data(times.encoded())
        lies.append(("3 handshakes for 1 connection", handshakes, .invalidArgument))
        var garbled = window()
        garbled.connections = 1
        garbled.handshakeHistogram = Data([0xFF, 0x00, 0x13])
        lies.append(("a handshake histogram that does not decode", garbled, .invalidArgument))
        var connections = window()
        connections.connections = 1 << 63
        lies.append(("2^63 connections", connections, .invalidArgument))
        lies.append(("a slave not in the run", window("ghost", session: "session-ghost"), .notFound))
        lies.append(("a run that does not exist", hostileWindow(run: runId + 7, slave: "a", session: "session-a", seq: 0), .notFound))

        for (what, summary, expected) in lies {
            switch await peer.post(summary) {
            case .success(let ack):
                Issue.record("\(what) was stored: \(ack)")
            case .failure(let error):
                #expect(error.code == expected, "\(what): \(error)")
                #expect(error.message.utf8.count < 400, "\(what): the message echoes too much: \(error.message.prefix(100))")
                #expect(!error.message.contains("\u{1B}") && !error.message.contains("\u{0}"), "\(what): \(error.message)")
            }
        }

        // What is true is stored, once.
        if case .success(let ack) = await peer.post(window()) { #expect(ack.newlyStored) } else { Issue.record("a's seq 0") }
        if case .success(let ack) = await peer.post(window()) { #expect(!ack.newlyStored) } else { Issue.record("a's repeat") }
        // A final window whose total is not what was stored: kept, logged, reported.
        let final = hostileWindow(run: runId, slave: "a", session: "session-a", seq: 1, isFinal: true, total: 999)
        if case .failure(let error) = await peer.post(final) { Issue.record("a's final: \(error)") }
        #expect(await peer.code(window(seq: 2)) == .failedPrecondition, "a window after the final one")
        let bFinal = hostileWindow(run: runId, slave: "b", session: "session-b", seq: 0, isFinal: true, total: 10)
        if case .failure(let error) = await peer.post(bFinal) { Issue.record("b's final: \(error)") }

        #expect(try await master.waitForExit(timeout: .seconds(30)) == 0, "master stderr:\n\(master.stderr)")
        #expect(master.stderr.contains("refused:"), "refusals are logged")
        #expect(master.stderr.contains("reported 999 requests sent"))
        a.close()
        b.close()

        let store = try RunStore.openReadOnly(path: try await database.file(in: folder))
        var stored: [String: [UInt64]] = [:]
        try store.forEachWindow(ofRun: runId) { window in
            stored[window.slave, default: []].append(window.seq)
            #expect(window.receivedAt != nil, "the master's receive time is stored")
        }
        #expect(stored == ["a": [0, 1], "b": [0]])
        #expect(try store.runSlaves(runId).first { $0.slave == "a" }?.reportedRequests == 999)
        store.close()

        let report = try await ChildProcess.run(["report", "--run", String(runId), "--db", database.argument], in: folder.url)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("reported 999 requests sent, 20 stored"))
        #expect(master.stdout == report.stdout)
    }

    @Test("request names that lie (unknown, doubled, not adding up, missing, garbled) are refused; true ones are stored and reported")
    func lyingNames() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(["--expect-slaves", "2", "--slave-timeout", "60s", "--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        func request(_ name: String) -> Result_NamedRequest {
            var request = Result_NamedRequest()
            request.name = name
            request.weight = 1
            request.url = "http://127.0.0.1:9/\(name)"
            return request
        }
        // a runs a mix of login and items; b one unnamed URL.
        let a = peer.connect("a", session: "session-a", requests: [request("login"), request("items")])
        let b = peer.connect("b", session: "session-b")
        let runId = try await a.next(.start).runID
        #expect(try await b.next(.start).runID == runId)

        // A true window of a: 10 requests, 4 login and 6 items.
        func named(_ parts: [Result_NameCounts], seq: UInt64 = 0) -> Result_Summary {
            var window = hostileWindow(run: runId, slave: "a", session: "session-a", seq: seq)
            window.byName = parts
            return window
        }
        let truth = [hostilePart("login", successes: 4), hostilePart("items", successes: 6, offset: 4)]
        var lies: [(String, Result_Summary)] = []
        lies.append(("no names in a named plan", named([])))
        lies.append(("a name the plan lacks", named([hostilePart("login", successes: 4), hostilePart("admin", successes: 6, offset: 4)])))
        lies.append(("a name twice", named([hostilePart("login", successes: 4), hostilePart("login", successes: 6, offset: 4)])))
        lies.append(("names that count 9 of 10 requests", named([hostilePart("login", successes: 4), hostilePart("items", successes: 5, offset: 4)])))
        var codes = truth
        codes[1].statusCodes = [201: 6]
        lies.append(("names' status codes that are not the window's", named(codes)))
        var garbled = truth
        garbled[0].histogram = Data([0xFF, 0x00, 0x13])
        lies.append(("a name's histogram that does not decode", named(garbled)))
        var overfull = truth
        overfull[0].histogram = truth[1].histogram
        lies.append(("a name's histogram with more latencies than its requests", named(overfull)))
        var unbalanced = truth
        unbalanced[0].failures = 1
        lies.append(("a name whose successes and failures do not make its requests", named(unbalanced)))
        var escape = truth
        escape[0].name = "\u{1B}[31mlogin"
        lies.append(("a name with a terminal escape", named(escape)))
        var bytes = truth
        bytes[0].bytesReceived = 1 << 40
        lies.append(("a name with more bytes than its window", named(bytes)))
        lies.append(("65 names", named((0..<65).map { hostilePart("n\($0)", successes: $0 == 0 ? 10 : 0) })))
        var plain = hostileWindow(run: runId, slave: "b", session: "session-b", seq: 0)
        plain.byName = [hostilePart("login", successes: 10)]
        lies.append(("names from a slave whose plan has none", plain))

        for (what, summary) in lies {
            switch await peer.post(summary) {
            case .success(let ack):
                Issue.record("\(what) was stored: \(ack)")
            case .failure(let error):
                #expect(error.code == .invalidArgument, "\(what): \(error)")
                #expect(error.message.utf8.count < 400, "\(what): \(error.message.prefix(100))")
                #expect(!error.message.contains("\u{1B}"), "\(what): \(error.message)")
            }
        }

        if case .failure(let error) = await peer.post(named(truth)) { Issue.record("a's true window: \(error)") }
        var final = named([hostilePart("items", successes: 10)], seq: 1)
        final.final = true
        final.totalRequests = 20
        if case .failure(let error) = await peer.post(final) { Issue.record("a's final: \(error)") }
        let bFinal = hostileWindow(run: runId, slave: "b", session: "session-b", seq: 0, isFinal: true, total: 10)
        if case .failure(let error) = await peer.post(bFinal) { Issue.record("b's final: \(error)") }
        #expect(try await master.waitForExit(timeout: .seconds(30)) == 0, "master stderr:\n\(master.stderr)")
        a.close()
        b.close()

        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        var parts: [String: UInt64] = [:]
        try store.forEachWindow(ofRun: runId) { window in
            for part in window.byName { parts[part.name, default: 0] += part.requests }
        }
        store.close()
        #expect(parts == ["login": 4, "items": 16])
        let report = try await ChildProcess.run(["report", "--run", String(runId), "--db", "runs.db", "--format", "csv"], in: folder.url)
        #expect(report.status == 0, "\(report.stderr)")
        let rows = report.stdout.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(6).joined(separator: ",") }
        #expect(rows.contains("\(runId),total,,login,,4"), "\(report.stdout)")
        #expect(rows.contains("\(runId),total,,items,,16"), "\(report.stdout)")
        #expect(rows.contains("\(runId),total,,,,30"), "\(report.stdout)")
    }

    @Test("a message over 1 MiB is refused with resourceExhausted and the master keeps serving")
    func oversizedMessage() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(["--expect-slaves", "1", "--slave-timeout", "60s", "--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let slave = peer.connect("a", session: "session-a")
        let runId = try await slave.next(.start).runID
        var big = hostileWindow(run: runId, slave: "a", session: "session-a", seq: 0)
        big.histogram = Data(repeating: 0x80, count: 2 << 20)
        let refusal = await peer.post(big)
        guard case .failure(let error) = refusal else {
            Issue.record("a 2 MiB window was stored")
            return
        }
        #expect(error.code == .resourceExhausted, "code \(error.code): \(error.message)")
        // The same in request names' histograms.
        var named = hostileWindow(run: runId, slave: "a", session: "session-a", seq: 0)
        named.byName = (0..<2).map { _ in hostilePart("x", successes: 10) }
        named.byName[0].histogram = Data(repeating: 0x80, count: 1 << 20)
        #expect(await peer.code(named) == .resourceExhausted)
        // And a slave's plan of 2 MiB of requests is refused at Connect.
        var heavy = Result_NamedRequest()
        heavy.name = "heavy"
        heavy.url = "http://127.0.0.1:9/"
        heavy.body = Data(repeating: 0x61, count: 1 << 20)
        let refused = peer.connect("b", session: "session-b", requests: [heavy, heavy])
        #expect(await refused.end()?.code == .resourceExhausted)
        // Past four times the limit the transport itself cuts the stream off: the client sees
        // the call fail (unavailable), as the README says.
        big.histogram = Data(repeating: 0x80, count: 6 << 20)
        #expect(await peer.code(big) == .unavailable)
        // The master is still there, and takes the true window.
        let final = hostileWindow(run: runId, slave: "a", session: "session-a", seq: 0, isFinal: true, total: 10)
        if case .failure(let error) = await peer.post(final) { Issue.record("the final window: \(error)") }
        #expect(try await master.waitForExit(timeout: .seconds(30)) == 0, "master stderr:\n\(master.stderr)")
        slave.close()
    }
}
