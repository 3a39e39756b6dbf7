"""The kernels stage: step kernels generated from the mechanisms a model uses (:mod:`.codegen`
for the CPU, :mod:`.codegen_cuda` for the GPU), their compile announcements and cache, and the
compiled pieces the kernel module imports: the Hines solve, ``fexp``, the canonical event order
and the event queue between epochs."""
