"""SONATA reports: BioNet's membrane and netcon reports and PointNet's multimeter, each a
set of probes on its cells written frame by frame into one SONATA report file."""

import os
import warnings

import numpy as np

from neurosim.lowering.cells import discretize
from neurosim.lowering.connections import NEST_MODELS

from .config import SonataError, SonataWarning
from .ecp import EcpReport
from .output import ReportWriter

ALL_NODES = ("All", "all")     # every node: the spec's name, and bmtk's


def open_report(run, name, spec, resume=False):
    """A report of the config.  ``membrane_report`` (BioNet; ``sections``: soma, all,
    or section kinds as BioNet names them — default all) and ``multimeter_report`` /
    ``multimeter`` (PointNet; also a membrane report whose ``sections`` is
    ``multimeter_report``).  Frames hold the values after each step, as both peers
    record them.  ``data_type``: float64 (default, as the peers write reports) or
    float32 (what libsonata 0.2 reads).  None: a report skipped with a warning."""
    where = f"{run.path}: reports.{name}"
    module = spec.get("module", "membrane_report")
    if module == "extracellular":
        return EcpReport(run, name, spec, resume)
    if module not in REPORT_MODULES:
        raise SonataError(f"{where}: module {module!r} is not supported (known: "
                          f"{', '.join(sorted(REPORT_MODULES))})")
    variable = _variable(spec, where)
    sections = spec.get("sections", "all")
    multimeter = module in ("multimeter_report", "multimeter") or \
        sections in ("multimeter_report", "multimeter")
    kinds = None if multimeter else _section_kinds(sections, where)
    step = run._number(spec, "dt", f"reports.{name}", run.dt)
    gids = _recorded_gids(run, spec, module, multimeter, where)
    if gids is None:
        return None
    path = _report_file(run, name, spec, where)
    net = run.circuit.network
    # PointNet labels its frames from the first sample (start + dt), BioNet from start
    nest_only = all(int(g) in net.artificial for g in gids) and run.circuit.nest_only
    dtype = spec.get("data_type", "float64")
    if dtype not in ("float64", "float32"):
        raise SonataError(f"{where}: data_type {dtype!r} is not float64 (as BioNet and "
                          "PointNet write reports) or float32")
    if module == "netcon_report":
        sites = netcon_sites(net, spec.get("syn_type", "Exp2Syn"))
    else:
        sites = membrane_sites(net, kinds)
    return Report(run, path, variable, sites, step, gids,
                  run._number(spec, "start_time", f"reports.{name}", run.tstart),
                  run._number(spec, "end_time", f"reports.{name}", run.tstop), resume,
                  label_first=nest_only, dtype=np.dtype(dtype))


def _variable(spec, where):
    variable = spec.get("variable_name", "v")
    if isinstance(variable, list):
        if len(variable) != 1:
            raise SonataError(f"{where}: variable_name {variable!r}: one variable per "
                              "report (give each its own report)")
        variable = variable[0]
    return variable


def _recorded_gids(run, spec, module, multimeter, where):
    """The gids a report records: its node set's simulated cells (biophysical ones for a
    netcon report or when BioNet would skip artificial cells); None: skipped."""
    cells = spec.get("cells", "All")
    if isinstance(cells, str) and cells not in run.node_sets and \
            cells not in run.circuit.nodes and cells not in ALL_NODES and \
            run.missing_node_sets is not None:
        warnings.warn(f"{where}: node set {cells!r} is unknown and the node sets file "
                      f"{run.missing_node_sets} does not exist: the report is skipped",
                      SonataWarning, stacklevel=3)
        return None
    gids = run.gids_of(cells)
    net = run.circuit.network
    gids = gids[[int(g) in net.cells or int(g) in net.artificial for g in gids]]
    if len(gids) == 0:
        raise SonataError(f"{where}: the node set holds no simulated cell")
    if module == "netcon_report":
        gids = gids[[int(g) in net.cells for g in gids]]
        if len(gids) == 0:
            raise SonataError(f"{where}: the node set holds no biophysical cell (a "
                              "netcon report records synapses)")
    if multimeter and any(int(g) in net.cells for g in gids):
        sections = spec.get("sections", "all")
        raise SonataError(f"{where}: sections {sections!r} (a NEST multimeter) on "
                          "biophysical cells; give soma, all or section kinds")
    if not multimeter and any(int(g) in net.cells for g in gids):
        # BioNet's membrane report records its biophysical cells and skips the others
        # (NEURON's artificial cells: IntFire1 has no v)
        skipped = [int(g) for g in gids if int(g) in net.artificial and
                   net.artificial[int(g)][0].name not in NEST_MODELS]
        if skipped:
            warnings.warn(f"{where}: {len(skipped)} artificial cells of the node set "
                          f"(e.g. gid {skipped[0]}, {net.artificial[skipped[0]][0].name}) "
                          "are not recorded, as BioNet records biophysical cells only",
                          SonataWarning, stacklevel=3)
            gids = gids[~np.isin(gids, skipped)]
    return gids


