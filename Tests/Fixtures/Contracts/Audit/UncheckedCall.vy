# pragma version ~=0.4.3
# Defect: the success flag of the external call is ignored.

target: public(address)


@deploy
def __init__(target: address):
    self.target = target


@external
def notify(payload: Bytes[64]):
    success: bool = raw_call(self.target, payload, revert_on_failure=False)
