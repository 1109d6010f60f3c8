import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Protocol
import Store
import Synchronization

/// A swarm of simulated slaves against a real master, speaking only the proto: each connects
/// (with a plan of its own), heartbeats every second, and posts windows with real encoded
/// histograms (about 200 distinct latencies) — one a second (`paced`), or as fast as acks come
/// with `inflight` posts at a time, at most ten a second (`flood`: a master refuses windows
/// closed faster than every 100 ms) — then its final window. Prints windows posted and
/// acknowledged, retries the master asked for (busy), the ack latency, and the longest silence
/// between two of the master's heartbeats to one slave. `bench/swarm.sh` starts the master and
/// checks what was stored.
///
/// Usage: SwarmBench PORT SLAVES SECONDS [paced|flood] [INFLIGHT]
let arguments = CommandLine.arguments
guard arguments.count >= 4, let port = Int(arguments[1]), let slaves = Int(arguments[2]), let seconds = Int(arguments[3]) else {
    print("usage: SwarmBench PORT SLAVES SECONDS [paced|flood] [INFLIGHT]")
    exit(64)
}
let flood = arguments.count > 4 && arguments[4] == "flood"
let inflight = arguments.count > 5 ? max(1, Int(arguments[5]) ?? 1) : 1

func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

/// About 2,000 requests over 200 distinct latencies, encoded once.
let histogram: Data = {
    var latency = LatencyHistogram()
    for index in 0..<2_000 { latency.record(microseconds: 500 + UInt64(index % 200) * 37) }
    return Data(latency.encoded())
}()

final class Tally: Sendable {
    let acks = Mutex(LatencyHistogram())
    let posted = Atomic<Int>(0)
    let acked = Atomic<Int>(0)
    let busy = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let longestSilence = Atomic<Int>(0)
}
let tally = Tally()

func window(run: Int64, slave: String, session: String, seq: UInt64, final: Bool) -> Result_Summary {
    var summary = Result_Summary()
    summary.runID = run
    summary.slaveName = slave
    summary.sessionID = session
    summary.seq = seq
    let end = now()
    summary.startedAtNs = end - 1_000_000_000
    summary.endedAtNs = end
    summary.requests = 2_000
    summary.successes = 2_000
    summary.bytesReceived = 2_000_000
    summary.bytesSent = 200_000
    summary.statusCodes = [200: 2_000]
    summary.histogram = histogram
    summary.final = final
    summary.totalRequests = final ? 2_000 * (seq + 1) : 0
    return summary
}

/// Posts until acknowledged: the master's `unavailable` (busy) is retried after 100 ms, as a
/// slave does.
func post(_ summary: Result_Summary, with master: Result_Result.Client<HTTP2ClientTransport.Posix>) async {
    tally.posted.add(1, ordering: .relaxed)
    let started = ContinuousClock.now
    while true {
        do {
            _ = try await master.postSummary(summary)
            let elapsed = ContinuousClock.now - started
            let micros = UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
            tally.acks.withLock { $0.record(microseconds: micros) }
            tally.acked.add(1, ordering: .relaxed)
            return
        } catch let error as RPCError where error.code == .unavailable {
            tally.busy.add(1, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(100))
        } catch {
            tally.failed.add(1, ordering: .relaxed)
            print("post failed: \(error)")
            return
        }
    }
}

