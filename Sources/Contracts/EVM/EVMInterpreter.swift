import LedgerCrypto

/// The transaction-wide context of a run (ORIGIN, GASPRICE, BLOBHASH) and the block's.
struct EVMTransactionContext {
    var origin: EVMAddress
    var gasPrice: UInt256
    var blobHashes: [UInt256]
    var block: EVMBlockEnvironment
    var blobBaseFee: UInt256
}

/// Runs frames for one transaction or message: the interpreter loop and the driver that keeps the frame stack.
final class EVMRunner {
    static let maxDepth = 1024
    static let maxCodeSize = 24_576
    static let maxInitcodeSize = 49_152
    static let callStipend: Int64 = 2300
    static let coldAccountCost: Int64 = 2600
    static let coldSlotCost: Int64 = 2100
    static let warmCost: Int64 = 100

    let world: EVMWorld
    let context: EVMTransactionContext
    private var stackPool: [UnsafeMutablePointer<UInt256>] = []

    init(world: EVMWorld, context: EVMTransactionContext) {
        self.world = world
        self.context = context
    }

    deinit {
        for stack in stackPool { stack.deallocate() }
    }

    func takeStack() -> UnsafeMutablePointer<UInt256> {
        if let stack = stackPool.popLast() { return stack }
        return .allocate(capacity: 1024)
    }

    func returnStack(_ stack: UnsafeMutablePointer<UInt256>) { stackPool.append(stack) }

    // MARK: - The driver

    /// The result of a whole message (the outermost frame): status, output and the gas it leaves.
    struct MessageResult {
        var status: EVMFrameStatus
        var output: [UInt8]
        var gasLeft: Int64
        var createdAddress: EVMAddress?
    }

    /// Runs `root` and everything it calls, on an explicit frame stack.
    func run(root: EVMFrame) throws(ContractError) -> MessageResult {
        var frames: [EVMFrame] = [root]
        frames.reserveCapacity(16)
        while let frame = frames.last {
            switch try interpret(frame) {
            case .child(let request):
                if let child = try begin(request, parent: frame) { frames.append(child) }
            case .finished(let end):
                frames.removeLast()
                let (status, output, gasLeft) = try finish(frame, end)
                returnStack(frame.stack)
                guard let parent = frames.last else {
                    var created: EVMAddress? = nil
                    if case .create(let address) = frame.kind, status == .success { created = address }
                    return MessageResult(status: status, output: output, gasLeft: gasLeft, createdAddress: created)
                }
                deliver(to: parent, from: frame.kind, status: status, output: output, gasLeft: gasLeft)
            }
        }
        return MessageResult(status: .halt("no frame"), output: [], gasLeft: 0)
    }

    /// Ends a frame: deposits a creation's code, rolls back a failed frame.
    func finish(_ frame: EVMFrame, _ end: EVMFrameEnd) throws(ContractError) -> (EVMFrameStatus, [UInt8], Int64) {
        var status = end.status
        var gas = frame.gas
        if status == .success, case .create(let address) = frame.kind {
            let code = end.output
            let depositCost = Int64(code.count) * 200
            if code.count > Self.maxCodeSize {
                status = .halt("code size above 24576 bytes")
            } else if code.first == 0xEF {
                status = .halt("code starting with 0xEF")
            } else if depositCost > gas {
                status = .halt("out of gas for the code deposit")
            } else {
                gas -= depositCost
                try world.setCode(address, code)
            }
        }
        switch status {
        case .success:
            if case .create = frame.kind { return (status, [], gas) }
            return (status, end.output, gas)
        case .revert:
            world.revert(to: frame.snapshot)
            return (status, end.output, gas)
        case .halt:
            world.revert(to: frame.snapshot)
            return (status, [], 0)
        }
    }

    /// Hands a finished child's result to its parent: gas back, the status word, output to memory.
    func deliver(to parent: EVMFrame, from kind: EVMFrame.Kind, status: EVMFrameStatus, output: [UInt8], gasLeft: Int64) {
        parent.gas += gasLeft
        switch kind {
        case .call:
            parent.returnData = output
            let n = min(parent.pendingReturnSize, output.count)
            if n > 0 {
                parent.writeMemory(output, at: parent.pendingReturnOffset, count: n)
            }
            parent.stack[parent.sp] = status == .success ? .one : .zero
        case .create(let address):
            parent.returnData = status == .revert ? output : []
            parent.stack[parent.sp] = status == .success ? address.word : .zero
        }
        parent.sp += 1
    }

