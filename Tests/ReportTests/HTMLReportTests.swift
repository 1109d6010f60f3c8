import Foundation
@testable import Report
import Store
import TestKit
import Testing

@Suite("HTML report")
struct HTMLReportTests {
    func seededRun(seed: UInt64, slaves: [String], in store: RunStore) async throws -> (Int64, [(SummaryWindow, [UInt64])]) {
        try await Fixture.seededRun(seed: seed, slaves: slaves, in: store)
    }

    @Test("the run's points are its timeline; each slave's points add up to its row; codes add up to the run's")
    func chartsFollowTheRows() async throws {
        let store = try RunStore.inMemory()
        let (runId, _) = try await seededRun(seed: 7, slaves: ["s1", "s2", "s3"], in: store)
        let report = try RunReport(store: store, runId: runId)
        let charts = try RunCharts(store: store, runId: runId)
        let timeline = try Timeline(store: store, runId: runId, every: .nanoseconds(charts.every))
        #expect(charts.every == Fixture.second && charts.slaveEvery == Fixture.second)
        #expect(charts.total.points.map(\.start) == timeline.buckets.map(\.start))
        #expect(charts.total.points.map(\.requests) == timeline.buckets.map(\.requests))
        #expect(charts.total.points.map(\.p99) == timeline.buckets.map { $0.latency.microseconds(atPercentile: 99)! })
        #expect(charts.slaves.map(\.name) == report.slaves.map(\.name))
        for (series, row) in zip(charts.slaves, report.slaves) {
            #expect(series.points.count == 20)
            #expect(series.points.map(\.requests).reduce(0, +) == row.requests)
            #expect(series.points.map(\.failures).reduce(0, +) == row.failures)
        }
        var codes: [Int: UInt64] = [:]
        for bucket in charts.statusCodes { codes.merge(bucket, uniquingKeysWith: +) }
        #expect(codes.filter { $0.value > 0 } == report.total.statusCodes.filter { $0.value > 0 })
    }

    @Test("a slave's point merges its windows of the bucket: percentiles of all their latencies, never averaged")
    func slavePointsMerge() async throws {
        let store = try RunStore.inMemory()
        let (runId, windows) = try await seededRun(seed: 2026, slaves: ["a", "b"], in: store)
        let width = 3 * Fixture.second
        let points = try store.readWindows(ofRun: runId, slaves: 0..<2) { stored in
            var builder = RunCharts.SlaveBuilder(runStartedAt: Fixture.t0, width: width)
            try stored.forEach(order: .slave) { try builder.add($0) }
            return builder.finish()
        }
        #expect(points.map(\.name) == ["a", "b"])
        for series in points {
            for point in series.points {
                let inPoint = windows.filter { $0.0.slave == series.name && ($0.0.startedAt - Fixture.t0) / width == (point.start - Fixture.t0) / width }
                #expect(!inPoint.isEmpty)
                let reference = LatencyHistogram(inPoint.flatMap(\.1))
                #expect(point.requests == inPoint.map(\.0.requests).reduce(0, +))
                #expect(point.covered == Int64(inPoint.count) * Fixture.second)
                #expect([point.p50, point.p90, point.p99, point.max] == reference.summary(percentiles: [50, 90, 99, 100]).values)
            }
        }
        // Slave a starts at 0 s and b at 1 s, 20 windows each: 7 buckets of 3 s for both.
        #expect(points.map(\.points.count) == [7, 7])
    }

    @Test("buckets widen to whole seconds so that a run keeps within its number of points")
    func widths() {
        #expect(RunCharts.width(seconds: 0, points: 2_000) == Fixture.second)
        #expect(RunCharts.width(seconds: 600, points: 2_000) == Fixture.second)
        #expect(RunCharts.width(seconds: 600, points: 150) == 4 * Fixture.second)
        #expect(RunCharts.width(seconds: 3_601, points: 2_000) == 2 * Fixture.second)
    }

    @Test("the page: names escaped in the tables and the data, nothing fetched from elsewhere, data that adds up")
    func page() async throws {
        let store = try RunStore.inMemory()
        let hostile = "</script><script>alert(1)</script>&\"'"
        let (runId, _) = try await seededRun(seed: 42, slaves: ["plain", hostile], in: store)
        let report = try RunReport(store: store, runId: runId)
        let html = HTMLReport(report: report, charts: try RunCharts(store: store, runId: runId)).html
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("<script>alert"))
        #expect(html.components(separatedBy: "</script>").count == 3, "two script elements, none closed by a name")
        #expect(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"))
        for reference in ["src=", "href=", "@import", "url(http", "<link"] {
            #expect(!html.contains(reference), "\(reference) would fetch something")
        }
        let start = try #require(html.range(of: "<script type=\"application/json\" id=\"goloadtest-data\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let data = try #require(
            try JSONSerialization.jsonObject(with: Data(html[start.upperBound..<end.lowerBound].utf8)) as? [String: Any])
        let runs = try #require(data["runs"] as? [[String: Any]])
        #expect(runs.count == 1)
        let total = try #require(runs[0]["total"] as? [String: Any])
        #expect((total["requests"] as? [Int])?.reduce(0, +) == Int(report.total.requests))
        let slaves = try #require(runs[0]["slaves"] as? [[String: Any]])
        #expect(slaves.compactMap { $0["name"] as? String } == ["plain", hostile].sorted())
        for slave in slaves {
            let row = try #require(report.slaves.first { $0.name == slave["name"] as? String })
            #expect((slave["requests"] as? [Int])?.reduce(0, +) == Int(row.requests))
            #expect((slave["t"] as? [Int])?.count == 20)
        }
    }
}

@Suite("Times in reports")
struct ReportTimeTests {
    @Test("ISO-8601 in UTC with the milliseconds cut toward the past, at the ends of what a stored time can be")
    func iso8601() {
        #expect(Formatting.iso8601(nanoseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Formatting.iso8601(nanoseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Formatting.iso8601(nanoseconds: 1_790_000_000_163_999_999) == "2026-09-21T14:13:20.163Z")
        #expect(Formatting.iso8601(nanoseconds: 1_790_000_000_999_999_999) == "2026-09-21T14:13:20.999Z")
        #expect(Formatting.iso8601(nanoseconds: .max) == "2262-04-11T23:47:16.854Z")
        #expect(Formatting.iso8601(nanoseconds: .min) == "1677-09-21T00:12:43.145Z")
        #expect(Formatting.clock(nanoseconds: 1_790_000_000_163_999_999) == "14:13:20")
        #expect(Formatting.minute(nanoseconds: 1_790_000_000_163_999_999) == "2026-09-21 14:13")
    }
}
