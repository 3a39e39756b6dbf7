"""Helpers that run the same model in NEURON, the peer neurosim must agree with."""

import os

import numpy as np
import pytest

neuron = pytest.importorskip("neuron", reason="NEURON is a dev dependency (pip install neuron)")
from neuron import h  # noqa: E402

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")


def clear():
    """Delete every section NEURON holds, so tests do not see each other's cells."""
    h("forall delete_section()")


def build_from_morphology(morph, nseg, ra, cm):
    """NEURON sections through the same 3D points as ``morph``; returns them by section id."""
    secs = []
    for s in morph.sections:
        sec = h.Section(name=f"s{s.id}")
        for p, d in zip(s.points, s.diameters):
            h.pt3dadd(*map(float, p), float(d), sec=sec)
        sec.nseg = int(nseg[s.id]) if np.ndim(nseg) else int(nseg)
        sec.Ra = ra
        sec.cm = cm
        secs.append(sec)
    for s in morph.sections:
        if s.parent >= 0:
            secs[s.id].connect(secs[s.parent](s.parent_x), 0)
    return secs


def load_swc(path):
    """Load an SWC with NEURON's Import3d (an independent reader); returns all sections in
    NEURON's order (soma, axon, dend, apic)."""
    clear()
    reader = h.Import3d_SWC_read()
    reader.input(os.fspath(path))
    gui = h.Import3d_GUI(reader, False)
    gui.instantiate(None)
    return list(h.allsec())


def run(tstop, dt, v_init, celsius=6.3, probes=(), secondorder=0):
    """Run NEURON's fixed-step method; ``probes`` are segments (``sec(x)``); returns
    (t, [v arrays])."""
    h.dt = dt
    h.secondorder = secondorder
    h.celsius = celsius
    tv = h.Vector().record(h._ref_t)
    vs = [h.Vector().record(seg._ref_v) for seg in probes]
    h.finitialize(v_init)
    h.continuerun(tstop)
    return np.array(tv), [np.array(v) for v in vs]


def spike_times(t, v, threshold=0.0):
    """Upward threshold crossings, linearly interpolated."""
    up = np.flatnonzero((v[:-1] < threshold) & (v[1:] >= threshold))
    return t[up] + (threshold - v[up]) / (v[up + 1] - v[up]) * (t[up + 1] - t[up])


def relative_rms(a, b):
    return np.sqrt(np.mean((a - b) ** 2)) / (np.max(b) - np.min(b))


def bmtk_dir():
    bmtk = pytest.importorskip("bmtk")
    return os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet")


_MECH_DIRS = {}


def compiled_mod_dir(mod_dir, tmp_root):
    """Compile a folder of .mod files with nrnivmodl (once per test session) and load them into
    this process's NEURON; returns the folder the library was built in."""
    import shutil
    import subprocess
    if mod_dir in _MECH_DIRS:
        return _MECH_DIRS[mod_dir]
    build = os.path.join(tmp_root, "nrnmech")
    os.makedirs(build, exist_ok=True)
    for f in os.listdir(mod_dir):
        if f.endswith(".mod"):
            shutil.copy(os.path.join(mod_dir, f), build)
    out = subprocess.run(["nrnivmodl"], cwd=build, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"nrnivmodl failed:\n{out.stdout}\n{out.stderr}")
    neuron.load_mechanisms(build)
    _MECH_DIRS[mod_dir] = build
    return build


def bmtk_mod_dir():
    return os.path.join(bmtk_dir(), "mechanisms", "modfiles")