    /// Fails a child before it starts (depth, balance, nonce): its gas returns, the status word is zero.
    private func refuse(_ request: EVMChildRequest, parent: EVMFrame) {
        parent.returnData = []
        parent.gas += request.gas
        parent.stack[parent.sp] = .zero
        parent.sp += 1
    }

    /// Runs the EVM's precompile at `target`, or `host` (the host's precompile there) when given.
    func runPrecompile(_ target: EVMAddress, host: (any EVMHostPrecompile)?, input: [UInt8],
                       gas: Int64) throws(ContractError) -> (status: EVMFrameStatus, output: [UInt8], gasLeft: Int64) {
        let failed: (status: EVMFrameStatus, output: [UInt8], gasLeft: Int64) = (.halt("precompile failed"), [], 0)
        guard let host else {
            switch EVMPrecompiles.run(target, input: input, gas: gas) {
            case .success(let used, let output): return (.success, output, gas - used)
            case .failure: return failed
            }
        }
        let available = UInt64(max(gas, 0))
        switch try host.run(input: input, gas: available) {
        case .success(let output, let used) where used <= available: return (.success, output, gas - Int64(used))
        case .revert(let output, let used) where used <= available: return (.revert, output, gas - Int64(used))
        default: return failed
        }
    }

    /// Starts a child frame, or completes the request at once (a precompile, no code, a refusal); `nil` then.
    func begin(_ request: EVMChildRequest, parent: EVMFrame) throws(ContractError) -> EVMFrame? {
        switch request.kind {
        case .create, .create2: return try beginCreate(request, parent: parent)
        default: return try beginCall(request, parent: parent)
        }
    }

    private func beginCall(_ request: EVMChildRequest, parent: EVMFrame) throws(ContractError) -> EVMFrame? {
        if parent.depth + 1 > Self.maxDepth { refuse(request, parent: parent); return nil }
        let transfers = request.kind == .call || request.kind == .callCode
        if transfers && !request.value.isZero {
            if try world.balance(parent.address) < request.value { refuse(request, parent: parent); return nil }
        }
        parent.pendingReturnOffset = request.returnOffset
        parent.pendingReturnSize = request.returnSize
        let snapshot = world.snapshot
        let target = request.target
        let builtIn = EVMPrecompiles.isPrecompile(target)
        let hostPrecompile = builtIn ? nil : world.host.precompile(at: target)
        let precompile = builtIn || hostPrecompile != nil
        var storageAddress = target
        var caller = parent.address
        var value = request.value
        switch request.kind {
        case .call:
            if !precompile, request.value.isZero, try !world.exists(target) {
                deliver(to: parent, from: .call, status: .success, output: [], gasLeft: request.gas)
                return nil
            }
            try transfer(from: parent.address, to: target, value: request.value)
        case .callCode:
            storageAddress = parent.address
        case .delegateCall:
            storageAddress = parent.address
            caller = parent.caller
            value = parent.value
        case .staticCall:
            try world.addBalance(target, .zero)
        default: break
        }
        if precompile {
            let result = try runPrecompile(target, host: hostPrecompile, input: request.input, gas: request.gas)
            if result.status != .success { world.revert(to: snapshot) }
            deliver(to: parent, from: .call, status: result.status, output: result.output, gasLeft: result.gasLeft)
            return nil
        }
        let code = try world.analysedCode(target)
        if code.count == 0 {
            deliver(to: parent, from: .call, status: .success, output: [], gasLeft: request.gas)
            return nil
        }
        return EVMFrame(code: code, stack: takeStack(), gas: request.gas, address: storageAddress, caller: caller,
                        value: value, input: request.input,
                        isStatic: parent.isStatic || request.kind == .staticCall, depth: parent.depth + 1,
                        kind: .call, snapshot: snapshot)
    }

