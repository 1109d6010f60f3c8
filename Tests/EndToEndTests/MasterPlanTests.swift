import Foundation
import GRPCCore
import Protocol
import Store
import Synchronization
import Testing

/// The master owns the plan: slaves with only `--master` and `--name` take their share of it
/// at START, the shares add up to the plan, and all begin at one start time.
@Suite("A plan the master owns", .serialized)
struct MasterPlanTests {
    /// Starts `names` slaves with `extra` arguments against the master on `port`.
    static func slaves(_ names: [String], port: Int, extra: [String] = [], in folder: URL) throws -> [ChildProcess] {
        try names.map { try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", $0] + extra, in: folder) }
    }

    @Test("3 slaves share 1,001 requests at 300 req/s: tasks add up exactly, rates to the plan, one start time")
    func sharesAddUp() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            ["--expect-slaves", "3", "--db", "runs.db", "--url", "http://127.0.0.1:\(targetPort)/", "--tasks", "1001",
             "--batch", "10", "--rate", "300"],
            in: folder.url)
        defer { master.terminate() }
        let slaves = try Self.slaves(["a", "b", "c"], port: port, in: folder.url)
        defer { slaves.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(90)) == 0, "\(master.stderr)")
        for slave in slaves { #expect(try await slave.waitForExit(timeout: .seconds(30)) == 0, "\(slave.stderr)") }

        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        let run = try store.run(1)
        #expect(run.status == .completed)
        #expect(run.plan?.tasks == 1001 && run.plan?.batch == 10 && run.plan?.rate == 300, "\(String(describing: run.plan))")
        let shares = try store.runSlaves(1)
        #expect(shares.map(\.plan.tasks) == [334, 334, 333])
        #expect(shares.map(\.plan.batch) == [4, 3, 3])
        let rates = shares.compactMap(\.plan.rate)
        #expect(rates.count == 3 && abs(rates.reduce(0, +) - 300) < 1, "\(rates)")
        var requests: [String: UInt64] = [:]
        var firstWindow: [String: Int64] = [:]
        try store.forEachWindow(ofRun: 1) { window in
            requests[window.slave, default: 0] += window.requests
            firstWindow[window.slave] = min(firstWindow[window.slave] ?? .max, window.startedAt)
        }
        #expect(requests == ["a": 334, "b": 334, "c": 333])
        #expect(try await targetRequests(port: targetPort) == 1001)
        // One start time: the run's, a moment after the run was created; no slave began
        // before it (they would have, on receiving START), none long after.
        for (slave, start) in firstWindow {
            #expect(start >= run.startedAt - 5_000_000 && start < run.startedAt + 1_000_000_000, "\(slave): \(start - run.startedAt) ns")
        }
        let report = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db"], in: folder.url)
        #expect(report.stdout.contains("the master's plan: 1001 requests, at 300 req/s, 10 connections"), "\(report.stdout)")
    }

    @Test("a slave that brings a plan to a master that has one is told the master's wins, and runs its share")
    func masterWins() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            ["--expect-slaves", "2", "--db", "runs.db", "--url", "http://127.0.0.1:\(targetPort)/", "--tasks", "200"],
            in: folder.url)
        defer { master.terminate() }
        let own = try ChildProcess(
            ["SLAVE", "127.0.0.1", String(port), "own", "5000", "7"], in: folder.url,
            environment: ["GET_URL": "http://127.0.0.1:\(targetPort)/delay/1"])
        defer { own.terminate() }
        let plain = try Self.slaves(["plain"], port: port, in: folder.url)
        defer { plain.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(90)) == 0, "\(master.stderr)")
        #expect(try await own.waitForExit(timeout: .seconds(30)) == 0)
        #expect(own.stderr.contains("the master's plan wins over this slave's own"), "\(own.stderr)")
        #expect(master.stderr.contains("slave own brought a plan of its own; this master's plan wins"), "\(master.stderr)")
        let shares = try RunStore.openReadOnly(path: folder.path("runs.db")).runSlaves(1)
        #expect(shares.map(\.plan.tasks) == [100, 100])
        #expect(shares.allSatisfy { $0.plan.url == "http://127.0.0.1:\(targetPort)/" && $0.reportedRequests == 100 })
        #expect(try await targetRequests(port: targetPort) == 200)
    }

    @Test("neither the master nor the slave has a plan: the slave is refused, saying what to give")
    func noPlanAnywhere() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(["--db", "runs.db"], in: folder.url)
        defer { master.terminate() }
        let slave = try Self.slaves(["lost"], port: port, extra: ["--connect-timeout", "2"], in: folder.url)[0]
        defer { slave.terminate() }
        #expect(try await slave.waitForExit(timeout: .seconds(30)) != 0)
        #expect(slave.stderr.contains("neither this slave nor the master has a plan"), "\(slave.stderr)")
    }

    @Test("more slaves than tasks: no run starts, the master says why and exits 1, nothing is recorded")
    func tooFewTasks() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, port) = try await startMaster(
            ["--expect-slaves", "3", "--db", "runs.db", "--url", "http://127.0.0.1:\(targetPort)/", "--tasks", "2"],
            in: folder.url)
        defer { master.terminate() }
        let slaves = try Self.slaves(["a", "b", "c"], port: port, in: folder.url)
        defer { slaves.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 1, "\(master.stderr)")
        #expect(master.stderr.contains("the plan's tasks 2 cannot be split over 3 slaves"), "\(master.stderr)")
        #expect(try RunStore.openReadOnly(path: folder.path("runs.db")).runs().isEmpty)
        #expect(try await targetRequests(port: targetPort) == 0)
    }

    @Test("master plan mistakes are refused before it listens, each with what to do")
    func mistakes() async throws {
        let folder = try TemporaryDirectory()
        func write(_ name: String, _ text: String) throws -> String {
            try text.write(toFile: folder.path(name), atomically: true, encoding: .utf8)
            return folder.path(name)
        }
        let cases: [([String], String)] = [
            (["--batch", "5"], "describe the master's plan: give it --url and --tasks or --duration too"),
            (["--url", "http://127.0.0.1:9/", "--tasks", "10", "--ca-file", "ca.pem"], "each slave's own"),
            (["--url", "http://127.0.0.1:9/"], "needs --tasks N, --duration D or --stages"),
            (["--url", "ftp://127.0.0.1:9/", "--tasks", "10"], "is not an http:// or https:// URL"),
            (["--url", "http://127.0.0.1:9/", "--tasks", "10", "--insecure"], "--insecure is for https:// targets"),
            (["--url", "http://127.0.0.1:9/", "--tasks", "0"], "tasks must be a positive integer"),
            (["--expect-status", "404"], "describe the master's plan"),
            (["--url", "http://127.0.0.1:9/", "--stages", "3s:400", "--rate", "5"], "leave out --rate and --duration"),
            (["--url", "http://127.0.0.1:9/", "--stages", "3s"], "not DURATION:REQUESTS_PER_S"),
            (["--url", "http://127.0.0.1:9/", "--stages", "3s:-1"], "a target goes from 0 to 10000000"),
            (["--url", "http://127.0.0.1:9/", "--stages", ""], "is empty"),
            (["--url", "http://127.0.0.1:9/", "--connection-stages", "2s:4", "--rate", "5"], "leave out --rate, --stages and --duration"),
            (["--url", "http://127.0.0.1:9/", "--connection-stages", "2s:0,1s:0.2"], "never uses a connection"),
            (["--url", "http://127.0.0.1:9/", "--connection-stages", "2s:200000"], "a target goes from 0 to 100000"),
            (["--url", "http://127.0.0.1:9/", "--tasks", "10", "--expect-status", "600"], "codes go from 100 to 599"),
            (["--plan", try write("status.json", #"{"url": "http://127.0.0.1:9/", "tasks": 5, "expectStatus": "abc"}"#)], "--expect-status \"abc\""),
            (["--plan", try write("typo.json", #"{"url": "http://127.0.0.1:9/", "taks": 10}"#)], #"unknown key "taks""#),
            (["--plan", try write("type.json", #"{"url": "http://127.0.0.1:9/", "tasks": "ten"}"#)], #""tasks" must be"#),
            (["--plan", try write("time.json", #"{"url": "http://127.0.0.1:9/", "duration": "soon"}"#)], #""duration" must be a duration"#),
            (["--plan", try write("list.json", "[1, 2]")], "is not a JSON object"),
            (["--plan", folder.path("missing.json")], "cannot read --plan"),
        ]
        for (arguments, message) in cases {
            let master = try await ChildProcess.run(
                ["master", "--host", "127.0.0.1", "--port", "0", "--db", "runs.db"] + arguments, in: folder.url)
            #expect(master.status != 0, "\(arguments)")
            #expect(master.stderr.contains(message), "\(arguments): \(master.stderr)")
            #expect(!master.stderr.contains("listening on"), "\(arguments)")
        }
    }

    @Test("a slave older than 0.2.0 (it would run its own plan) is refused by a master that owns the plan")
    func oldSlaveRefused() async throws {
        let folder = try TemporaryDirectory()
        let (master, port) = try await startMaster(
            ["--db", "runs.db", "--url", "http://127.0.0.1:9/", "--tasks", "10"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        var request = Result_ConnectRequest()
        request.slaveName = "old"
        request.sessionID = "session-old"
        request.version = "0.1.0"
        request.plan.tasks = 10
        request.plan.batch = 1
        request.plan.url = "http://127.0.0.1:9/"
        do {
            try await peer.master.connect(request) { response in
                for try await _ in response.messages {}
            }
            Issue.record("a 0.1.0 slave was admitted")
        } catch let error as RPCError {
            #expect(error.code == .failedPrecondition)
            #expect(error.message.contains("a slave of version 0.1.0 cannot take"), "\(error.message)")
        }
    }

    @Test("a slave without a plan of its own refuses the flags that would describe one")
    func slaveFlags() async throws {
        let folder = try TemporaryDirectory()
        for flags in [["--insecure"], ["--timeout", "5s"], ["--batch", "4"], ["--url", "http://127.0.0.1:9/"], ["--expect-status", "200"]] {
            let slave = try await ChildProcess.run(["slave", "--master", "127.0.0.1:9", "--name", "s"] + flags, in: folder.url)
            #expect(slave.status == 64, "\(flags)")
            #expect(slave.stderr.contains("describe a plan this slave brings"), "\(flags): \(slave.stderr)")
        }
    }

    @Test("a plan file: the master runs it, flags win over it")
    func planFile() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        try #"{"url": "http://127.0.0.1:\#(targetPort)/", "tasks": 90, "batch": 3, "method": "POST", "body": "hello", "headers": ["X-Test: 1"]}"#
            .write(toFile: folder.path("plan.json"), atomically: true, encoding: .utf8)
        let (master, port) = try await startMaster(
            ["--expect-slaves", "2", "--db", "runs.db", "--plan", "plan.json", "--tasks", "60"], in: folder.url)
        defer { master.terminate() }
        let slaves = try Self.slaves(["a", "b"], port: port, in: folder.url)
        defer { slaves.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "\(master.stderr)")
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.run(1).plan?.tasks == 60)
        let shares = try store.runSlaves(1)
        #expect(shares.map(\.plan.tasks) == [30, 30])
        #expect(shares.allSatisfy { $0.plan.method == "POST" && $0.plan.batch >= 1 })
        #expect(try await targetRequests(port: targetPort) == 60)
    }
}

/// A master that starts run 1 with a plan and start time of its choosing: a slave must refuse a
/// plan it cannot run (exit non-zero, saying why) and bound its wait for a start time.
struct PlanningMaster: FakeMasterService {
    let plan: Result_Plan
    let startAt: Int64
    let finalPosted = PostCount()

    func connect(
        request: Result_ConnectRequest, response: RPCWriter<Result_ExecutionCommand>, context: ServerContext
    ) async throws {
        var command = Result_ExecutionCommand()
        command.kind = .welcome
        try await response.write(command)
        command.kind = .start
        command.runID = 1
        command.plan = plan
        command.startAtNs = startAt
        try await response.write(command)
        for _ in 0..<300 where finalPosted.value.load(ordering: .relaxed) == 0 {
            try await Task.sleep(for: .milliseconds(100))
            command = Result_ExecutionCommand()
            command.kind = .heartbeat
            try await response.write(command)
        }
        command.kind = .shutdown
        try await response.write(command)
    }

    func postSummary(request: Result_Summary, context: ServerContext) async throws -> Result_SummaryAck {
        if request.final { finalPosted.value.store(Int(request.totalRequests), ordering: .relaxed) }
        return stored(request)
    }
}

/// A small valid plan, edited.
func plan(_ edit: (inout Result_Plan) -> Void) -> Result_Plan {
    var plan = Result_Plan()
    plan.url = "http://127.0.0.1:9/"
    plan.tasks = 10
    plan.batch = 2
    edit(&plan)
    return plan
}

/// One request of a plan's mix, as a master would send it.
func named(_ name: String, _ url: String, weight: UInt32 = 1, body: Int = 0) -> Result_NamedRequest {
    var request = Result_NamedRequest()
    request.name = name
    request.url = url
    request.weight = weight
    request.body = Data(repeating: 0x61, count: body)
    return request
}

@Suite("A master that hands out a plan a slave cannot run")
struct HostilePlanTests {
    @Test(
        "each is refused by the slave with the reason, and it exits 1 without sending a request",
        arguments: [
            (plan { $0.batch = 0 }, "batch must be between 1 and 100000"),
            (plan { $0.batch = 1_000_000 }, "batch must be between 1 and 100000"),
            (plan { $0.tasks = 0 }, "needs a number of tasks or a duration"),
            (plan { $0.url = "ftp://127.0.0.1/" }, "is not an http:// or https:// URL"),
            (plan { $0.rate = .nan }, "is not a number of requests per second"),
            (plan { $0.tasks = .max }, "too large"),
            (plan { $0.headers = ["no colon here"] }, "header"),
            (plan { $0.connections = 20_000 }, "connections must be at most 10000"),
            (plan { $0.expectStatus = "2xx" }, "--expect-status \"2xx\""),
            (plan { $0.stages = [Result_Stage()] }, "a stage must last from 1 ns to a year"),
            (plan { var stage = Result_Stage(); stage.durationNs = 1_000; stage.target = .infinity; $0.stages = [stage] }, "a stage must last"),
            (plan { var stage = Result_Stage(); stage.durationNs = 1_000; stage.target = 5; $0.stages = [stage]; $0.rate = 5 }, "stages or a rate, not both"),
            (plan { $0.stages = Array(repeating: Result_Stage(), count: 101) }, "at most 100 stages"),
            (plan { var stage = Result_Stage(); stage.durationNs = 1_000; stage.target = 2; $0.connectionStages = [stage]; $0.rate = 5 },
             "connection stages ramp a closed-model run"),
            (plan { $0.requests = [named("a", "http://127.0.0.1:9/"), named("b", "http://127.0.0.1:10/")] },
             "another scheme, host or port"),
            (plan { $0.requests = (0..<65).map { named("n\($0)", "http://127.0.0.1:9/") } }, "65 request names; a plan has at most 64"),
            (plan { $0.requests = [named("a\u{1B}[2J", "http://127.0.0.1:9/")] }, "contains control characters"),
            (plan { $0.requests = [named("a", "http://127.0.0.1:9/", weight: 5_000)] }, "weight is 5000; at most 1000"),
            (plan { $0.requests = [named("a", "http://127.0.0.1:9/", body: 400 << 10)] }, "the request bodies add up to"),
            (plan { $0.requests = Array(repeating: named("a", "http://127.0.0.1:9/", weight: 1_000), count: 101) },
             "the weights add up to 101000"),
            (plan { $0.requests = [named("a", "")] }, "a request's URL, method or headers are empty or too large"),
            (plan { $0.requests = [named("a", "http://127.0.0.1:9/ x")] }, "spaces or line breaks"),
            (plan { $0.requests = [named("a", "http://127.0.0.1:9/")]; $0.headers = (0..<40).map { "X-\($0): " + String(repeating: "v", count: 2_000) } },
             "the shared headers add up to more than 65536 bytes"),
            (plan { $0.requests = [named("a", "http://127.0.0.1:9/")]; $0.mixOffset = 3; $0.mixStride = 3 }, "is not a slave's part of a run"),
        ] as [(Result_Plan, String)])
    func refused(plan: Result_Plan, message: String) async throws {
        let folder = try TemporaryDirectory()
        let master = PlanningMaster(plan: plan, startAt: 0)
        let (status, stderr) = try await withFakeMaster(master) { port in
            let slave = try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", "careful"], in: folder.url)
            defer { slave.terminate() }
            return (try await slave.waitForExit(timeout: .seconds(30)), slave.stderr)
        }
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains("the master sent a plan this slave cannot run"), "\(stderr)")
        #expect(stderr.contains(message), "\(stderr)")
    }

    @Test("a start time far in the future or the past: the slave waits at most 10 s, then runs its share")
    func startTimes() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        for startAt in [Int64.max, Int64.min, -1] {
            let master = PlanningMaster(plan: plan { $0.url = "http://127.0.0.1:\(targetPort)/" }, startAt: startAt)
            let started = ContinuousClock.now
            let status = try await withFakeMaster(master) { port in
                let slave = try ChildProcess(["slave", "--master", "127.0.0.1:\(port)", "--name", "patient"], in: folder.url)
                defer { slave.terminate() }
                return try await slave.waitForExit(timeout: .seconds(60))
            }
            #expect(status == 0, "start at \(startAt)")
            #expect(master.finalPosted.value.load(ordering: .relaxed) == 10, "start at \(startAt)")
            #expect(ContinuousClock.now - started < .seconds(40), "start at \(startAt)")
        }
        #expect(try await targetRequests(port: targetPort) == 30)
    }
}
