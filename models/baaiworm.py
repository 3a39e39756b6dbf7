"""The BAAIWorm C. elegans brain ("eworm", Zhao et al., Nat. Comput. Sci. 2024,
doi:10.1038/s43588-024-00738-w): its published tuned circuit of 136 neurons built from the
model's own files, as the model's ``eworm/network/detailed_circuit.py`` builds it in NEURON.

The files are not shipped with neurosim: they come from the BAAIWorm repository
(https://github.com/Jessie940611/BAAIWorm, Apache-2.0), laid out as

    DIR/config.json                      cells_id_sim (the simulated neurons), cells_name_dic
    DIR/model/<NAME>.hoc                 the 302 cell templates (morphologies)
    DIR/param/cell/<NAME>.json           per-cell biophysics (soma and neurite)
    DIR/mechanism/modfile/*.mod          the 23 NMODL files
    DIR/tuned_circuit/connections.csv    every synapse and gap junction of the tuned network

(``DIR`` is ``data=`` or ``$NEUROSIM_BAAIWORM_DATA``).  How a cell is built:

- the hoc template's sections and 3-D points (``Cell.from_hoc``); its ``geom_nseg`` is
  overridden: soma nseg 1, every other section ceil(L / 2 µm);
- ``pas`` on every section with Ra, cm, g, e from the JSON (``soma`` values on the soma,
  ``neurite`` values elsewhere);
- on the soma only: the 16 channels and ``cainternm``, maximal conductances ``gb*`` from the
  JSON (many are 0).

A row of ``connections.csv`` is one point process on ``post_cell``'s ``post_section`` at
``post_x`` whose POINTER ``vpre`` reads v of ``pre_cell``'s ``pre_section`` at ``pre_x``:
graded synapses (``neuron_to_neuron_exc_syn`` / ``_inh_syn``, ``weight`` = |weight|) and
gap junctions (``gapjunction``, two rows per junction, one per side).

    net, names = build()                     # names[gid]: the neuron of each gid
    add_clamps(net, names, [dict(cell="AWAL", delay=500, dur=1000, amp=0.02)])
"""

import csv
import json
import math
import os
from pathlib import Path

import numpy as np

import neurosim as ns
from neurosim.errors import NeurosimError

ENV = "NEUROSIM_BAAIWORM_DATA"
SOURCE = ("the BAAIWorm repository (https://github.com/Jessie940611/BAAIWorm, Apache-2.0): "
          "eworm/components/ (model, param, mechanism) and eworm/network/config.json, with "
          "the tuned circuit exported as tuned_circuit/connections.csv")
# the somatic channels, in the JSON's order; the JSON key is "gb" + name
CHANNELS = ("shl1", "shk1", "kvs1", "egl2", "egl36", "kqt3", "egl19", "unc2", "cca1",
            "slo1_egl19", "slo1_unc2", "slo2_egl19", "slo2_unc2", "kcnl", "nca", "irk")
SEGMENT_LENGTH = 2.0           # µm: nseg = ceil(L / 2 µm) off the soma
V_INIT = -65.0
SENSORY = ("AWAL", "AWAR", "AWCL", "AWCR", "ASKL", "ASKR", "ALNL", "ALNR", "PLML", "PHAL",
           "PHAR", "URYDL", "URYDR", "URYVL", "URYVR")    # the paper's stimulated neurons


class BaaiwormDataError(NeurosimError, ValueError):
    """The model's files are missing or do not say what the model needs."""


def data_folder(data=None):
    """The folder of the model's files: ``data``, else ``$NEUROSIM_BAAIWORM_DATA``."""
    folder = data if data is not None else os.environ.get(ENV)
    if not folder:
        raise BaaiwormDataError(f"the BAAIWorm model needs its files: pass --data DIR (or "
                                f"data=DIR) or set ${ENV}; they come from {SOURCE}")
    folder = Path(folder)
    for part in ("config.json", "model", "param/cell", "mechanism/modfile",
                 "tuned_circuit/connections.csv"):
        if not (folder / part).exists():
            raise BaaiwormDataError(f"{folder / part} is missing: the BAAIWorm data folder "
                                    f"holds config.json, model/, param/cell/, "
                                    f"mechanism/modfile/ and tuned_circuit/; they come from "
                                    f"{SOURCE}")
    return folder


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise BaaiwormDataError(f"{path}: not readable JSON ({e})") from None


def simulated_cells(folder):
    """The names of the simulated neurons in ``cells_id_sim`` order (= gid order)."""
    path = folder / "config.json"
    info = _read_json(path).get("cell_info", {})
    try:
        names = info["cells_name_dic"]
        return [names[str(i)] for i in info["cells_id_sim"]]
    except (KeyError, TypeError) as e:
        raise BaaiwormDataError(f"{path}: cell_info needs cells_id_sim and cells_name_dic "
                                f"(missing {e})") from None