    private func beginCreate(_ request: EVMChildRequest, parent: EVMFrame) throws(ContractError) -> EVMFrame? {
        if parent.depth + 1 > Self.maxDepth { refuse(request, parent: parent); return nil }
        if try world.balance(parent.address) < request.value { refuse(request, parent: parent); return nil }
        let nonce = try world.nonce(parent.address)
        if nonce == .max { refuse(request, parent: parent); return nil }
        let address = request.kind == .create
            ? Self.createAddress(sender: parent.address, nonce: nonce)
            : Self.create2Address(sender: parent.address, salt: request.salt, initcode: request.input)
        guard let frame = try startCreation(creator: parent.address, creatorNonce: nonce, address: address, value: request.value,
                                            initcode: request.input, gas: request.gas, depth: parent.depth + 1) else {
            // An address collision: the gas is consumed.
            parent.returnData = []
            parent.stack[parent.sp] = .zero
            parent.sp += 1
            return nil
        }
        return frame
    }

    /// Increments the creator's nonce, checks the address, creates the account and moves the value; `nil` for a
    /// collision (an account with code or a nonce already at `address`).
    func startCreation(creator: EVMAddress, creatorNonce: UInt64, address: EVMAddress, value: UInt256, initcode: [UInt8],
                       gas: Int64, depth: Int) throws(ContractError) -> EVMFrame? {
        try world.setNonce(creator, creatorNonce + 1)
        world.warm(address)
        let existingHash = try world.codeHash(address)
        let existingNonce = try world.nonce(address)
        if existingHash != EVMAccount.emptyCodeHash || existingNonce != 0 { return nil }
        if try world.hasStorage(address) { return nil }
        let snapshot = world.snapshot
        try world.createAccount(address)
        try transfer(from: creator, to: address, value: value)
        return EVMFrame(code: world.analysed(initcode), stack: takeStack(), gas: gas, address: address, caller: creator,
                        value: value, input: [], isStatic: false, depth: depth, kind: .create(address), snapshot: snapshot)
    }

    func transfer(from: EVMAddress, to: EVMAddress, value: UInt256) throws(ContractError) {
        try world.subtractBalance(from, value)
        try world.addBalance(to, value)
    }

    /// CREATE's address: the last 20 bytes of keccak256(rlp([sender, nonce])).
    static func createAddress(sender: EVMAddress, nonce: UInt64) -> EVMAddress {
        var nonceBytes: [UInt8]
        if nonce == 0 {
            nonceBytes = [0x80]
        } else if nonce < 0x80 {
            nonceBytes = [UInt8(nonce)]
        } else {
            let raw = UInt256(nonce).minimalBigEndianBytes
            nonceBytes = [0x80 + UInt8(raw.count)] + raw
        }
        let payload = [0x94] + sender.bytes + nonceBytes
        let encoded = [0xC0 + UInt8(payload.count)] + payload
        return EVMAddress(word: UInt256(digest: Keccak256.hash(encoded)))
    }

    /// CREATE2's address (EIP-1014): the last 20 bytes of keccak256(0xff ‖ sender ‖ salt ‖ keccak256(initcode)).
    static func create2Address(sender: EVMAddress, salt: UInt256, initcode: [UInt8]) -> EVMAddress {
        let codeHash = Keccak256.hash(initcode).bytes
        let encoded = [0xFF] + sender.bytes + salt.bigEndianBytes + codeHash
        return EVMAddress(word: UInt256(digest: Keccak256.hash(encoded)))
    }

