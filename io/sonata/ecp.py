"""The SONATA report ``module: "extracellular"``: the extracellular potential at the
electrodes of a CSV, written to ``ecp.h5`` as bmtk's extracellular module writes it.

The file (bmtk's layout): ``/ecp/data`` (steps, channels) float64, attribute units "mV",
row k the potential after step k + 1 (bmtk samples after every fadvance, not at t = 0);
``/ecp/time`` = (0, tstop, dt), units "ms"; ``/ecp/channel_id`` = 0..channels-1; the root's
SONATA magic and version.  Report keys: ``electrode_positions`` (a space-separated CSV with
columns x_pos y_pos z_pos, one row a channel), ``file_name`` (default ``<report>.h5`` in the
output folder), ``cells`` (a node set; default every biophysical cell), ``cell_bounds``,
``minimum_distance`` (None, µm or "auto"); sigma is bmtk's, 0.3 S/m.  Per-cell files
(``contributions_dir``/``cell_vars_dir``) and NWB output (``file_name_nwb``) are refused by
name.  Cells are placed at their node's position and rotated by its rotation angles, as
bmtk places them.
"""

import os

import h5py
import numpy as np

from .config import SonataError, resolve


def read_electrodes(path):
    """(channels, 3) electrode positions (µm) from bmtk's space-separated CSV."""
    try:
        with open(path) as f:
            header = f.readline().split()
            rows = [line.split() for line in f if line.strip()]
    except OSError as err:
        raise SonataError(f"{path}: cannot read electrode positions ({err})") from None
    try:
        cols = [header.index(c) for c in ("x_pos", "y_pos", "z_pos")]
        return np.array([[float(r[c]) for c in cols] for r in rows]).reshape(-1, 3)
    except (ValueError, IndexError):
        raise SonataError(f"{path}: electrode positions need columns x_pos y_pos z_pos "
                          "(space separated)") from None


class EcpReport:
    """An ``extracellular`` report of a SonataRun: recorded by ``Simulation.record_ecp``,
    written when the run closes it (``collect``/``close``/``flush``/``discard`` as the
    membrane reports)."""

    REFUSED = ("contributions_dir", "cell_vars_dir", "file_name_nwb")

    def __init__(self, run, name, spec, resume=False):
        where = f"{run.path}: reports.{name}"
        for key in self.REFUSED:
            if spec.get(key) is not None:
                raise SonataError(f"{where}: {key} (per-cell or NWB output) is not supported")
        if resume:
            raise SonataError(f"{where}: an extracellular report cannot continue a restored "
                              "run")
        if "electrode_positions" not in spec:
            raise SonataError(f"{where}: electrode_positions is missing")
        self.electrodes = read_electrodes(resolve(run.config, spec["electrode_positions"]))
        net, circuit = run.circuit.network, run.circuit
        if spec.get("cell_bounds") is not None:
            lo, hi = spec["cell_bounds"]
            gids = np.arange(int(lo), int(hi) + 1)
        else:
            gids = run.gids_of(spec.get("cells", "All"))
        gids = [int(g) for g in gids if int(g) in net.cells]
        if not gids:
            raise SonataError(f"{where}: the node set holds no biophysical cell")
        md = spec.get("minimum_distance")
        if md not in (None, "auto"):
            md = max(float(md), 0.0) or None
        file_name = spec.get("file_name", f"{name}.h5")
        self.path = file_name if os.path.isabs(file_name) else \
            os.path.join(run.output_dir, file_name)
        self.run = run
        self.record = run.sim.record_ecp(self.electrodes, gids=gids,
                                         rotations=circuit.rotations, minimum_distance=md)

    def collect(self):
        """Samples stay in memory until the run ends (one row a step: steps x channels)."""

    def flush(self):
        pass

    def discard(self):
        pass

    def close(self, complete=True, time_reached=None):
        if self.run.sim.comm.rank != 0:
            return None
        return write_ecp(self.path, self.record.data, self.run.tstop, self.run.dt,
                         attrs={"complete": complete, "time_reached": time_reached})


def write_ecp(path, data, tstop, dt, attrs=None):
    """``ecp.h5`` as bmtk writes it: ``data`` (steps, channels) in mV; ``attrs`` (a run's
    ``complete`` and ``time_reached``) on the file.  Written beside and renamed into place,
    so that a file of that name is always whole."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = np.asarray(data, dtype=np.float64)
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        for key, value in (attrs or {}).items():
            if value is not None:
                f.attrs[key] = value
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        d = f.create_dataset("/ecp/data", data=data, maxshape=(None, data.shape[1]),
                             chunks=True)
        d.attrs["units"] = "mV"
        t = f.create_dataset("/ecp/time", data=np.array([0.0, float(tstop), float(dt)]))
        t.attrs["units"] = "ms"
        f.create_dataset("/ecp/channel_id", data=np.arange(data.shape[1]))
    os.replace(tmp, path)
    return path