def load_mechanisms(folder):
    """Compile (once per process: neurosim caches) and register the model's .mod files."""
    found, refused = ns.load_catalogue(folder / "mechanism" / "modfile")
    if refused:
        path, err = next(iter(refused.items()))
        raise BaaiwormDataError(f"{path}: neurosim cannot compile it ({err})")
    return found


def _biophysics(folder, name):
    path = folder / "param" / "cell" / f"{name}.json"
    params = _read_json(path)
    try:
        soma, neurite = params["soma"], params["neurite"]
        passive = {part: {k: float(p[k]) for k in ("Ra", "cm", "gpas", "epas")}
                   for part, p in (("soma", soma), ("neurite", neurite))}
        gbar = {m: float(soma["gb" + m]) for m in CHANNELS}
    except (KeyError, TypeError, ValueError) as e:
        raise BaaiwormDataError(f"{path}: needs soma and neurite Ra, cm, gpas, epas and the "
                                f"somatic gb* of the 16 channels (bad or missing {e})") from None
    return passive, gbar


def _gbar_parameter(channel):
    """The channel's maximal conductance as its .mod file names it: ``gbslo1`` for both
    slo1 variants, else ``gb<name>``."""
    return "gb" + channel.split("_")[0]


def soma_section(cell):
    """The soma's section id (the templates name it Soma)."""
    try:
        return cell.section_names["Soma"]
    except KeyError:
        raise BaaiwormDataError(f"{cell.morphology.source}: no section named Soma") from None


def neuron_cell(folder, name):
    """One neuron as the model builds it (see the module's docstring)."""
    path = folder / "model" / f"{name}.hoc"
    if not path.exists():
        raise BaaiwormDataError(f"{path}: no template for neuron {name}")
    cell = ns.Cell.from_hoc(path, v_init=V_INIT)
    passive, gbar = _biophysics(folder, name)
    soma = soma_section(cell)
    rest = [k for k in range(len(cell.morphology)) if k != soma]
    lengths = cell.morphology.lengths
    # the model overrides the templates' geom_nseg
    cell.set_discretization(ns.NSeg(1), region=[soma])
    for n_seg in sorted({math.ceil(lengths[k] / SEGMENT_LENGTH) for k in rest}):
        cell.set_discretization(ns.NSeg(n_seg), region=[
            k for k in rest if math.ceil(lengths[k] / SEGMENT_LENGTH) == n_seg])
    for part, region in (("soma", [soma]), ("neurite", rest)):
        if region:
            p = passive[part]
            cell.paint(region, cm=p["cm"], ra=p["Ra"])
            cell.insert("pas", region=region, g=p["gpas"], e=p["epas"])
    for channel in CHANNELS:
        cell.insert(channel, region=[soma], **{_gbar_parameter(channel): gbar[channel]})
    cell.insert("cainternm", region=[soma])
    return cell


CONNECTION_COLUMNS = ("type", "mechanism", "pre_cell", "pre_section", "pre_x", "post_cell",
                      "post_section", "post_x", "weight")


def read_connections(folder):
    """The rows of ``tuned_circuit/connections.csv`` as dicts (x and weight as floats)."""
    path = folder / "tuned_circuit" / "connections.csv"
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CONNECTION_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise BaaiwormDataError(f"{path}: missing column(s) {missing}")
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        try:
            for key in ("pre_x", "post_x", "weight"):
                row[key] = float(row[key])
        except ValueError:
            raise BaaiwormDataError(f"{path}:{line}: {key} is not a number: "
                                    f"{row[key]!r}") from None
    return rows, path


def _location(cell, cell_name, section, x, where):
    try:
        return cell.section_names[section], x
    except KeyError:
        raise BaaiwormDataError(f"{where}: neuron {cell_name} has no section {section!r} "
                                f"(it has {sorted(cell.section_names)})") from None


def place_connections(gid, cells, folder):
    """Every point process of the tuned circuit on its cell (``cells[name]``); returns
    the ((gid, label), (pre gid, location)) of each POINTER ``vpre`` and the counts per
    mechanism."""
    rows, path = read_connections(folder)
    counts = {}
    placed = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}"
        for key in ("pre_cell", "post_cell"):
            if row[key] not in gid:
                raise BaaiwormDataError(f"{where}: {key} {row[key]} is not a simulated "
                                        "neuron (config.json cells_id_sim)")
        post, pre = row["post_cell"], row["pre_cell"]
        mech = row["mechanism"]
        label = f"{mech}_{line}"
        loc = _location(cells[post], post, row["post_section"], row["post_x"], where)
        src = _location(cells[pre], pre, row["pre_section"], row["pre_x"], where)
        cells[post].add_synapse(loc, mech, label=label, weight=abs(row["weight"]))
        placed.append(((gid[post], label), (gid[pre], src)))
        counts[mech] = counts.get(mech, 0) + 1
    return placed, counts


