import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Protocol
import Store
import Synchronization

/// A swarm of simulated slaves against a real master, speaking only the proto: each connects
/// (with a plan of its own), heartbeats every second unless the master stored one of its
/// windows within it (as a real slave), and posts windows with real encoded histograms (about
/// 200 distinct latencies) — one a second (`paced`); or as fast as acks come with `inflight`
/// posts at a time, at most ten a second (`flood`: a master refuses windows closed faster than
/// every 100 ms); or, in `backlog`, `inflight` windows at once as a slave whose master was away
/// delivers them (PostSummaries, at most 64 a call, one call at a time) — then its final window;
/// `stream` is `paced` with each slave's windows on one StreamSummaries stream, as a slave posts
/// them, rather than a call each.
/// Prints windows posted and acknowledged, retries the master asked for (busy), the ack latency
/// (per call), and the longest silence between two of the master's heartbeats to one slave.
/// `bench/swarm.sh` starts the master and checks what was stored.
///
/// Usage: SwarmBench PORT SLAVES SECONDS [paced|stream|flood|backlog] [INFLIGHT]
let arguments = CommandLine.arguments
guard arguments.count >= 4, let port = Int(arguments[1]), let slaves = Int(arguments[2]), let seconds = Int(arguments[3]) else {
    print("usage: SwarmBench PORT SLAVES SECONDS [paced|stream|flood|backlog] [INFLIGHT]")
    exit(64)
}
let mode = arguments.count > 4 ? arguments[4] : "paced"
let flood = mode == "flood"
let backlog = mode == "backlog"
let streamed = mode == "stream"
let inflight = arguments.count > 5 ? max(1, Int(arguments[5]) ?? 1) : 1

@Sendable func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

/// About 2,000 requests over 200 distinct latencies, encoded once.
let histogram: Data = {
    var latency = LatencyHistogram()
    for index in 0..<2_000 { latency.record(microseconds: 500 + UInt64(index % 200) * 37) }
    return Data(latency.encoded())
}()

final class Tally: Sendable {
    let acks = Mutex(LatencyHistogram())
    /// Acks of windows posted after the first 5 s (every slave connected and started).
    let steadyAcks = Mutex(LatencyHistogram())
    let start = ContinuousClock.now

    func ack(postedAt posted: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - posted
        let micros = UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
        acks.withLock { $0.record(microseconds: micros) }
        if posted - start >= .seconds(5) { steadyAcks.withLock { $0.record(microseconds: micros) } }
    }
    let posted = Atomic<Int>(0)
    let acked = Atomic<Int>(0)
    let busy = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let longestSilence = Atomic<Int>(0)
}
let tally = Tally()

