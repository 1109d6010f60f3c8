import NIOSSL

/// How `https://` targets are verified, and the client certificate to present.
public struct TargetTLS: Sendable, Equatable {
    /// A PEM file of CA certificates trusted on top of the system's.
    public var caFile: String?
    /// No certificate verification at all: the run is marked insecure in its report.
    public var insecure: Bool
    /// A PEM certificate (chain) and its key, for targets that ask for a client certificate.
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, insecure: Bool = false, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.insecure = insecure
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// The TLS context of a run: built once, shared by every connection. ALPN offers `h2` for
    /// HTTP/2 runs and `http/1.1` otherwise. Throws `EngineError(.tlsSetup)` naming the file
    /// that cannot be used.
    public func makeContext(http2: Bool) throws(EngineError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        if insecure {
            configuration.certificateVerification = .none
        }
        if let caFile {
            configuration.additionalTrustRoots = [.certificates(try PEMFile.certificates(caFile, flag: "--ca-file"))]
        }
        switch (certificateFile, keyFile) {
        case (nil, nil):
            break
        case (let certificateFile?, let keyFile?):
            configuration.certificateChain = try PEMFile.certificates(certificateFile, flag: "--cert").map { .certificate($0) }
            configuration.privateKey = .privateKey(try PEMFile.privateKey(keyFile, flag: "--key"))
        default:
            throw EngineError(.tlsSetup, "--cert and --key go together: pass both, or neither")
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw EngineError(
                .tlsSetup, "the TLS settings cannot be used (\(error)); check that --key is the key of --cert")
        }
    }
}
