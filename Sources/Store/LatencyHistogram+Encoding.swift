import Foundation
import Histogram

/// The byte encoding of a `LatencyHistogram`, as stored in `summary.histogram` and sent in the
/// protocol's `Summary.histogram`.
///
/// Layout (all integers unsigned LEB128 varints):
/// `version(=1) lowest highest digits totalCount min max pairCount (valueDelta count)*`
/// where each pair is one non-empty bucket: its lowest equivalent value, as a delta from the
/// previous pair's value, and its count. A 1,000-sample window takes about 2 KB.
///
/// Decoding replays the pairs into the fixed layout. The exact `min` and `max` are carried
/// separately and replayed into their own buckets, so a decoded histogram equals the encoded one:
/// same counts, same total, same min and max.
extension LatencyHistogram {
    public static let encodingVersion: UInt64 = 1

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + 4 * 64)
        var pairs: [(value: UInt64, count: UInt64)] = []
        for bucket in histogram.recordedValues() {
            pairs.append((histogram.lowestEquivalentForValue(bucket.value), bucket.count))
        }
        Varint.append(Self.encodingVersion, to: &out)
        Varint.append(Self.lowestMicroseconds, to: &out)
        Varint.append(Self.highestMicroseconds, to: &out)
        Varint.append(UInt64(Self.significantDigits), to: &out)
        Varint.append(count, to: &out)
        Varint.append(minMicroseconds, to: &out)
        Varint.append(maxMicroseconds, to: &out)
        Varint.append(UInt64(pairs.count), to: &out)
        var previous: UInt64 = 0
        for pair in pairs {
            Varint.append(pair.value - previous, to: &out)
            Varint.append(pair.count, to: &out)
            previous = pair.value
        }
        return out
    }

    /// Decodes bytes made by `encoded()`. Anything else — another layout, truncated or
    /// inconsistent data — throws `StoreError.invalidHistogram` and decodes nothing.
    public init<Bytes: Collection<UInt8>>(decoding bytes: Bytes) throws(StoreError) {
        self.init()
        try Self.replay(bytes, into: &self)
    }

    /// Adds the latencies encoded in `bytes` to `histogram` without building a second histogram.
    /// On error `histogram` is left unchanged.
    public static func replay<Bytes: Collection<UInt8>>(
        _ bytes: Bytes,
        into histogram: inout LatencyHistogram
    ) throws(StoreError) {
        let result: Result<Void, StoreError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(StoreError) in try replay(UnsafeRawBufferPointer(buffer), into: &histogram) }
        }
        if let result {
            try result.get()
        } else {
            let copy = Array(bytes)
            try copy.withUnsafeBytes { buffer in
                Result { () throws(StoreError) in try replay(buffer, into: &histogram) }
            }.get()
        }
    }

    /// Adds the latencies encoded in `bytes` (e.g. a stored blob) to `histogram`.
    public static func replay(_ bytes: Data, into histogram: inout LatencyHistogram) throws(StoreError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(StoreError) in try replay(buffer, into: &histogram) }
        }.get()
    }

    /// Checks `bytes` as the decoder does, without recording them anywhere: the number of
    /// latencies they hold, or `StoreError.invalidHistogram`.
    public static func validate(_ bytes: Data) throws(StoreError) -> UInt64 {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(StoreError) in try check(buffer).total }
        }.get()
    }

    /// The layout every histogram shares, for checking min and max against buckets.
    static let layout = LatencyHistogram().histogram

    /// The checked buckets of an encoding, read one at a time: for merging a few windows without
    /// a dense histogram (`SparseLatency`). Valid only while `bytes` is.
    struct Pairs {
        let total: UInt64
        let minimum: UInt64
        let maximum: UInt64
        let count: UInt64
        var reader: Varint.RawReader
        var value: UInt64 = 0

        /// The next bucket's value (as encoded) and count; call it `count` times.
        mutating func next() -> (value: UInt64, count: UInt64) {
            value &+= reader.next() ?? 0
            return (value, reader.next() ?? 0)
        }
    }

    static func pairs(_ bytes: UnsafeRawBufferPointer) throws(StoreError) -> Pairs {
        let checked = try check(bytes)
        var reader = Varint.RawReader(bytes)
        reader.offset = checked.pairsStart
        return Pairs(total: checked.total, minimum: checked.minimum, maximum: checked.maximum, count: checked.pairCount, reader: reader)
    }

    /// An empty histogram to stand in while a decoder works on the real one.
    private static let placeholder = Histogram<UInt64>(
        lowestDiscernibleValue: lowestMicroseconds, highestTrackableValue: 2, numberOfSignificantValueDigits: .three)

    /// What the first pass of the decoder found: the header, and where the pairs start.
    private struct Checked {
        var total: UInt64
        var minimum: UInt64
        var maximum: UInt64
        var pairCount: UInt64
        var pairsStart: Int
    }

    /// The decoder's first pass: checks everything, allocates nothing.
    private static func check(_ bytes: UnsafeRawBufferPointer) throws(StoreError) -> Checked {
        var reader = Varint.RawReader(bytes)
        func next(_ what: String) throws(StoreError) -> UInt64 {
            guard let value = reader.next() else {
                throw .invalidHistogram("the encoding ends early (reading \(what))")
            }
            return value
        }
        let version = try next("version")
        guard version == encodingVersion else {
            throw .invalidHistogram("unknown encoding version \(version)")
        }
        let lowest = try next("lowest value")
        let highest = try next("highest value")
        let digits = try next("significant digits")
        guard lowest == lowestMicroseconds, highest == highestMicroseconds, digits == UInt64(significantDigits) else {
            throw .invalidHistogram(
                "layout \(lowest)...\(highest) µs with \(digits) digits; expected "
                    + "\(lowestMicroseconds)...\(highestMicroseconds) µs with \(significantDigits)"
            )
        }
        let total = try next("total count")
        let minimum = try next("min")
        let maximum = try next("max")
        let pairCount = try next("bucket count")
        guard pairCount <= UInt64(bytes.count) else {
            throw .invalidHistogram("\(pairCount) buckets cannot fit in \(bytes.count) bytes")
        }
        let pairsStart = reader.offset
        var value: UInt64 = 0
        var sum: UInt64 = 0
        var first: UInt64 = 0
        for index in 0..<pairCount {
            let (nextValue, overflow) = value.addingReportingOverflow(try next("bucket value"))
            let count = try next("bucket count")
            guard !overflow, nextValue >= lowestMicroseconds, nextValue <= highestMicroseconds,
                index == 0 || nextValue > value, count > 0
            else {
                throw .invalidHistogram("bucket \(index) is out of range or order")
            }
            let (newSum, sumOverflow) = sum.addingReportingOverflow(count)
            guard !sumOverflow else { throw .invalidHistogram("counts overflow") }
            if index == 0 { first = nextValue }
            value = nextValue
            sum = newSum
        }
        guard reader.isAtEnd else { throw .invalidHistogram("trailing bytes after the last bucket") }
        guard sum == total else {
            throw .invalidHistogram("buckets add up to \(sum), header says \(total)")
        }
        if total > 0 {
            guard layout.valuesAreEquivalent(first, minimum), layout.valuesAreEquivalent(value, maximum), minimum <= maximum
            else {
                throw .invalidHistogram("min \(minimum) or max \(maximum) lies outside the recorded buckets")
            }
        }
        return Checked(total: total, minimum: minimum, maximum: maximum, pairCount: pairCount, pairsStart: pairsStart)
    }

    /// The decoder: a first pass checks everything, a second records; nothing is allocated.
    static func replay(_ bytes: UnsafeRawBufferPointer, into histogram: inout LatencyHistogram) throws(StoreError) {
        let checked = try check(bytes)
        let total = checked.total
        guard total > 0 else { return }
        guard !histogram.count.addingReportingOverflow(total).overflow else {
            throw .invalidHistogram("adding \(total) latencies to \(histogram.count) overflows the count")
        }
        let (minimum, maximum, pairCount) = (checked.minimum, checked.maximum, checked.pairCount)
        var reader = Varint.RawReader(bytes)
        var value: UInt64 = 0

        // Pass 2: record. The exact min and max go into their own buckets, so the decoded
        // histogram has the same counts, total, min and max as the encoded one.
        reader.offset = checked.pairsStart
        // Work on a local copy (moved out, so no copy is made) that the optimiser can keep close.
        var target = histogram.histogram
        histogram.histogram = Self.placeholder
        defer { histogram.histogram = target }
        for index in 0..<pairCount {
            value &+= reader.next() ?? 0
            let count = reader.next() ?? 0
            let isFirst = index == 0
            let isLast = index == pairCount - 1
            // Values were checked in pass 1: record them as they are.
            switch (isFirst, isLast) {
            case (true, true) where count == 1:
                target.record(minimum, count: 1)
            case (true, true):
                target.record(minimum, count: count - 1)
                target.record(maximum, count: 1)
            case (true, false):
                target.record(minimum, count: count)
            case (false, true):
                target.record(maximum, count: count)
            case (false, false):
                target.record(value, count: count)
            }
        }
    }
}

