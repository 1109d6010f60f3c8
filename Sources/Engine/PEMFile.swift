import Foundation
import NIOSSL

/// The PEM files that TLS options name, read once when a command starts, with errors that say
/// which flag and which file.
public enum PEMFile {
    public static func certificates(_ path: String, flag: String) throws(EngineError) -> [NIOSSLCertificate] {
        try checkReadable(path, flag: flag)
        guard let certificates = try? NIOSSLCertificate.fromPEMFile(path), !certificates.isEmpty else {
            throw EngineError(.tlsSetup, "\(flag) \(path) holds no PEM certificate")
        }
        return certificates
    }

    public static func privateKey(_ path: String, flag: String) throws(EngineError) -> NIOSSLPrivateKey {
        try checkReadable(path, flag: flag)
        guard let key = try? NIOSSLPrivateKey(file: path, format: .pem) else {
            throw EngineError(.tlsSetup, "\(flag) \(path) holds no PEM private key (an encrypted key is not supported)")
        }
        return key
    }

    private static func checkReadable(_ path: String, flag: String) throws(EngineError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw EngineError(.tlsSetup, "\(flag) \(path) cannot be read: check the path and permissions")
        }
    }
}
