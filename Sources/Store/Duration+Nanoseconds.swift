extension Duration {
    /// Whole nanoseconds: how durations are stored and sent (never floats of seconds). Durations
    /// beyond what 64 bits of nanoseconds hold (about 292 years) saturate instead of trapping.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (total, overflow2) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflow2 else { return whole < 0 ? .min : .max }
        return total
    }
}
