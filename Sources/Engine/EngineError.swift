/// What is wrong with a target or with the TLS settings for it, with a sentence that says what
/// to do.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// The URL, method or a header cannot be sent.
        case invalidURL
        /// A CA, certificate or key file cannot be read or used.
        case tlsSetup
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
