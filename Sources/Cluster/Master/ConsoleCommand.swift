import Engine
import Protocol
import Store

/// A line typed on the master's console.
enum ConsoleCommand: Equatable {
    case start, status, stop, quit, help, empty
    case unknown(String)

    init(_ line: String) {
        let word = line.split(whereSeparator: \.isWhitespace).first.map { $0.lowercased() } ?? ""
        switch word {
        case "": self = .empty
        case "start": self = .start
        case "status": self = .status
        case "stop": self = .stop
        case "quit", "exit": self = .quit
        case "help", "?": self = .help
        default: self = .unknown(word)
        }
    }

    static let helpText = """
        commands:
          start    start a run with every connected slave
          status   connected slaves and the progress of the current run
          stop     stop the current run (it is recorded as aborted)
          quit     end the session: slaves are told to exit, then the master exits
          help     this list
        """
}

extension MasterStatus {
    /// The console's answer to `status`.
    var text: String {
        var lines: [String] = []
        if slaves.isEmpty {
            lines.append("no slaves connected")
        } else {
            lines.append("\(slaves.count) slave(s) connected:")
            for slave in slaves {
                var line = "  \(slave.name): " + (slave.plan.map { "\($0.shape), \($0.url)" } ?? "takes the master's plan")
                if let status = slave.runStatus {
                    line += " [\(status.rawValue), \(slave.requests) done]"
                }
                lines.append(line)
            }
        }
        if let runId {
            let percent = runTasks == 0 ? 0 : Double(runRequests) / Double(runTasks) * 100
            lines.append(
                "run \(runId): \(runRequests)/\(runTasks) requests (\(String(format1: percent))%), \(runFailures) failures")
            if !lost.isEmpty { lines.append("lost: \(lost.joined(separator: ", "))") }
        } else {
            lines.append("no run in progress; type start")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
