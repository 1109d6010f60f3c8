import Foundation
import Histogram

/// The latencies of a few windows merged as their non-empty buckets only. A chart point of one
/// slave merges a handful of windows: a dense `LatencyHistogram` for each point would cost far
/// more than the windows themselves. Its summary is the one a `LatencyHistogram` holding the
/// same latencies gives, figure for figure.
public struct SparseLatency: Sendable {
    struct Bucket {
        var value: UInt64
        var count: UInt64
    }

    /// Non-empty buckets by value (their lowest equivalent), each once, in order.
    private var buckets: [Bucket] = []
    /// Where a merge is built, then swapped with `buckets`: no allocation once both have grown.
    private var scratch: [Bucket] = []
    public private(set) var count: UInt64 = 0
    private var minimum = UInt64.max
    private var maximum: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Adds the latencies encoded in `bytes` (as stored); on error nothing is added.
    public mutating func add(encoded bytes: Data) throws(StoreError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(StoreError) in try add(buffer) }
        }.get()
    }

    private mutating func add(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        var pairs = try LatencyHistogram.pairs(bytes)
        guard pairs.total > 0 else { return }
        guard !count.addingReportingOverflow(pairs.total).overflow else {
            throw .invalidHistogram("adding \(pairs.total) latencies to \(count) overflows the count")
        }
        count += pairs.total
        minimum = min(minimum, pairs.minimum)
        maximum = max(maximum, pairs.maximum)
        // Both lists are in order: one merge, adding the counts of a bucket both hold. Keyed by
        // the bucket's lowest value (a hand-made encoding may name any value of a bucket).
        let layout = LatencyHistogram.layout
        scratch.removeAll(keepingCapacity: true)
        scratch.reserveCapacity(buckets.count + Int(clamping: pairs.count))
        var mine = 0
        for _ in 0..<pairs.count {
            let (raw, bucketCount) = pairs.next()
            let value = layout.lowestEquivalentForValue(raw)
            while mine < buckets.count, buckets[mine].value < value {
                scratch.append(buckets[mine])
                mine += 1
            }
            var bucket = Bucket(value: value, count: bucketCount)
            if mine < buckets.count, buckets[mine].value == value {
                bucket.count &+= buckets[mine].count
                mine += 1
            }
            if let last = scratch.last, last.value == value {
                scratch[scratch.count - 1].count &+= bucket.count
            } else {
                scratch.append(bucket)
            }
        }
        scratch.append(contentsOf: buckets[mine...])
        swap(&buckets, &scratch)
    }

    /// Empties it, keeping its storage for the next windows.
    public mutating func reset() {
        buckets.removeAll(keepingCapacity: true)
        count = 0
        minimum = .max
        maximum = 0
    }

    /// As `LatencyHistogram.summary(percentiles:)`: the mean and the latencies at `percentiles`.
    public func summary(percentiles: [Double]) -> (mean: Double, values: [UInt64]) {
        let layout = LatencyHistogram.layout
        return LatencyHistogram.summary(
            buckets: buckets.lazy.map { ($0.value, layout.highestEquivalentForValue($0.value), $0.count) }, total: count,
            minimum: isEmpty ? 0 : minimum, maximum: maxMicroseconds, percentiles: percentiles)
    }

    public var maxMicroseconds: UInt64 { isEmpty ? 0 : maximum }
    public var minMicroseconds: UInt64 { isEmpty ? 0 : minimum }
}

extension StoredWindow {
    /// Adds this window's latencies to `latency`.
    public func addLatency(to latency: inout SparseLatency) throws(StoreError) {
        try latency.add(encoded: histogram)
    }

    /// Its histograms as sparse ones (a rollup's: one summary each, no dense histogram):
    /// latency, and those it has of uncorrected latency, failures and handshakes.
    public func sparseLatencies() throws(StoreError) -> (
        latency: SparseLatency, uncorrected: SparseLatency?, failures: SparseLatency?, handshakes: SparseLatency?
    ) {
        func sparse(_ bytes: Data?) throws(StoreError) -> SparseLatency? {
            guard let bytes else { return nil }
            var latency = SparseLatency()
            try latency.add(encoded: bytes)
            return latency
        }
        return (
            try sparse(histogram) ?? SparseLatency(), try sparse(uncorrectedHistogram), try sparse(failureHistogram),
            try sparse(handshakeHistogram)
        )
    }
}

extension EncodedHistogram {
    /// Each non-empty bucket: its lowest equivalent value (µs) and its count, in order.
    public func forEachBucket(_ body: (_ microseconds: UInt64, _ count: UInt64) -> Void) {
        let layout = LatencyHistogram.layout
        bytes.withUnsafeBytes { buffer in
            // Checked when it was made: it reads back.
            guard var pairs = try? LatencyHistogram.pairs(buffer) else { return }
            for _ in 0..<pairs.count {
                let (value, count) = pairs.next()
                body(layout.lowestEquivalentForValue(value), count)
            }
        }
    }
}
