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

    public internal(set) var histogram: Histogram<UInt64>

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
        // A fresh, zeroed buffer is cheaper than clearing the old one count by count.
        self = LatencyHistogram()
    }

    public var count: UInt64 { histogram.totalCount }
    public var isEmpty: Bool { histogram.totalCount == 0 }

    /// The smallest latency recorded, exactly; 0 when empty.
    public var minMicroseconds: UInt64 { isEmpty ? 0 : histogram.min }
    /// The largest latency recorded, exactly; 0 when empty.
    public var maxMicroseconds: UInt64 { isEmpty ? 0 : histogram.maxRecorded }
    public var meanMicroseconds: Double { summary(percentiles: []).mean }

    /// The latency at `percentile` (0...100), never above the max nor below the min; 0 when empty.
    public func microseconds(atPercentile percentile: Double) -> UInt64 {
        summary(percentiles: [percentile]).values[0]
    }

    /// The mean and the latencies at `percentiles` (0...100, any order), in one pass over the
    /// recorded buckets. A percentile is the highest value equivalent to the bucket that holds
    /// it (as HdrHistogram's `valueAtPercentile`), clamped between the exact min and max; the
    /// mean counts each bucket at its middle.
    public func summary(percentiles: [Double]) -> (mean: Double, values: [UInt64]) {
        Self.summary(
            buckets: histogram.recordedValues().lazy.map { (histogram.lowestEquivalentForValue($0.value), $0.value, $0.count) },
            total: histogram.totalCount, minimum: minMicroseconds, maximum: maxMicroseconds, percentiles: percentiles)
    }

    /// The summary of `total` latencies between `minimum` and `maximum`, given as their
    /// non-empty buckets in order (lowest and highest equivalent values, count): one walk that
    /// serves the dense histogram and the sparse one (`SparseLatency`) alike.
    static func summary(
        buckets: some Sequence<(lowest: UInt64, highest: UInt64, count: UInt64)>, total: UInt64, minimum: UInt64,
        maximum: UInt64, percentiles: [Double]
    ) -> (mean: Double, values: [UInt64]) {
        var values = [UInt64](repeating: 0, count: percentiles.count)
        guard total > 0 else { return (0, values) }
        // The rank each percentile needs, as valueAtPercentile computes it.
        let ranks = percentiles.map { percentile -> UInt64 in
            let requested = Swift.min(Swift.max(percentile.nextDown, 0), 100)
            return Swift.max(1, UInt64((requested * Double(total) / 100).rounded(.up)))
        }
        let order = ranks.indices.sorted { ranks[$0] < ranks[$1] }
        var next = 0
        var cumulative: UInt64 = 0
        var sum: Double = 0
        for (lowest, highest, count) in buckets {
            cumulative &+= count
            sum += Double(lowest + (highest - lowest + 1) / 2) * Double(count)
            while next < order.count, ranks[order[next]] <= cumulative {
                values[order[next]] = Swift.min(Swift.max(highest, minimum), maximum)
                next += 1
            }
        }
        for (index, percentile) in percentiles.enumerated() {
            if percentile <= 0 { values[index] = minimum }
            if percentile >= 100 { values[index] = maximum }
        }
        while next < order.count {
            values[order[next]] = maximum
            next += 1
        }
        // Buckets are counted at their middle: keep the mean within the exact min and max.
        let mean = Swift.min(Swift.max(sum / Double(total), Double(minimum)), Double(maximum))
        return (mean, values)
    }

    public static func == (lhs: LatencyHistogram, rhs: LatencyHistogram) -> Bool {
        lhs.histogram == rhs.histogram
    }
}

extension Optional where Wrapped == LatencyHistogram {
    /// Merges `other` (if any) into this histogram, making it on first use: the optional
    /// histograms of windows and reports (uncorrected, failures, handshakes) grow this way.
    public mutating func mergeIn(_ other: LatencyHistogram?) {
        guard let other else { return }
        if self == nil { self = LatencyHistogram() }
        self?.merge(other)
    }

    /// Records one value, making the histogram on first use.
    public mutating func record(microseconds: UInt64) {
        if self == nil { self = LatencyHistogram() }
        self?.record(microseconds: microseconds)
    }
}
