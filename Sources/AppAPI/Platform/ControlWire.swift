import ChainRuntime
import Contracts
import Foundation
import LedgerCore

/// The JSON of the operations the records layer adds to a node's control endpoint
/// (`NodeControlServer.Operation`): answers are `{"ok":true,"data":…}` with the value's `Codable` form, or the
/// error envelope's fields `{"ok":false,"code":N,"message":"…","details":{…}}`; a client turns a failure back into
/// the typed error of its code's band (``AppError`` 5xxx, `ChainError` 4xxx, `ContractError` 2xxx, `LedgerError` otherwise), so a
/// remote call fails with the same code and message as the same call in process.
enum ControlWire {
    private struct Success<T: Encodable>: Encodable {
        var ok = true
        var data: T
    }

    private struct Failure: Codable {
        var ok = false
        var code: UInt32
        var message: String
        var details: [String: String]?
    }

    private struct Answer<T: Decodable>: Decodable {
        var ok: Bool
        var data: T?
        var code: UInt32?
        var message: String?
        var details: [String: String]?
    }

    /// An empty success value.
    struct Done: Codable, Sendable {}

    static func success<T: Encodable>(_ value: T) -> Data {
        do { return try JSONEncoder().encode(Success(data: value)) } catch { return failure(error) }
    }

    static func failure(_ error: any Error) -> Data {
        let coded = error as? any CodedError
        let value = Failure(code: coded?.numericCode ?? ChainError.Code.invalidControlRequest.rawValue,
                            message: coded?.message ?? String(describing: error), details: coded?.details)
        return (try? JSONEncoder().encode(value)) ?? Data(#"{"ok":false,"code":4200,"message":"the answer could not be encoded"}"#.utf8)
    }

    /// Runs `body` and encodes its value or its error.
    static func answer<T: Encodable>(_ body: () async throws -> T) async -> Data {
        do { return success(try await body()) } catch { return failure(error) }
    }

    /// Decodes a request line as `T`.
    /// - Throws: `ChainError` `.invalidControlRequest` (4200) naming the operation, when it does not decode.
    static func request<T: Decodable>(_ type: T.Type, from line: Data, op: String) throws(ChainError) -> T {
        do { return try JSONDecoder().decode(T.self, from: line) } catch {
            throw ChainError(.invalidControlRequest, "\(op): the request's fields do not decode: \(error)", details: ["op": op])
        }
    }

    /// Encodes a request.
    static func encode<T: Encodable>(_ request: T) throws(ChainError) -> Data {
        do { return try JSONEncoder().encode(request) } catch {
            throw ChainError(.invalidControlRequest, "the request cannot be encoded: \(error)")
        }
    }

    /// The value of an answer, or its failure as a typed error.
    /// - Throws: the failure's error (``error(code:message:details:)``); `ChainError` `.controlSocketFailed` (4201)
    ///   for an answer that is not of this form.
    static func value<T: Decodable>(_ type: T.Type, from answer: Data) throws -> T {
        let decoded: Answer<T>
        do { decoded = try JSONDecoder().decode(Answer<T>.self, from: answer) } catch {
            throw ChainError(.controlSocketFailed, "the node's answer does not decode: \(error)")
        }
        guard decoded.ok else {
            throw Self.error(code: decoded.code ?? ChainError.Code.controlSocketFailed.rawValue, message: decoded.message ?? "refused",
                             details: decoded.details ?? [:])
        }
        guard let data = decoded.data else { throw ChainError(.controlSocketFailed, "the node's answer holds no data") }
        return data
    }

    /// The typed error of `code`'s band.
    static func error(code: UInt32, message: String, details: [String: String]) -> any CodedError {
        switch code {
        case 5000..<6000: AppError(AppError.Code(rawValue: code), message, details: details)
        case 4000..<5000: ChainError(ChainError.Code(rawValue: code), message, details: details)
        case 2000..<3000: ContractError(ContractError.Code(rawValue: code), message, details: details)
        default: LedgerError(LedgerError.Code(rawValue: code), message, details: details)
        }
    }
}
