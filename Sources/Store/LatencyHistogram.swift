import Histogram

/// Latencies of one window (or of many merged windows), in microseconds.
///
/// Every slave records with the same layout, so any two `LatencyHistogram`s merge exactly:
/// counts are added bucket by bucket, and a percentile of the merge is the percentile of all the
/// latencies that went in, never an average of percentiles.
public struct LatencyHistogram: Sendable, Equatable {
    /// 1 µs resolution, three significant digits, up to one hour.
    public static let lowestMicroseconds: UInt64 = 1
    public static let highestMicroseconds: UInt64 = 3_600_000_000
    public static let significantDigits = 3

    public private(set) var histogram: Histogram<UInt64>

    public init() {
        histogram = Histogram(
            lowestDiscernibleValue: Self.lowestMicroseconds,
            highestTrackableValue: Self.highestMicroseconds,
            numberOfSignificantValueDigits: .three
        )
    }

    /// Records one latency; values outside 1 µs ... 1 h are clamped to that range.
    public mutating func record(microseconds: UInt64, count: UInt64 = 1) {
        let value = min(max(microseconds, Self.lowestMicroseconds), Self.highestMicroseconds)
        histogram.record(value, count: count)
    }

    /// Adds every latency of `other` to this histogram.
    public mutating func merge(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    public mutating func reset() {
        histogram.reset()
    }

    public var count: UInt64 { histogram.totalCount }
    public var isEmpty: Bool { histogram.totalCount == 0 }

    /// The smallest latency recorded, exactly; 0 when empty.
    public var minMicroseconds: UInt64 { isEmpty ? 0 : histogram.min }
    /// The largest latency recorded, exactly; 0 when empty.
    public var maxMicroseconds: UInt64 { isEmpty ? 0 : histogram.maxRecorded }
    public var meanMicroseconds: Double { isEmpty ? 0 : histogram.mean }

    /// The latency at `percentile` (0...100), never above the max nor below the min; 0 when empty.
    public func microseconds(atPercentile percentile: Double) -> UInt64 {
        guard !isEmpty else { return 0 }
        return min(max(histogram.valueAtPercentile(percentile), minMicroseconds), maxMicroseconds)
    }

    public static func == (lhs: LatencyHistogram, rhs: LatencyHistogram) -> Bool {
        lhs.histogram == rhs.histogram
    }
}