/// Unsigned LEB128.
enum Varint {
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    /// Reads varints from raw memory.
    struct RawReader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        var isAtEnd: Bool { offset == bytes.count }

        @inline(__always)
        mutating func next() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count {
                let byte = bytes[offset]
                offset += 1
                guard shift < 64 else { return nil }
                let bits = UInt64(byte & 0x7f)
                if shift == 63 && bits > 1 { return nil }
                result |= bits << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
    }
}

/// A histogram as it travels and is stored: its encoding, checked, with the number of latencies
/// it holds. Made from a histogram (encoded once), or from received bytes (checked, not decoded:
/// no dense histogram is allocated for it).
public struct EncodedHistogram: Sendable, Equatable {
    public let bytes: Data
    /// The latencies it holds.
    public let count: UInt64

    public init(_ histogram: LatencyHistogram) {
        bytes = Data(histogram.encoded())
        count = histogram.count
    }

    /// Throws `StoreError.invalidHistogram` for bytes `LatencyHistogram(decoding:)` would refuse.
    public init(validating bytes: Data) throws(StoreError) {
        count = try LatencyHistogram.validate(bytes)
        self.bytes = bytes
    }

    public func decoded() throws(StoreError) -> LatencyHistogram {
        try LatencyHistogram(decoding: bytes)
    }

    /// Decoded; bytes that were checked (every way of making one checks them) always decode.
    public var histogram: LatencyHistogram {
        (try? decoded()) ?? LatencyHistogram()
    }

    public static let empty = EncodedHistogram(LatencyHistogram())
}
