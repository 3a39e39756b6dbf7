"""The CPU backend: the lowered model's arrays and the Numba step kernel (:mod:`.backend`), and
the Hines solve (:mod:`.solver`)."""