    // MARK: - The interpreter loop

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    func interpret(_ f: EVMFrame) throws(ContractError) -> EVMFrameOutcome {
        let table = EVMDispatch.entries
        let code = f.code.bytes
        let s = f.stack
        var pc = f.pc
        var sp = f.sp
        var gas = f.gas
        let isStatic = f.isStatic
        let codeCount = UInt64(f.code.count)
        let analysed = f.code

        while true {
            let op = code[pc]
            let entry = table[Int(op)]
            if !entry.defined { return Self.halt(f, "invalid opcode 0x\(String(op, radix: 16))") }
            if sp < Int(entry.minStack) { return Self.halt(f, "stack underflow") }
            if sp > Int(entry.maxStack) { return Self.halt(f, "stack overflow") }
            gas -= Int64(entry.gas)
            if gas < 0 { return Self.halt(f, "out of gas") }
            if entry.writesState && isStatic { return Self.halt(f, "state change in a static call") }

            switch op {
            case 0x00:
                f.pc = pc; f.sp = sp; f.gas = gas
                return .finished(EVMFrameEnd(status: .success, output: []))
            case 0x01: s[sp - 2] = s[sp - 1] &+ s[sp - 2]; sp -= 1
            case 0x02: s[sp - 2] = s[sp - 1] &* s[sp - 2]; sp -= 1
            case 0x03: s[sp - 2] = s[sp - 1] &- s[sp - 2]; sp -= 1
            case 0x04: s[sp - 2] = s[sp - 1].dividedOrZero(by: s[sp - 2]); sp -= 1
            case 0x05: s[sp - 2] = s[sp - 1].signedDividedOrZero(by: s[sp - 2]); sp -= 1
            case 0x06: s[sp - 2] = s[sp - 1].remainderOrZero(dividingBy: s[sp - 2]); sp -= 1
            case 0x07: s[sp - 2] = s[sp - 1].signedRemainderOrZero(dividingBy: s[sp - 2]); sp -= 1
            case 0x08: s[sp - 3] = s[sp - 1].addMod(s[sp - 2], modulus: s[sp - 3]); sp -= 2
            case 0x09: s[sp - 3] = s[sp - 1].mulMod(s[sp - 2], modulus: s[sp - 3]); sp -= 2
            case 0x0A:
                gas -= 50 * Int64(s[sp - 2].byteWidth)
                if gas < 0 { return Self.halt(f, "out of gas") }
                s[sp - 2] = s[sp - 1].power(s[sp - 2]); sp -= 1
            case 0x0B: s[sp - 2] = s[sp - 2].signExtended(fromByte: s[sp - 1]); sp -= 1
            case 0x10: s[sp - 2] = s[sp - 1] < s[sp - 2] ? .one : .zero; sp -= 1
            case 0x11: s[sp - 2] = s[sp - 2] < s[sp - 1] ? .one : .zero; sp -= 1
            case 0x12: s[sp - 2] = s[sp - 1].signedLessThan(s[sp - 2]) ? .one : .zero; sp -= 1
            case 0x13: s[sp - 2] = s[sp - 2].signedLessThan(s[sp - 1]) ? .one : .zero; sp -= 1
            case 0x14: s[sp - 2] = s[sp - 1] == s[sp - 2] ? .one : .zero; sp -= 1
            case 0x15: s[sp - 1] = s[sp - 1].isZero ? .one : .zero
            case 0x16: s[sp - 2] = s[sp - 1] & s[sp - 2]; sp -= 1
            case 0x17: s[sp - 2] = s[sp - 1] | s[sp - 2]; sp -= 1
            case 0x18: s[sp - 2] = s[sp - 1] ^ s[sp - 2]; sp -= 1
            case 0x19: s[sp - 1] = ~s[sp - 1]
            case 0x1A: s[sp - 2] = s[sp - 2].byte(at: s[sp - 1]); sp -= 1
            case 0x1B: s[sp - 2] = s[sp - 2].shiftedLeft(by: s[sp - 1]); sp -= 1
            case 0x1C: s[sp - 2] = s[sp - 2].shiftedRight(by: s[sp - 1]); sp -= 1
            case 0x1D: s[sp - 2] = s[sp - 2].arithmeticShiftedRight(by: s[sp - 1]); sp -= 1
            case 0x20:
                let offset = s[sp - 1], size = s[sp - 2]
                guard let n = size.uint64, n <= 0xFFFF_FFFF else { return Self.halt(f, "out of gas") }
                gas -= 6 * Int64((n + 31) / 32)
                if gas < 0 || !f.expandMemory(offset: offset, size: size, gas: &gas) { return Self.halt(f, "out of gas") }
                let digest: Digest
                if n == 0 {
                    digest = Keccak256.hash([])
                } else {
                    let o = Int(offset.uint64!)
                    digest = Keccak256.hash(UnsafeRawBufferPointer(start: f.memory + o, count: Int(n)))
                }
                s[sp - 2] = UInt256(digest: digest); sp -= 1
            case 0x30: s[sp] = f.address.word; sp += 1
            case 0x31:
                let address = EVMAddress(word: s[sp - 1])
                gas -= world.warm(address) ? Self.warmCost : Self.coldAccountCost
                if gas < 0 { return Self.halt(f, "out of gas") }
                s[sp - 1] = try world.balance(address)
            case 0x32: s[sp] = context.origin.word; sp += 1
            case 0x33: s[sp] = f.caller.word; sp += 1
            case 0x34: s[sp] = f.value; sp += 1
            case 0x35:
                s[sp - 1] = Self.loadWord(f.input, offset: s[sp - 1])
            case 0x36: s[sp] = UInt256(UInt64(f.input.count)); sp += 1
            case 0x37, 0x39, 0x3E:
                let memOffset = s[sp - 1], dataOffset = s[sp - 2], size = s[sp - 3]
                sp -= 3
                guard let n = size.uint64, n <= 0xFFFF_FFFF else { return Self.halt(f, "out of gas") }
                if op == 0x3E {
                    guard let d = dataOffset.uint64, d <= UInt64(f.returnData.count), n <= UInt64(f.returnData.count) - d else {
                        return Self.halt(f, "return data out of bounds")
                    }
                }
                gas -= 3 * Int64((n + 31) / 32)
                if gas < 0 || !f.expandMemory(offset: memOffset, size: size, gas: &gas) { return Self.halt(f, "out of gas") }
                if n > 0 {
                    let o = Int(memOffset.uint64!)
                    switch op {
                    case 0x37: f.input.withUnsafeBytes { f.copyToMemory($0, sourceOffset: dataOffset, offset: o, size: Int(n)) }
                    case 0x39: f.code.original.withUnsafeBytes { f.copyToMemory($0, sourceOffset: dataOffset, offset: o, size: Int(n)) }
                    default: f.returnData.withUnsafeBytes { f.copyToMemory($0, sourceOffset: dataOffset, offset: o, size: Int(n)) }
                    }
                }
            case 0x38: s[sp] = UInt256(UInt64(f.code.count)); sp += 1
            case 0x3A: s[sp] = context.gasPrice; sp += 1
            case 0x3B:
                let address = EVMAddress(word: s[sp - 1])
                gas -= world.warm(address) ? Self.warmCost : Self.coldAccountCost
                if gas < 0 { return Self.halt(f, "out of gas") }
                s[sp - 1] = UInt256(UInt64(try world.code(address).count))
            case 0x3C:
                let address = EVMAddress(word: s[sp - 1])
                let memOffset = s[sp - 2], codeOffset = s[sp - 3], size = s[sp - 4]
                sp -= 4
                guard let n = size.uint64, n <= 0xFFFF_FFFF else { return Self.halt(f, "out of gas") }
                gas -= (world.warm(address) ? Self.warmCost : Self.coldAccountCost) + 3 * Int64((n + 31) / 32)
                if gas < 0 || !f.expandMemory(offset: memOffset, size: size, gas: &gas) { return Self.halt(f, "out of gas") }
                if n > 0 {
                    let external = try world.code(address)
                    external.withUnsafeBytes {
                        f.copyToMemory($0, sourceOffset: codeOffset, offset: Int(memOffset.uint64!), size: Int(n))
                    }
                }
            case 0x3D: s[sp] = UInt256(UInt64(f.returnData.count)); sp += 1
            case 0x3F:
                let address = EVMAddress(word: s[sp - 1])
                gas -= world.warm(address) ? Self.warmCost : Self.coldAccountCost
                if gas < 0 { return Self.halt(f, "out of gas") }
                s[sp - 1] = try world.isDead(address) ? .zero : world.codeHash(address)
            case 0x40:
                let current = context.block.number
                if let n = s[sp - 1].uint64, n < current, current - n <= 256 {
                    s[sp - 1] = try world.host.blockHash(n) ?? .zero
                } else {
                    s[sp - 1] = .zero
                }
            case 0x41: s[sp] = context.block.coinbase.word; sp += 1
            case 0x42: s[sp] = UInt256(context.block.timestamp); sp += 1
            case 0x43: s[sp] = UInt256(context.block.number); sp += 1
            case 0x44: s[sp] = context.block.prevRandao; sp += 1
            case 0x45: s[sp] = UInt256(context.block.gasLimit); sp += 1
            case 0x46: s[sp] = UInt256(context.block.chainID); sp += 1
            case 0x47: s[sp] = try world.balance(f.address); sp += 1
            case 0x48: s[sp] = context.block.baseFee; sp += 1
            case 0x49:
                if let i = s[sp - 1].uint64, i < UInt64(context.blobHashes.count) {
                    s[sp - 1] = context.blobHashes[Int(i)]
                } else {
                    s[sp - 1] = .zero
                }
            case 0x4A: s[sp] = context.blobBaseFee; sp += 1
            case 0x50: sp -= 1
            case 0x51:
                let offset = s[sp - 1]
                if !f.expandMemory(offset: offset, size: UInt256(32), gas: &gas) { return Self.halt(f, "out of gas") }
                let o = Int(offset.uint64!)
                s[sp - 1] = Self.readWord(f.memory + o)
            case 0x52:
                let offset = s[sp - 1], value = s[sp - 2]
                sp -= 2
                if !f.expandMemory(offset: offset, size: UInt256(32), gas: &gas) { return Self.halt(f, "out of gas") }
                let o = Int(offset.uint64!)
                Self.writeWord(value, to: f.memory + o)
            case 0x53:
                let offset = s[sp - 1], value = s[sp - 2]
                sp -= 2
                if !f.expandMemory(offset: offset, size: .one, gas: &gas) { return Self.halt(f, "out of gas") }
                f.memory[Int(offset.uint64!)] = UInt8(truncatingIfNeeded: value.w0)
            case 0x54:
                let key = EVMSlotKey(address: f.address, slot: s[sp - 1])
                let (value, wasWarm) = try world.load(key)
                gas -= wasWarm ? Self.warmCost : Self.coldSlotCost
                if gas < 0 { return Self.halt(f, "out of gas") }
                s[sp - 1] = value
            case 0x55:
                if gas <= Self.callStipend { return Self.halt(f, "out of gas (SSTORE needs more than 2300)") }
                let key = EVMSlotKey(address: f.address, slot: s[sp - 1])
                let new = s[sp - 2]
                sp -= 2
                let (current, original, wasWarm) = try world.storeInputs(key)
                var cost: Int64 = wasWarm ? 0 : Self.coldSlotCost
                if current == new {
                    cost += Self.warmCost
                } else {
                    if original == current {
                        if original.isZero {
                            cost += 20_000
                        } else {
                            cost += 2_900
                            if new.isZero { world.addRefund(4_800) }
                        }
                    } else {
                        cost += Self.warmCost
                        if !original.isZero {
                            if current.isZero {
                                world.addRefund(-4_800)
                            } else if new.isZero {
                                world.addRefund(4_800)
                            }
                        }
                        if original == new {
                            world.addRefund(original.isZero ? 19_900 : 2_800)
                        }
                    }
                }
                gas -= cost
                if gas < 0 { return Self.halt(f, "out of gas") }
                if current != new { world.setStorage(key, new) }
            case 0x56:
                guard let d = s[sp - 1].uint64, d < codeCount, analysed.isJumpdest(Int(d)) else {
                    return Self.halt(f, "invalid jump destination")
                }
                sp -= 1
                pc = Int(d)
                continue
            case 0x57:
                let condition = s[sp - 2]
                if !condition.isZero {
                    guard let d = s[sp - 1].uint64, d < codeCount, analysed.isJumpdest(Int(d)) else {
                        return Self.halt(f, "invalid jump destination")
                    }
                    sp -= 2
                    pc = Int(d)
                    continue
                }
                sp -= 2
            case 0x58: s[sp] = UInt256(UInt64(pc)); sp += 1
            case 0x59: s[sp] = UInt256(UInt64(f.memorySize)); sp += 1
            case 0x5A: s[sp] = UInt256(UInt64(gas)); sp += 1
            case 0x5B: break
            case 0x5C:
                s[sp - 1] = world.transientValue(EVMSlotKey(address: f.address, slot: s[sp - 1]))
            case 0x5D:
                world.setTransient(EVMSlotKey(address: f.address, slot: s[sp - 1]), s[sp - 2])
                sp -= 2
            case 0x5E:
                let dest = s[sp - 1], src = s[sp - 2], size = s[sp - 3]
                sp -= 3
                if !size.isZero {
                    guard let n = size.uint64, n <= 0xFFFF_FFFF, let d = dest.uint64, d <= 0xFFFF_FFFF,
                          let so = src.uint64, so <= 0xFFFF_FFFF else { return Self.halt(f, "out of gas") }
                    gas -= 3 * Int64((n + 31) / 32)
                    if gas < 0 || !f.expandMemory(end: Int(max(d, so) + n), gas: &gas) { return Self.halt(f, "out of gas") }
                    UnsafeMutableRawPointer(f.memory + Int(d)).copyMemory(from: f.memory + Int(so), byteCount: Int(n))
                }
            case 0x5F: s[sp] = .zero; sp += 1
            case 0x60:
                s[sp] = UInt256(UInt64(code[pc + 1])); sp += 1; pc += 2
                continue
            case 0x61...0x7F:
                let n = Int(op) - 0x5F
                var limbs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
                var k = 0
                var p = pc + n
                while k < n {
                    let b = UInt64(code[p]) << UInt64((k & 7) * 8)
                    switch k >> 3 {
                    case 0: limbs.0 |= b
                    case 1: limbs.1 |= b
                    case 2: limbs.2 |= b
                    default: limbs.3 |= b
                    }
                    k += 1
                    p -= 1
                }
                s[sp] = UInt256(w0: limbs.0, w1: limbs.1, w2: limbs.2, w3: limbs.3)
                sp += 1
                pc += n + 1
                continue
            case 0x80...0x8F:
                let n = Int(op) - 0x7F
                s[sp] = s[sp - n]; sp += 1
            case 0x90...0x9F:
                let n = Int(op) - 0x8F
                let t = s[sp - 1]; s[sp - 1] = s[sp - 1 - n]; s[sp - 1 - n] = t
            case 0xA0...0xA4:
                let topicCount = Int(op) - 0xA0
                let offset = s[sp - 1], size = s[sp - 2]
                guard let n = size.uint64, n <= 0xFFFF_FFFF else { return Self.halt(f, "out of gas") }
                gas -= 8 * Int64(n)
                if gas < 0 || !f.expandMemory(offset: offset, size: size, gas: &gas) { return Self.halt(f, "out of gas") }
                var topics: [UInt256] = []
                topics.reserveCapacity(topicCount)
                for i in 0..<topicCount { topics.append(s[sp - 3 - i]) }
                sp -= 2 + topicCount
                world.logs.append(EVMLog(address: f.address, topics: topics, data: f.memorySlice(offset: offset, size: size)))
            case 0xF0, 0xF5:
                let value = s[sp - 1], offset = s[sp - 2], size = s[sp - 3]
                let salt = op == 0xF5 ? s[sp - 4] : UInt256.zero
                sp -= op == 0xF5 ? 4 : 3
                guard let n = size.uint64, n <= UInt64(Self.maxInitcodeSize) else { return Self.halt(f, "initcode above 49152 bytes") }
                let words = Int64((n + 31) / 32)
                gas -= 2 * words + (op == 0xF5 ? 6 * words : 0)
                if gas < 0 || !f.expandMemory(offset: offset, size: size, gas: &gas) { return Self.halt(f, "out of gas") }
                let initcode = f.memorySlice(offset: offset, size: size)
                let childGas = gas - gas / 64
                gas -= childGas
                f.returnData = []
                pc += 1
                f.pc = pc; f.sp = sp; f.gas = gas
                return .child(EVMChildRequest(kind: op == 0xF5 ? .create2 : .create, gas: childGas, target: f.address,
                                              value: value, input: initcode, returnOffset: 0, returnSize: 0, salt: salt))
            case 0xF1, 0xF2, 0xF4, 0xFA:
                let hasValue = op == 0xF1 || op == 0xF2
                let requested = s[sp - 1]
                let target = EVMAddress(word: s[sp - 2])
                let value = hasValue ? s[sp - 3] : UInt256.zero
                let base = hasValue ? sp - 4 : sp - 3
                let argsOffset = s[base], argsSize = s[base - 1], retOffset = s[base - 2], retSize = s[base - 3]
                sp = base - 3
                if op == 0xF1 && f.isStatic && !value.isZero { return Self.halt(f, "value transfer in a static call") }
                if !f.expandMemory(offset: argsOffset, size: argsSize, gas: &gas)
                    || !f.expandMemory(offset: retOffset, size: retSize, gas: &gas) { return Self.halt(f, "out of gas") }
                var cost: Int64 = world.warm(target) ? Self.warmCost : Self.coldAccountCost
                if !value.isZero {
                    cost += 9_000
                    if op == 0xF1, try world.isDead(target) { cost += 25_000 }
                }
                gas -= cost
                if gas < 0 { return Self.halt(f, "out of gas") }
                let cap = gas - gas / 64
                var childGas = requested.uint64.map { $0 < UInt64(cap) ? Int64($0) : cap } ?? cap
                gas -= childGas
                if !value.isZero { childGas += Self.callStipend }
                let input = f.memorySlice(offset: argsOffset, size: argsSize)
                let kind: EVMChildRequest.Kind = switch op {
                case 0xF1: .call
                case 0xF2: .callCode
                case 0xF4: .delegateCall
                default: .staticCall
                }
                pc += 1
                f.pc = pc; f.sp = sp; f.gas = gas
                return .child(EVMChildRequest(kind: kind, gas: childGas, target: target, value: value, input: input,
                                              returnOffset: retSize.isZero ? 0 : Int(retOffset.uint64!),
                                              returnSize: retSize.isZero ? 0 : Int(retSize.uint64!), salt: .zero))
            case 0xF3, 0xFD:
                let offset = s[sp - 1], size = s[sp - 2]
                sp -= 2
                if !f.expandMemory(offset: offset, size: size, gas: &gas) { return Self.halt(f, "out of gas") }
                f.pc = pc; f.sp = sp; f.gas = gas
                return .finished(EVMFrameEnd(status: op == 0xF3 ? .success : .revert, output: f.memorySlice(offset: offset, size: size)))
            case 0xFE:
                return Self.halt(f, "INVALID")
            case 0xFF:
                let beneficiary = EVMAddress(word: s[sp - 1])
                sp -= 1
                var cost: Int64 = world.warm(beneficiary) ? 0 : Self.coldAccountCost
                let balance = try world.balance(f.address)
                if !balance.isZero, try world.isDead(beneficiary) { cost += 25_000 }
                gas -= cost
                if gas < 0 { return Self.halt(f, "out of gas") }
                try world.subtractBalance(f.address, balance)
                try world.addBalance(beneficiary, balance)
                if try world.record(f.address).createdInTransaction { try world.markDestructed(f.address) }
                f.pc = pc; f.sp = sp; f.gas = gas
                return .finished(EVMFrameEnd(status: .success, output: []))
            default:
                return Self.halt(f, "invalid opcode 0x\(String(op, radix: 16))")
            }
            pc += 1
        }
    }

