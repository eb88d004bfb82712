import AppAPI
import ArgumentParser
import Foundation
import Gateway
import Logging

/// `forgechain gateway run`: serves a platform folder's REST interface over HTTPS (Documentation/Gateway.md).
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Serve the records platform's REST interface over HTTPS.",
        subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a data folder's platform and serve it over HTTPS until SIGTERM or SIGINT (exit 0).",
            discussion: """
                Prints one JSON line once it listens: {"listen":"HOST:PORT","pid":…}. Port 0 lets the OS choose (the line says which). \
                Every answer is the envelope {code, message, data, details} in JSON or XML (Accept); GET /openapi.json describes every route. \
                The folder is held (its ledger lock) while the gateway runs.
                """)
        @Option(help: "The data folder (created when missing).") var folder: String = "forgechain-data"
        @Option(help: "HOST:PORT to listen on (port 0: chosen by the OS).") var listen: String = "127.0.0.1:8443"
        @Option(help: "The server certificate (PEM).") var cert: String
        @Option(help: "The certificate's private key (PEM).") var key: String
        @Option(help: "A file whose first line is the keystore passphrase (or FORGECHAIN_PASSPHRASE).") var passphraseFile: String?
        @Option(help: "Requests per second per token (or per client address before login), 0.001...1,000,000.") var rate: Double = 50
        @Option(help: "Requests a token may send at once before the rate applies, 1...1,000,000.") var burst: Int = 100
        @Option(help: "The largest request body in bytes, 1,024...67,108,864.") var maxBodyBytes: Int = 8 << 20

        func run() async throws {
            do { try await serve() } catch { CLI.fail(error) }
        }

        private func serve() async throws {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
                throw GatewayError(.invalidConfiguration, "--listen '\(listen)' is not HOST:PORT", details: ["field": "listen"])
            }
            let host = String(listen[..<colon])
            var configuration = Gateway.Configuration(tls: try Gateway.serverTLS(certificatePath: cert, keyPath: key), host: host, port: port)
            configuration.requestsPerSecond = rate
            configuration.burst = burst
            configuration.maximumBodyBytes = maxBodyBytes
            var options = Platform.Options()
            options.passphrase = try DataOptions.passphrase(file: passphraseFile, for: folder)
            // Signals are caught before the folder opens, so a SIGTERM during start-up still closes it cleanly.
            let signals = Signals.stream([SIGTERM, SIGINT])
            let platform = try await Platform.open(.singleNode(directory: folder), options: options)
            let gateway: Gateway
            do { gateway = try await Gateway.start(platform: platform, configuration: configuration) } catch {
                await platform.close()
                throw error
            }
            let started = try JSONSerialization.data(withJSONObject: ["listen": "\(host):\(gateway.port)", "pid": Int(getpid()), "folder": folder],
                                                     options: [.sortedKeys])
            FileHandle.standardOutput.write(started + Data("\n".utf8))
            let logger = Logger(label: "forgechain.gateway")
            for await signal in signals {
                logger.notice("stopping", metadata: ["signal": "\(signal)"])
                break
            }
            await gateway.stop()
            await platform.close()
        }
    }
}
