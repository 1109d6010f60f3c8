import Foundation
import Store
import Testing

@Suite("--expect-status decides success")
struct ExpectStatusTests {
    @Test("404 expected: every 404 a success; the default: every 404 a failure; 200 not expected: a failure")
    func decides() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let cases: [(path: String, expect: [String], successes: Int)] = [
            ("status/404", ["--expect-status", "200-299,404"], 40),
            ("status/404", [], 0),
            ("", ["--expect-status", "404"], 0),
        ]
        for (index, item) in cases.enumerated() {
            let run = try await ChildProcess.run(
                ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/\(item.path)", "--tasks", "40", "--batch", "4"]
                    + item.expect,
                in: folder.url)
            #expect(run.status == 0, "\(run.stderr)")
            let json = try await ChildProcess.run(
                ["report", "--run", String(index + 1), "--db", "runs.db", "--format", "json"], in: folder.url)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let total = try #require(object["total"] as? [String: Any])
            #expect(total["successes"] as? Int == item.successes, "\(item)")
            #expect(total["failures"] as? Int == 40 - item.successes, "\(item)")
        }
        let stored = try RunStore.openReadOnly(path: folder.path("runs.db")).runSlaves(1)
        #expect(stored.first?.plan.expectStatus == "200-299,404")
        let text = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db"], in: folder.url)
        #expect(text.stdout.contains("success: 200-299,404"), "\(text.stdout)")
    }

    @Test("a master's --expect-status reaches its slaves")
    func master() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (master, masterPort) = try await startMaster(
            ["--expect-slaves", "2", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/status/404", "--tasks", "20",
             "--expect-status", "404", "--threshold", "failures==0"],
            in: folder.url)
        defer { master.terminate() }
        let slaves = try MasterPlanTests.slaves(["a", "b"], port: masterPort, in: folder.url)
        defer { slaves.forEach { $0.terminate() } }
        #expect(try await master.waitForExit(timeout: .seconds(60)) == 0, "\(master.stderr)")
        let shares = try RunStore.openReadOnly(path: folder.path("runs.db")).runSlaves(1)
        #expect(shares.map(\.plan.expectStatus) == ["404", "404"])
    }
}
