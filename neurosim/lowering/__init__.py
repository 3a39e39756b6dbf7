"""The lowering stage: a description becomes flat arrays — cells into the cable model
(:mod:`.cells`), connections, drives and POINTERs into the kernel's event rows (:mod:`.wiring`,
:mod:`.pointers`), and the memory a model will take (:mod:`.memory`)."""
