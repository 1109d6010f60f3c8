import Foundation
import Histogram

/// The latencies of a few windows merged as their non-empty buckets only. A chart point of one
/// slave merges a handful of windows: a dense `LatencyHistogram` for each point would cost far
/// more than the windows themselves. Its summary is the one a `LatencyHistogram` holding the
/// same latencies gives, figure for figure.
public struct SparseLatency: Sendable {
    /// Count by bucket (its lowest equivalent value).
    private var buckets: [UInt64: UInt64] = [:]
    public private(set) var count: UInt64 = 0
    private var minimum = UInt64.max
    private var maximum: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Adds the latencies encoded in `bytes` (as stored); on error nothing is added.
    public mutating func add(encoded bytes: Data) throws(StoreError) {
        let pairs = try bytes.withUnsafeBytes { buffer in
            Result { () throws(StoreError) in try LatencyHistogram.pairs(buffer) }
        }.get()
        guard pairs.total > 0 else { return }
        guard !count.addingReportingOverflow(pairs.total).overflow else {
            throw .invalidHistogram("adding \(pairs.total) latencies to \(count) overflows the count")
        }
        count += pairs.total
        minimum = min(minimum, pairs.minimum)
        maximum = max(maximum, pairs.maximum)
        // Keyed by the bucket's lowest value: a hand-made encoding may name any value of a bucket.
        let layout = LatencyHistogram.layout
        for (value, bucketCount) in pairs.buckets { buckets[layout.lowestEquivalentForValue(value), default: 0] &+= bucketCount }
    }

    public mutating func reset() { self = SparseLatency() }

    /// As `LatencyHistogram.summary(percentiles:)`: the mean and the latencies at `percentiles`.
    public func summary(percentiles: [Double]) -> (mean: Double, values: [UInt64]) {
        var values = [UInt64](repeating: 0, count: percentiles.count)
        guard count > 0 else { return (0, values) }
        let ranks = percentiles.map { percentile -> UInt64 in
            let requested = Swift.min(Swift.max(percentile.nextDown, 0), 100)
            return Swift.max(1, UInt64((requested * Double(count) / 100).rounded(.up)))
        }
        let order = ranks.indices.sorted { ranks[$0] < ranks[$1] }
        var next = 0
        var cumulative: UInt64 = 0
        var sum: Double = 0
        for (lowest, bucketCount) in buckets.sorted(by: { $0.key < $1.key }) {
            let highest = LatencyHistogram.layout.highestEquivalentForValue(lowest)
            cumulative &+= bucketCount
            sum += Double(lowest + (highest - lowest + 1) / 2) * Double(bucketCount)
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
        let mean = Swift.min(Swift.max(sum / Double(count), Double(minimum)), Double(maximum))
        return (mean, values)
    }

    public var maxMicroseconds: UInt64 { isEmpty ? 0 : maximum }
}

extension StoredWindow {
    /// Adds this window's latencies to `latency`.
    public func addLatency(to latency: inout SparseLatency) throws(StoreError) {
        try latency.add(encoded: histogram)
    }
}
