# pragma version ~=0.4.3
# Defect: the balance is cleared after the external call that pays it out,
# so the recipient can call withdraw again before the write (reentrancy).

balances: public(HashMap[address, uint256])


@external
@payable
def deposit():
    self.balances[msg.sender] += msg.value


@external
def withdraw():
    amount: uint256 = self.balances[msg.sender]
    raw_call(msg.sender, b"", value=amount)
    self.balances[msg.sender] = 0
