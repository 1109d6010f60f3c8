import Foundation
import Testing

/// `--duration` is wall-clock time: no request goes after it, whatever the backlog, and what
/// the plan meant to send but could not is counted as dropped.
@Suite("--duration is a duration", .serialized)
struct DurationTests {
    @Test("--rate 1000000 --duration 2s ends within seconds of its deadline and counts what it dropped")
    func rateFarBeyondTheTarget() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let started = ContinuousClock.now
        let run = try await ChildProcess.run(
            ["run", "--url", "http://127.0.0.1:\(port)/", "--rate", "1000000", "--duration", "2s", "--batch", "16",
             "--db", "runs.db"],
            in: folder.url, timeout: .seconds(90))
        let elapsed = ContinuousClock.now - started
        #expect(run.status == 0, "\(run.stderr)")
        // Before: 51 s for --duration 3s. Start-up, the last responses and the report fit in 6 s.
        #expect(elapsed < .seconds(8), "a 2 s run took \(elapsed)")
        let dropped = try #require(
            run.stdout.firstMatch(of: /dropped: (\d+) request/).flatMap { UInt64($0.output.1) }, "\(run.stdout)")
        let sent = try await targetRequests(port: port)
        // The plan was 2,000,000 requests: every one was either sent or dropped.
        #expect(dropped + UInt64(sent) >= 1_990_000 && dropped + UInt64(sent) <= 2_000_000, "dropped \(dropped), sent \(sent)")
        let json = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url)
        #expect(json.stdout.contains("\"dropped\" : \(dropped)"), "\(json.stdout.prefix(600))")
    }

    @Test("a target that never answers: the run ends within seconds of its deadline, its failures timed")
    func targetNeverAnswers() async throws {
        let folder = try TemporaryDirectory()
        // A listening socket that never accepts: connects hang (a full queue) or requests get no
        // answer; either way the run's time bounds them.
        let (listener, port) = try boundLoopbackSocket()
        defer { close(listener) }
        try #require(listen(listener, 0) == 0)

        let started = ContinuousClock.now
        let run = try await ChildProcess.run(
            ["run", "--url", "http://127.0.0.1:\(port)/", "--duration", "2s", "--batch", "8", "--timeout", "60s",
             "--db", "runs.db"],
            in: folder.url, timeout: .seconds(120))
        let elapsed = ContinuousClock.now - started
        // Requests that got nothing fail; the run ends near its deadline (2 s, plus at most 2 s
        // for requests in flight), not 60 s later.
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")
        #expect(elapsed < .seconds(10), "a 2 s run against a silent target took \(elapsed)")
        #expect(run.stdout.contains("time to fail"), "\(run.stdout)")
        // A connect the deadline cut short never sent its request: it is not a failure.
        let json = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url)
        #expect(!json.stdout.contains("connect timeout"), "\(json.stdout)")
    }
}
