import Foundation
import Store
import Testing

/// Thresholds gate CI through the real binary: exit 0 when they pass, 99 when one fails (as
/// k6), the verdict stored and shown in every format.
@Suite("Thresholds that gate CI")
struct ThresholdGateTests {
    @Test("run: passing thresholds exit 0; a failed one exits 99, and every report format shows the verdicts")
    func runGate() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let url = "http://127.0.0.1:\(port)/delay/20"
        let pass = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", url, "--tasks", "40", "--batch", "4", "--threshold", "p50>=15ms",
             "--threshold", "error_rate<1%", "--threshold", "failures==0"],
            in: folder.url)
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(pass.stdout.contains("thresholds: 3 passed"), "\(pass.stdout)")

        let failed = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", url, "--tasks", "40", "--batch", "4", "--threshold", "p99<5ms",
             "--threshold", "error_rate<1%"],
            in: folder.url)
        #expect(failed.status == 99, "\(failed.stderr)")
        #expect(failed.stderr.contains("run 2: 1 threshold(s) failed: p99<5ms (p99 = "), "\(failed.stderr)")
        #expect(failed.stdout.contains("thresholds: 1 passed, 1 FAILED"))
        #expect(failed.stdout.contains("FAIL  p99<5ms"))

        // Stored with the run: report judges them again, in every format, and exits 99.
        let text = try await ChildProcess.run(["report", "--run", "2", "--db", "runs.db"], in: folder.url)
        #expect(text.status == 99)
        #expect(text.stdout == failed.stdout)
        let json = try await ChildProcess.run(["report", "--run", "2", "--db", "runs.db", "--format", "json"], in: folder.url)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["thresholdsPassed"] as? Bool == false)
        let verdicts = try #require(object["thresholds"] as? [[String: Any]])
        #expect(verdicts.map { $0["threshold"] as? String } == ["p99<5ms", "error_rate<1%"])
        #expect(verdicts.map { $0["passed"] as? Bool } == [false, true])
        #expect((verdicts[0]["value"] as? Double ?? 0) >= 15, "\(verdicts)")
        let csv = try await ChildProcess.run(["report", "--run", "2", "--db", "runs.db", "--format", "csv"], in: folder.url)
        #expect(csv.stdout.split(separator: "\r\n").last?.hasSuffix(",p99<5ms:FAIL;error_rate<1%:pass") == true, "\(csv.stdout)")

        // report --threshold adds to what is stored; a run without thresholds exits 0.
        let added = try await ChildProcess.run(
            ["report", "--run", "1", "--db", "runs.db", "--threshold", "p99<5ms"], in: folder.url)
        #expect(added.status == 99)
        #expect(added.stdout.contains("thresholds: 3 passed, 1 FAILED"), "\(added.stdout)")
        let judged = try await ChildProcess.run(
            ["report", "--run", "1", "--db", "runs.db", "--threshold", "rps>0", "--format", "json"], in: folder.url)
        #expect(judged.status == 0, "\(judged.stderr)")
    }

    @Test("a target answering 500: error_rate and failures thresholds fail, exit 99")
    func errors() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let run = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/status/500", "--tasks", "30", "--batch", "3",
             "--threshold", "error_rate<1%", "--threshold", "failures==0", "--threshold", "p99<10s"],
            in: folder.url)
        #expect(run.status == 99, "\(run.stderr)")
        #expect(run.stderr.contains("2 threshold(s) failed: error_rate<1% (error_rate = 100.000 %), failures==0 (failures = 30)"), "\(run.stderr)")
    }

    @Test("master --expect-slaves with a failing threshold exits 99; the slaves exit 0")
    func masterGate() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, masterPort) = try await startMaster(
            ["--expect-slaves", "2", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/", "--tasks", "100",
             "--threshold", "requests>=1000"],
            in: folder.url)
        defer { master.terminate() }
        let slaves = try MasterPlanTests.slaves(["a", "b"], port: masterPort, in: folder.url)
        defer { slaves.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 99, "\(master.stderr)")
        #expect(master.stderr.contains("requests>=1000 (requests = 100)"), "\(master.stderr)")
        for slave in slaves { #expect(try await slave.waitForExit(timeout: .seconds(30)) == 0) }
        #expect(try RunStore.openReadOnly(path: folder.path("runs.db")).run(1).thresholds == ["requests>=1000"])
    }

    @Test("report --compare M --fail-on worse: exit 99 when the run is worse than its baseline, 0 when it is not")
    func compareGate() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        // Far apart: no hiccup of the fast run (its max included) comes near 500 ms.
        for (path, tasks) in [("", "60"), ("delay/500", "10")] {
            let run = try await ChildProcess.run(
                ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/\(path)", "--tasks", tasks, "--batch", "2"],
                in: folder.url)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let worse = try await ChildProcess.run(
            ["report", "--run", "2", "--compare", "1", "--fail-on", "worse", "--db", "runs.db"], in: folder.url)
        #expect(worse.status == 99, "\(worse.stderr)")
        #expect(worse.stderr.contains("run 2 is worse than run 1 beyond 5% on requests/s"), "\(worse.stderr)")
        #expect(worse.stdout.contains("WORSE"))
        let better = try await ChildProcess.run(
            ["report", "--run", "1", "--compare", "2", "--fail-on", "worse", "--db", "runs.db", "--tolerance", "10%"], in: folder.url)
        #expect(better.status == 0, "\(better.stdout)\(better.stderr)")
    }

    @Test("threshold mistakes are refused before anything runs or is read")
    func mistakes() async throws {
        let folder = try TemporaryDirectory()
        let cases: [([String], String)] = [
            (["run", "--url", "http://127.0.0.1:9/", "--tasks", "1", "--threshold", "p99 250ms"], "has no comparison"),
            (["run", "--url", "http://127.0.0.1:9/", "--tasks", "1", "--threshold", "latency<1ms"], "names no metric"),
            (["run", "--url", "http://127.0.0.1:9/", "--tasks", "1", "--threshold", "error_rate<1"], "needs a percentage"),
            (["run", "--url", "http://127.0.0.1:9/", "--tasks", "1", "--abort-on-fail"], "needs at least one --threshold"),
            (["master", "--port", "0", "--threshold", "p99<<5"], "has no number"),
            (["report", "--run", "1", "--fail-on", "better", "--compare", "2"], "--fail-on takes `worse`"),
            (["report", "--run", "1", "--fail-on", "worse"], "goes with --compare"),
            (["report", "--run", "1", "--threshold", "p99<1ms", "--timeline"], "leave out --timeline and --compare"),
        ]
        for (arguments, message) in cases {
            let result = try await ChildProcess.run(arguments + ["--db", "runs.db"], in: folder.url)
            #expect(result.status != 0 && result.status != 99, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("runs.db")))
    }
}