def _report_file(run, name, spec, where):
    """The report's file: ``file_name`` (in the output folder unless absolute), never the
    file of another output."""
    file_name = spec.get("file_name", f"{name}.h5")
    path = file_name if os.path.isabs(file_name) else \
        os.path.join(run.output_dir, file_name)
    # no two outputs in one file (a report named as the spikes file would overwrite it)
    run._outputs.setdefault(os.path.realpath(run.spikes_file), "output.spikes_file")
    taken = run._outputs.setdefault(os.path.realpath(path), f"reports.{name}")
    if taken != f"reports.{name}":
        raise SonataError(f"{where}: writes {path}, the file of {taken}")
    return path


def membrane_sites(net, kinds):
    """A cell's probes at the centre of its segments of the given section kinds."""
    def sites(gid):
        if gid in net.artificial:
            return [(None, 0, 0.5)], {}
        return [((s, x), s, x) for s, x in _locations(net.cells[gid], kinds)], {}
    return sites


def netcon_sites(net, syn_type):
    """BioNet's netcon report: each synapse whose mechanism's name starts with
    ``syn_type`` (all with None), in connection order; its segment's centre, the
    source gid (-1 for a virtual source, as BioNet's VecStim) and the target gid."""
    src, tgt, labels, _, _ = net.connections()
    source_of = {(int(t), lab): int(s) for s, t, lab in zip(src, tgt, labels)
                 if lab is not None}
    virtual = set(net.spike_sources)

    def sites(gid):
        cell = net.cells[gid]
        nseg = _nseg(cell)
        here, src_ids = [], []
        for syn in cell.synapses:
            if syn_type is not None and not syn.mechanism.name.startswith(syn_type):
                continue
            s, x = syn.location
            n = nseg[s]
            centre = (min(int(x * n), n - 1) + 0.5) / n
            here.append((syn.label, s, centre))
            source = source_of.get((gid, syn.label), -1)
            src_ids.append(-1 if source in virtual else source)
        return here, {"src_ids": src_ids, "trg_ids": [gid] * len(here)}
    return sites