    @inline(never)
    static func halt(_ f: EVMFrame, _ reason: String) -> EVMFrameOutcome {
        f.gas = 0
        return .finished(EVMFrameEnd(status: .halt(reason), output: []))
    }

    @inline(__always)
    static func readWord(_ p: UnsafePointer<UInt8>) -> UInt256 {
        let raw = UnsafeRawPointer(p)
        return UInt256(w0: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
                       w1: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                       w2: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                       w3: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
    }

    @inline(__always)
    static func writeWord(_ value: UInt256, to p: UnsafeMutablePointer<UInt8>) {
        let raw = UnsafeMutableRawPointer(p)
        raw.storeBytes(of: value.w3.bigEndian, toByteOffset: 0, as: UInt64.self)
        raw.storeBytes(of: value.w2.bigEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: value.w1.bigEndian, toByteOffset: 16, as: UInt64.self)
        raw.storeBytes(of: value.w0.bigEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// CALLDATALOAD: 32 bytes from `offset`, zeros past the end.
    static func loadWord(_ data: [UInt8], offset: UInt256) -> UInt256 {
        guard let o = offset.uint64, o < UInt64(data.count) else { return .zero }
        let start = Int(o)
        let n = min(32, data.count - start)
        var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &buffer) { raw in
            data.withUnsafeBytes { raw.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: n) }
            return readWord(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}
