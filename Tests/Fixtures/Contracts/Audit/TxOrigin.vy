# pragma version ~=0.4.3
# Defect: authorisation by tx.origin, which any contract the owner calls can pass.

owner: public(address)
limit: public(uint256)


@deploy
def __init__():
    self.owner = msg.sender


@external
def set_limit(new_limit: uint256):
    assert tx.origin == self.owner, "not owner"
    self.limit = new_limit
