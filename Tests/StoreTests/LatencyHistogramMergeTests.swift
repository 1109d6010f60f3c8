import Store
import TestKit
import Testing

@Suite("LatencyHistogram merging")
struct LatencyHistogramMergeTests {
    /// Ten windows of different sizes, as ten slaves (or one slave over ten seconds) would send.
    static func windows(seed: UInt64) -> [[UInt64]] {
        var random = SplitMix64(seed: seed)
        return (0..<10).map { _ in
            let size = Int.random(in: 1...400, using: &random)
            return (0..<size).map { _ in random.latency() }
        }
    }

    static func expectSameLatencies(
        _ actual: LatencyHistogram, _ expected: LatencyHistogram,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(actual == expected, sourceLocation: sourceLocation)
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        #expect(actual.minMicroseconds == expected.minMicroseconds, sourceLocation: sourceLocation)
        #expect(actual.maxMicroseconds == expected.maxMicroseconds, sourceLocation: sourceLocation)
        for percentile in [50, 90, 99, 99.9] {
            #expect(
                actual.microseconds(atPercentile: percentile) == expected.microseconds(atPercentile: percentile),
                "p\(percentile)", sourceLocation: sourceLocation)
        }
    }

    @Test("merging decoded windows equals merging them before encoding", arguments: [1, 2, 3] as [UInt64])
    func mergeAfterDecode(seed: UInt64) throws {
        var mergedBefore = LatencyHistogram()
        var mergedAfter = LatencyHistogram()
        for window in Self.windows(seed: seed) {
            let histogram = LatencyHistogram(window)
            mergedBefore.merge(histogram)
            mergedAfter.merge(try LatencyHistogram(decoding: histogram.encoded()))
        }
        Self.expectSameLatencies(mergedAfter, mergedBefore)
    }

    @Test("merged percentiles are those of every latency together, not an average", arguments: [1, 2, 3] as [UInt64])
    func mergeEqualsOneHistogram(seed: UInt64) throws {
        let windows = Self.windows(seed: seed)
        let everything = LatencyHistogram(windows.joined())
        var merged = LatencyHistogram()
        for window in windows {
            merged.merge(try LatencyHistogram(decoding: LatencyHistogram(window).encoded()))
        }
        Self.expectSameLatencies(merged, everything)
        #expect(merged.count == UInt64(windows.map(\.count).reduce(0, +)))
        #expect(merged.minMicroseconds == windows.joined().min())
        #expect(merged.maxMicroseconds == windows.joined().max())
    }

    @Test("replay adds the encoded latencies to an existing histogram")
    func replayAddsInto() throws {
        let windows = Self.windows(seed: 4)
        var replayed = LatencyHistogram(windows[0])
        try LatencyHistogram.replay(LatencyHistogram(windows[1]).encoded(), into: &replayed)
        try LatencyHistogram.replay(LatencyHistogram().encoded(), into: &replayed)
        Self.expectSameLatencies(replayed, LatencyHistogram(windows[0] + windows[1]))
    }

    @Test("replay keeps the target's exact min and max when the new values lie inside them")
    func replayKeepsOuterExtremes() throws {
        var target = LatencyHistogram([100_001, 900_007])
        try LatencyHistogram.replay(LatencyHistogram([100_020, 900_001]).encoded(), into: &target)
        #expect(target.count == 4)
        #expect(target.minMicroseconds == 100_001)
        #expect(target.maxMicroseconds == 900_007)
    }
}
