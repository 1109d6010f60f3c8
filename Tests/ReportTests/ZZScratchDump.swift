import Foundation
import Report
import Store
import Testing

@Suite("ZZ scratch dump")
struct ZZScratchDump {
    @Test func dump() async throws {
        let c = try RunComparison(candidate: RunComparisonTests.run(id: 2, p99: 1_050), baseline: RunComparisonTests.run(id: 1, p99: 1_000), tolerance: 0.05)
        for m in c.metrics { print("XX", m.name, m.baseline, m.candidate, m.delta, m.relative as Any, c.verdict(of: m)) }
        print(c.text)
    }
}
