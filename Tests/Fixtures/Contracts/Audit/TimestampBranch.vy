# pragma version ~=0.4.3
# Defect: a branch decided by block.timestamp, which the block proposer picks within limits.

deadline: public(uint256)
closed: public(bool)


@deploy
def __init__(deadline: uint256):
    self.deadline = deadline


@external
def close():
    if block.timestamp > self.deadline:
        self.closed = True
