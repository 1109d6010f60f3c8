import NIOCore
import NIOPosix
import Store
import Target
import TestKit
import Testing

@testable import Engine

/// The HTTP engine against a real target on 127.0.0.1: counts that match the server's, and
/// failures recorded as data.
@Suite("HTTPLoadEngine")
struct HTTPLoadEngineTests {
    /// What one engine run measured.
    struct Measured: Sendable {
        var counts: WindowCounts
        var issued: UInt64
        var elapsed: Duration
    }

    /// A target and an engine for the duration of `body`, both shut down afterwards.
    static func withTarget<T: Sendable>(
        _ body: @escaping @Sendable (TargetServer, HTTPLoadEngine) async throws -> T
    ) async throws -> T {
        try await withTimeout {
            let target = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            let result: Result<T, any Error>
            do {
                result = .success(try await body(target, HTTPLoadEngine(group: loops)))
            } catch {
                result = .failure(error)
            }
            try? await loops.shutdownGracefully()
            try? await target.stop()
            return try result.get()
        }
    }

    static func measure(
        _ engine: HTTPLoadEngine, url: String, tasks: UInt64, concurrency: Int,
        timeout: TimeAmount = .seconds(10), control: LoadControl? = nil
    ) async throws -> Measured {
        let plan = LoadPlan(target: try LoadTarget(url: url), tasks: tasks, concurrency: concurrency, timeout: timeout)
        let control = control ?? LoadControl(tasks: tasks)
        let recorder = engine.makeRecorder(rateDriven: control.isRateDriven)
        let started = ContinuousClock.now
        let issued = await engine.run(plan, recorder: recorder, control: control)
        return Measured(counts: recorder.close(), issued: issued, elapsed: ContinuousClock.now - started)
    }

    @Test("tasks N sends exactly N requests, all answered 200 and timed")
    func exactlyNRequests() async throws {
        try await Self.withTarget { target, engine in
            let url = "http://127.0.0.1:\(target.port)/"
            let measured = try await Self.measure(engine, url: url, tasks: 1_000, concurrency: 8)
            let counts = measured.counts
            #expect(measured.issued == 1_000)
            #expect(counts.requests == 1_000)
            #expect(target.requestsServed == 1_000)
            #expect(counts.successes == 1_000)
            #expect(counts.failures == 0)
            #expect(counts.statusCodes == [200: 1_000])
            #expect(counts.errors.isEmpty)
            #expect(counts.latency.count == 1_000)
            #expect(counts.latency.minMicroseconds > 0)
            let requestSize = UInt64(try LoadTarget(url: url).request.readableBytes)
            #expect(counts.bytesSent == 1_000 * requestSize)
            // Every response carries at least its 22-byte body.
            #expect(counts.bytesReceived >= 1_000 * 22)
        }
    }

    @Test(
        "each response's status is counted; 2xx and 3xx succeed, others fail",
        arguments: [(200, true), (204, true), (302, true), (404, false), (500, false), (503, false)])
    func statusCodes(_ code: Int, _ succeeds: Bool) async throws {
        try await Self.withTarget { target, engine in
            let measured = try await Self.measure(
                engine, url: "http://127.0.0.1:\(target.port)/status/\(code)", tasks: 40, concurrency: 4)
            let counts = measured.counts
            #expect(counts.requests == 40)
            #expect(counts.statusCodes == [code: 40])
            #expect(counts.successes == (succeeds ? 40 : 0))
            #expect(counts.failures == (succeeds ? 0 : 40))
            #expect(counts.errors.isEmpty, "a response is not an error: \(counts.errors)")
            #expect(counts.latency.count == 40)
            #expect(target.requestsServed == 40)
        }
    }

    @Test("a closed port fails every request as connection refused, and the run still ends")
    func connectionRefused() async throws {
        try await withTimeout {
            let closed = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            let port = closed.port
            try await closed.stop()

            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let measured = try await Self.measure(
                HTTPLoadEngine(group: loops), url: "http://127.0.0.1:\(port)/", tasks: 20, concurrency: 4)
            try await loops.shutdownGracefully()
            #expect(measured.issued == 20)
            #expect(measured.counts.requests == 20)
            #expect(measured.counts.failures == 20)
            #expect(measured.counts.successes == 0)
            #expect(measured.counts.errors == ["connection refused": 20])
            #expect(measured.counts.statusCodes.isEmpty)
            #expect(measured.counts.latency.count == 0)
        }
    }

    @Test("a response slower than the timeout fails as a timeout without waiting for it")
    func timeout() async throws {
        try await Self.withTarget { target, engine in
            let measured = try await Self.measure(
                engine, url: "http://127.0.0.1:\(target.port)/delay/20000", tasks: 4, concurrency: 4,
                timeout: .milliseconds(200))
            #expect(measured.counts.requests == 4)
            #expect(measured.counts.failures == 4)
            #expect(measured.counts.errors == ["timeout": 4])
            #expect(measured.counts.latency.count == 0)
            // 0.2 s of timeout against 20 s of delay: far apart, however busy the machine.
            #expect(measured.elapsed < .seconds(10), "the run took \(measured.elapsed)")
        }
    }

