#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A tiny HTTP/1.0 server for one resource: every GET is answered with the
/// text `body()` returns, as Prometheus's text format, then the connection
/// closes. Bound to 127.0.0.1 on a port the OS chooses; one thread accepts
/// and answers in turn (a scrape is small). Enough for an example; a real
/// service would use its HTTP framework's route.
/// - Note: `@unchecked Sendable`: `listener` never changes after `init`, `stopped` is a `Mutex`.
final class MetricsHTTPServer: @unchecked Sendable {
    struct SocketError: Error, CustomStringConvertible {
        var call: String
        var errno: Int32
        var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
    }

    /// The port the OS chose.
    let port: UInt16
    private let listener: Int32
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts serving at once.
    /// - Parameter body: Called on the server's thread for each request.
    /// - Throws: `SocketError` when the socket cannot be made, bound or listened on.
    init(body: @escaping @Sendable () -> String) throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SocketError(call: "socket", errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw SocketError(call: "bind/listen", errno: e)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in
            serve(body)
            finished.signal()
        }
        thread.name = "metrics-http"
        thread.start()
    }

    /// Stops accepting, waits for the server's thread and closes the socket. Call once.
    func stop() {
        stopped.withLock { $0 = true }
        finished.wait()
        close(listener)
    }

    private func serve(_ body: @Sendable () -> String) {
        while !stopped.withLock({ $0 }) {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            var request = [UInt8](repeating: 0, count: 4_096)
            let n = read(client, &request, request.count)
            let line = n > 0 ? String(decoding: request[0..<n], as: UTF8.self).prefix { $0 != "\r" && $0 != "\n" } : ""
            let response: String
            if line.hasPrefix("GET /metrics ") {
                let text = body()
                response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(text.utf8.count)\r\n\r\n" + text
            } else {
                response = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            }
            Self.writeAll(client, Array(response.utf8))
            close(client)
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// Fetches `path` from 127.0.0.1:`port` with HTTP/1.0 and returns the body of a 200 answer.
    /// - Throws: `SocketError` on a connection failure or an answer other than 200.
    static func get(port: UInt16, path: String) throws -> String {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SocketError(call: "socket", errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketError(call: "connect", errno: errno) }
        writeAll(fd, Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        var answer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { break }
            answer += chunk[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.0 200"), let split = text.range(of: "\r\n\r\n") else {
            throw SocketError(call: "GET \(path): \(text.prefix { $0 != "\r" })", errno: 0)
        }
        return String(text[split.upperBound...])
    }
}
