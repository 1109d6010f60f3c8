/// The formats every report can be rendered in.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, csv, json
}

/// Anything `goloadtest report` or `runs` prints.
public protocol Renderable {
    var text: String { get }
    var csv: String { get }
    var json: String { get }
}

extension Renderable {
    public func rendered(as format: ReportFormat) -> String {
        switch format {
        case .text: return text
        case .csv: return csv
        case .json: return json
        }
    }
}

/// The histogram precision every report states.
public enum Precision {
    public static let text = "percentiles from merged HdrHistograms: 1 µs resolution, 3 significant digits"
}
