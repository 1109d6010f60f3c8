import Store
import TestKit
import Testing

@testable import Cluster

@Suite("A master's plan split over its slaves")
struct MasterPlanSharesTests {
    @Test("shares add up to the plan: tasks and connections exactly, the rate within a request per second, each slave one connection at least")
    func sharesAddUp() throws {
        var random = SplitMix64(seed: 10)
        for _ in 0..<2_000 {
            let count = Int(random.next() % 40) + 1
            let tasks = random.next() % 3 == 0 ? 0 : UInt64(count) + random.next() % 100_000
            let http2 = random.next() % 2 == 0
            let batch = UInt32(count) + UInt32(random.next() % 1_000)
            let plan = SlavePlan(
                tasks: tasks, batch: batch, url: "http://127.0.0.1:9/",
                duration: tasks == 0 ? .seconds(5) : nil, rate: random.next() % 2 == 0 ? Double(random.next() % 1_000_000) / 7 + 0.001 : nil,
                http2: http2, connections: http2 ? UInt32(count) + UInt32(random.next() % UInt64(batch - UInt32(count) + 1)) : nil)
            let shares = try MasterPlan(plan: plan).shares(count)
            #expect(shares.count == count)
            #expect(shares.reduce(0) { $0 + $1.tasks } == tasks)
            // Whole shares differ by one at most, the larger first.
            #expect(zip(shares, shares.dropFirst()).allSatisfy { $0.tasks >= $1.tasks && $0.tasks - $1.tasks <= 1 })
            #expect(shares.reduce(0) { $0 + UInt64($1.batch) } == UInt64(plan.batch))
            #expect(shares.allSatisfy { $0.batch >= 1 })
            if let rate = plan.rate {
                #expect(abs(shares.compactMap(\.rate).reduce(0, +) - rate) < 1)
            }
            if http2 {
                #expect(shares.reduce(0) { $0 + UInt64($1.connections ?? 0) } == UInt64(plan.connections ?? 0))
                #expect(shares.allSatisfy { ($0.connections ?? 0) >= 1 && ($0.connections ?? 0) <= $0.batch })
            }
            #expect(shares.allSatisfy { $0.url == plan.url && $0.duration == plan.duration && $0.http2 == plan.http2 })
        }
    }

    @Test("stages are shared like the rate: each slave ramps to its part of every target")
    func stages() throws {
        let plan = try MasterPlan(plan: SlavePlan(
            tasks: 0, batch: 30, url: "http://127.0.0.1:9/", duration: .seconds(6),
            stages: [RateStage(durationNs: 3_000_000_000, target: 300), RateStage(durationNs: 3_000_000_000, target: 0)]))
        let shares = try plan.shares(3)
        #expect(shares.allSatisfy { $0.stages.map(\.target) == [100, 0] && $0.stages.map(\.durationNs) == [3_000_000_000, 3_000_000_000] })
    }

    @Test("fewer tasks, connections or HTTP/2 connections than slaves: refused, naming which")
    func tooFew() throws {
        let plan = try MasterPlan(plan: SlavePlan(tasks: 2, batch: 10, url: "http://127.0.0.1:9/"))
        #expect(try plan.shares(2).map(\.tasks) == [1, 1])
        let h2 = try MasterPlan(plan: SlavePlan(tasks: 100, batch: 10, url: "http://127.0.0.1:9/", http2: true, connections: 2))
        let timed = try MasterPlan(plan: SlavePlan(tasks: 0, batch: 10, url: "http://127.0.0.1:9/", duration: .seconds(1)))
        for (plan, count, word) in [(plan, 3, "tasks 2"), (timed, 11, "--batch 10"), (h2, 3, "--connections 2"), (plan, 0, "no slaves")] {
            do {
                _ = try plan.shares(count)
                Issue.record("\(count) slaves were given shares")
            } catch {
                #expect(error.description.contains(word), "\(error.description)")
            }
        }
    }

    @Test("a plan no slave could run is refused when the master starts")
    func invalidPlans() {
        let cases: [(SlavePlan, [String], String)] = [
            (SlavePlan(tasks: 0, batch: 1, url: "http://127.0.0.1:9/"), [], "--tasks N or --duration D"),
            (SlavePlan(tasks: 1, batch: 0, url: "http://127.0.0.1:9/"), [], "positive --batch"),
            (SlavePlan(tasks: 1, batch: 1, url: "gopher://x/"), [], "is not an http:// or https:// URL"),
            (SlavePlan(tasks: 1, batch: 1, url: "http://127.0.0.1:9/"), ["Bad Header"], "header"),
            (SlavePlan(tasks: 1, batch: 1, url: "http://127.0.0.1:9/", insecure: true), [], "--insecure is for https://"),
            (SlavePlan(tasks: 1, batch: 2, url: "http://127.0.0.1:9/", http2: true, connections: 3), [], "more than --batch"),
            (SlavePlan(tasks: 1, batch: 200_000, url: "http://127.0.0.1:9/"), [], "batch must be between"),
            (SlavePlan(tasks: 1, batch: 1, url: "http://127.0.0.1:9/", method: String(repeating: "M", count: 40)), [], "too large"),
        ]
        for (plan, headers, message) in cases {
            #expect(throws: ClusterError.self) { try MasterPlan(plan: plan, headers: headers) }
            do {
                _ = try MasterPlan(plan: plan, headers: headers)
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
            }
        }
    }
}