def build(data=None, with_connections=True):
    """The tuned network: returns ``(net, names)``, ``names[gid]`` the neuron of each gid
    (``cells_id_sim`` order); ``net.baaiworm`` holds the counts and the folder."""
    folder = data_folder(data)
    load_mechanisms(folder)
    names = simulated_cells(folder)
    cells = {name: neuron_cell(folder, name) for name in names}
    gid = {name: k for k, name in enumerate(names)}
    placed, counts = place_connections(gid, cells, folder) if with_connections else ([], {})
    net = ns.Network()
    for name in names:                       # the templates hold each neuron in place
        net.add_cells(cells[name], positions=np.zeros((1, 3)))
    for target, source in placed:
        net.set_pointer(target, "vpre", source)
    net.baaiworm = dict(folder=str(folder), counts=counts)
    return net, names


def read_stimulus(path):
    """``{"clamps": [{"cell", "delay", "dur", "amp"}, ...]}`` (ms, nA) from a JSON file."""
    spec = _read_json(path)
    clamps = spec.get("clamps") if isinstance(spec, dict) else None
    if not isinstance(clamps, list):
        raise BaaiwormDataError(f"{path}: a stimulus is {{\"clamps\": [{{\"cell\": \"AWAL\", "
                                f"\"delay\": 500, \"dur\": 1000, \"amp\": 0.02}}, ...]}}")
    for k, c in enumerate(clamps):
        missing = [key for key in ("cell", "delay", "dur", "amp")
                   if not isinstance(c, dict) or key not in c]
        if missing:
            raise BaaiwormDataError(f"{path}: clamps[{k}] lacks {missing}")
    return clamps


def add_clamps(net, names, clamps):
    """NEURON IClamps at the centre of each named neuron's soma."""
    gid = {name: k for k, name in enumerate(names)}
    for c in clamps:
        if c["cell"] not in gid:
            raise BaaiwormDataError(f"stimulus: no simulated neuron named {c['cell']!r} "
                                    f"(the {len(names)} are {', '.join(names[:6])}, ...)")
        cell = net.cells[gid[c["cell"]]]
        cell.add_iclamp((soma_section(cell), 0.5), delay=float(c["delay"]),
                        dur=float(c["dur"]), amp=float(c["amp"]))


# ------------------------------------------------------------------ cb2022 validation
CB2022 = Path("cb2022_data")


def read_cb2022(folder):
    """The measured whole-brain calcium correlations the model was fitted to
    (``cb2022_data/Ca_corr_mat.txt``, 65 x 65 Pearson, NaN where unmeasured, and
    ``Ca_corr_mat_cell_name.txt``, the names tab-separated); None when the folder has none."""
    base = Path(folder) / CB2022
    matrix_path, names_path = base / "Ca_corr_mat.txt", base / "Ca_corr_mat_cell_name.txt"
    if not matrix_path.exists() and not names_path.exists():
        return None
    try:
        names = [n for n in names_path.read_text().strip().split("\t") if n]
        matrix = np.loadtxt(matrix_path, ndmin=2)
    except (OSError, ValueError) as e:
        raise BaaiwormDataError(f"{base}: not readable as cb2022's correlation matrix and "
                                f"cell names ({e})") from None
    if matrix.shape != (len(names), len(names)):
        raise BaaiwormDataError(f"{matrix_path}: {matrix.shape[0]} x {matrix.shape[1]} values "
                                f"for the {len(names)} names of {names_path.name}")
    return names, matrix


def compare_with_cb2022(names, volts, measured_names, measured):
    """The paper's validation: the Pearson correlations between the simulated soma voltages
    (``volts``: one row per gid, ``names[gid]``) of the measured neurons, beside the measured
    matrix.  Returns ``(simulated, r, mse, pairs)``: the element-wise Pearson correlation of
    the two matrices' off-diagonal entries, their mean squared difference (the fit's loss;
    the paper reports 0.076 for its fitted run) and how many pairs entered (both finite: a
    neuron whose voltage never moves, or one unmeasured, has no correlation)."""
    gid = {name: k for k, name in enumerate(names)}
    missing = [n for n in measured_names if n not in gid]
    if missing:
        raise BaaiwormDataError(f"{CB2022}: measured neurons not simulated: {missing}")
    traces = np.asarray(volts)[[gid[n] for n in measured_names]]
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = traces.std(axis=1)
        simulated = np.full((len(traces), len(traces)), np.nan)
        moving = spread > 1e-9
        simulated[np.ix_(moving, moving)] = np.corrcoef(traces[moving])
    upper = np.triu_indices(len(traces), 1)
    a, b = simulated[upper], measured[upper]
    both = np.isfinite(a) & np.isfinite(b)
    r = float(np.corrcoef(a[both], b[both])[0, 1]) if both.sum() > 2 else float("nan")
    mse = float(np.mean((a[both] - b[both]) ** 2)) if both.any() else float("nan")
    return simulated, r, mse, int(both.sum())
