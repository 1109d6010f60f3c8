import Foundation
import GRPCCore
import Store
import SwiftProtobuf
import TestKit
import Testing

@testable import Cluster
import Engine
import Protocol

/// Thousands of random and mutated messages at a running master: it keeps serving, stores only
/// windows that pass its checks, and still takes valid traffic.
@Suite("Fuzzing the master")
struct MasterFuzzTests {
    /// The same "random" messages on every run.
    typealias Generator = SplitMix64

    static func mutate(_ bytes: [UInt8], _ random: inout Generator) -> [UInt8] {
        var bytes = bytes
        switch random.next() % 4 {
        case 0:
            for _ in 0..<(1 + random.next() % 8) where !bytes.isEmpty {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            }
        case 1:
            bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
        case 2:
            bytes += (0..<(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        default:
            bytes = (0..<(random.next() % 256)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
        return bytes
    }

    static func randomSummary(_ random: inout Generator, runId: Int64) -> Result_Summary {
        var summary = Result_Summary()
        let names = ["a", "b", "", "ghost", String(repeating: "x", count: 300), "a\u{0}b"]
        summary.runID = [runId, 0, -1, runId + 1, Int64.max][Int(random.next() % 5)]
        summary.slaveName = names[Int(random.next() % UInt64(names.count))]
        summary.seq = [0, 1, random.next() % 10, random.next(), UInt64.max][Int(random.next() % 5)]
        summary.requests = random.next() % 3 == 0 ? random.next() : random.next() % 100
        summary.successes = random.next() % 100
        summary.failures = random.next() % 100
        summary.startedAtNs = Int64(bitPattern: random.next())
        summary.endedAtNs = Int64(bitPattern: random.next())
        summary.histogram = Data((0..<(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        if random.next() % 2 == 0 {
            summary.statusCodes = [UInt32(truncatingIfNeeded: random.next() % 1200): random.next() % 50]
        }
        if random.next() % 3 == 0 {
            summary.errors = [String(repeating: "e", count: Int(random.next() % 100)): random.next() % 50]
        }
        summary.final = random.next() % 10 == 0
        summary.late = random.next() % 3 == 0 ? random.next() : 0
        return summary
    }

    @Test("random and mutated Summary and Connect messages: no crash, nothing invalid stored, valid traffic accepted")
    func fuzz() async throws {
        let store = try RunStore.inMemory()
        let ((stored, storedValid), _) = try await withInProcessMaster(store: store) { master in
            let a = try await master.connectWelcomed("a")
            let b = try await master.connectWelcomed("b")
            let runId = try await master.start([a, b])
            var random = Generator(seed: 2026)
            let valid = try Result_Summary(testWindow(runId: runId, slave: "a", seq: 0), totalRequests: 0)
                .serializedBytes() as [UInt8]
            var nextSeq: UInt64 = 0
            var validStored = 0
            var refused = 0

            for iteration in 0..<3_000 {
                let message: Result_Summary
                if random.next() % 2 == 0 {
                    let bytes = Self.mutate(valid, &random)
                    message = (try? Result_Summary(serializedBytes: bytes)) ?? Self.randomSummary(&random, runId: runId)
                } else {
                    message = Self.randomSummary(&random, runId: runId)
                }
                do {
                    _ = try await master.post(message)
                } catch let error as RPCError {
                    #expect(
                        [.invalidArgument, .notFound, .resourceExhausted, .permissionDenied, .failedPrecondition]
                            .contains(error.code), "\(error)")
                    refused += 1
                }

                if iteration % 300 == 0 {
                    // Random connects: refused or welcomed, never a crash.
                    var request = Result_ConnectRequest.slave("fuzz\(iteration)")
                    if let mutated = try? Result_ConnectRequest(
                        serializedBytes: Self.mutate(try request.serializedBytes() as [UInt8], &random))
                    {
                        request = mutated
                    }
                    let slave = master.connect(request)
                    _ = try? await slave.next()
                    slave.disconnect()
                }
                if iteration % 100 == 0 {
                    // Valid traffic keeps being accepted, and acknowledged as newly stored.
                    nextSeq += 1
                    let ack = try await master.post(testWindow(runId: runId, slave: "b", seq: nextSeq))
                    #expect(ack.newlyStored)
                    validStored += 1
                }
            }
            #expect(refused > 2_000, "only \(refused) of 3,000 fuzzed messages were refused")
            #expect(try await master.ask("status").contains("run \(runId)"))
            try await master.finish(run: runId, ["a", "b"])
            return (try storedWindows(store, run: runId), validStored)
        }
        // Whatever got through passed every check a stored window must pass.
        for window in stored {
            #expect(window.problem == nil, "stored an invalid window: \(window)")
            #expect(["a", "b"].contains(window.slave))
        }
        #expect(stored.filter { $0.slave == "b" }.count >= storedValid)
    }
}
