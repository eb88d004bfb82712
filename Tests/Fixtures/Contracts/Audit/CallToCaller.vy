# pragma version ~=0.4.3
# Defect: forwards the contract's ether to an address taken from calldata.

@external
def forward(to: address, amount: uint256):
    raw_call(to, b"", value=amount)
