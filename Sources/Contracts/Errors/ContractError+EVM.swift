// The interpreter and transaction processing (2010–2099). Each invalid-transaction reason has its own code so a
// caller (the node's mempool, the conformance runner) can tell them apart; an invalid transaction changes nothing.
extension ContractError.Code {
    /// The transaction's nonce is below the sender's account nonce.
    public static let evmNonceTooLow = Self(rawValue: 2010)
    /// The transaction's nonce is above the sender's account nonce.
    public static let evmNonceTooHigh = Self(rawValue: 2011)
    /// The sender's nonce is 2⁶⁴ − 1 and cannot be incremented (EIP-2681).
    public static let evmNonceAtMaximum = Self(rawValue: 2012)
    /// The sender's balance does not cover gas limit × fee cap + value (+ blob gas × blob fee cap).
    public static let evmInsufficientFunds = Self(rawValue: 2013)
    /// The gas limit is below the transaction's intrinsic gas (21000, call data, creation, access list).
    public static let evmIntrinsicGasTooLow = Self(rawValue: 2014)
    /// The init code of a creating transaction is longer than 49152 bytes (EIP-3860).
    public static let evmInitcodeTooLarge = Self(rawValue: 2015)
    /// The fee cap (or legacy gas price) is below the block's base fee (EIP-1559).
    public static let evmFeeCapBelowBaseFee = Self(rawValue: 2016)
    /// The priority fee is above the fee cap (EIP-1559).
    public static let evmPriorityFeeAboveFeeCap = Self(rawValue: 2017)
    /// The gas limit is above the block's gas limit.
    public static let evmGasLimitAboveBlock = Self(rawValue: 2018)
    /// The sender has code (EIP-3607): only externally owned accounts send transactions.
    public static let evmSenderHasCode = Self(rawValue: 2019)
    /// The blob fee cap is below the block's blob base fee (EIP-4844).
    public static let evmBlobFeeCapTooLow = Self(rawValue: 2020)
    /// A blob transaction without blob hashes (EIP-4844).
    public static let evmBlobTransactionWithoutBlobs = Self(rawValue: 2021)
    /// A blob transaction without a recipient: blob transactions cannot create contracts (EIP-4844).
    public static let evmBlobTransactionCreatesContract = Self(rawValue: 2022)
    /// A blob versioned hash whose first byte is not 0x01 (EIP-4844).
    public static let evmBlobVersionedHashInvalid = Self(rawValue: 2023)
    /// More blobs than a block may carry (six, EIP-4844).
    public static let evmTooManyBlobs = Self(rawValue: 2024)
    /// The gas limit is above the node's configured per-transaction limit.
    public static let evmGasLimitAboveNodeLimit = Self(rawValue: 2025)
    /// The fee fields are inconsistent: neither a gas price nor a fee cap, or a fee cap without a priority fee.
    public static let evmFeeFieldsInvalid = Self(rawValue: 2026)
    /// A frame-level run was given an invalid message (a gas amount above 2⁶³ − 1 or a depth out of range).
    public static let evmInvalidMessage = Self(rawValue: 2027)
}
