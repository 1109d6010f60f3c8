import Foundation
import Store
import TestKit
import Testing

@Suite("SparseLatency")
struct SparseLatencyTests {
    static let percentiles: [Double] = [0, 1, 50, 75, 90, 95, 99, 99.9, 99.99, 100]

    @Test("windows merged as buckets give the summary one histogram of all their latencies gives", arguments: [1, 7, 42, 2026] as [UInt64])
    func equalsDenseHistogram(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var sparse = SparseLatency()
        var dense = LatencyHistogram()
        for _ in 0..<Int.random(in: 1...12, using: &random) {
            var window = LatencyHistogram()
            for _ in 0..<Int.random(in: 0...500, using: &random) {
                let octave = UInt64.random(in: 0...24, using: &random)
                window.record(microseconds: UInt64.random(in: (1 << octave)...(2 << octave), using: &random))
            }
            try sparse.add(encoded: Data(window.encoded()))
            dense.merge(window)
        }
        #expect(sparse.count == dense.count)
        #expect(sparse.maxMicroseconds == dense.maxMicroseconds)
        let (sparseMean, sparseValues) = sparse.summary(percentiles: Self.percentiles)
        let (denseMean, denseValues) = dense.summary(percentiles: Self.percentiles)
        #expect(sparseValues == denseValues)
        #expect(abs(sparseMean - denseMean) <= denseMean * 1e-12)
    }

    @Test("empty: zeros; bytes that do not decode are refused and add nothing; reset empties")
    func emptyAndInvalid() throws {
        var sparse = SparseLatency()
        #expect(sparse.summary(percentiles: [50, 100]).values == [0, 0])
        var window = LatencyHistogram()
        window.record(microseconds: 1_500, count: 3)
        try sparse.add(encoded: Data(window.encoded()))
        var truncated = window.encoded()
        truncated.removeLast()
        #expect(throws: StoreError.self) { try sparse.add(encoded: Data(truncated)) }
        #expect(sparse.count == 3)
        #expect(sparse.summary(percentiles: [50]).values == window.summary(percentiles: [50]).values)
        sparse.reset()
        #expect(sparse.isEmpty && sparse.maxMicroseconds == 0)
    }
}