class Report:
    """One report: probes on its cells, frames written into one SONATA report file (a group
    per node population) as the run goes.  Frame k holds the values after step k + 1 of
    the report's interval; it is labelled ``start + k * step`` (BioNet) or, with
    ``label_first``, ``start + (k + 1) * step`` (PointNet: NEST's multimeter times).
    ``sites(gid)``: the cell's probes, [(location, section id, x)], and extra mapping
    datasets (a dict of per-element lists) of a population's elements."""

    def __init__(self, run, path, variable, sites, step, gids, start, end, resume=False,
                 label_first=False, dtype=float):
        self.run, self.start, self.end, self.step = run, start, end, step
        self._path = path
        sim, circuit, net = run.sim, run.circuit, run.circuit.network
        self.writer = ReportWriter(path, resume) if sim.comm.rank == 0 else None
        self.traces, self.columns = [], []
        by_pop = {}
        for gid in gids:
            by_pop.setdefault(circuit.node(int(gid))[0], []).append(int(gid))
        label = start + step if label_first else start
        for pop, members in by_pop.items():
            elements, first, extra = [], len(self.traces), {}
            for gid in members:
                here, more = sites(gid)
                name = "V_m" if gid in net.artificial and variable == "v" else variable
                elements.append(([s for _, s, _ in here], [x for _, _, x in here]))
                for key, values in more.items():
                    extra.setdefault(key, []).extend(values)
                for loc, _, _ in here:
                    self.traces.append(sim.record(name, loc, cell=gid, interval=step))
            self.columns.append((first, len(self.traces)))
            if self.writer is not None:
                self.writer.add(pop, [circuit.node(g)[1] for g in members], elements, label,
                                step, units=UNITS.get(variable), last=label_first,
                                dtype=dtype, extra=extra, variable=variable)

    def collect(self):
        """Frames recorded since the last call: written (rank 0), and dropped from memory
        on every rank."""
        new = [(np.concatenate(t._times) if t._times else np.zeros(0),
                np.concatenate(t._values) if t._values else np.zeros(0))
               for t in self.traces]
        for t in self.traces:
            t._times, t._values, t._sent = [], [], 0
        if self.writer is None or not new:
            return
        times = new[0][0]
        data = self.writer.populations[0][0]
        # frames so far (a restored run has some): the next is the value at this time
        due = self.start + self.step * (data.shape[0] + 1)
        keep = (times >= due - 1e-9) & (times <= self.end + 1e-9)
        for index, (a, b) in enumerate(self.columns):
            self.writer.append(index, np.stack([new[k][1][keep] for k in range(a, b)],
                                               axis=1))

    @property
    def path(self):
        return self._path

    def close(self, complete=True, time_reached=None):
        if self.writer is None:
            return None
        return self.writer.close(attrs={"complete": complete, "time_reached": time_reached})

    def flush(self):
        if self.writer is not None:
            self.writer.flush()


# the units of the variables whose units are known for every mechanism: NEURON's
UNITS = {"v": "mV", "V_m": "mV", "i_membrane_": "nA", "cai": "mM", "cao": "mM",
         "nai": "mM", "nao": "mM", "ki": "mM", "ko": "mM", "ica": "mA/cm2", "ina": "mA/cm2",
         "ik": "mA/cm2"}
# report modules: BioNet's membrane report (also by its older name) and synapse variables
# (netcon_report), PointNet's multimeter
REPORT_MODULES = {"membrane_report", "compartment_report", "multimeter_report", "multimeter",
                  "netcon_report"}
# section kinds as BioNet names them in a report's "sections" (its SWC type map)
SECTION_KINDS = {"soma": "soma", "somatic": "soma", "axon": "axon", "axonal": "axon",
                 "dend": "dend", "basal": "dend", "basal dendrite": "dend",
                 "(basal) dendrite": "dend", "apic": "apic", "apical": "apic",
                 "apical dendrite": "apic"}


def _section_kinds(sections, where):
    """The section kinds a report's ``sections`` names (None: all)."""
    names = sections if isinstance(sections, (list, tuple)) else [sections]
    names = [str(n).lower() for n in names]
    if not names or "all" in names:
        return None
    unknown = [n for n in names if n not in SECTION_KINDS]
    if unknown:
        raise SonataError(f"{where}: sections {unknown[0]!r} is not all or one of "
                          f"{sorted(SECTION_KINDS)}")
    return {SECTION_KINDS[n] for n in names}


def _nseg(cell):
    return discretize(cell).layout.nseg


def _locations(cell, kinds):
    """(section, x) of every segment centre of the cell's sections of the given kinds
    (None: all), in section order; the soma alone is its centre."""
    if kinds == {"soma"}:
        return [(0, 0.5)]
    part = discretize(cell)
    centre = part.area > 0
    morph = cell.morphology
    return [(int(s), float(x)) for s, x in zip(part.section[centre], part.x[centre])
            if kinds is None or morph[int(s)].type_name in kinds]
