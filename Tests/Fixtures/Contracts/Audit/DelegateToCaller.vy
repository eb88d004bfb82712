# pragma version ~=0.4.3
# Defect: delegatecall to an address the caller chooses runs any code with this contract's storage.

@external
def run(implementation: address, data: Bytes[128]):
    raw_call(implementation, data, is_delegate_call=True)
