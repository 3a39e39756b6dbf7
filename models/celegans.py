"""The nervous system of C. elegans: the 302 neurons of the hermaphrodite with their
reconstructed morphologies (the NeuroML2 cells of the ``c302`` package, read by
``neurosim.io.neuroml``), wired by the Cook et al. (2019, Nature 571:63) hermaphrodite
connectome as the ``cect`` package holds it: chemical synapses become graded synapses
(C. elegans neurons mostly do not spike), electrical ones gap junctions.

The parameter set (``PARAMETERS``), documented here because no measurement fixes most of it:

- membrane: each cell's own file (c302): cm 1 µF/cm², Ra 30 Ω·cm, a leak of 2.5e-5 S/cm²
  reversing at -65 mV, rest at -65 mV; compartments at most ``max_length`` µm long;
- a chemical connection of n contacts: one ``GradedSyn`` at the postsynaptic soma,
  gmax = n x ``g_syn`` (0.03 nS), its release following the presynaptic soma's voltage
  (threshold -35 mV, slope 3 mV, time constant 5 ms); reversal 0 mV, or -70 mV from the
  26 GABAergic neurons (DD, VD, RME, AVL, DVB, RIS; McIntire et al. 1993);
- an electrical connection of n contacts: one ohmic gap junction soma to soma of
  n x ``g_gap`` (0.02 nS).

With these numbers the network rests (600 ms without input: every soma within 1 mV of
-65 mV) and is excitable: a 15 pA step into the anterior touch receptors spreads through
the connectome (66 neurons above -55 mV 50 ms into the step, nearly all after 150 ms),
and the depolarized state outlasts the step, held by the excitatory loops.  The numbers
are chosen for that behaviour, not fitted to recordings.

``worm(...)`` builds the network; ``stimulate`` adds current steps into chosen neurons
(by default the anterior touch receptors ALML, ALMR and AVM).
"""

import glob
import importlib.util
import json
import os
import re

import numpy as np

import neurosim as ns
from neurosim.errors import NeurosimError

GABAERGIC = tuple([f"DD{i}" for i in range(1, 7)] + [f"VD{i}" for i in range(1, 14)] +
                  ["RMED", "RMEV", "RMEL", "RMER", "AVL", "DVB", "RIS"])
PARAMETERS = dict(g_syn=3e-5, g_gap=2e-5, e_exc=0.0, e_inh=-70.0, vth=-35.0, vslope=3.0,
                  tau=5.0, max_length=50.0)            # µS, mV, ms, µm
TOUCH = ("ALML", "ALMR", "AVM")


def _package_dir(name, what):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise NeurosimError(f"the C. elegans model needs {what}: pip install {name} (or "
                            "pip install -e '.[celegans]')")
    return spec.submodule_search_locations[0]


def cell_files():
    """{neuron name: its NeuroML2 file} of the c302 package (the body wall muscle cell it
    also ships is left out)."""
    folder = os.path.join(_package_dir("c302", "the c302 package's NeuroML2 cells"),
                          "NeuroML2")
    files = {os.path.basename(f)[:-len(".cell.nml")]: f
             for f in glob.glob(os.path.join(folder, "*.cell.nml"))}
    return {n: f for n, f in sorted(files.items()) if not re.fullmatch(r"M[DV][LR]\d\d", n)}


def connectome(dataset="Cook2019Herm"):
    """(names, chemical contacts [pre, post], electrical contacts [a, b]) of a cect
    dataset, from the package's processed copy."""
    path = os.path.join(_package_dir("cect", "the cect package's connectomes"), "cache",
                        f"{dataset}Reader.json")
    try:
        with open(path) as f:
            data = json.load(f)
        names = list(data["nodes"])
        chemical = np.asarray(data["connections"]["Generic_CS"], dtype=float)
        electrical = np.asarray(data["connections"]["Generic_GJ"], dtype=float)
    except (OSError, KeyError, ValueError) as e:
        raise NeurosimError(f"{path}: not a readable cect connectome ({e})") from None
    if chemical.shape != (len(names), len(names)) or electrical.shape != chemical.shape:
        raise NeurosimError(f"{path}: connection matrices do not match the {len(names)} "
                            "nodes")
    return names, chemical, electrical


def neuron_cell(path, max_length=50.0):
    """A Cell from a c302 NeuroML2 file: its morphology, capacitance, resistivity and leak;
    a graded synapse is added per connection by ``worm``."""
    from neurosim.io.neuroml import read_cell
    morph, props = read_cell(path)
    cell = ns.Cell(morph, cm=props["cm"], ra=props["ra"], v_init=props["v_init"],
                   discretization=ns.MaxLength(max_length))
    cell.set_discretization(ns.NSeg(1), region="soma")
    for _, g, e in props["channels"]:
        cell.insert("pas", region="all", g=g, e=e)
    return cell


def worm(dataset="Cook2019Herm", neurons=None, seed=1, **parameters):
    """The network: ``neurons`` (names; default all 302) and the connections among them.
    Returns (net, gid of each name)."""
    p = {**PARAMETERS, **parameters}
    files = cell_files()
    names, chemical, electrical = connectome(dataset)
    index = {n: k for k, n in enumerate(names)}
    chosen = sorted(files) if neurons is None else list(neurons)
    missing = [n for n in chosen if n not in files or n not in index]
    if missing:
        raise ns.ParameterError(f"no such neuron(s) in c302 and {dataset}: {missing[:5]}")
    net = ns.Network(seed=seed)
    gid = {}
    rows = np.array([index[n] for n in chosen])
    cs = chemical[np.ix_(rows, rows)]
    for k, name in enumerate(chosen):
        cell = neuron_cell(files[name], p["max_length"])
        for j in np.flatnonzero(cs[:, k]):           # one graded synapse per presynaptic cell
            pre = chosen[j]
            cell.add_synapse((0, 0.5), "GradedSyn", label=f"from_{pre}",
                             gmax=float(cs[j, k]) * p["g_syn"],
                             e=p["e_inh"] if pre in GABAERGIC else p["e_exc"],
                             vth=p["vth"], vslope=p["vslope"], tau=p["tau"])
        # the files hold each neuron where it lies in the worm: no move
        gid[name] = int(net.add_cells(cell, positions=np.zeros((1, 3)))[0])
    for k, name in enumerate(chosen):
        for j in np.flatnonzero(cs[:, k]):
            net.set_pointer((gid[name], f"from_{chosen[j]}"), "vpre", (gid[chosen[j]],
                                                                      (0, 0.5)))
    gj = electrical[np.ix_(rows, rows)]
    for a, b in zip(*np.nonzero(np.triu(gj, 1))):
        net.add_gap_junction((gid[chosen[a]], (0, 0.5)), (gid[chosen[b]], (0, 0.5)),
                             g=float(gj[a, b]) * p["g_gap"])
    return net, gid


def stimulate(net, gid, neurons=TOUCH, amp=0.015, delay=100.0, dur=300.0):
    """A current step (nA) into the soma of each of ``neurons``."""
    for name in neurons:
        net.cells[gid[name]].add_iclamp((0, 0.5), delay=delay, dur=dur, amp=amp)
