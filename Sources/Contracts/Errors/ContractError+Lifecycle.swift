// The contract lifecycle, registry and permissions (2200–2299).
extension ContractError.Code {
    /// A contract transaction's body does not decode (shape, an unknown operation, a name or address of the wrong form); `details["field"]` names the field. Nothing is written.
    public static let malformedContractOperation = Self(rawValue: 2200)
    /// No contract is registered under the name or at the address; `details["contract"]` names it.
    public static let contractNotFound = Self(rawValue: 2201)
    /// The contract is paused: calls are refused until it is resumed; `details["contract"]` names it.
    public static let contractPaused = Self(rawValue: 2202)
    /// The contract is terminated: calls are refused for good (its state stays readable); `details["contract"]` names it.
    public static let contractTerminated = Self(rawValue: 2203)
    /// The contract was deleted: its code is gone and only its tombstone remains; `details["contract"]` names it.
    public static let contractDeleted = Self(rawValue: 2204)
    /// A contract is already registered under the name given to a deployment; `details["contract"]` names it.
    public static let contractNameTaken = Self(rawValue: 2205)
    /// The sender lacks the permission the operation needs; `details["action"]` and `details["contract"]` name it (`*` for every contract). Nothing is written.
    public static let contractPermissionDenied = Self(rawValue: 2206)
    /// The lifecycle change is not allowed from the contract's current status (for example resuming an active contract, or any change after deletion); `details["status"]` gives the status.
    public static let contractStatusConflict = Self(rawValue: 2207)
    /// The EVM reverted the transaction (REVERT): nothing is written; the receipt's output holds the revert data, `details["reason"]` its decoded reason when it has one.
    public static let contractReverted = Self(rawValue: 2208)
    /// The EVM halted exceptionally (out of gas, invalid instruction, stack error, ...): nothing is written; `details["reason"]` says why.
    public static let contractHalted = Self(rawValue: 2209)
    /// The transaction asks for more gas than the node's per-transaction limit; `details["limit"]` gives it.
    public static let contractGasLimitExceeded = Self(rawValue: 2210)
    /// Stored contract code does not hash to the code hash its account declares, or is missing: the state was altered outside the chain. The run is refused and nothing is written (standard C-S-3).
    public static let codeTampered = Self(rawValue: 2211)
    /// A stored contract record (account, registry entry) does not decode; the state was altered outside the chain or by a faulty build.
    public static let contractStateCorrupt = Self(rawValue: 2212)
}

extension ContractError.Code {
    /// The contract version was superseded by an update: from the switch height on, calls go to the new version through the name, and calls to the old address are refused; `details["current"]` gives the current version's address.
    public static let contractSuperseded = Self(rawValue: 2213)
    /// A manual trigger names an event that was not registered for the contract; `details["signature"]` names it.
    public static let eventNotRegistered = Self(rawValue: 2214)
}
