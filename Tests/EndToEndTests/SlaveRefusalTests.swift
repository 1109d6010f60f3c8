import Foundation
import GRPCCore
import Synchronization
import Testing

/// A slave never drops a window silently: a window the master refuses for good is logged with
/// the reason, counted in the slave's last line, and makes it exit non-zero.
@Suite("A slave whose windows are refused")
struct SlaveRefusalTests {
    @Test("every window refused for good: logged with the reason, counted, exit 1", arguments: [
        RPCError.Code.invalidArgument, .permissionDenied, .failedPrecondition,
    ])
    func refusedWindows(code: RPCError.Code) async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let (status, stderr) = try await withFakeMaster(RefusingMaster(refusal: code)) { port in
            let slave = try ChildProcess(
                ["SLAVE", "127.0.0.1", String(port), "refused", "50", "5"], in: folder.url,
                environment: ["GET_URL": "http://127.0.0.1:\(targetPort)/"])
            defer { slave.terminate() }
            return (try await slave.waitForExit(timeout: .seconds(60)), slave.stderr)
        }
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains("refused window 0 of run 1 for good"), "\(stderr)")
        #expect(stderr.contains("this master refuses every window"))
        #expect(stderr.contains("their measurements are not in its database"), "\(stderr)")
    }
}

@Suite("STOP names its run")
struct StaleStopTests {
    @Test("a STOP for another run does not stop the run the slave is executing")
    func staleStopIgnored() async throws {
        let folder = try TemporaryDirectory()
        let (target, targetPort) = try await startTarget(in: folder.url)
        defer { target.terminate() }
        let master = StaleStopMaster()
        let (status, stderr) = try await withFakeMaster(master) { port in
            let slave = try ChildProcess(
                ["SLAVE", "127.0.0.1", String(port), "steady", "400", "2"], in: folder.url,
                environment: ["GET_URL": "http://127.0.0.1:\(targetPort)/delay/1"])
            defer { slave.terminate() }
            return (try await slave.waitForExit(timeout: .seconds(60)), slave.stderr)
        }
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("ignoring stop of run 99"), "\(stderr)")
        #expect(master.reportedTotal.value.load(ordering: .relaxed) == 400, "the run was stopped early: \(stderr)")
    }
}
