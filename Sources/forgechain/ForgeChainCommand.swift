import ArgumentParser
import LedgerCore

@main
struct ForgeChainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forgechain",
        abstract: "ForgeChain: a permissioned blockchain for manufacturing data (DB53/T 1407-2025).",
        discussion: "Every command takes --log-level <trace|debug|info|notice|warning|error|critical> (default warning, or FORGECHAIN_LOG_LEVEL) and logs to standard error.",
        subcommands: [DemoCommand.self, AdminCommand.self, RecordsCommand.self, BenchCommand.self, ConformanceCommand.self,
                      LedgerCommand.self, SimulateCommand.self, KeystoreCommand.self, NodeCommand.self, CertsCommand.self, ClientCommand.self,
                      PlatformCommand.self, ContractCommand.self, GatewayCommand.self]
    )
}
