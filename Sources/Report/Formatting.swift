import Foundation

/// Number and time formatting shared by the renderers: plain decimals, ISO-8601 UTC.
enum Formatting {
    /// `value` with exactly `places` decimals, "." as separator, no grouping.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.\(places)f", locale: Locale(identifier: "en_US_POSIX"), value)
    }

    /// `2026-11-29T05:10:00.123Z` from nanoseconds since the epoch.
    static func iso8601(nanoseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9))
    }
}
