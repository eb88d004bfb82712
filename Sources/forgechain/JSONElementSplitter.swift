import Foundation

/// Splits a JSON text that is one value or an array of values into its top-level elements, fed a chunk at
/// a time, so that `records verify` reads a receipts file of any size in bounded memory: it holds one
/// element (at most ``maximumElementBytes``) and a nesting stack (at most ``maximumDepth``), never the file.
///
/// It finds element boundaries by tracking strings, escapes and bracket nesting; it does not validate an
/// element's inside (the decoder that reads each element does). Malformed framing (a byte that cannot start
/// a value, mismatched or unclosed brackets, a trailing comma, bytes after the value, a control character
/// in a string, an element or nesting over the limits) is a ``Failure`` with the byte offset, never a trap.
///
/// ```swift
/// var splitter = JSONElementSplitter()
/// try splitter.feed(Array("[{\"a\":1}, {\"b\":[2]}]".utf8)) { element in print(String(decoding: element, as: UTF8.self)) }
/// try splitter.finish { _ in }
/// ```
/// - Note: A value type without I/O; ``forEachElement(inFile:chunkBytes:_:)`` reads a file through it.
struct JSONElementSplitter {
    /// Malformed framing at byte `offset` (0-based, from the start of the input).
    struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        var offset: Int
        var reason: String
        var description: String { "JSON at byte \(offset): \(reason)" }
    }

    /// The largest element accepted: 16 MiB (a receipt is a few KB; a format-1 receipt up to about 1 MB).
    static let maximumElementBytes = 16 << 20
    /// The deepest bracket nesting accepted inside an element.
    static let maximumDepth = 512

    private enum Phase { case start, arrayOpen, afterComma, element, afterElement, done }
    private var phase = Phase.start
    private var isArray = false
    private var element: [UInt8] = []
    private var stack: [UInt8] = []
    private var inString = false
    private var escaped = false
    private var offset = 0
    /// The number of elements emitted so far.
    private(set) var elementCount = 0

    init() {}

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 }
    private static func isScalarByte(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x61...0x7a).contains(b) || (0x41...0x5a).contains(b) || b == 0x2b || b == 0x2d || b == 0x2e
    }

    private func failure(_ reason: String) -> Failure { Failure(offset: offset, reason: reason) }

    /// Feeds the next bytes of the input; calls `emit` with each element completed by them, in order.
    /// - Throws: ``Failure`` for malformed framing; `emit`'s errors. After a throw the splitter must not be fed again.
    mutating func feed(_ bytes: some Collection<UInt8>, _ emit: ([UInt8]) throws -> Void) throws {
        for b in bytes {
            // `emit` is called here only, not passed down the per-byte steps: passed down, the optimiser copied
            // its captures once per byte.
            let completed = try step(b)
            offset += 1
            if completed { try emit(takeElement()) }
        }
    }

    /// Ends the input: emits a last bare scalar if one is open, and checks that the text was complete.
    /// - Throws: ``Failure`` when the input is empty or ends inside a value or an open array.
    mutating func finish(_ emit: ([UInt8]) throws -> Void) throws {
        if phase == .element, stack.isEmpty, !inString, !isArray {
            complete()
            try emit(takeElement())
        }
        switch phase {
        case .done: return
        case .afterElement where !isArray: return
        case .start: throw failure("the input is empty")
        default: throw failure(phase == .element ? "the input ends inside a value" : "the input ends inside the array")
        }
    }

    /// Consumes one byte; returns whether it completed an element (then ``takeElement()`` hands it over).
    private mutating func step(_ b: UInt8) throws -> Bool {
        switch phase {
        case .start:
            if Self.isSpace(b) { return false }
            if b == UInt8(ascii: "[") {
                isArray = true
                phase = .arrayOpen
            } else {
                try begin(b)
            }
        case .arrayOpen, .afterComma:
            if Self.isSpace(b) { return false }
            if b == UInt8(ascii: "]") {
                guard phase == .arrayOpen else { throw failure("a comma before ']'") }
                phase = .done
            } else {
                try begin(b)
            }
        case .element:
            return try continueElement(b)
        case .afterElement:
            try afterElement(b)
        case .done:
            guard Self.isSpace(b) else { throw failure("bytes after the end of the JSON value") }
        }
        return false
    }

    private mutating func afterElement(_ b: UInt8) throws {
        if Self.isSpace(b) { return }
        guard isArray else { throw failure("bytes after the end of the JSON value") }
        switch b {
        case UInt8(ascii: ","): phase = .afterComma
        case UInt8(ascii: "]"): phase = .done
        default: throw failure("expected ',' or ']' after an array element")
        }
    }

    private mutating func begin(_ b: UInt8) throws {
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "["): stack.append(b)
        case UInt8(ascii: "\""): inString = true
        case _ where Self.isScalarByte(b): break
        default: throw failure("byte 0x\(String(b, radix: 16)) cannot start a JSON value")
        }
        element.append(b)
        phase = .element
    }

    private mutating func continueElement(_ b: UInt8) throws -> Bool {
        if inString {
            if escaped {
                escaped = false
            } else if b == UInt8(ascii: "\\") {
                escaped = true
            } else if b == UInt8(ascii: "\"") {
                inString = false
            } else if b < 0x20 {
                throw failure("control byte 0x\(String(b, radix: 16)) inside a string")
            }
            try append(b)
            if !inString, stack.isEmpty {
                complete()
                return true
            }
            return false
        }
        if stack.isEmpty {
            // A bare scalar (number, true, false, null) at the top level ends at the first byte that cannot continue it.
            if Self.isScalarByte(b) {
                try append(b)
                return false
            }
            complete()
            try afterElement(b)
            return true
        }
        switch b {
        case UInt8(ascii: "\""):
            inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard stack.count < Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth)") }
            stack.append(b)
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            let opener = b == UInt8(ascii: "}") ? UInt8(ascii: "{") : UInt8(ascii: "[")
            guard stack.last == opener else { throw failure("'\(Character(UnicodeScalar(b)))' does not close the open bracket") }
            stack.removeLast()
        default:
            break
        }
        try append(b)
        if stack.isEmpty {
            complete()
            return true
        }
        return false
    }

    private mutating func append(_ b: UInt8) throws {
        guard element.count < Self.maximumElementBytes else {
            throw failure("an element longer than \(Self.maximumElementBytes) bytes")
        }
        element.append(b)
    }

    private mutating func complete() {
        phase = .afterElement
        elementCount += 1
    }

    /// The element just completed; the buffer starts empty again.
    private mutating func takeElement() -> [UInt8] {
        let done = element
        element.removeAll(keepingCapacity: element.capacity <= 1 << 20)
        return done
    }

    /// Reads the file at `path` through a splitter, `chunkBytes` at a time, calling `body` with each element.
    /// - Parameters:
    ///   - path: Required. A file holding one JSON value or an array.
    ///   - chunkBytes: Optional, default 64 KiB; 1...
    /// - Returns: The number of elements.
    /// - Throws: the file system's errors, ``Failure``, or `body`'s errors.
    static func forEachElement(inFile path: String, chunkBytes: Int = 64 << 10, _ body: ([UInt8]) throws -> Void) throws -> Int {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }   // read-only: nothing to lose if closing fails
        var splitter = JSONElementSplitter()
        while let chunk = try handle.read(upToCount: max(1, chunkBytes)), !chunk.isEmpty {
            try splitter.feed(chunk, body)
        }
        try splitter.finish(body)
        return splitter.elementCount
    }
}
