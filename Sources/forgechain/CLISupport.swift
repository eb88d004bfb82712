import AppAPI
import ArgumentParser
import Foundation
import LedgerCore

/// Options every operator command takes: the data folder and credentials
/// (flags, else FORGECHAIN_USER, FORGECHAIN_PASSWORD, FORGECHAIN_OTP).
struct DataOptions: ParsableArguments {
    @Option(help: "The data folder (created when missing).")
    var data: String = "forgechain-data"

    @Option(help: "Administrator user name (or FORGECHAIN_USER).")
    var user: String?

    @Option(help: "Password (or FORGECHAIN_PASSWORD).")
    var password: String?

    @Option(help: "One-time code from the authenticator app, SMS or e-mail (or FORGECHAIN_OTP).")
    var otp: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }
    var resolvedUser: String? { user ?? environment["FORGECHAIN_USER"] }
    var resolvedPassword: String? { password ?? environment["FORGECHAIN_PASSWORD"] }
    var resolvedOTP: String? { otp ?? environment["FORGECHAIN_OTP"] }

    @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE; asked for on a terminal).")
    var passphraseFile: String?

    func open() async throws -> Platform {
        var options = Platform.Options()
        options.passphrase = try passphrase()
        return try await Platform.open(.singleNode(directory: data), options: options)
    }

    /// The keystore passphrase: --passphrase-file, else FORGECHAIN_PASSPHRASE, else asked for when standard input is a terminal.
    func passphrase() throws -> Passphrase {
        try Self.passphrase(file: passphraseFile, for: data)
    }

    /// The keystore passphrase of the folder `folder`: `file`'s first line, else FORGECHAIN_PASSPHRASE, else asked for
    /// when standard input is a terminal.
    static func passphrase(file passphraseFile: String?, for folder: String) throws -> Passphrase {
        let environment = ProcessInfo.processInfo.environment
        if let passphraseFile { return try .file(passphraseFile) }
        if let text = environment["FORGECHAIN_PASSPHRASE"], !text.isEmpty { return try Passphrase(text) }
        if isatty(STDIN_FILENO) != 0, let typed = getpass("keystore passphrase for \(folder): ") {
            let text = String(cString: typed)
            memset(typed, 0, strlen(typed))
            return try Passphrase(text)
        }
        throw LedgerError(.keystoreLocked, "the data folder's keystore needs a passphrase: --passphrase-file FILE or FORGECHAIN_PASSPHRASE",
                          details: ["field": "passphrase"])
    }
}

enum CLI {
    /// Runs `body` on an open platform and closes it; on failure prints the envelope to standard error and exits 1.
    /// `body` returns the exit status (0, or 2 for a partial result it has printed itself).
    static func runWithStatus(_ options: DataOptions, _ body: (Platform) async throws -> Int32) async throws {
        let platform: Platform
        do { platform = try await options.open() } catch { fail(error) }
        let status: Int32
        do {
            status = try await body(platform)
        } catch {
            await platform.close()
            fail(error)
        }
        await platform.close()
        if status != 0 { Foundation.exit(status) }
    }

    /// ``runWithStatus(_:_:)`` for a body that either succeeds (exit 0) or throws.
    static func run(_ options: DataOptions, _ body: (Platform) async throws -> Void) async throws {
        try await runWithStatus(options) { (platform) async throws -> Int32 in
            try await body(platform)
            return 0
        }
    }

    static func fail(_ error: any Error) -> Never {
        let envelope = Envelope<String>.failure(error)
        let text = (try? envelope.jsonData(pretty: true)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"code\": 9999}"
        FileHandle.standardError.write(Data((text + "\n").utf8))
        Foundation.exit(1)
    }

    /// Prints an envelope with a failure code and a result (`data`) to standard output.
    static func printJSON<T: Codable & Sendable>(_ data: T, failure error: AppError) throws {
        let envelope = Envelope(code: error.numericCode, message: error.message, data: data, details: error.details)
        print(String(decoding: try envelope.jsonData(pretty: true), as: UTF8.self))
    }

    static func printJSON<T: Codable & Sendable>(_ data: T) throws {
        print(String(decoding: try Envelope.success(data).jsonData(pretty: true), as: UTF8.self))
    }

    /// Writes `value` as pretty, key-sorted JSON to `path` (receipt files that `records verify` reads).
    static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        try writeJSONArray([value], to: path, asArray: false)
    }

    /// Writes `items` as a pretty, key-sorted JSON array to `path` (see ``JSONArrayFile``).
    /// - Throws: the encoder's or the file system's error; nothing is left at `path` or beside it then.
    static func writeJSONArray<T: Encodable>(_ items: [T], to path: String, asArray: Bool = true) throws {
        let file = try JSONArrayFile(path: path, asArray: asArray)
        do {
            try file.append(items)
            try file.finish()
        } catch {
            file.discard()
            throw error
        }
    }

    static func printXML<T: Codable & Sendable>(_ data: T) throws {
        print(String(decoding: try Envelope.success(data).xmlData(), as: UTF8.self))
    }
}

/// A pretty, key-sorted JSON array written to a file one element at a time: memory holds one element's
/// encoding, not the file's (an import's receipts run to gigabytes), and no single write is large (one
/// `Data.write` of more than 2 GiB started over mid-file). The file appears whole or not at all: it is written
/// to `PATH.partial`, flushed to disk and renamed (rename(2) replaces a file and refuses a directory, which is
/// never deleted to make room).
final class JSONArrayFile {
    let path: String
    private let partial: String
    private let handle: FileHandle
    private let asArray: Bool
    private let encoder = JSONEncoder()
    private(set) var count = 0

    /// Creates `PATH.partial` (replacing a stale one).
    /// - Parameter asArray: Optional, default true; false writes exactly one value, not an array.
    init(path: String, asArray: Bool = true) throws {
        self.path = path
        self.asArray = asArray
        partial = path + ".partial"
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let fm = FileManager.default
        if fm.fileExists(atPath: partial) { try fm.removeItem(atPath: partial) }
        guard fm.createFile(atPath: partial, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
        if asArray { try handle.write(contentsOf: Array("[\n".utf8)) }
    }

    /// Appends elements (encoded and written one at a time).
    func append<T: Encodable>(_ items: [T]) throws {
        for item in items {
            if count > 0 { try handle.write(contentsOf: Array(",\n".utf8)) }
            try handle.write(contentsOf: try encoder.encode(item))
            count += 1
        }
    }

    /// Closes the array, flushes it to disk and renames it to `path`.
    func finish() throws {
        try handle.write(contentsOf: Array((asArray ? "\n]\n" : "\n").utf8))
        try handle.synchronize()
        try handle.close()
        guard rename(partial, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                                                           NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
    }

    /// Removes the partial file after a failure (best effort: the failure itself is what the caller reports).
    func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: partial)
    }
}