@Sendable func window(run: Int64, slave: String, session: String, seq: UInt64, final: Bool) -> Result_Summary {
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

/// When the master last stored a window of one slave (uptime ns): its heartbeat is skipped
/// within a second of that.
final class LastAck: Sendable {
    let nanoseconds = Atomic<UInt64>(0)
    func set() { nanoseconds.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
    var isRecent: Bool { DispatchTime.now().uptimeNanoseconds - nanoseconds.load(ordering: .relaxed) < 1_000_000_000 }
}

/// Posts until acknowledged: the master's `unavailable` (busy) is retried after 50–250 ms, as a
/// slave does.
func post(
    _ summary: Result_Summary, with master: Result_Result.Client<HTTP2ClientTransport.Posix>, lastAck: LastAck
) async {
    tally.posted.add(1, ordering: .relaxed)
    let started = ContinuousClock.now
    while true {
        do {
            _ = try await master.postSummary(summary)
            lastAck.set()
            tally.ack(postedAt: started)
            tally.acked.add(1, ordering: .relaxed)
            return
        } catch let error as RPCError where error.code == .unavailable {
            tally.busy.add(1, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(Int64.random(in: 50...250)))
        } catch {
            tally.failed.add(1, ordering: .relaxed)
            print("post failed: \(error)")
            return
        }
    }
}

/// Posts `summaries` in one PostSummaries call until acknowledged, as a slave delivers the
/// windows that waited.
func post(
    batch summaries: [Result_Summary], with master: Result_Result.Client<HTTP2ClientTransport.Posix>, lastAck: LastAck
) async {
    tally.posted.add(summaries.count, ordering: .relaxed)
    var batch = Result_SummaryBatch()
    batch.summaries = summaries
    let started = ContinuousClock.now
    while true {
        do {
            let answer = try await master.postSummaries(batch)
            lastAck.set()
            tally.ack(postedAt: started)
            let refused = answer.outcomes.filter { $0.code != 0 }
            tally.acked.add(summaries.count - refused.count, ordering: .relaxed)
            if let first = refused.first {
                tally.failed.add(refused.count, ordering: .relaxed)
                print("refused: \(first.message)")
            }
            return
        } catch let error as RPCError where error.code == .unavailable {
            tally.busy.add(1, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(Int64.random(in: 50...250)))
        } catch {
            tally.failed.add(summaries.count, ordering: .relaxed)
            print("batch failed: \(error)")
            return
        }
    }
}

/// A window a second on one StreamSummaries stream, each sent once the last one's outcome came
/// (a busy one again after 50–250 ms), then the final window.
func stream(
    run: Int64, slave name: String, session: String, until deadline: ContinuousClock.Instant,
    with master: Result_Result.Client<HTTP2ClientTransport.Posix>, lastAck: LastAck
) async {
    let (outcomes, received) = AsyncStream.makeStream(of: Result_WindowOutcome.self)
    do {
        try await master.streamSummaries(
            requestProducer: { writer in
                var answers = outcomes.makeAsyncIterator()
                var seq: UInt64 = 0
                var final = false
                while !final {
                    let tick = ContinuousClock.now
                    final = tick >= deadline
                    let summary = window(run: run, slave: name, session: session, seq: seq, final: final)
                    tally.posted.add(1, ordering: .relaxed)
                    while true {
                        try await writer.write(summary)
                        guard let outcome = await answers.next() else { throw RPCError(code: .unavailable, message: "the stream ended") }
                        if outcome.code == 0 {
                            lastAck.set()
                            tally.ack(postedAt: tick)
                            tally.acked.add(1, ordering: .relaxed)
                            break
                        } else if outcome.busy {
                            tally.busy.add(1, ordering: .relaxed)
                            try await Task.sleep(for: .milliseconds(Int64.random(in: 50...250)))
                        } else {
                            tally.failed.add(1, ordering: .relaxed)
                            print("refused: \(outcome.message)")
                            break
                        }
                    }
                    seq += 1
                    if !final { try await Task.sleep(until: tick + .seconds(1)) }
                }
            },
            onResponse: { response in
                for try await outcome in response.messages { received.yield(outcome) }
                received.finish()
            })
    } catch {
        received.finish()
        tally.failed.add(1, ordering: .relaxed)
        print("stream failed: \(error)")
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
    let lastAck = LastAck()
    let heartbeats = Task {
        var beat = Result_HeartbeatRequest()
        beat.slaveName = name
        beat.sessionID = session
        beat.runID = run
        while !Task.isCancelled {
            if !lastAck.isRecent { _ = try? await master.heartbeat(beat) }
            try? await Task.sleep(for: .seconds(1))
        }
    }
    // Spread over the first second, as real slaves that started at different times.
    try? await Task.sleep(for: .milliseconds(Int64(index * 997 % 1_000)))
    let deadline = ContinuousClock.now + .seconds(seconds)
    if backlog {
        var seq: UInt64 = 0
        while seq < UInt64(inflight) {
            let count = min(64, UInt64(inflight) - seq)
            let windows = (seq..<seq + count).map { window(run: run, slave: name, session: session, seq: $0, final: false) }
            await post(batch: windows, with: master, lastAck: lastAck)
            seq += count
        }
        await post(window(run: run, slave: name, session: session, seq: seq, final: true), with: master, lastAck: lastAck)
    } else if flood {
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
                        await post(window(run: run, slave: name, session: session, seq: seq, final: false), with: master, lastAck: lastAck)
                    }
                }
            }
        }
        await post(window(run: run, slave: name, session: session, seq: next.value.load(ordering: .relaxed), final: true), with: master, lastAck: lastAck)
    } else if streamed {
        await stream(run: run, slave: name, session: session, until: deadline, with: master, lastAck: lastAck)
    } else {
        var seq: UInt64 = 0
        while ContinuousClock.now < deadline {
            let tick = ContinuousClock.now
            await post(window(run: run, slave: name, session: session, seq: seq, final: false), with: master, lastAck: lastAck)
            seq += 1
            try? await Task.sleep(until: tick + .seconds(1))
        }
        await post(window(run: run, slave: name, session: session, seq: seq, final: true), with: master, lastAck: lastAck)
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
let steady = tally.steadyAcks.withLock { $0 }
let total = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(
    """
    slaves \(slaves), \(backlog ? "a backlog of \(inflight) windows each" : flood ? "flood, \(inflight) in flight each" : streamed ? "1 window/s each on a stream" : "1 window/s each"), \(seconds) s
    posted \(tally.posted.load(ordering: .relaxed)), acked \(tally.acked.load(ordering: .relaxed)), \
    busy retries \(tally.busy.load(ordering: .relaxed)), failed \(tally.failed.load(ordering: .relaxed))
    acked/s \(Int(Double(tally.acked.load(ordering: .relaxed)) / total))
    ack ms p50 \(Double(acks.microseconds(atPercentile: 50)) / 1000) p99 \(Double(acks.microseconds(atPercentile: 99)) / 1000) \
    max \(Double(acks.maxMicroseconds) / 1000); after the first 5 s: p50 \(Double(steady.microseconds(atPercentile: 50)) / 1000) \
    p99 \(Double(steady.microseconds(atPercentile: 99)) / 1000) max \(Double(steady.maxMicroseconds) / 1000)
    longest silence between the master's commands to one slave: \(tally.longestSilence.load(ordering: .relaxed)) ms
    """)
