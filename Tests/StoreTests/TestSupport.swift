import Foundation
import Store
import TestKit

extension SplitMix64 {
    /// A latency spread evenly over the octaves from 1 µs to about 10 s, as a load test sees
    /// (most fast, a long tail).
    mutating func latency() -> UInt64 {
        let octave = UInt64.random(in: 0...22, using: &self)
        let value = UInt64.random(in: (1 << octave)...(2 << octave), using: &self)
        return min(value, 10_000_000)
    }
}

extension LatencyHistogram {
    init(_ values: some Sequence<UInt64>) {
        self.init()
        for value in values {
            record(microseconds: value)
        }
    }
}

/// Unsigned LEB128, written independently of `Store` so tests can hand-craft encodings.
func varints(_ values: UInt64...) -> [UInt8] {
    var out: [UInt8] = []
    for var value in values {
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }
    return out
}

/// The percentiles reports print.
let reportedPercentiles: [Double] = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]

/// A directory of its own for one test, removed when the test lets go of it.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("goloadtest-store-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
