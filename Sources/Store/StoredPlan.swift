import Foundation

/// A master's plan as the `run.plan` column keeps it: JSON with plain numbers (nanoseconds for
/// times), readable with `sqlite3` and by any JSON tool.
struct StoredPlan: Codable {
    var tasks: UInt64?
    var batch: UInt32
    var url: String
    var durationNs: Int64?
    var rate: Double?
    var method: String
    var timeoutNs: Int64?
    var http2: Bool
    var connections: UInt32?
    var insecure: Bool
    var expectStatus: String?
    var stages: [RateStage]?
    var connectionStages: [RateStage]?
    /// Name, weight, method and URL of each request of a mix.
    var requests: [PlannedRequest]?

    static func encode(_ plan: SlavePlan) -> String {
        let stored = StoredPlan(
            tasks: plan.tasks == 0 ? nil : plan.tasks, batch: plan.batch, url: plan.url, durationNs: plan.duration?.nanoseconds,
            rate: plan.rate, method: plan.method, timeoutNs: plan.timeout?.nanoseconds, http2: plan.http2,
            connections: plan.connections, insecure: plan.insecure, expectStatus: plan.expectStatus,
            stages: plan.stages.isEmpty ? nil : plan.stages,
            connectionStages: plan.connectionStages.isEmpty ? nil : plan.connectionStages,
            requests: plan.requests.isEmpty ? nil : plan.requests)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Plain numbers and strings: encoding cannot fail.
        return (try? encoder.encode(stored)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The plan, or nil for text that is not one (a column edited by hand).
    static func decode(_ text: String) -> SlavePlan? {
        guard let stored = try? JSONDecoder().decode(StoredPlan.self, from: Data(text.utf8)) else { return nil }
        return SlavePlan(
            tasks: stored.tasks ?? 0, batch: stored.batch, url: stored.url,
            duration: stored.durationNs.flatMap { $0 > 0 ? .nanoseconds($0) : nil }, rate: stored.rate.flatMap { $0 > 0 && $0.isFinite ? $0 : nil },
            method: stored.method, timeout: stored.timeoutNs.flatMap { $0 > 0 ? .nanoseconds($0) : nil }, http2: stored.http2,
            connections: stored.connections, insecure: stored.insecure, expectStatus: stored.expectStatus,
            stages: stored.stages ?? [], connectionStages: stored.connectionStages ?? [], requests: stored.requests ?? [])
    }
}
