"""The GPU backend (numba.cuda; imported only when asked for): the device arrays and step
(:mod:`.backend`), the fixed kernels, the mechanism kernels, the DHS solve, CUDA graphs and the
compile check for a real GPU."""
