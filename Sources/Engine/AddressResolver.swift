import Dispatch
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Resolves a target's name once per run, with the system's resolver (`/etc/hosts`, DNS), into
/// every address it has, in the order the resolver prefers, without duplicates.
enum AddressResolver {
    static func resolve(host: String, port: Int) async -> [SocketAddress] {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return [literal] }
        return await withCheckedContinuation { continuation in
            // getaddrinfo blocks: keep it off the event loops and the concurrency pool.
            DispatchQueue.global().async {
                continuation.resume(returning: lookUp(host: host, port: port))
            }
        }
    }

    private static func lookUp(host: String, port: Int) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var seen: Set<String> = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            node = entry.pointee.ai_next
            guard let raw = entry.pointee.ai_addr else { continue }
            let address: SocketAddress?
            switch entry.pointee.ai_family {
            case AF_INET:
                address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            case AF_INET6:
                address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            default:
                address = nil
            }
            guard let address, seen.insert(address.description).inserted else { continue }
            addresses.append(address)
        }
        return addresses
    }
}
