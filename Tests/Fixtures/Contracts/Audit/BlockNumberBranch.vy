# pragma version ~=0.4.3
# Defect: a branch decided by block.number.

start: public(uint256)
open: public(bool)


@external
def open_after(blocks: uint256):
    if block.number > blocks:
        self.open = True
