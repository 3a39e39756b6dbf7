"""The lowering stage: a description becomes flat arrays — cells into the cable model
(:mod:`.cells`), connections into rows by source (:mod:`.connections`), connections, drives and
POINTERs onto the kernel's tables (:mod:`.wiring`, :mod:`.pointers`), gids onto ranks
(:mod:`.partition`), and the memory a model will take (:mod:`.memory`)."""
