import Store
import TestKit
import Testing

/// Bytes a peer or a damaged file could hand us, with what is wrong with them.
struct Garbage: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var bytes: [UInt8]

    init(_ description: String, _ bytes: [UInt8]) {
        self.testDescription = description
        self.bytes = bytes
    }
}

@Suite("LatencyHistogram refuses bad bytes")
struct LatencyHistogramDecodingErrorTests {
    static let h: UInt64 = 3_600_000_000
    static let header = varints(1, 1, h, 3)
    /// A valid encoding of several buckets, to cut and damage.
    static let valid = LatencyHistogram([3, 3, 10, 2_049, 100_001, 100_020, 7_000_000]).encoded()

    static let cases: [Garbage] = [
        Garbage("no bytes", []),
        Garbage("version 0", varints(0, 1, h, 3, 0, 0, 0, 0)),
        Garbage("version 2", varints(2, 1, h, 3, 0, 0, 0, 0)),
        Garbage("lowest 2 µs", varints(1, 2, h, 3, 0, 0, 0, 0)),
        Garbage("highest 1 s", varints(1, 1, 1_000_000, 3, 0, 0, 0, 0)),
        Garbage("two significant digits", varints(1, 1, h, 2, 0, 0, 0, 0)),
        Garbage("trailing byte after an empty histogram", LatencyHistogram().encoded() + [0]),
        Garbage("trailing byte after buckets", valid + [1]),
        Garbage("total larger than the buckets", header + varints(3, 3, 10, 2, 3, 1, 7, 1)),
        Garbage("total smaller than the buckets", header + varints(1, 3, 10, 2, 3, 1, 7, 1)),
        Garbage("buckets but a total of 0", header + varints(0, 0, 0, 1, 5, 1)),
        Garbage("a bucket with count 0", header + varints(1, 3, 10, 2, 3, 1, 7, 0)),
        Garbage("the same bucket twice", header + varints(2, 5, 5, 2, 5, 1, 0, 1)),
        Garbage("a bucket at 0 µs", header + varints(1, 0, 0, 1, 0, 1)),
        Garbage("a bucket above one hour", header + varints(1, 2 * h, 2 * h, 1, 2 * h, 1)),
        Garbage("min outside the first bucket", header + varints(2, 2, 10, 2, 3, 1, 7, 1)),
        Garbage("max outside the last bucket", header + varints(2, 3, 11, 2, 3, 1, 7, 1)),
        Garbage("min above max in one bucket", header + varints(2, 100_020, 100_001, 1, 99_968, 2)),
        Garbage("more buckets than bytes", header + varints(0, 0, 0, 1_000_000)),
        Garbage("counts that overflow", header + varints(1, 3, 10, 2, 3, UInt64.max, 7, 2)),
        Garbage("a bucket value that overflows", header + varints(2, 3, 3, 2, 3, 1, UInt64.max, 1)),
        Garbage("a varint longer than 64 bits", [UInt8](repeating: 0x81, count: 11) + [0x01]),
    ]

    /// Decoding `bytes` must throw `.invalidHistogram` and leave the target as it was.
    static func expectRefused(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        var target = LatencyHistogram([7, 1_234, 99_999])
        let before = target
        do {
            try LatencyHistogram.replay(bytes, into: &target)
            Issue.record("decoded \(bytes)", sourceLocation: sourceLocation)
        } catch {
            if case .invalidHistogram = error {} else {
                Issue.record("threw \(error), not invalidHistogram", sourceLocation: sourceLocation)
            }
        }
        #expect(target == before, sourceLocation: sourceLocation)
        #expect(target.count == 3, sourceLocation: sourceLocation)
        #expect(target.minMicroseconds == 7 && target.maxMicroseconds == 99_999, sourceLocation: sourceLocation)
        #expect(throws: StoreError.self, sourceLocation: sourceLocation) {
            try LatencyHistogram(decoding: bytes)
        }
    }

    @Test("malformed encodings throw invalidHistogram and change nothing", arguments: cases)
    func refused(garbage: Garbage) {
        Self.expectRefused(garbage.bytes)
    }

    @Test("every truncation of a valid encoding is refused")
    func truncated() throws {
        _ = try LatencyHistogram(decoding: Self.valid)
        for length in 0..<Self.valid.count {
            Self.expectRefused(Array(Self.valid.prefix(length)))
        }
    }

    @Test("the error says what is wrong")
    func describesProblem() {
        do {
            _ = try LatencyHistogram(decoding: varints(2, 1, Self.h, 3, 0, 0, 0, 0))
            Issue.record("decoded version 2")
        } catch {
            #expect(error.description.contains("version 2"))
        }
    }

    @Test("thousands of seeded random inputs never crash and never half-apply")
    func randomBytes() {
        var random = SplitMix64(seed: 42)
        var refused = 0
        for _ in 0..<3_000 {
            let length = Int.random(in: 0...64, using: &random)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            if Self.decodeChecked(bytes) == nil { refused += 1 }
        }
        #expect(refused == 3_000)
    }

    @Test("thousands of damaged valid encodings never crash and never half-apply")
    func damagedEncodings() {
        var random = SplitMix64(seed: 43)
        var refused = 0
        for _ in 0..<3_000 {
            var bytes = Self.valid
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                bytes[Int.random(in: bytes.indices, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if Self.decodeChecked(bytes) == nil { refused += 1 }
        }
        #expect(refused > 0)
    }

    /// Replays `bytes` into a non-empty target; checks the target afterwards. Returns the count
    /// that was added, or nil if the bytes were refused.
    static func decodeChecked(_ bytes: [UInt8]) -> UInt64? {
        var target = LatencyHistogram([7, 1_234, 99_999])
        let before = target
        do {
            try LatencyHistogram.replay(bytes, into: &target)
        } catch {
            if case .invalidHistogram = error {} else { Issue.record("threw \(error) for \(bytes)") }
            #expect(target == before && target.count == 3, "changed by refused bytes \(bytes)")
            return nil
        }
        #expect(target.count >= before.count, "\(bytes)")
        #expect(target.minMicroseconds <= target.maxMicroseconds, "\(bytes)")
        for percentile in [0, 50, 99.9, 100] {
            let value = target.microseconds(atPercentile: percentile)
            #expect(value >= target.minMicroseconds && value <= target.maxMicroseconds, "\(bytes)")
        }
        return target.count - before.count
    }
}
