import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import Testing

/// A goloadtest process started by a test: its output is captured as it comes, and every wait
/// is bounded.
final class ChildProcess: Sendable {
    private let process: Process
    private let output = CapturedOutput()
    let arguments: [String]

    /// The binary under test: $GOLOADTEST_BIN, else the one `swift build` put next to the tests.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["GOLOADTEST_BIN"] {
            return URL(fileURLWithPath: path)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var candidates: [URL] = []
        let bundle = Bundle.main.bundleURL
        candidates.append(bundle.appendingPathComponent("goloadtest"))
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("goloadtest"))
        candidates.append(root.appendingPathComponent(".build/debug/goloadtest"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates.last!
    }()

    init(_ arguments: [String], in directory: URL, environment: [String: String] = [:], executable: URL? = nil) throws {
        self.arguments = arguments
        process = Process()
        process.executableURL = executable ?? Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["GET_URL"] = nil
        env["GOLOADTEST_TOKEN"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Each stream read to its end on a thread of its own, with read(2): nothing is lost
        // however fast the process writes and exits.
        Self.pump(stdout.fileHandleForReading.fileDescriptor, into: output, \.stdout, closed: \.stdoutClosed)
        Self.pump(stderr.fileHandleForReading.fileDescriptor, into: output, \.stderr, closed: \.stderrClosed)

    }

    var stdout: String { output.text.withLock { String(decoding: $0.stdout, as: UTF8.self) } }
    var stderr: String { output.text.withLock { String(decoding: $0.stderr, as: UTF8.self) } }

    private static func pump(
        _ descriptor: Int32, into output: CapturedOutput, _ stream: any WritableKeyPath<CapturedOutput.Streams, Data> & Sendable,
        closed: any WritableKeyPath<CapturedOutput.Streams, Bool> & Sendable
    ) {
        Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count > 0 {
                    output.text.withLock { $0[keyPath: stream].append(contentsOf: buffer[0..<count]) }
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    output.text.withLock { $0[keyPath: closed] = true }
                    return
                }
            }
        }.start()
    }
    var isRunning: Bool { process.isRunning }

    /// Waits until stderr matches `pattern` and returns the first capture group.
    func waitForStderr(_ pattern: String, timeout: Duration = .seconds(30)) async throws -> String {
        let regex = try Regex(pattern)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = stderr.firstMatch(of: regex) {
                return match.output.count > 1 ? String(match.output[1].substring ?? "") : String(match.output[0].substring ?? "")
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChildProcessError.timedOut("no stderr line matching \(pattern) from \(arguments); stderr:\n\(stderr)")
    }

    /// Waits for the process to exit and returns its status; kills it if it takes too long.
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw ChildProcessError.timedOut("\(arguments) still running after \(timeout); stderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.waitUntilExit()
        // Everything written last, up to the end of both streams (a few seconds at most: a
        // server the process started may hold them open).
        let drained = ContinuousClock.now + .seconds(5)
        while !output.text.withLock({ $0.stdoutClosed && $0.stderrClosed }), ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Sends `signal` (SIGKILL, SIGSTOP, SIGCONT, SIGINT, ...).
    func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    var pid: Int32 { process.processIdentifier }

    /// Runs a short command to completion.
    static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(arguments, in: directory, environment: environment)
        let status = try await child.waitForExit(timeout: timeout)
        return (status, child.stdout, child.stderr)
    }

    /// Runs another program (openssl, nginx) to completion.
    static func runTool(
        _ path: String, _ arguments: [String], in directory: URL, timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(arguments, in: directory, executable: URL(fileURLWithPath: path))
        let status = try await child.waitForExit(timeout: timeout)
        return (status, child.stdout, child.stderr)
    }
}

final class CapturedOutput: Sendable {
    struct Streams {
        var stdout = Data()
        var stderr = Data()
        var stdoutClosed = false
        var stderrClosed = false
    }

    let text = Mutex(Streams())
}

enum ChildProcessError: Error, CustomStringConvertible {
    case timedOut(String)
    case failed(String)
    var description: String {
        switch self {
        case .timedOut(let message), .failed(let message): return message
        }
    }
}

/// A fresh folder per test, removed afterwards.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("goloadtest-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Starts `goloadtest target --port 0` and returns it with its port.
func startTarget(in directory: URL) async throws -> (ChildProcess, Int) {
    let target = try ChildProcess(["target", "--port", "0", "--threads", "1"], in: directory)
    let port = try await target.waitForStderr(#"listening on http://127\.0\.0\.1:(\d+)/"#)
    return (target, try #require(Int(port)))
}

/// Starts a master on 127.0.0.1 with a free port and returns it with the port.
func startMaster(_ extra: [String], in directory: URL, environment: [String: String] = [:]) async throws -> (ChildProcess, Int) {
    let master = try ChildProcess(["master", "--host", "127.0.0.1", "--port", "0"] + extra, in: directory, environment: environment)
    let port = try await master.waitForStderr(#"listening on 127\.0\.0\.1:(\d+)"#)
    return (master, try #require(Int(port)))
}

/// GET http://127.0.0.1:port/stats from the target: requests it served.
func targetRequests(port: Int) async throws -> Int {
    let (data, _) = try await URLSession.shared.data(from: try #require(URL(string: "http://127.0.0.1:\(port)/stats")))
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    return try #require(object?["requests"] as? Int)
}
