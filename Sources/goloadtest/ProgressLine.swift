import ArgumentParser
import Cluster
import Foundation
import Store
import Synchronization

/// `--quiet`, for `master` and `run`.
struct ProgressOptions: ParsableArguments {
    @Flag(help: "No progress line while a run goes (on a terminal one line redrawn every second; otherwise a plain line every 10 s).")
    var quiet = false

    /// Where the master's progress goes: nil with `--quiet`. `console`: the command reads
    /// commands typed on stdin; redrawing would erase them, so a terminal there gets plain lines.
    func makeLine(console: Bool = false) -> ProgressLine? {
        quiet ? nil : ProgressLine(terminal: isatty(STDERR_FILENO) == 1 && !(console && isatty(STDIN_FILENO) == 1))
    }
}

/// The progress of a run on stderr. On a terminal, one line redrawn every second: a bar,
/// elapsed and planned time, the requests/s, errors and p50/p99 of the last second (merged over
/// the slaves), slaves running and lost. Otherwise (CI, a pipe) the same as a plain line every
/// 10 s, and one when the run ends.
final class ProgressLine: Sendable {
    let terminal: Bool
    /// Plain lines: when the last one was written.
    private let lastPlain = Mutex<ContinuousClock.Instant?>(nil)
    static let plainEvery: Duration = .seconds(10)

    init(terminal: Bool) {
        self.terminal = terminal
    }

    /// Whether a bar is drawn on the last line of the terminal now (a log line must clear it
    /// first, or it would run on from the bar).
    static let drawn = Atomic<Bool>(false)

    func show(_ progress: RunProgress) {
        if terminal {
            // Back to the line's start, erase it, draw it again.
            write("\r\u{1B}[2K" + Self.text(progress, bar: true) + (progress.finished ? "\n" : ""))
            Self.drawn.store(!progress.finished, ordering: .relaxed)
            return
        }
        let now = ContinuousClock.now
        let due = lastPlain.withLock { last -> Bool in
            guard progress.finished || now - (last ?? now - Self.plainEvery) >= Self.plainEvery else { return false }
            last = now
            return true
        }
        if due { write(Self.text(progress, bar: false) + "\n") }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// `run 3 [#####---------------]  25% 15 s / 60 s · 1,234 req/s · 0.00% errors · p50 1.20 ms
    /// p99 4.51 ms · 3 running` (`run 3: 25%, ...` without the bar).
    static func text(_ progress: RunProgress, bar: Bool) -> String {
        let fraction = progress.fraction
        let percent = Int((fraction * 100).rounded(.down))
        var parts: [String] = []
        if bar {
            let width = 20
            let filled = Int((fraction * Double(width)).rounded(.down))
            parts.append(
                "run \(progress.runId) [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                    + "] " + String(percent).leftPadded(3) + "%")
        } else {
            parts.append("run \(progress.runId): \(percent)%")
        }
        parts.append(seconds(progress.elapsed) + (progress.plannedDuration.map { " / " + seconds($0) } ?? ""))
        parts.append(
            progress.plannedTasks > 0 ? "\(progress.requests)/\(progress.plannedTasks) requests" : "\(progress.requests) requests")
        let rate = progress.recentSeconds > 0 ? Double(progress.recentRequests) / progress.recentSeconds : 0
        parts.append("\(Int(rate.rounded())) req/s")
        let errors = progress.recentRequests > 0 ? Double(progress.recentFailures) / Double(progress.recentRequests) * 100 : 0
        parts.append(String(format: "%.2f%% errors", errors))
        if progress.recentRequests > 0 {
            parts.append(
                String(format: "p50 %.2f ms p99 %.2f ms", Double(progress.recentP50) / 1000, Double(progress.recentP99) / 1000))
        }
        parts.append("\(progress.running) running" + (progress.lost > 0 ? ", \(progress.lost) lost" : ""))
        if let ended = progress.ended { parts.append(ended.rawValue) }
        return parts.joined(separator: bar ? " · " : ", ")
    }

    private static func seconds(_ duration: Duration) -> String {
        "\(duration.components.seconds) s"
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
