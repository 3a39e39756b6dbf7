"""The CPU backend: the lowered model's arrays bound to the Numba step kernel and run on
threads (:mod:`.backend`)."""