func simulate(_ index: Int, master: Result_Result.Client<HTTP2ClientTransport.Posix>) async {
    let name = "swarm\(index)"
    let session = UUID().uuidString
    var request = Result_ConnectRequest()
    request.slaveName = name
    request.sessionID = session
    request.version = goloadtestVersion
    request.plan.tasks = 10
    request.plan.batch = 1
    request.plan.url = "http://127.0.0.1:9/"
    let (starts, started) = AsyncStream.makeStream(of: Int64.self)
    let connection = Task {
        try? await master.connect(request) { response in
            var last = ContinuousClock.now
            for try await command in response.messages {
                if command.kind == .start { started.yield(command.runID) }
                let gap = ContinuousClock.now - last
                last = .now
                let millis = Int(gap.components.seconds * 1_000 + gap.components.attoseconds / 1_000_000_000_000_000)
                if tally.posted.load(ordering: .relaxed) > 0 {
                    _ = tally.longestSilence.max(millis, ordering: .relaxed)
                }
            }
        }
    }
    var iterator = starts.makeAsyncIterator()
    guard let run = await iterator.next() else { return }
    let heartbeats = Task {
        var beat = Result_HeartbeatRequest()
        beat.slaveName = name
        beat.sessionID = session
        beat.runID = run
        while !Task.isCancelled {
            _ = try? await master.heartbeat(beat)
            try? await Task.sleep(for: .seconds(1))
        }
    }
    // Spread over the first second, as real slaves that started at different times.
    try? await Task.sleep(for: .milliseconds(Int64(index * 997 % 1_000)))
    let deadline = ContinuousClock.now + .seconds(seconds)
    if flood {
        let begin = ContinuousClock.now
        final class Counter: Sendable { let value = Atomic<UInt64>(0) }
        let next = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<inflight {
                group.addTask {
                    while ContinuousClock.now < deadline {
                        let seq = next.value.add(1, ordering: .relaxed).oldValue
                        // No faster than a window every 100 ms: the fastest a master believes.
                        try? await Task.sleep(until: begin + .milliseconds(100 * Int64(seq)))
                        await post(window(run: run, slave: name, session: session, seq: seq, final: false), with: master)
                    }
                }
            }
        }
        await post(window(run: run, slave: name, session: session, seq: next.value.load(ordering: .relaxed), final: true), with: master)
    } else {
        var seq: UInt64 = 0
        while ContinuousClock.now < deadline {
            let tick = ContinuousClock.now
            await post(window(run: run, slave: name, session: session, seq: seq, final: false), with: master)
            seq += 1
            try? await Task.sleep(until: tick + .seconds(1))
        }
        await post(window(run: run, slave: name, session: session, seq: seq, final: true), with: master)
    }
    heartbeats.cancel()
    connection.cancel()
}

// Each slave on a connection of its own, as slave processes are (SLAVES_PER_CONNECTION=500
// multiplexes them as a proxy would; the master allows 4,096 streams on one connection).
let perConnection = max(1, Int(ProcessInfo.processInfo.environment["SLAVES_PER_CONNECTION"] ?? "1") ?? 1)
let clients = try (0..<max(1, (slaves + perConnection - 1) / perConnection)).map { _ in
    GRPCClient(
        transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
            config: .defaults { $0.http2.maxFrameSize = 1 << 20 }))
}
let began = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for client in clients {
        group.addTask { try await client.runConnections() }
    }
    await withTaskGroup(of: Void.self) { swarm in
        for index in 0..<slaves {
            let master = Result_Result.Client(wrapping: clients[index / perConnection])
            swarm.addTask { await simulate(index, master: master) }
        }
    }
    for client in clients { client.beginGracefulShutdown() }
    group.cancelAll()
}
let elapsed = ContinuousClock.now - began
let acks = tally.acks.withLock { $0 }
let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(
    """
    slaves \(slaves), \(flood ? "flood, \(inflight) in flight each" : "1 window/s each"), \(seconds) s
    posted \(tally.posted.load(ordering: .relaxed)), acked \(tally.acked.load(ordering: .relaxed)), \
    busy retries \(tally.busy.load(ordering: .relaxed)), failed \(tally.failed.load(ordering: .relaxed))
    acked/s \(Int(Double(tally.acked.load(ordering: .relaxed)) / total))
    ack ms p50 \(Double(acks.microseconds(atPercentile: 50)) / 1000) p99 \(Double(acks.microseconds(atPercentile: 99)) / 1000) \
    max \(Double(acks.maxMicroseconds) / 1000)
    longest silence between the master's commands to one slave: \(tally.longestSilence.load(ordering: .relaxed)) ms
    """)
