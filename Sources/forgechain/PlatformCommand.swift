import AppAPI
import ArgumentParser
import ChainRuntime
import Foundation
import Logging

/// `forgechain platform run`: serves a single-node platform folder as a long-running process.
struct PlatformCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "platform",
        abstract: "Run the records platform of a data folder as a long-running process.",
        subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a data folder's platform (its node, identity and record index) and serve it until stopped.",
            discussion: """
                Holds the folder (its ledger lock) and listens on the control socket DATA/node.sock (mode 0600). While it runs, \
                `records import|query|history|update`, `admin create|list|disable|delete|passwd` and `ledger info` on the same \
                --data talk to it through the \
                socket, with the same credentials and output as when they open the folder themselves; the other operator \
                commands fail with 1520 until it stops. SIGTERM or SIGINT stops it cleanly (exit 0). Prints one JSON line once it serves.
                """)
        @Option(help: "The data folder (created when missing).") var data: String = "forgechain-data"
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?

        func run() async throws {
            do { try await serve() } catch { CLI.fail(error) }
        }

        private func serve() async throws {
            var options = Platform.Options()
            options.passphrase = try DataOptions.passphrase(file: passphraseFile, for: data)
            let platform = try await Platform.open(.singleNode(directory: data), options: options)
            let control: NodeControlServer
            do {
                control = try await NodeControlServer.start(node: platform.node, path: data + "/node.sock",
                                                            operations: PlatformControl.operations(for: platform))
            } catch {
                await platform.close()
                throw error
            }
            let started = try JSONSerialization.data(withJSONObject: ["data": data, "control": control.path, "pid": Int(getpid())],
                                                     options: [.sortedKeys])
            FileHandle.standardOutput.write(started + Data("\n".utf8))
            let logger = Logger(label: "forgechain.platform")
            for await signal in Signals.stream([SIGTERM, SIGINT]) {
                logger.notice("stopping", metadata: ["signal": "\(signal)"])
                break
            }
            await control.close()
            await platform.close()
        }
    }
}
