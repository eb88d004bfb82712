# pragma version ~=0.4.3
# Not a defect: Reentrancy.vy with Vyper's reentrancy lock (a transient-storage flag checked
# on entry), so the write after the call cannot be reached by re-entering.

balances: public(HashMap[address, uint256])


@external
@payable
@nonreentrant
def deposit():
    self.balances[msg.sender] += msg.value


@external
@nonreentrant
def withdraw():
    amount: uint256 = self.balances[msg.sender]
    raw_call(msg.sender, b"", value=amount)
    self.balances[msg.sender] = 0
