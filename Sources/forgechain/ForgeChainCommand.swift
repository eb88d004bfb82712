import ArgumentParser
import LedgerCore

@main
struct ForgeChainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forgechain",
        abstract: "ForgeChain: a permissioned blockchain for manufacturing data (DB53/T 1407-2025).",
        subcommands: [DemoCommand.self, BenchCommand.self, ConformanceCommand.self, LedgerCommand.self, SimulateCommand.self]
    )
}
