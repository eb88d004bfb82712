import ArgumentParser
import Foundation
import Logging

/// The global `--log-level` option: every command logs (swift-log) to
/// standard error at the chosen level, so standard output keeps only the
/// command's result (its envelope, table or report).
///
/// `--log-level LEVEL` (or `--log-level=LEVEL`) may stand anywhere before a
/// `--`; without it `FORGECHAIN_LOG_LEVEL` is read, and without that the
/// level is `warning`. Levels: `trace`, `debug`, `info`, `notice`, `warning`,
/// `error`, `critical`. It is taken out of the arguments before the commands
/// parse theirs, so no command declares it.
///
/// ```
/// forgechain --log-level info records import --file plant.csv --data /var/lib/forgechain
/// ```
enum LogLevelOption {
    static let name = "--log-level"
    static let environmentVariable = "FORGECHAIN_LOG_LEVEL"
    static let defaultLevel = Logger.Level.warning

    /// The arguments without `--log-level` and its value, and the level chosen.
    /// - Throws: `ValidationError` naming the value when it is not a level or is missing.
    static func extract(from arguments: [String], environment: [String: String]) throws -> (arguments: [String], level: Logger.Level) {
        var rest = [String]()
        var chosen: String?
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" {
                rest += arguments[i...]
                break
            }
            if argument == name {
                guard i + 1 < arguments.count else { throw ValidationError("Missing value for '\(name) <level>'") }
                chosen = arguments[i + 1]
                i += 2
                continue
            }
            if argument.hasPrefix(name + "=") {
                chosen = String(argument.dropFirst(name.count + 1))
                i += 1
                continue
            }
            rest.append(argument)
            i += 1
        }
        guard let text = chosen ?? environment[environmentVariable], !text.isEmpty else { return (rest, defaultLevel) }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("The value '\(text)' is invalid for '\(name) <level>'; expected one of: \(levels)")
        }
        return (rest, level)
    }

    /// Sends every logger of the process to standard error at `level`. Call once, before any logger is made.
    static func bootstrap(_ level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension ForgeChainCommand {
    /// Takes `--log-level` out of the arguments, bootstraps logging, then runs the command the rest names.
    static func main() async {
        let parsed: (arguments: [String], level: Logger.Level)
        do {
            parsed = try LogLevelOption.extract(from: Array(CommandLine.arguments.dropFirst()),
                                                environment: ProcessInfo.processInfo.environment)
        } catch {
            exit(withError: error)
        }
        LogLevelOption.bootstrap(parsed.level)
        await main(parsed.arguments)
    }
}