    @Test(
        "any concurrency sends exactly the planned requests, even more connections than tasks",
        arguments: [(3 as UInt64, 50), (1, 1), (7, 2), (0, 4)])
    func concurrencyAndTasks(_ tasks: UInt64, _ concurrency: Int) async throws {
        try await Self.withTarget { target, engine in
            let measured = try await Self.measure(
                engine, url: "http://127.0.0.1:\(target.port)/", tasks: tasks, concurrency: concurrency)
            #expect(measured.issued == tasks)
            #expect(measured.counts.requests == tasks)
            #expect(measured.counts.successes == tasks)
            #expect(target.requestsServed == Int(tasks))
        }
    }

    @Test("stop() ends a long run early; every request sent is accounted for")
    func stopEndsEarly() async throws {
        try await Self.withTarget { target, engine in
            let control = LoadControl(tasks: 10_000)
            async let measured = Self.measure(
                engine, url: "http://127.0.0.1:\(target.port)/delay/20", tasks: 10_000, concurrency: 4,
                control: control)
            try await eventually("the first requests") { target.requestsServed >= 8 }
            control.stop()
            #expect(control.isStopped)
            let result = try await measured
            #expect(result.issued < 10_000)
            #expect(result.issued >= 8)
            #expect(result.counts.requests == result.issued)
            #expect(result.counts.successes == result.issued)
            #expect(target.requestsServed == Int(result.issued))
            #expect(result.elapsed < .seconds(10), "10,000 × 20 ms / 4 would take 50 s")
        }
    }

    @Test("run() returns the number of requests sent, also when a duration ends the run")
    func durationRunReturnsRequestsSent() async throws {
        try await Self.withTarget { target, engine in
            let control = LoadControl(tasks: 0, duration: .milliseconds(200))
            let measured = try await Self.measure(
                engine, url: "http://127.0.0.1:\(target.port)/", tasks: 0, concurrency: 4, control: control)
            #expect(measured.counts.requests == UInt64(target.requestsServed))
            #expect(measured.issued == measured.counts.requests, "run() said \(measured.issued)")
        }
    }

    @Test("a rate-driven run sends rate × duration requests at their intended times, keeping both latencies")
    func rateDrivenRun() async throws {
        try await Self.withTarget { target, engine in
            // 100 per second for 500 ms: intended times 0, 10, ..., 490 ms, so exactly 50 requests.
            // Time counts from before the control (its start): the last request is meant for
            // 490 ms after it, however long the setup between took.
            let began = ContinuousClock.now
            let control = LoadControl(tasks: 0, duration: .milliseconds(500), rate: 100)
            let measured = try await Self.measure(
                engine, url: "http://127.0.0.1:\(target.port)/", tasks: 0, concurrency: 4, control: control)
            let elapsed = ContinuousClock.now - began
            let counts = measured.counts
            // Every request meant is sent or, if a busy machine made it miss the 500 ms, dropped.
            #expect(counts.requests + control.dropped() == 50)
            #expect(counts.requests >= 45, "\(counts.requests) of 50 sent")
            #expect(target.requestsServed == Int(counts.requests))
            #expect(counts.successes == counts.requests)
            #expect(counts.latency.count == counts.requests)
            #expect(counts.uncorrectedLatency?.count == counts.requests)
            #expect(counts.late <= counts.requests)
            #expect(elapsed >= .milliseconds(480), "the last request is meant for 490 ms: \(elapsed)")
            // Not a timing assertion (the suites beside it share two cores): it ends, not hangs.
            #expect(measured.elapsed < .seconds(30))
        }
    }

    @Test("a rate-driven run against a closed port keeps to its schedule instead of spinning")
    func rateDrivenRefused() async throws {
        try await withTimeout {
            let closed = try await TargetServer.start(.init(host: "127.0.0.1", port: 0, threads: 1))
            let port = closed.port
            try await closed.stop()

            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            // 50 per second for 400 ms: 20 attempts.
            let control = LoadControl(tasks: 0, duration: .milliseconds(400), rate: 50)
            let measured = try await Self.measure(
                HTTPLoadEngine(group: loops), url: "http://127.0.0.1:\(port)/", tasks: 0, concurrency: 2,
                control: control)
            try await loops.shutdownGracefully()
            // Every attempt meant is made or, if a busy machine made it miss the 400 ms, dropped;
            // none more (no spin).
            #expect(measured.counts.requests + control.dropped() == 20)
            #expect(measured.counts.requests >= 15, "\(measured.counts.requests) of 20 attempts")
            #expect(measured.counts.errors == ["connection refused": measured.counts.requests])
            #expect(measured.elapsed >= .milliseconds(370), "\(measured.elapsed)")
        }
    }
}
