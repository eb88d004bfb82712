#!/usr/bin/env python3
"""ForgeChain's EVM beside revm (pyrevm) and py-evm on the same bytecode, in gas per second.

    python3 -m venv /tmp/evm-bench && /tmp/evm-bench/bin/pip install pyrevm==0.3.7 py-evm==0.12.1b1
    swift build -c release --product forgechain
    /tmp/evm-bench/bin/python Scripts/bench-evm.py --forgechain .build/release/forgechain --rounds 5

Each round runs, one after the other, `forgechain bench evm` (one frame per workload), the same bytecode as a
message call on pyrevm (its 21,000 intrinsic gas is taken off, so every engine counts the same gas) and as a
computation on py-evm (at --pyevm-scale: it is about a hundred times slower; gas/s does not depend on the length
of the loop once it is long). The workloads come from `forgechain bench evm --workloads-out`, so all three run
identical bytes. Prints the best gas/s of each engine per workload, the ratio to revm, and the load average."""
import argparse, json, os, subprocess, tempfile, time

def forgechain(binary, scale, path):
    out = subprocess.run([binary, "bench", "evm", "--json", "--runs", "1", "--scale", str(scale), "--workloads-out", path],
                         check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["ops_per_sec"] for r in map(json.loads, out.splitlines())}

def revm(workloads):
    from pyrevm import EVM, AccountInfo
    rates = {}
    for w in workloads:
        evm = EVM()
        evm.insert_account_info(w["address"], AccountInfo(code=bytes.fromhex(w["code"])))
        start = time.perf_counter()
        evm.message_call(w["caller"], w["address"], b"", gas=int(w["gas_limit"]))
        elapsed = time.perf_counter() - start
        rates[w["name"]] = (evm.result.gas_used - 21_000) / elapsed
    return rates

def pyevm(workloads):
    from eth.constants import BLANK_ROOT_HASH
    from eth.db.atomic import AtomicDB
    from eth.vm.execution_context import ExecutionContext
    from eth.vm.forks.cancun.computation import CancunComputation
    from eth.vm.forks.cancun.state import CancunState
    from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
    from eth.vm.message import Message
    rates = {}
    for w in workloads:
        context = ExecutionContext(coinbase=b"\0" * 20, timestamp=1, block_number=1, difficulty=0, mix_hash=b"\0" * 32,
                                   gas_limit=2**40, prev_hashes=[], chain_id=1, base_fee_per_gas=0, excess_blob_gas=0)
        state = CancunState(AtomicDB(), context, BLANK_ROOT_HASH)
        address, caller, code = bytes.fromhex(w["address"][2:]), bytes.fromhex(w["caller"][2:]), bytes.fromhex(w["code"])
        state.set_code(address, code)
        gas = int(w["gas_limit"])
        message = Message(gas=gas, to=address, sender=caller, value=0, data=b"", code=code, create_address=None)
        start = time.perf_counter()
        computation = CancunComputation.apply_computation(state, message, CancunTransactionContext(gas_price=0, origin=caller, blob_versioned_hashes=[]))
        elapsed = time.perf_counter() - start
        assert not computation.is_error, w["name"]
        rates[w["name"]] = (gas - computation.get_gas_remaining()) / elapsed
    return rates

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forgechain", default=".build/release/forgechain")
    parser.add_argument("--scale", type=float, default=1.0, help="loop length for forgechain and revm (1 = about 100 M gas each)")
    parser.add_argument("--pyevm-scale", type=float, default=0.02, help="loop length for py-evm (0 skips it)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best = {}
    with tempfile.TemporaryDirectory() as folder:
        path, small = os.path.join(folder, "workloads.json"), os.path.join(folder, "small.json")
        for _ in range(args.rounds):
            ours = forgechain(args.forgechain, args.scale, path)
            theirs = revm(json.load(open(path)))
            slow = {}
            if args.pyevm_scale > 0:
                forgechain(args.forgechain, args.pyevm_scale, small)
                slow = pyevm(json.load(open(small)))
            for engine, rates in (("forgechain", ours), ("revm", theirs), ("py-evm", slow)):
                for name, rate in rates.items():
                    best[(engine, name)] = max(best.get((engine, name), 0), rate)
    names = sorted({name for _, name in best})
    print(f"load average {os.getloadavg()[0]:.2f}; best of {args.rounds} rounds; M gas/s")
    print(f"{'workload':<16}{'forgechain':>12}{'revm':>10}{'py-evm':>10}{'ours/revm':>11}")
    for name in names:
        ours, theirs, slow = best.get(("forgechain", name), 0), best.get(("revm", name), 0), best.get(("py-evm", name), 0)
        print(f"{name:<16}{ours / 1e6:>12.1f}{theirs / 1e6:>10.1f}{slow / 1e6:>10.2f}{(ours / theirs if theirs else 0):>11.2f}")

if __name__ == "__main__":
    main()
