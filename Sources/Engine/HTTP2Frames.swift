import NIOCore
import NIOHPACK

/// The HTTP/2 frame layer the engine speaks (RFC 9113 §4 and §6): a frame header, the frame
/// types and flags it reads and writes, the settings it sends, and the error codes it names.
enum HTTP2Frames {
    /// The client's connection preface, sent before its first SETTINGS.
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let headerLength = 9
    /// The largest frame this client takes (SETTINGS_MAX_FRAME_SIZE, left at its default).
    static let maxFrameLength = 16_384
    /// The largest flow-control window (2^31 - 1).
    static let maxWindow = Int(Int32.max)

    enum Kind: UInt8 {
        case data = 0, headers, priority, rstStream, settings, pushPromise, ping, goaway, windowUpdate, continuation
    }

    enum Flag {
        static let endStream: UInt8 = 0x1
        static let ack: UInt8 = 0x1
        static let endHeaders: UInt8 = 0x4
        static let padded: UInt8 = 0x8
        static let priority: UInt8 = 0x20
    }

    enum Setting {
        static let headerTableSize: UInt16 = 0x1
        static let enablePush: UInt16 = 0x2
        static let maxConcurrentStreams: UInt16 = 0x3
        static let initialWindowSize: UInt16 = 0x4
        static let maxFrameSize: UInt16 = 0x5
        static let maxHeaderListSize: UInt16 = 0x6
    }

    /// REFUSED_STREAM: the server did not process the stream, which can be sent again.
    static let refusedStream: UInt32 = 0x7

    /// An error code as the RFC names it.
    static func errorName(_ code: UInt32) -> String {
        let names = [
            "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
            "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
        ]
        return code < names.count ? names[Int(code)] : "error \(code)"
    }

    /// A frame's header: the payload follows it in the same buffer.
    struct Header {
        var length: Int
        var type: UInt8
        var flags: UInt8
        var stream: UInt32

        /// The header of the next frame, once its 9 bytes are in `buffer` (the payload may not be).
        static func peek(_ buffer: ByteBuffer) -> Header? {
            let start = buffer.readerIndex
            guard let lengthAndType = buffer.getInteger(at: start, as: UInt32.self),
                let flags = buffer.getInteger(at: start + 4, as: UInt8.self),
                let stream = buffer.getInteger(at: start + 5, as: UInt32.self)
            else { return nil }
            return Header(
                length: Int(lengthAndType >> 8), type: UInt8(truncatingIfNeeded: lengthAndType), flags: flags,
                stream: stream & 0x7fff_ffff)
        }
    }

    static func writeHeader(length: Int, _ kind: Kind, flags: UInt8 = 0, stream: UInt32 = 0, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(length) << 8 | UInt32(kind.rawValue))
        buffer.writeInteger(flags)
        buffer.writeInteger(stream)
    }

    static func writeWindowUpdate(_ increment: Int, stream: UInt32 = 0, to buffer: inout ByteBuffer) {
        writeHeader(length: 4, .windowUpdate, stream: stream, to: &buffer)
        buffer.writeInteger(UInt32(increment))
    }

    static func writeRstStream(_ code: UInt32, stream: UInt32, to buffer: inout ByteBuffer) {
        writeHeader(length: 4, .rstStream, stream: stream, to: &buffer)
        buffer.writeInteger(code)
    }

    /// The preface, this client's SETTINGS (no push, stream windows as wide as they go, a bound
    /// on response heads) and the connection window opened as wide.
    static func writeOpening(to buffer: inout ByteBuffer) {
        buffer.writeBytes(preface)
        let settings: [(UInt16, UInt32)] = [
            (Setting.enablePush, 0), (Setting.initialWindowSize, UInt32(maxWindow)), (Setting.maxHeaderListSize, 1 << 16),
        ]
        writeHeader(length: settings.count * 6, .settings, to: &buffer)
        for (identifier, value) in settings {
            buffer.writeInteger(identifier)
            buffer.writeInteger(value)
        }
        // The connection window starts at 64 KiB whatever the settings say.
        writeWindowUpdate(maxWindow - 65_535, to: &buffer)
    }
}

/// The request as HTTP/2 sends it, encoded once per run: its header block in HPACK without the
/// dynamic table, so the same bytes serve every stream (the first block of a connection also
/// sets the table size to 0), and its body.
struct HTTP2Request: Sendable {
    let headerBlock: ByteBuffer
    let firstHeaderBlock: ByteBuffer
    let body: ByteBuffer

    /// Header fields HTTP/1.1 uses for the connection, which HTTP/2 forbids: left out.
    static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

    init(_ target: LoadTarget) {
        var headers = HPACKHeaders()
        for (name, value) in [
            (":method", target.method), (":scheme", target.isTLS ? "https" : "http"),
            (":authority", target.authority), (":path", target.requestTarget),
        ] {
            headers.add(name: name, value: value, indexing: .nonIndexable)
        }
        for field in target.headerFields {
            let name = field.name.lowercased()
            // Connection-specific fields make an HTTP/2 request malformed (RFC 9113 §8.2.2).
            guard !Self.connectionSpecific.contains(name), name != "te" || field.value.lowercased() == "trailers" else { continue }
            headers.add(name: name, value: field.value, indexing: .nonIndexable)
        }
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), maxDynamicTableSize: 0)
        var block = ByteBuffer()
        // Names and values were checked when the target was parsed: the encoder cannot fail.
        try? encoder.encode(headers: headers, to: &block)
        headerBlock = block
        var opening = ByteBuffer(integer: UInt8(0x20))
        opening.writeImmutableBuffer(block)
        firstHeaderBlock = opening
        body = ByteBuffer(bytes: target.body)
    }
}
