import Foundation
import LedgerCore
import XMLCoder

/// The uniform return structure of every public operation (D-4, D-10):
/// `{code, message, data, details}`.
///
/// - `code`: 0 on success; otherwise the error's stable code (1xxx … 5xxx,
///   see `Documentation/ErrorCodes.md`).
/// - `message`: `"ok"` or the error's message.
/// - `data`: the operation's result, absent on failure.
/// - `details`: extra exception information (which field, which line, …).
///
/// ```swift
/// let json = try Envelope.success(records).jsonData()
/// let xml  = try Envelope<[ProductionRecord]>.failure(error).xmlData()
/// ```
public struct Envelope<Payload: Codable & Sendable>: Codable, Sendable {
    /// 0 on success, else the error's stable code.
    public var code: UInt32
    /// `ok` on success, else the error's message.
    public var message: String
    /// The result on success; nil on failure.
    public var data: Payload?
    /// Extra information on failure (`field`, `line`, ...); empty on success.
    public var details: [String: String]

    /// Prefer ``success(_:)`` and ``failure(_:)``.
    public init(code: UInt32, message: String, data: Payload?, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.data = data
        self.details = details
    }

    /// A success envelope around `data`.
    public static func success(_ data: Payload) -> Envelope {
        Envelope(code: 0, message: "ok", data: data)
    }

    /// A failure envelope for any error; coded errors keep their code,
    /// message and details, others get code 9999.
    public static func failure(_ error: any Error) -> Envelope {
        if let coded = error as? any CodedError {
            return Envelope(code: coded.numericCode, message: coded.message, data: nil, details: coded.details)
        }
        return Envelope(code: 9999, message: String(describing: error), data: nil)
    }

    /// Whether this envelope reports success.
    public var isSuccess: Bool { code == 0 }

    /// JSON with sorted keys, so the same envelope gives the same bytes.
    public func jsonData(pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// XML with an `<envelope>` root element.
    public func xmlData() throws -> Data {
        let encoder = XMLEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self, withRootKey: "envelope", header: XMLHeader(version: 1.0, encoding: "UTF-8"))
    }
}
