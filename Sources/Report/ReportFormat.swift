/// The formats a report can be rendered in.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, csv, json
}

extension RunReport {
    public func rendered(as format: ReportFormat) -> String {
        switch format {
        case .text: return text
        case .csv: return csv
        case .json: return json
        }
    }
}
