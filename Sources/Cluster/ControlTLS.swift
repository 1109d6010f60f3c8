import Engine
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// TLS on the master's gRPC port: its certificate and key and, for mutual TLS, the CA that
/// must have signed every slave's certificate. PEM files, checked when the master starts.
public struct MasterTLS: Sendable {
    public var certificateFile: String
    public var keyFile: String
    public var clientCAFile: String?

    public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) throws(ClusterError) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
        try checkCertificates(certificateFile, "--tls-cert")
        try checkKey(keyFile, "--tls-key")
        if let clientCAFile { try checkCertificates(clientCAFile, "--tls-client-ca") }
    }

    var transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
        let chain: [TLSConfig.CertificateSource] = [.file(path: certificateFile, format: .pem)]
        let key: TLSConfig.PrivateKeySource = .file(path: keyFile, format: .pem)
        guard let clientCAFile else { return .tls(certificateChain: chain, privateKey: key) }
        return .mTLS(certificateChain: chain, privateKey: key) { config in
            config.trustRoots = .certificates([.file(path: clientCAFile, format: .pem)])
        }
    }

    /// Logs each connection that fails TLS (a slave without a certificate, or with one from
    /// another CA): it never reaches the service, so nothing else would say why it left.
    static func logRefusals(_ logger: Logger) -> @Sendable (any Channel) -> EventLoopFuture<Void> {
        { channel in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                let tls = try pipeline.handler(type: NIOSSLServerHandler.self)
                let peer = channel.remoteAddress.map { "\($0)" } ?? "a peer"
                try pipeline.addHandler(RefusalLogger(logger: logger, peer: peer), position: .after(tls))
            }
        }
    }

    private final class RefusalLogger: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let logger: Logger
        let peer: String
        var handshakeDone = false

        init(logger: Logger, peer: String) {
            self.logger = logger
            self.peer = peer
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event { handshakeDone = true }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if !handshakeDone {
                logger.warning(
                    "refused a connection from \(peer): TLS failed (\(error)); a slave needs --tls-ca for this master's certificate and, with --tls-client-ca, a certificate that CA signed"
                )
                handshakeDone = true
            }
            context.fireErrorCaught(error)
        }
    }
}

/// TLS from a slave to its master: the CA that signed the master's certificate (the system's
/// trust store when nil) and, for a master that asks, this slave's certificate and key.
public struct SlaveTLS: Sendable {
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?

    public init(caFile: String?, certificateFile: String?, keyFile: String?) throws(ClusterError) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        if let caFile { try checkCertificates(caFile, "--tls-ca") }
        switch (certificateFile, keyFile) {
        case (nil, nil): break
        case (let certificateFile?, let keyFile?):
            try checkCertificates(certificateFile, "--tls-cert")
            try checkKey(keyFile, "--tls-key")
        default:
            throw ClusterError(.invalidPlan, "--tls-cert and --tls-key go together: pass both, or neither")
        }
    }

    var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
        .tls { config in
            if let caFile { config.trustRoots = .certificates([.file(path: caFile, format: .pem)]) }
            if let certificateFile, let keyFile {
                config.certificateChain = [.file(path: certificateFile, format: .pem)]
                config.privateKey = .file(path: keyFile, format: .pem)
            }
        }
    }
}

private func checkCertificates(_ path: String, _ flag: String) throws(ClusterError) {
    do {
        _ = try PEMFile.certificates(path, flag: flag)
    } catch {
        throw ClusterError(.invalidPlan, error.message)
    }
}

private func checkKey(_ path: String, _ flag: String) throws(ClusterError) {
    do {
        _ = try PEMFile.privateKey(path, flag: flag)
    } catch {
        throw ClusterError(.invalidPlan, error.message)
    }
}
