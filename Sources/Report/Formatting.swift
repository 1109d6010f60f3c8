import CSV
import Foundation

/// Number, time and table formatting shared by the renderers: plain decimals, ISO-8601 UTC.
enum Formatting {
    /// `value` with exactly `places` decimals, "." as separator, no grouping.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "0" }
        let scale = (0..<places).reduce(1.0) { value, _ in value * 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return String(format: "%.\(places)f", locale: Locale(identifier: "en_US_POSIX"), value) }
        let units = UInt64(scaled)
        let divisor = UInt64(scale)
        var text = value < 0 && units > 0 ? "-" : ""
        text += String(units / divisor)
        if places > 0 {
            let fraction = String(units % divisor)
            text += "." + String(repeating: "0", count: places - fraction.count) + fraction
        }
        return text
    }

    /// Milliseconds in at most 7 characters: 2 decimals below 1 s, 1 below 100 s, none above.
    static func milliseconds(_ value: Double) -> String {
        decimal(value, places: value < 999.995 ? 2 : (value < 99_999.95 ? 1 : 0))
    }

    /// `2026-11-29T05:10:00.123Z` from nanoseconds since the epoch (milliseconds truncated
    /// toward the past), by Foundation's ISO-8601 format.
    static func iso8601(nanoseconds: Int64) -> String {
        let (seconds, millisecond) = floorDivide(floorDivide(nanoseconds, 1_000_000).0, 1_000)
        // A quarter into the millisecond: the digits are its own whether Foundation rounds the
        // fraction or cuts it (a Double is exact here to well under a microsecond).
        let date = Date(timeIntervalSince1970: Double(seconds) + (Double(millisecond) + 0.25) / 1_000)
        return date.formatted(isoStyle)
    }

    private static let isoStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// `05:10:00` (UTC).
    static func clock(nanoseconds: Int64) -> String {
        let iso = iso8601(nanoseconds: nanoseconds)
        let t = iso.firstIndex(of: "T").map { iso.index(after: $0) } ?? iso.startIndex
        return String(iso[t...].prefix(8))
    }

    /// `2026-11-29 05:10` (UTC).
    static func minute(nanoseconds: Int64) -> String {
        String(iso8601(nanoseconds: nanoseconds).prefix(16)).replacingOccurrences(of: "T", with: " ")
    }

    /// `1.5 s`, `90 s`, `2 h 3 m`.
    static func seconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        return decimal(value, places: value < 100 ? 1 : 0) + " s"
    }

    /// At most `width` characters; longer names end in "…".
    static func fit(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }

    /// Pads columns: the first `leftAligned` to the left, the rest to the right; one or more
    /// spaces between columns.
    static func table(_ rows: [[String]], leftAligned: Int, gap: Int = 2) -> [String] {
        guard let width = rows.first?.count else { return [] }
        let widths = (0..<width).map { column in rows.map { $0[column].count }.max() ?? 0 }
        let separator = String(repeating: " ", count: gap)
        return rows.map { cells in
            var line = cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column < leftAligned ? cell + padding : padding + cell
            }.joined(separator: separator)
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// RFC 4180 CSV with CRLF line ends, quoting by yaslab CSV.swift.
    static func csv(_ rows: [[String]]) -> String {
        let stream = OutputStream(toMemory: ())
        stream.open()
        do {
            let writer = try CSVWriter(stream: stream, newline: .crlf)
            for row in rows { try writer.write(row: row) }
            writer.stream.close()
        } catch {
            return ""
        }
        guard let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else { return "" }
        return String(decoding: data, as: UTF8.self) + "\r\n"
    }

    /// Pretty, key-sorted JSON ending in a newline.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(value) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// `200: 981, 503: 2` — counts by key, most frequent first.
    static func counts<Key: Comparable>(_ counts: [Key: UInt64], label: (Key) -> String = { "\($0)" }) -> String {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\(label($0.key)): \($0.value)" }.joined(separator: ", ")
    }
}
