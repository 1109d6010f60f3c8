import Foundation
import GRPCCore
import Protocol
import Store
import Testing

/// Many requests in one run, through the real binary: a targets file's named requests go in
/// their weights' ratio, every report format has a row per name that adds up to the totals, and
/// thresholds, timelines and comparisons work per name.
@Suite("Runs of a targets file", .serialized)
struct TargetsFileRunTests {
    /// Three named requests, weights 1:2:1: a fast one, a 20 ms one, and one answering 500.
    static func writeTargets(port: Int, in folder: borrowing TemporaryDirectory, delay: Int = 20) throws {
        try Data(#"{"user":"a"}"#.utf8).write(to: folder.url.appendingPathComponent("login.json"))
        let text = """
            # name: login
            POST http://127.0.0.1:\(port)/
            Content-Type: application/json
            @login.json

            # name: slow
            # weight: 2
            GET http://127.0.0.1:\(port)/delay/\(delay)

            # a comment
            GET http://127.0.0.1:\(port)/status/500

            """
        try Data(text.utf8).write(to: folder.url.appendingPathComponent("targets.txt"))
    }

    static let names = ["login", "slow", "GET /status/500"]

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("weights 1:2:1 over 4,000 requests: per-name counts in that ratio, and every format's per-name rows add up to the totals")
    func ratio() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        try Self.writeTargets(port: port, in: folder, delay: 1)
        let run = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--targets", "targets.txt", "--tasks", "4000", "--batch", "8"], in: folder.url)
        #expect(run.status == 0, "the 500s fail requests, not the command (no thresholds): \(run.stderr)")
        #expect(try await targetRequests(port: port) == 4000)

        // The database: per name, per window, parts of the windows.
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        var byName: [String: UInt64] = [:]
        var windows = 0
        try store.forEachWindow(ofRun: 1) { window in
            windows += 1
            #expect(window.byName.reduce(0) { $0 + $1.requests } == window.requests)
            for part in window.byName { byName[part.name, default: 0] += part.requests }
        }
        #expect(windows > 0)
        #expect(byName == ["login": 1000, "slow": 2000, "GET /status/500": 1000])
        #expect(try store.runSlaves(1).first?.plan.requests.map(\.name) == Self.names)
        #expect(try store.runSlaves(1).first?.plan.requests.map(\.weight) == [1, 2, 1])
        store.close()

        // Text: a row per name, in the file's order.
        let text = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db"], in: folder.url)
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        let table = try #require(lines.firstIndex { $0.hasPrefix("by request name") })
        for (offset, (name, count)) in zip(Self.names, [1000, 2000, 1000]).enumerated() {
            let row = lines[table + 1 + offset]
            #expect(row.hasPrefix(name) && row.contains(" total ") && row.contains(" \(count) "), "\(row)")
        }
        #expect(text.stdout.contains("GET /status/500: 500: 1000"), "\(text.stdout)")

        // CSV: the all-names rows have an empty name; each name's rows add up to the totals.
        let csv = try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "csv"], in: folder.url)
        let records = csv.stdout.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = try #require(records.first)
        let name = try #require(header.firstIndex(of: "name"))
        let scope = try #require(header.firstIndex(of: "scope"))
        let requests = try #require(header.firstIndex(of: "requests"))
        let failures = try #require(header.firstIndex(of: "failures"))
        let totals = records.dropFirst().filter { $0[scope] == "total" }
        #expect(totals.map { $0[name] } == [""] + Self.names)
        #expect(totals.map { $0[requests] } == ["4000", "1000", "2000", "1000"])
        #expect(totals.dropFirst().map { Int($0[requests]) ?? 0 }.reduce(0, +) == 4000)
        #expect(totals.dropFirst().map { Int($0[failures]) ?? 0 }.reduce(0, +) == Int(totals[0][failures]))
        #expect(totals.map { $0[failures] } == ["1000", "0", "0", "1000"])
        // Each name's requests/s is over the whole run's time: they add up to the run's.
        let rps = try #require(header.firstIndex(of: "requests_per_s"))
        let duration = try #require(header.firstIndex(of: "duration_s"))
        #expect(Set(totals.map { $0[duration] }).count == 1, "one span: \(totals.map { $0[duration] })")
        let sum = totals.dropFirst().map { Double($0[rps]) ?? 0 }.reduce(0, +)
        #expect(abs(sum - (Double(totals[0][rps]) ?? 0)) < 1, "\(sum) vs \(totals[0][rps])")

        // JSON: names[], each with its slaves and total.
        let json = try Self.json(
            try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url).stdout)
        let names = try #require(json["names"] as? [[String: Any]])
        #expect(names.map { $0["name"] as? String } == Self.names)
        let counts = names.map { (($0["total"] as? [String: Any])?["requests"] as? Int) ?? -1 }
        #expect(counts == [1000, 2000, 1000])
        #expect(counts.reduce(0, +) == ((json["total"] as? [String: Any])?["requests"] as? Int))
        let slow = try #require(names[1]["total"] as? [String: Any])
        let latency = try #require(slow["latency"] as? [String: Any])
        #expect((latency["p50Ms"] as? Double ?? 0) >= 1, "the delayed name's own latencies: \(latency)")
        let plan = try #require(((json["slaves"] as? [[String: Any]])?.first?["plan"] as? [String: Any])?["requests"] as? [[String: Any]])
        #expect(plan.map { $0["name"] as? String } == Self.names)

        // The timeline of one name adds up to its total; an unknown name is refused, saying which there are.
        let timeline = try await ChildProcess.run(
            ["report", "--run", "1", "--db", "runs.db", "--timeline", "--name", "slow", "--format", "csv"], in: folder.url)
        #expect(timeline.status == 0, "\(timeline.stderr)")
        let buckets = timeline.stdout.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(buckets.allSatisfy { $0[2] == "slow" })
        #expect(buckets.map { Int($0[5]) ?? 0 }.reduce(0, +) == 2000, "\(timeline.stdout)")
        let unknown = try await ChildProcess.run(
            ["report", "--run", "1", "--db", "runs.db", "--timeline", "--name", "nope"], in: folder.url)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("run 1 has no request named \"nope\"; its names: login, slow, GET /status/500"), "\(unknown.stderr)")
    }

    @Test("per-name thresholds gate: a slow name fails p99 (exit 99), the fast one passes; a name the plan lacks is refused before the run")
    func thresholds() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        try Self.writeTargets(port: port, in: folder, delay: 50)
        let gated = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--targets", "targets.txt", "--tasks", "80", "--batch", "4",
             "--threshold", "slow:p99<20ms", "--threshold", "login:error_rate<1%", "--threshold", "GET /status/500:failures==20"],
            in: folder.url)
        #expect(gated.status == 99, "\(gated.stderr)")
        #expect(gated.stderr.contains("1 threshold(s) failed: slow:p99<20ms (p99 = "), "\(gated.stderr)")
        #expect(gated.stdout.contains("pass  login:error_rate<1%"), "\(gated.stdout)")
        #expect(gated.stdout.contains("pass  GET /status/500:failures==20"), "\(gated.stdout)")
        let json = try Self.json(
            try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url).stdout)
        let verdicts = try #require(json["thresholds"] as? [[String: Any]])
        #expect(verdicts.map { $0["name"] as? String } == ["slow", "login", "GET /status/500"])
        #expect(verdicts.map { $0["passed"] as? Bool } == [false, true, true])
        #expect((verdicts[0]["value"] as? Double ?? 0) >= 50)

        // report --threshold on a name judges the stored run again.
        let judged = try await ChildProcess.run(
            ["report", "--run", "1", "--db", "runs.db", "--threshold", "login:p99<5s", "--threshold", "slow:p50>=50ms"],
            in: folder.url)
        #expect(judged.status == 99, "the stored slow:p99<20ms still fails: \(judged.stderr)")
        #expect(judged.stdout.contains("thresholds: 4 passed, 1 FAILED"), "\(judged.stdout)")

        let typo = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--targets", "targets.txt", "--tasks", "80", "--threshold", "slwo:p99<20ms"],
            in: folder.url)
        #expect(typo.status == 1)
        #expect(typo.stderr.contains("judges request \"slwo\", which the plan does not have; its names: login, slow, GET /status/500"), "\(typo.stderr)")
        let plain = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--url", "http://127.0.0.1:\(port)/", "--tasks", "10", "--threshold", "login:p99<20ms"],
            in: folder.url)
        #expect(plain.status == 1)
        #expect(plain.stderr.contains("the plan has none (names come with --targets)"), "\(plain.stderr)")
        #expect(try RunStore.openReadOnly(path: folder.path("runs.db")).runIds() == [1], "mistakes start no run")
    }

    @Test("the master's targets file over 3 slaves: shares add up to 1,001, names count across slaves, --compare per name")
    func masterPlan() async throws {
        let folder = try TemporaryDirectory()
        let (target, port) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        try Self.writeTargets(port: port, in: folder, delay: 1)
        // The second run takes the same plan from a --plan file (its targets path relative to it).
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("plans"), withIntermediateDirectories: true)
        try Data(#"{"targets": "../targets.txt", "tasks": 1001, "batch": 6}"#.utf8)
            .write(to: folder.url.appendingPathComponent("plans/plan.json"))
        for plan in [["--targets", "targets.txt", "--tasks", "1001", "--batch", "6"], ["--plan", "plans/plan.json"]] {
            let (master, masterPort) = try await startMaster(["--expect-slaves", "3", "--db", "runs.db"] + plan, in: folder.url)
            defer { master.terminate() }
            let slaves = try ["a", "b", "c"].map {
                try ChildProcess(["slave", "--master", "127.0.0.1:\(masterPort)", "--name", $0], in: folder.url)
            }
            defer { slaves.forEach { $0.terminate() } }
            #expect(try await master.waitForExit(timeout: .seconds(90)) == 0, "\(master.stderr)")
            for slave in slaves { #expect(try await slave.waitForExit(timeout: .seconds(30)) == 0, "\(slave.stderr)") }
        }
        let store = try RunStore.openReadOnly(path: folder.path("runs.db"))
        #expect(try store.run(1).plan?.requests.map(\.name) == Self.names)
        #expect(try store.run(2).plan == store.run(1).plan)
        #expect(try store.runSlaves(1).map(\.plan.tasks) == [334, 334, 333])
        var byName: [String: [String: UInt64]] = [:]
        try store.forEachWindow(ofRun: 1) { window in
            for part in window.byName { byName[part.name, default: [:]][window.slave, default: 0] += part.requests }
        }
        store.close()
        // The slaves go through the mix's order (slow, login, 500, slow) together, slave i of 3
        // taking entries i, i + 3, ...: entries 0 ... 1000 once each, so the whole run has the
        // mix exactly, as one client would (slow 501, login 250, 500 250).
        #expect(byName["login"] == ["a": 83, "b": 84, "c": 83])
        #expect(byName["slow"] == ["a": 168, "b": 167, "c": 166])
        #expect(byName["GET /status/500"] == ["a": 83, "b": 83, "c": 84])

        let report = try Self.json(
            try await ChildProcess.run(["report", "--run", "1", "--db", "runs.db", "--format", "json"], in: folder.url).stdout)
        let names = try #require(report["names"] as? [[String: Any]])
        let login = try #require(names.first)
        #expect((login["slaves"] as? [[String: Any]])?.map { $0["requests"] as? Int } == [83, 84, 83])
        #expect((login["total"] as? [String: Any])?["requests"] as? Int == 250)

        let compare = try await ChildProcess.run(
            ["report", "--run", "2", "--compare", "1", "--db", "runs.db", "--format", "csv", "--tolerance", "1000%"], in: folder.url)
        #expect(compare.status == 0, "\(compare.stderr)")
        let rows = compare.stdout.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(Set(rows.dropFirst().map { String($0[1]) }) == Set([""] + Self.names), "\(compare.stdout)")
        #expect(rows.dropFirst().filter { $0[0] == "p99" }.count == 4)
    }

    @Test("a master with a targets file refuses a 0.2.0 slave (it would run only the first request) and takes a 0.3.0 one")
    func oldSlaveRefused() async throws {
        let folder = try TemporaryDirectory()
        try Self.writeTargets(port: 9, in: folder)
        let (master, port) = try await startMaster(["--db", "runs.db", "--targets", "targets.txt", "--tasks", "10"], in: folder.url)
        defer { master.terminate() }
        let peer = try HostilePeer(port: port)
        let old = peer.connect("old", session: "session-old", version: "0.2.0")
        let refusal = await old.end()
        #expect(refusal?.code == .failedPrecondition)
        #expect(refusal?.message.contains("a slave of version 0.2.0 cannot take") == true, "\(String(describing: refusal))")
        let current = peer.connect("current", session: "session-current", version: "0.3.0")
        _ = try await current.next(.welcome)
        current.close()
    }

    @Test("bad targets files and flag mixes are refused with the line and a fix; nothing is stored")
    func mistakes() async throws {
        let folder = try TemporaryDirectory()
        let cases: [(file: String, arguments: [String], message: String)] = [
            ("GET http://127.0.0.1:9/\nX-A 1\n", [], "targets.txt:2: \"X-A 1\" is neither a header"),
            ("GET http://127.0.0.1:9/\n\nGET http://127.0.0.1:10/\n", [], "targets.txt:3 goes to http://127.0.0.1:10/, another scheme, host or port"),
            ("# weight: -1\nGET http://127.0.0.1:9/\n", [], "targets.txt:1: weight \"-1\""),
            ("GET http://127.0.0.1:9/\n@missing.json\n", [], "targets.txt:2: cannot read the body file"),
            ("GET http://127.0.0.1:9/\n", ["--url", "http://127.0.0.1:9/"], "--targets gives each request its URL"),
            ("GET http://127.0.0.1:9/\n", ["--method", "POST"], "--targets gives each request its method and body"),
            ("GET http://127.0.0.1:9/ HTTP/1.1\n", [], "targets.txt:1: a request line is METHOD URL, nothing after the URL"),
            ("\u{FEFF}GET http://127.0.0.1:9/\nBad Name: x\n", [], "targets.txt:2: header \"Bad Name: x\" has a name that is not a token"),
        ]
        for (file, arguments, message) in cases {
            try Data(file.utf8).write(to: folder.url.appendingPathComponent("targets.txt"))
            let result = try await ChildProcess.run(
                ["run", "--db", "runs.db", "--targets", "targets.txt", "--tasks", "10"] + arguments, in: folder.url)
            #expect(result.status != 0, "\(file)")
            #expect(result.stderr.contains(message), "\(file): \(result.stderr)")
        }
        let missing = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--targets", "nope.txt", "--tasks", "10"], in: folder.url)
        #expect(missing.stderr.contains("cannot read --targets nope.txt"), "\(missing.stderr)")
        // A file that never ends is not read to its end.
        let endless = try await ChildProcess.run(
            ["run", "--db", "runs.db", "--targets", "/dev/zero", "--tasks", "10"], in: folder.url)
        #expect(endless.stderr.contains("--targets /dev/zero is more than 524288 bytes"), "\(endless.stderr)")
        // A plan file with targets and a url, method or body is refused, naming the keys.
        try Data(#"{"targets": "targets.txt", "method": "POST", "tasks": 10}"#.utf8).write(to: folder.url.appendingPathComponent("plan.json"))
        let mixed = try await ChildProcess.run(
            ["master", "--host", "127.0.0.1", "--port", "0", "--db", "runs.db", "--plan", "plan.json"], in: folder.url)
        #expect(mixed.stderr.contains("leave out \"url\", \"method\" and \"body\""), "\(mixed.stderr)")
        // The master checks its targets file before it listens.
        try Data("GET http://127.0.0.1:9/\nbad\n".utf8).write(to: folder.url.appendingPathComponent("targets.txt"))
        let master = try await ChildProcess.run(
            ["master", "--host", "127.0.0.1", "--port", "0", "--db", "runs.db", "--targets", "targets.txt", "--tasks", "10"],
            in: folder.url)
        #expect(master.status == 1)
        #expect(master.stderr.contains("targets.txt:2:"), "\(master.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("runs.db")), "no database was made")
    }
}
