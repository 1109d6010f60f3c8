import Store
import TestKit
import Testing

/// Histogram shapes a window can have.
enum HistogramShape: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case empty
    case oneValue
    case twoValuesInOneBucket
    case spreadFrom1usTo10s
    case clampedAboveOneHour

    var testDescription: String { rawValue }

    var values: [UInt64] {
        switch self {
        case .empty:
            return []
        case .oneValue:
            return [5]
        case .twoValuesInOneBucket:
            // 99,968 ... 100,031 µs is one 64 µs wide bucket.
            return [100_001, 100_020]
        case .spreadFrom1usTo10s:
            var random = SplitMix64(seed: 1)
            let edges: [UInt64] = [1, 2, 3, 999, 2_047, 2_048, 2_049, 65_537, 1_000_000, 9_999_999, 10_000_000]
            return edges + (0..<2_000).map { _ in random.latency() }
        case .clampedAboveOneHour:
            return [250, 5_000_000_000]
        }
    }
}

@Suite("LatencyHistogram encoding")
struct LatencyHistogramEncodingTests {
    @Test("encode then decode gives back the same histogram", arguments: HistogramShape.allCases)
    func roundTrip(shape: HistogramShape) throws {
        let original = LatencyHistogram(shape.values)
        let decoded = try LatencyHistogram(decoding: original.encoded())

        #expect(decoded == original)
        #expect(decoded.count == UInt64(shape.values.count))
        #expect(decoded.minMicroseconds == original.minMicroseconds)
        #expect(decoded.maxMicroseconds == original.maxMicroseconds)
        #expect(decoded.meanMicroseconds == original.meanMicroseconds)
        for percentile in reportedPercentiles {
            #expect(
                decoded.microseconds(atPercentile: percentile) == original.microseconds(atPercentile: percentile),
                "p\(percentile)")
        }
        #expect(decoded.encoded() == original.encoded())
    }

    @Test("min and max survive the encoding exactly, not rounded to their buckets", arguments: HistogramShape.allCases)
    func exactMinAndMax(shape: HistogramShape) throws {
        let decoded = try LatencyHistogram(decoding: LatencyHistogram(shape.values).encoded())
        let clamped = shape.values.map { min(max($0, 1), LatencyHistogram.highestMicroseconds) }
        #expect(decoded.minMicroseconds == clamped.min() ?? 0)
        #expect(decoded.maxMicroseconds == clamped.max() ?? 0)
    }

    @Test("a latency above one hour is recorded as one hour")
    func clampsAboveOneHour() throws {
        let decoded = try LatencyHistogram(decoding: LatencyHistogram([5_000_000_000]).encoded())
        #expect(decoded.count == 1)
        #expect(decoded.maxMicroseconds == 3_600_000_000)
        #expect(decoded.microseconds(atPercentile: 99.9) == 3_600_000_000)
    }

    @Test("the bytes follow the documented layout, so stored windows stay readable")
    func documentedLayout() {
        let header = varints(1, 1, 3_600_000_000, 3)
        #expect(LatencyHistogram().encoded() == header + varints(0, 0, 0, 0))
        #expect(LatencyHistogram([5]).encoded() == header + varints(1, 5, 5, 1, 5, 1))
        #expect(
            LatencyHistogram([100_001, 100_020]).encoded()
                == header + varints(2, 100_001, 100_020, 1, 99_968, 2))
        #expect(
            LatencyHistogram([3, 3, 10]).encoded()
                == header + varints(3, 3, 10, 2, 3, 2, 7, 1))
    }

    @Test("a window of 1,000 latencies encodes in under 4 KB")
    func smallEncoding() {
        var random = SplitMix64(seed: 2)
        let histogram = LatencyHistogram((0..<1_000).map { _ in random.latency() })
        #expect(histogram.count == 1_000)
        #expect(histogram.encoded().count < 4_096)
    }
}
