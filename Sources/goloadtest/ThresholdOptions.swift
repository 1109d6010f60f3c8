import ArgumentParser
import Cluster
import Report
import Store

/// `--threshold` and `--abort-on-fail`, for `master` and `run`.
struct ThresholdOptions: ParsableArguments {
    @Option(
        name: .customLong("threshold"),
        help: "Pass/fail on the run's totals, stored with it (repeatable): p99<250ms, p(95)<=1s, error_rate<1%, rps>=900, failures==0; for one request name of a --targets file, login:p99<300ms. A failed one makes the command exit 99.")
    var thresholds: [String] = []

    @Flag(help: "Check the thresholds every second during the run and stop it at the first breach of an upper limit (the run ends aborted, the reason stored).")
    var abortOnFail = false

    func validate() throws {
        _ = try parsed()
        if abortOnFail, thresholds.isEmpty {
            throw ValidationError("--abort-on-fail needs at least one --threshold to check")
        }
    }

    func parsed() throws -> [Threshold] {
        do {
            return try thresholds.map { try Threshold(parsing: $0) }
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Refuses a threshold on a request name the plan does not have (`planNames`: the plan's
    /// names): a typo is told before anything runs, not found as a failed gate after.
    func check(planNames: [String]) throws {
        let thresholds = try parsed()
        if let stray = thresholds.first(where: { $0.name != nil && !planNames.contains($0.name ?? "") }) {
            throw CLIError(
                planNames.isEmpty
                    ? "--threshold \(stray) judges a request name, but the plan has none (names come with --targets); leave out \"\(Names.escaped(stray.name ?? "")):\""
                    : "--threshold \(stray) judges request \"\(Names.escaped(stray.name ?? ""))\", which the plan does not have; its names: \(planNames.map(Names.escaped).joined(separator: ", "))")
        }
    }

    /// Stores the thresholds with each run and, with `--abort-on-fail`, checks them every second.
    func configure(_ configuration: inout MasterConfiguration, store: any RunHistory) throws {
        let thresholds = try parsed()
        configuration.thresholds = thresholds.map(\.description)
        guard abortOnFail else { return }
        let early = thresholds.filter(\.canFailEarly)
        configuration.abortCheck = { runId in
            guard !early.isEmpty,
                let report = try? await RunReport.load(store: store, runId: runId, names: Set(early.compactMap(\.name)))
            else { return nil }
            return report.verdicts(early).first { $0.threshold.failedEarly($0) }.map {
                "threshold \($0.threshold) failed (\($0.text))"
            }
        }
    }
}

/// Exit 99 (as k6 does) when the thresholds of a run that completed, or that `--abort-on-fail`
/// stopped, failed, saying which. A run that did not complete for another reason is left to
/// exit 1.
func checkThresholds(store: any RunHistory, runId: Int64, status: RunStatus) async throws {
    let report: RunReport
    do {
        report = try await RunReport.load(store: store, runId: runId)
    } catch {
        throw fail("could not read run \(runId) back to judge its thresholds: \(error)")
    }
    guard status == .completed || report.header.endReason != nil, let failure = report.thresholdFailure else { return }
    Output.error(failure)
    throw ExitCode(thresholdsFailedExitCode)
}
