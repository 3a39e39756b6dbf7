"""One GPU step captured as a CUDA graph and replayed: the host's cost of a step becomes
one graph launch instead of a launch per kernel.

numba-cuda marshals every argument of every launch in Python: on the H200 machine this
project was lent, ~25 µs a launch and ~9 µs more an array (scripts/gpu_launch.py), 1.1 ms
of host time a step for the ring's cell and 3.2 ms for the Allen cell's 30 launches, more
than the GPU's own time below ~10^5 cells.  The kernels read the step number from the
device (``cuda_kernels.tick`` advances it), so every step's launches are the same and one
captured step serves the whole call of ``advance``.
"""

from numba.cuda.cudadrv.driver import binding, driver


class StepGraph:
    """The launches ``issue()`` makes on ``stream``, captured (not run) and instantiated;
    ``launch()`` runs them once more on the same stream."""

    def __init__(self, stream, issue):
        self.stream = int(stream.handle)
        mode = binding.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
        driver.cuStreamBeginCapture(self.stream, mode)
        try:
            issue()
        finally:             # ends the capture even when a launch failed inside it
            graph = driver.cuStreamEndCapture(self.stream)
        self.graph = graph
        self.exec = driver.cuGraphInstantiate(graph, 0)

    def launch(self):
        driver.cuGraphLaunch(self.exec, self.stream)

    def close(self):
        driver.cuGraphExecDestroy(self.exec)
        driver.cuGraphDestroy(self.graph)
