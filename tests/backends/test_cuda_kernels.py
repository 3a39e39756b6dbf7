"""The generated numba.cuda mechanism kernels, run under Numba's CUDA simulator, against the
CPU kernels: one compartment carrying every Allen mechanism (plus hh and pas).  There is no
GPU here; the simulator executes the same kernel source the GPU would compile."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gpu_env import cuda_env

pytest.importorskip("numba.cuda", reason="numba-cuda is a dev dependency")

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import neurosim as ns
    sys.path.insert(0, GPU_DIR)             # the harness: tests/backends/gpu
    from mechanism_kernels import CudaMechanisms
    from neurosim.models.allen import allen_mechanisms
    from neurosim.kernels.solver import hines_solve

    GBAR = {"NaTs": 0.5, "NaTa": 0.2, "Nap": 0.001, "Kv3_1": 0.3, "K_T": 0.01, "K_P": 0.01,
            "Kd": 0.01, "Kv2like": 0.01, "Im": 0.001, "Im_v2": 0.001, "SK": 0.001,
            "Ca_HVA": 0.0005, "Ca_LVA": 0.001, "Ih": 0.0001, "NaV": 0.02}
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), v_init=-70.0)
    cell.insert("pas", g=5e-5, e=-75.0)
    cell.insert("hh", gnabar=0.05)
    mechs = allen_mechanisms()
    for m in [m for m in mechs.values() if m.kind == "density"]:
        cell.insert(m, **({"gbar": GBAR[m.name]} if m.name in GBAR else {}))
    cell.add_iclamp((0, 0.5), delay=1.0, dur=100.0, amp=0.3)
    dt, steps = 0.025, 240
    sim = ns.Simulation(cell, dt=dt, celsius=34.0)
    v_cpu = sim.record("v", (0, 0.5))
    cai_cpu = sim.record("cai", (0, 0.5))
    sim.run(steps * dt)

    # the same model stepped with the GPU mechanism kernels and the host cable solve
    model = sim.model
    gpu = CudaMechanisms(model, dt=dt, celsius=34.0)
    v = model.v.copy()
    rhs, d = np.zeros_like(v), np.zeros_like(v)
    node = model.locate((0, 0.5))
    gpu.initialize(v)
    v_gpu, cai_gpu = [v[node]], [gpu.ions["ca"][1][node]]
    for step in range(steps):
        t_mid = (step + 0.5) * dt
        rhs[:] = model.cap / dt * v + gpu.rhs_static
        d[:] = model.cap / dt + gpu.d_static
        gpu.currents(v, step, rhs, d)
        on = (model.stim_delay <= t_mid) & (t_mid < model.stim_delay + model.stim_dur)
        np.add.at(rhs, model.stim_node[on], model.stim_amp[on])
        hines_solve(model.parent, model.g_axial, d, rhs)
        v[:] = rhs
        gpu.advance(v, step)
        v_gpu.append(v[node])
        cai_gpu.append(gpu.ions["ca"][1][node])
    nav = next(j for j, t in enumerate(gpu.tables) if t.name == "NaV")
    json.dump({"mechanisms": len(model.mechanisms), "v_cpu": list(v_cpu.values),
               "v_gpu": [float(x) for x in v_gpu], "cai_cpu": list(cai_cpu.values),
               "cai_gpu": [float(x) for x in cai_gpu],
               "nav_cpu": sim.backend.tables[nav].states[:, 0].tolist(),
               "nav_gpu": np.asarray(gpu.states(nav))[:, 0].tolist()}, sys.stdout)
""")


@pytest.mark.slow
def test_cuda_mechanism_kernels_match_cpu_under_the_simulator(tmp_path):
    env = cuda_env()
    script = SCRIPT.replace("GPU_DIR", repr(os.path.join(os.path.dirname(__file__), "gpu")))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    assert r["mechanisms"] == 18                       # 16 Allen + hh + pas
    v_cpu, v_gpu = np.array(r["v_cpu"]), np.array(r["v_gpu"])
    assert np.ptp(v_cpu) > 50.0                         # it spiked: every channel was busy
    # the CPU kernels contract a*b+c into FMAs, the simulator does not: rounding differences
    # of 1e-15, amplified on the spike's upstroke to ~1e-9 mV
    np.testing.assert_allclose(v_gpu, v_cpu, rtol=0, atol=1e-8)
    np.testing.assert_allclose(r["cai_gpu"], r["cai_cpu"], rtol=1e-9)
    np.testing.assert_allclose(r["nav_gpu"], r["nav_cpu"], rtol=0, atol=1e-11)
