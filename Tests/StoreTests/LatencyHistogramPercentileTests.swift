import Store
import TestKit
import Testing

@Suite("LatencyHistogram percentiles")
struct LatencyHistogramPercentileTests {
    static let percentiles: [Double] = [0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100]

    @Test("every percentile lies between the exact min and max", arguments: HistogramShape.allCases)
    func withinMinAndMax(shape: HistogramShape) throws {
        let histogram = LatencyHistogram(shape.values)
        for candidate in [histogram, try LatencyHistogram(decoding: histogram.encoded())] {
            for percentile in Self.percentiles {
                let value = candidate.microseconds(atPercentile: percentile)
                #expect(value >= candidate.minMicroseconds, "p\(percentile)")
                #expect(value <= candidate.maxMicroseconds, "p\(percentile)")
            }
        }
    }

    @Test("values sharing a wide bucket report percentiles inside what was recorded")
    func wideBucket() {
        // 99,968 ... 100,031 µs is one bucket: the bucket's top (100,031) was never recorded.
        let histogram = LatencyHistogram([100_005, 100_010, 100_020])
        #expect(histogram.microseconds(atPercentile: 50) <= 100_020)
        #expect(histogram.microseconds(atPercentile: 99.9) == 100_020)
        #expect(histogram.microseconds(atPercentile: 0) == 100_005)
    }

    @Test("seeded random windows never report a percentile outside min ... max", arguments: 1...20 as ClosedRange<UInt64>)
    func randomWindows(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let size = Int.random(in: 1...50, using: &random)
        let histogram = LatencyHistogram((0..<size).map { _ in random.latency() })
        for percentile in Self.percentiles {
            let value = histogram.microseconds(atPercentile: percentile)
            #expect(value >= histogram.minMicroseconds && value <= histogram.maxMicroseconds, "p\(percentile)")
        }
    }

    @Test("an empty histogram reports 0 everywhere")
    func empty() {
        let histogram = LatencyHistogram()
        #expect(histogram.isEmpty)
        #expect(Self.percentiles.allSatisfy { histogram.microseconds(atPercentile: $0) == 0 })
        #expect(histogram.minMicroseconds == 0 && histogram.maxMicroseconds == 0)
    }
}
