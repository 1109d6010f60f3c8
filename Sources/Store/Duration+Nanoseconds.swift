extension Duration {
    /// Whole nanoseconds: how durations are stored and sent (never floats of seconds).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
