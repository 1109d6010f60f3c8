/// The formats every report can be rendered in.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, csv, json
    /// A self-contained page: a run's report (`HTMLReport`) has charts; anything else is its
    /// text on a page.
    case html
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
        case .html: return html
        }
    }

    /// The text on a page of its own.
    public var html: String {
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>goloadtest</title></head>\n"
            + "<body><pre>\(HTMLReport.escape(text))</pre></body></html>\n"
    }
}

/// The histogram precision every report states.
public enum Precision {
    public static let text = "percentiles from merged HdrHistograms: 1 µs resolution, 3 significant digits"
}
