// LedgerCore is the four modules of the core, re-exported: `import LedgerCore`
// imports all of them (Documentation/Architecture.md, "Module map").
@_exported import LedgerConsensus
@_exported import LedgerCrypto
@_exported import LedgerModel
@_exported import LedgerStorage
