"""Rallpack 1 (Bhalla, Bilitch & Bower 1992): a passive cable against its analytic solution.

1 mm x 1 µm, Rm 40000 Ω·cm², Ra 100 Ω·cm, Cm 1 µF/cm², Em = v_init = -65 mV, 0.1 nA into
x = 0, 1000 compartments, dt 0.05 ms, 250 ms.  Sealed ends; the series solution is computed
here.  Accept: RMS error relative to the largest deflection from rest < 0.1 % at both ends.
"""

import numpy as np
import pytest

import neurosim as ns

LENGTH_UM, DIAM_UM, RM, RA, CM, EM, AMP_NA = 1000.0, 1.0, 40000.0, 100.0, 1.0, -65.0, 0.1


def analytic(x_um, t_ms, terms=4000):
    radius_cm = DIAM_UM / 2 * 1e-4
    lam_cm = np.sqrt(RM * (DIAM_UM * 1e-4) / (4 * RA))
    tau_ms = RM * CM * 1e-3
    L = LENGTH_UM * 1e-4 / lam_cm                      # electrotonic length (= 1)
    X = x_um * 1e-4 / lam_cm
    T = np.asarray(t_ms)[:, None] / tau_ms
    r_a_lambda = RA / (np.pi * radius_cm ** 2) * lam_cm  # Ω
    n = np.arange(1, terms)[None, :]
    k = 1 + (n * np.pi / L) ** 2
    # steady state in closed form, minus the decaying transient as a fast-converging series
    steady = np.cosh(L - X) / np.sinh(L)
    transient = np.exp(-T) / L + np.sum(2 / L * np.cos(n * np.pi * X / L) * np.exp(-k * T) / k,
                                        axis=1, keepdims=True)
    return EM + AMP_NA * 1e-9 * r_a_lambda * (steady - transient[:, 0]) * 1e3


def rallpack1(method):
    cell = ns.Cell(ns.Morphology.cable(LENGTH_UM, DIAM_UM), cm=CM, ra=RA, v_init=EM,
                   discretization=ns.NSeg(1000))
    cell.insert("pas", g=1.0 / RM, e=EM)
    cell.add_iclamp((0, 0.0), delay=0.0, dur=1e9, amp=AMP_NA)
    sim = ns.Simulation(cell, dt=0.05, method=method)
    ends = [sim.record("v", (0, 0.0)), sim.record("v", (0, 1.0))]
    sim.run(250.0)
    return ends


def test_series_is_right():
    # the steady state at x=0 from cable theory: Rin = r_a λ coth(L)
    v = analytic(0.0, np.array([1e6]))
    rin = RA / (np.pi * (0.5e-4) ** 2) * 0.1 / np.tanh(1.0)
    assert v[0] == pytest.approx(EM + AMP_NA * 1e-9 * rin * 1e3, rel=1e-9)


@pytest.mark.parametrize("method", ["backward_euler", "crank_nicolson"])
def test_rallpack1_matches_cable_theory(method):
    for trace, x in zip(rallpack1(method), (0.0, LENGTH_UM)):
        t = trace.times[1:]
        want = analytic(x, t)
        err = np.sqrt(np.mean((trace.values[1:] - want) ** 2)) / np.max(np.abs(want - EM))
        assert err < 1e-3, f"x={x}: relative RMS error {err:.2e}"
        assert len(trace.times) == 5001 and trace.times[-1] == pytest.approx(250.0)
