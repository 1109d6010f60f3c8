import Store

/// What a report shows of a merged latency histogram: exact count, min and max, the mean, and
/// the standard percentiles, in microseconds. A few numbers instead of the histogram, so a
/// report of a thousand slaves stays small.
public struct LatencySummary: Sendable, Equatable {
    /// The percentiles every report computes.
    public static let percentiles: [Double] = [50, 75, 90, 95, 99, 99.9, 99.99]

    public var count: UInt64
    public var minMicroseconds: UInt64
    public var maxMicroseconds: UInt64
    public var meanMicroseconds: Double
    /// Microseconds at each of `LatencySummary.percentiles`, in that order.
    public var percentileMicroseconds: [UInt64]

    public init(_ histogram: LatencyHistogram) {
        count = histogram.count
        minMicroseconds = histogram.minMicroseconds
        maxMicroseconds = histogram.maxMicroseconds
        (meanMicroseconds, percentileMicroseconds) = histogram.summary(percentiles: Self.percentiles)
    }

    /// The same figures from the same latencies held as sparse buckets.
    public init(_ latency: SparseLatency) {
        count = latency.count
        minMicroseconds = latency.minMicroseconds
        maxMicroseconds = latency.maxMicroseconds
        (meanMicroseconds, percentileMicroseconds) = latency.summary(percentiles: Self.percentiles)
    }

    public static let empty = LatencySummary(LatencyHistogram())

    /// Microseconds at one of `LatencySummary.percentiles`; nil for any other.
    public func microseconds(atPercentile percentile: Double) -> UInt64? {
        Self.percentiles.firstIndex(of: percentile).map { percentileMicroseconds[$0] }
    }

    /// Milliseconds at one of `LatencySummary.percentiles` (0 for any other).
    public func milliseconds(atPercentile percentile: Double) -> Double {
        Double(microseconds(atPercentile: percentile) ?? 0) / 1000
    }

    public var minMilliseconds: Double { Double(minMicroseconds) / 1000 }
    public var maxMilliseconds: Double { Double(maxMicroseconds) / 1000 }
    public var meanMilliseconds: Double { meanMicroseconds / 1000 }
}
