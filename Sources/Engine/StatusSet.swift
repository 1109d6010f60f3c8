import Foundation

/// The HTTP statuses that count as successes: `--expect-status 200-299,304`. Any other status
/// is a failure (it is still counted under its code). By default 2xx and 3xx.
public struct StatusSet: Sendable, Equatable, CustomStringConvertible {
    public let ranges: [ClosedRange<Int>]

    public static let successes = StatusSet(ranges: [200...399])

    init(ranges: [ClosedRange<Int>]) {
        self.ranges = ranges
    }

    /// Parses codes and ranges separated by commas: `200-299,304`; each from 100 to 599.
    public init(parsing text: String) throws(EngineError) {
        func invalid(_ why: String) -> EngineError {
            EngineError(.invalidURL, "--expect-status \"\(text)\" \(why); write codes and ranges like 200-299,304")
        }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !text.isEmpty, parts.count <= 100 else { throw invalid(text.isEmpty ? "is empty" : "has more than 100 parts") }
        var ranges: [ClosedRange<Int>] = []
        for part in parts {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds.last ?? "") else {
                throw invalid("has \"\(part)\", which is not a code or a range")
            }
            guard (100...599).contains(low), (100...599).contains(high), low <= high else {
                throw invalid("has \"\(part)\": codes go from 100 to 599, the lower first")
            }
            ranges.append(low...high)
        }
        self.ranges = ranges
    }

    public func contains(_ status: Int) -> Bool {
        ranges.contains { $0.contains(status) }
    }

    /// `200-299,304`: what `init(parsing:)` reads back.
    public var description: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }
}
