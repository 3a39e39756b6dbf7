"""A SONATA circuit as a neurosim Network.

Gids: node populations in the order the config lists them, each taking the gids
``offset + node_id`` (offset: the gids before it).  Nodes by ``model_type``:

* ``biophysical``: an Allen model (``model_processing`` aibs_perisomatic or aibs_allactive,
  ``dynamics_params`` the ``*_fit.json`` in ``biophysical_neuron_models_dir``,
  ``morphology`` in ``morphologies_dir``) or a neurosim one (``model_processing``
  neurosim: ``dynamics_params`` a JSON of cable properties and mechanisms, built-in or
  NMODL files from ``mechanisms_dir``; see ``_neurosim_cell``), with a spike detector at the
  soma; one template per (morphology, parameters), copied per gid for its synapses.
* ``point_neuron`` / ``point_process``: ``model_template`` ``nest:<model>`` (NEST's names and
  parameters, ``dynamics_params`` JSON in ``point_neuron_models_dir``) or ``nrn:IntFire1``.
* ``virtual``: spike sources, their spikes from the simulation's inputs.

Edges: ``syn_weight``, ``delay`` (default 1 ms), ``nsyns`` (default 1).  Onto a biophysical
cell each edge places ``nsyns`` synapses of ``model_template`` (exp2syn, expsyn, or a neurosim
point mechanism) with ``dynamics_params`` from ``synaptic_models_dir``, at
``afferent_section_id/pos`` where given, else on a segment drawn (probability by length)
among ``target_sections`` within ``distance_range`` of the soma, from a random stream keyed
on (seed, target gid); each synapse takes ``syn_weight``.  Onto a point neuron, one
connection of weight ``syn_weight * nsyns``.
"""

import glob
import os
import re

import numpy as np

import neurosim as ns
from neurosim.description.connectivity import rng
from neurosim.errors import NeurosimError
from neurosim.lowering.cells import discretize

from .allen import allactive_cell, allen_mechanism, perisomatic_cell
from .config import SonataError, circuit_of, read_json, resolve
from .tables import edge_populations, node_populations
from .weights import edge_weights

STREAM_PLACEMENT = 5          # the random stream of synapse placement (connectivity.rng)
SECTION_NAMES = {"soma": "soma", "somatic": "soma", "axon": "axon", "axonal": "axon",
                 "dend": "dend", "basal": "dend", "apic": "apic", "apical": "apic"}
SYNAPSE_TEMPLATES = {"exp2syn": ("Exp2Syn", {"tau1": "tau1", "tau2": "tau2", "erev": "e"}),
                     "expsyn": ("ExpSyn", {"tau1": "tau", "tau": "tau", "erev": "e"})}
# BioNet's setters for the synapse .mod files bmtk ships (found in components.mechanisms_dir):
# the synapse file's key of each parameter (required, as BioNet reads them).  bmtk 1.2's
# other setters (stp1syn, stp3syn, stp4syn, tmgsyn, exp1syn, exp1isyn) stop BioNet itself
# (they expect lists of locations): those templates take the synapse file's keys as
# parameter names, as any .mod file's point process does
BIONET_SYNAPSES = {
    "stp2syn": {"e": "erev", "p0": "p0", "tau_r0": "tau_r0", "tau_FDR": "tau_FDR",
                "tau_1": "tau_1"},
    "stp5syn": {"e": "erev", **{k: k for k in ("tau_1", "tau_r0", "tau_FDR", "a_FDR", "a_D",
                                               "a_i", "a_f", "pbtilde")}},
}


class Circuit:
    """``Circuit(config)``: the nodes and edges of a circuit (or simulation) config, and
    ``network``, the neurosim Network built from them.  ``gids(population, node_ids)`` and
    ``node(gid)`` translate."""

    def __init__(self, config, dl=20.0, spike_threshold=-15.0, seed=0, v_init=None):
        self.config = circuit_of(config)
        self.components = self.config.get("components", {})
        self.dl, self.threshold, self.seed = float(dl), float(spike_threshold), int(seed)
        self.v_init = v_init            # the simulation's conditions.v_init, for every cell
        self.nodes, self.offset, self.edges = {}, {}, {}
        self.shortest_delays = []       # (delay, where, edge id) of each edge population
        networks = self.config["networks"]
        for entry in networks.get("nodes", []):
            nodes_file = self._file(entry, "nodes_file")
            types_file = self._file(entry, "node_types_file", required=False)
            for name, pop in node_populations(nodes_file, types_file).items():
                if name in self.nodes:
                    raise SonataError(f"{nodes_file}: node population {name!r} is defined "
                                      "twice")
                self.offset[name] = sum(int(p.ids.max()) + 1 for p in self.nodes.values()
                                        if p.size)
                self.nodes[name] = pop
        for entry in networks.get("edges", []):
            if entry.get("enabled", True) is False:       # bmtk leaves such edges out
                continue
            edges_file = self._file(entry, "edges_file")
            types_file = self._file(entry, "edge_types_file", required=False)
            for name, pop in edge_populations(edges_file, types_file).items():
                for end in ("source", "target"):
                    self._check_ends(pop, end)
                self.edges[name] = pop
        self.network = ns.Network(seed=self.seed)
        self.model_types = {}           # population -> model_type per node
        self._templates = {}             # biophysical template per (processing, fit, morph)
        self.template_of = {}            # gid -> its template's key
        self._segments = {}             # eligible segments per (morphology, sections, range)
        self._synapses = {}             # (mechanism, parameters) per (template, JSON)
        self._catalogue = None          # components.mechanisms_dir: ({name: Mechanism}, refused)
        self.rotations = {}             # gid -> rotation angles about x, y, z (radians)
        self.nest_gids = set()          # NEST point neurons (PointNet's rules apply)
        for name, pop in self.nodes.items():
            self._add_nodes(name, pop)
        for name, pop in self.edges.items():
            self._add_edges(pop)

    @property
    def nest_only(self):
        """Every simulated node a NEST point neuron (a PointNet circuit)."""
        return bool(self.nest_gids) and not self.network.cells and \
            len(self.nest_gids) == len(self.network.artificial)

    # ------------------------------------------------------------------ lookup
    def gids(self, population, node_ids):
        return self.offset[population] + np.asarray(node_ids, dtype=np.int64)

    def node(self, gid):
        """(population, node id) of a gid."""
        for name in reversed(list(self.offset)):
            if gid >= self.offset[name]:
                return name, int(gid - self.offset[name])
        raise SonataError(f"gid {gid} is not in the circuit")

    def _file(self, entry, key, required=True):
        if key not in entry:
            if required:
                raise SonataError(f"{self.config['_path']}: a networks entry has no {key!r}")
            return None
        path = resolve(self.config, entry[key])
        if not os.path.exists(path):
            raise SonataError(f"{self.config['_path']}: {key} {path} does not exist")
        return path

    def _check_ends(self, pop, end):
        ref = getattr(pop, f"{end}_population")
        if ref not in self.nodes:
            raise SonataError(f"{pop.path}: {pop.group_name}/{end}_node_id names node "
                              f"population {ref!r}, which the circuit does not have")
        ids = getattr(pop, end)
        known = self.nodes[ref].ids
        bad = ~np.isin(ids, known)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SonataError(f"{pop.path}: {pop.group_name}/{end}_node_id[{row}] = "
                              f"{ids[row]}: no such node in population {ref!r}")

    def _component(self, key, name, what, where):
        """The file ``name`` of the components folder ``key``; ``where`` names the node or
        edge that needs it."""
        folder = self.components.get(key)
        if folder is None:
            raise SonataError(f"{where}: {what} {name!r} needs components.{key}, which "
                              f"{self.config['_path']} does not give")
        path = os.path.join(resolve(self.config, folder), name)
        if not os.path.exists(path):
            raise SonataError(f"{where}: {what} {name!r} not found in components.{key} "
                              f"({path}, from {self.config['_path']})")
        return path

    def _morphology(self, morph, where):
        """The node's SWC file: the name as given, else with ``.swc`` added (SONATA lets the
        extension out; bmtk's rule, so a name holding dots works either way)."""
        name = str(morph)
        folder = self.components.get("morphologies_dir")
        if folder is not None and not name.endswith(".swc") and not os.path.isfile(
                os.path.join(resolve(self.config, folder), name)):
            name += ".swc"
        return self._component("morphologies_dir", name, "morphology", where)

    # ------------------------------------------------------------------ nodes
    def _add_nodes(self, name, pop):
        kinds = pop.attribute("model_type")
        self.model_types[name] = kinds
        gids = self.gids(name, pop.ids)
        overrides = pop.dynamics()
        templates = pop.attribute("model_template")
        for row in np.argsort(gids):
            gid, kind = int(gids[row]), kinds[row]
            where = f"{pop.path}: node {pop.ids[row]} of population {name!r}"
            if kind == "virtual":
                self.network._place(gid, None)
            elif kind == "biophysical":
                template, self.template_of[gid] = self._biophysical(pop, row, where)
                self.network._place(gid, template.copy())
            elif kind in ("point_neuron", "point_process", "single_compartment"):
                point = self._point(pop, row, templates[row], overrides[row], where)
                try:
                    self.network._place(gid, point)
                except NeurosimError as e:     # a value the model refuses (NEST's checks)
                    params = pop.attribute("dynamics_params", [row])[0]
                    raise SonataError(f"{where} (dynamics_params {params}): "
                                      f"{str(e).replace(' (add_cells)', '')}") from None
            else:
                raise SonataError(f"{where}: model_type {kind!r} is not one of biophysical, "
                                  "point_neuron, point_process, virtual")
            columns = pop._columns.get(int(pop.group_ids[row]), {})
            if "x" in columns:
                xyz = [pop.numbers(c, [row], 0.0)[0] for c in ("x", "y", "z")]
                self.network.positions[gid] = np.array(xyz)
            if any(f"rotation_angle_{a}axis" in columns for a in "xyz"):
                self.rotations[gid] = np.array([pop.numbers(f"rotation_angle_{a}axis", [row],
                                                            0.0)[0] for a in "xyz"])

    def _biophysical(self, pop, row, where):
        processing = pop.attribute("model_processing", [row])[0]
        fit = pop.attribute("dynamics_params", [row])[0]
        morph = pop.attribute("morphology", [row])[0]
        template = pop.attribute("model_template", [row])[0]
        if str(template).startswith("nml:"):         # a NeuroML template: nml_template.py
            if fit is not None or processing not in (None, "aibs_perisomatic"):
                raise SonataError(f"{where}: {template} with dynamics_params {fit!r} and "
                                  f"model_processing {processing!r}: a NeuroML template "
                                  "takes neither (BioNet's aibs_perisomatic leaves it as is)")
            return self._nml_cell(str(template)[4:], morph, where)
        if fit is None or morph is None:
            raise SonataError(f"{where}: a biophysical node needs 'dynamics_params' (a fit "
                              "JSON) and 'morphology'")
        key = (processing, fit, morph)
        if key not in self._templates:
            builders = {"aibs_perisomatic": perisomatic_cell, "aibs_allactive": allactive_cell,
                        "neurosim": self._neurosim_cell}
            # bmtk applies a comma-separated list of processors in turn; after the one that
            # builds the cell, "extracellular" inserts NEURON's extracellular mechanism,
            # which with its defaults (xg 1e9 S/cm2 to ground) moves v by ~1e-9 mV: nothing
            # to do without extracellular stimulation (which neurosim refuses by name)
            processing, *more = [p.strip() for p in str(processing).split(",")]
            if processing not in builders:
                raise SonataError(f"{where}: model_processing {processing!r} is not known "
                                  f"(known: {sorted(builders)})")
            unknown = [p for p in more if p not in ("extracellular", "set_extracellular")]
            if unknown:
                raise SonataError(f"{where}: model_processing {unknown[0]!r} after "
                                  f"{processing!r} is not known (known: extracellular)")
            try:
                cell, _ = builders[processing](
                    self._morphology(morph, where),
                    self._component("biophysical_neuron_models_dir", str(fit),
                                    "dynamics_params", where), dl=self.dl,
                    mechanism=lambda name: self._fit_mechanism(name, where))
            except SonataError:
                raise
            except NeurosimError as e:
                raise SonataError(f"{where}: {e}") from None
            cell.add_detector((0, 0.5), threshold=self.threshold)
            if self.v_init is not None:
                cell.paint("all", v_init=self.v_init)
            self._templates[key] = cell
        return self._templates[key], key

    def _nml_cell(self, name, morph, where):
        """A cell of a NeuroML template in biophysical_neuron_models_dir, on the node's SWC."""
        from .nml_template import build_cell
        key = ("nml", name, morph)
        if key not in self._templates:
            if morph is None:
                raise SonataError(f"{where}: a NeuroML template needs the node's 'morphology'")
            cell, _ = build_cell(
                self._component("biophysical_neuron_models_dir", name, "model_template", where),
                self._morphology(morph, where),
                lambda mech: self._mechanism(mech, where), dl=self.dl)
            cell.add_detector((0, 0.5), threshold=self.threshold)
            if self.v_init is not None:
                cell.paint("all", v_init=self.v_init)
            self._templates[key] = cell
        return self._templates[key], key

    def _fit_mechanism(self, name, where):
        """A fit's channel: as any other (:meth:`_mechanism`); in a circuit without a
        mechanisms_dir, from Allen's own .mod files (bmtk's copy) as a convenience."""
        if self.components.get("mechanisms_dir") is not None:
            return self._mechanism(name, where)
        return allen_mechanism(name)

    def _neurosim_cell(self, swc, params_path, dl=20.0, mechanism=None):
        """A cell from neurosim's own parameter JSON::

            {"cm": 1.0, "ra": 100.0, "v_init": -65.0, "max_length": 20.0,
             "mechanisms": [{"name": "hh", "region": "soma", "params": {"gnabar": 0.12}},
                            {"name": "pas", "region": "all", "params": {"g": 3e-5}}],
             "ions": [{"ion": "na", "region": "soma", "e": 50.0}]}

        Names of mechanisms not built in are looked up among the .mod files of
        ``components.mechanisms_dir`` (compiled once).  One file serves node types of
        different morphologies, so a region a morphology lacks (an axon cut off) is
        skipped on it, as BioNet does."""
        p = read_json(params_path, "cell parameters")
        mechanism_of = mechanism or (lambda name: self._mechanism(name, params_path))
        try:
            morph = ns.Morphology.from_swc(swc)
            cell = ns.Cell(morph, cm=float(p.get("cm", 1.0)), ra=float(p.get("ra", 35.4)),
                           v_init=float(p.get("v_init", -65.0)),
                           discretization=ns.MaxLength(float(p.get("max_length", dl))))
            for m in p.get("mechanisms", []):
                cell.insert(mechanism_of(m["name"]), region=m.get("region", "all"),
                            missing_ok=True, **m.get("params", {}))
            for ion in p.get("ions", []):
                cell.set_ion(ion["ion"], region=ion.get("region", "all"), missing_ok=True,
                             **{k: ion[k] for k in ("e", "ci", "co") if k in ion})
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, NeurosimError):
                raise
            raise SonataError(f"{params_path}: not a neurosim cell description ({e!r})") \
                from None
        return cell, {}

    def _mechanism(self, name, where):
        """Mechanism ``name`` as BioNet would load it: built in, else the .mod file of
        components.mechanisms_dir that defines it (compiled once per circuit, never taken from
        another model's files loaded earlier in the process), else one registered by name."""
        found, refused = self._mechanisms_dir()
        try:
            return ns.mechanisms.resolver(found)(name)
        except NeurosimError:
            folder = self.components.get("mechanisms_dir")
            defines = re.compile(rf"\b(SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+{re.escape(name)}\b")
            failed = "".join(f"; {path} does not compile: {err}" for path, err in refused.items()
                             if defines.search(open(path, errors="replace").read()))
            raise SonataError(f"{where}: mechanism {name!r} is neither built in nor a .mod "
                              f"file of components.mechanisms_dir ({folder}){failed}") from None

    def _mechanisms_dir(self):
        if self._catalogue is None:
            folder = self.components.get("mechanisms_dir")
            self._catalogue = {}, {}
            if folder is not None:
                mods = resolve(self.config, folder)
                if not glob.glob(os.path.join(mods, "*.mod")):   # bmtk's layout: <dir>/modfiles
                    mods = os.path.join(mods, "modfiles")
                self._catalogue = ns.load_catalogue(mods, register=False)
        return self._catalogue

    def _point(self, pop, row, template, overrides, where):
        params_file = pop.attribute("dynamics_params", [row])[0]
        params = {}
        if params_file is not None:
            path = self._component("point_neuron_models_dir", str(params_file),
                                   "dynamics_params", where)
            params = read_json(path, "point neuron parameters")
        params.update(overrides)
        template = str(template)
        if template.startswith("nest:"):
            model = template[5:]
            self.nest_gids.add(int(self.gids(pop.name, pop.ids[row:row + 1])[0]))
        elif template in ("nrn:IntFire1", "IntFire1"):
            # bmtk's IntFire1 parameters are in seconds
            return ns.models.point_neuron("IntFire1", **{
                k: float(v) * 1000.0 for k, v in params.items() if k in ("tau", "refrac")})
        else:
            raise SonataError(f"{where}: model_template {template!r} is not known (nest:<model>"
                              " or nrn:IntFire1)")
        params = {k: v for k, v in params.items() if k not in ("type", "model")}
        if "V_m" in params:         # NEST's initial membrane potential is our V_init
            params.setdefault("V_init", params.pop("V_m"))
        try:
            return ns.models.point_neuron(model, **params)
        except NeurosimError as e:
            raise SonataError(f"{where}: {template}: {e}") from None

    # ------------------------------------------------------------------ edges
    def _node_props(self, population, node_ids):
        """``props(key)``: a node property per edge (object array); ``props(None)``: a
        getter ``(key, k)`` of edge k's node, for user weight functions."""
        nodes = self.nodes[population]
        rows = self._node_rows(population, node_ids)

        def props(key):
            if key is None:
                def one(name, k):
                    value = nodes.attribute(name, rows[k:k + 1])[0]
                    if value is None:
                        raise KeyError(name)
                    return value
                return one
            return nodes.attribute(key, rows)
        return props

    def _node_rows(self, population, node_ids):
        ids = self.nodes[population].ids
        order = np.argsort(ids, kind="stable")
        return order[np.searchsorted(ids, node_ids, sorter=order)]

    def _add_edges(self, pop):
        """Weights as bmtk applies them (``weights.edge_weights``): onto a biophysical
        cell each of ``nsyns`` synapses takes the weight; onto a NEURON artificial cell
        (BioNet) the weight times the synapse file's ``sign`` times ``nsyns`` where the
        edges give ``nsyns`` (not preselected targets), else the weight alone; onto a NEST
        point neuron (PointNet) the weight function's value, or ``syn_weight * nsyns``
        without one."""
        net = self.network
        where = f"{pop.path}: {pop.group_name}"
        per_edge = pop.dynamics_names()
        if per_edge:        # bmtk's Edge.dynamics_params raises NotImplementedError on them
            raise SonataError(f"{where}: per-edge dynamics_params/{per_edge[0]} (an edge "
                              "group's dynamics_params): not supported (neither by bmtk); "
                              "give synapse parameters by edge type (dynamics_params files)")
        src = self.gids(pop.source_population, pop.source)
        tgt = self.gids(pop.target_population, pop.target)
        every = np.arange(pop.size)
        weight = edge_weights(pop, every, self._node_props(pop.source_population, pop.source),
                              self._node_props(pop.target_population, pop.target), where)
        delay = pop.numbers("delay", default=1.0)
        given = pop.attribute("nsyns")
        nsyns = pop.numbers("nsyns", default=1.0).astype(np.int64)
        funcs = pop.attribute("weight_function")
        if (nsyns < 0).any():
            row = int(np.flatnonzero(nsyns < 0)[0])
            raise SonataError(f"{where}: edge {row} has nsyns {nsyns[row]} < 0")
        bad = np.flatnonzero(delay < 0)
        if len(bad):
            raise SonataError(f"{where}: edge {bad[0]} has delay {delay[bad[0]]} ms < 0")
        where = f"{pop.path}: {pop.group_name}"
        # the shortest delay of an edge from a cell (not a virtual node): a spike made
        # during the run cannot reach its target within the step it was made in
        made = ~np.isin(src, np.fromiter(net.spike_sources, dtype=np.int64))
        if made.any():
            row = int(np.flatnonzero(made)[np.argmin(delay[made])])
            self.shortest_delays.append((float(delay[row]), where, row))
        virtual = np.isin(tgt, np.fromiter(net.spike_sources, dtype=np.int64))
        if virtual.any():
            row = int(np.flatnonzero(virtual)[0])
            raise SonataError(f"{where}: edge {row} targets a virtual node (gid {tgt[row]})")
        point = np.isin(tgt, np.fromiter(net.artificial, dtype=np.int64))
        nest = np.isin(tgt, np.fromiter(self.nest_gids, dtype=np.int64))
        rows = np.flatnonzero(nest)                  # PointNet: one connection each
        self._check_nest_synapses(pop, rows, where)
        with_function = np.array([f is not None for f in funcs[rows]], dtype=bool)
        scale = np.where(with_function, 1.0, nsyns[rows])
        net.connect_many(src[rows], tgt[rows], [None] * len(rows),
                         self._nest_weights(pop, rows, tgt[rows], weight[rows] * scale, where),
                         delay[rows])
        rows = np.flatnonzero(point & ~nest)         # BioNet's point processes
        preselected = np.array([g is None for g in given[rows]], dtype=bool) | \
            np.array([s is not None for s in pop.attribute("afferent_section_id", rows)],
                     dtype=bool)
        sign = self._signs(pop, rows[~preselected], where)
        scale = np.ones(len(rows))
        scale[~preselected] = sign * nsyns[rows[~preselected]]
        net.connect_many(src[rows], tgt[rows], [None] * len(rows), weight[rows] * scale,
                         delay[rows])
        rows = np.flatnonzero(~point)                # onto cells: nsyns synapses each
        # preselected targets (afferent_section_id given): one synapse an edge, as BioNet
        nsyns[rows[[s is not None for s in pop.attribute("afferent_section_id", rows)]]] = 1
        rows = rows[np.argsort(tgt[rows], kind="stable")]
        syn_row = np.repeat(rows, nsyns[rows])
        first = np.repeat(np.cumsum(nsyns[rows]) - nsyns[rows], nsyns[rows])
        syn_k = np.arange(len(syn_row)) - first
        labels = [f"{pop.name}:{r}:{k}" for r, k in zip(syn_row.tolist(), syn_k.tolist())]
        sec, x = self._locations(pop, syn_row, tgt[syn_row], where)
        synapse, kinds = self._synapse_of_rows(pop, syn_row)
        starts = np.flatnonzero(np.r_[True, np.diff(tgt[syn_row]) != 0]) if len(syn_row) \
            else np.zeros(0, dtype=np.int64)
        for lo, hi in zip(starts, np.r_[starts[1:], len(syn_row)].astype(np.int64)):
            cell = net.cells[int(tgt[syn_row[lo]])]
            for code in np.unique(synapse[lo:hi]):          # per mechanism and parameters
                sel = np.arange(lo, hi)[synapse[lo:hi] == code]
                mech, params = self._synapses[kinds[code]]
                try:
                    cell.add_synapses(sec[sel], x[sel], mech, [labels[k] for k in sel],
                                      **params)
                except NeurosimError as e:
                    raise SonataError(f"{where}: edges onto gid {tgt[syn_row[lo]]}: {e}") \
                        from None
        net.connect_many(src[syn_row], tgt[syn_row], labels, weight[syn_row],
                         delay[syn_row])

    def _signs(self, pop, rows, where):
        """The ``sign`` of each edge's synapse file (BioNet multiplies a point process's
        weight by it)."""
        dynamics = pop.attribute("dynamics_params", rows)
        out = np.empty(len(rows))
        cache = {}
        for k, name in enumerate(dynamics):
            if name not in cache:
                if name is None:
                    raise SonataError(f"{where}: edge {rows[k]} onto a NEURON point process "
                                      "has no dynamics_params (its synapse file gives the "
                                      "weight's sign)")
                path = self._component("synaptic_models_dir", str(name), "dynamics_params",
                                       f"{where}: edge {rows[k]}")
                params = read_json(path, "synapse parameters")
                if "sign" not in params:
                    raise SonataError(f"{path}: no 'sign' (BioNet multiplies the weight of "
                                      f"edge {rows[k]} of {where} onto a point process by it)")
                cache[name] = float(params["sign"])
            out[k] = cache[name]
        return out

    def _check_nest_synapses(self, pop, rows, where):
        """PointNet's edges onto NEST neurons name a NEST synapse model; neurosim delivers
        static synapses only."""
        for template in dict.fromkeys(pop.attribute("model_template", rows)):
            if template not in (None, "static_synapse"):
                row = rows[np.flatnonzero(pop.attribute("model_template", rows) ==
                                          template)[0]]
                raise SonataError(f"{where}: edge {row}: model_template {template!r} onto a "
                                  "NEST neuron is not supported (static_synapse)")

    def _nest_weights(self, pop, rows, targets, weights, where):
        """The weights of PointNet's connections: with the synapse file's ``receptor_type``
        (PointNet passes the file to nest.Connect; NEST's default 0) as a second weight
        where a target has receptor ports (glif_psc), NaN (none) for the others; a port
        other than 0 onto a model without ports is refused, as NEST refuses it."""
        dynamics = pop.attribute("dynamics_params", rows)
        cache = {}
        receptor = np.zeros(len(rows))
        has_ports = np.array([self.network.artificial[int(t)][0].name == "glif_psc"
                              for t in targets], dtype=bool)
        for k, name in enumerate(dynamics):
            # the file is read where a port is chosen (onto port-less models NEST's
            # default 0 holds: circuits built without synapse files still run)
            if name is None or not has_ports[k]:
                continue
            if name not in cache:
                path = self._component("synaptic_models_dir", str(name), "dynamics_params",
                                       f"{where}: edge {rows[k]}")
                value = read_json(path, "synapse parameters").get("receptor_type", 0)
                try:
                    cache[name] = float(value)
                except (TypeError, ValueError):
                    raise SonataError(f"{where}: edge {rows[k]}: receptor_type {value!r} in "
                                      f"{name} is not a number") from None
            receptor[k] = cache[name]
        ports = np.array([self.network.artificial[int(t)][0].name == "glif_psc"
                          for t in targets], dtype=bool)
        other = np.flatnonzero(~ports & (receptor != 0))
        if len(other):
            k = int(other[0])
            model = self.network.artificial[int(targets[k])][0].name
            raise SonataError(f"{where}: edge {rows[k]}: receptor_type {receptor[k]:g} onto "
                              f"{model}, which has only receptor 0")
        if not ports.any():
            return weights
        bad = np.flatnonzero(ports & (receptor < 1))
        if len(bad):
            raise SonataError(f"{where}: edge {rows[bad[0]]} onto glif_psc (gid "
                              f"{targets[bad[0]]}) has receptor_type {receptor[bad[0]]:g}; "
                              "glif_psc's ports are 1, 2, ... (its synapse file's "
                              "receptor_type), as NEST requires")
        return np.column_stack([weights, np.where(ports, receptor, np.nan)])

    def _synapse_of_rows(self, pop, rows):
        """A code per row and the ``_synapses`` key (model template, dynamics file) of each
        code: the mechanism and parameters of the rows' synapses."""
        templates = pop.attribute("model_template", rows)
        dynamics = pop.attribute("dynamics_params", rows)
        codes, kinds = np.empty(len(rows), dtype=np.int64), {}
        for k, key in enumerate(zip(templates, dynamics)):
            if key not in kinds:
                self._synapse(pop, int(rows[k]), *key)
                kinds[key] = len(kinds)
            codes[k] = kinds[key]
        return codes, list(kinds)

    def _locations(self, pop, rows, targets, where):
        """(section, x) of the synapses of edge ``rows``: ``afferent_section_id/pos``, or
        drawn on the target (one uniform number per synapse, in edge order, from the
        target's stream)."""
        section = pop.attribute("afferent_section_id", rows)
        position = pop.attribute("afferent_section_pos", rows)
        sections = pop.attribute("target_sections", rows)
        ranges = pop.attribute("distance_range", rows)
        sec = np.zeros(len(rows), dtype=np.int64)
        x = np.zeros(len(rows))
        given = np.array([s is not None for s in section], dtype=bool)
        if given.any():
            sec[given] = [int(v) for v in section[given]]
            x[given] = [float(v) if v is not None else 0.5 for v in position[given]]
        drawn = np.flatnonzero(~given)
        normal = {}
        for t in np.unique(targets[drawn]):
            mine = drawn[targets[drawn] == t]
            u = rng(self.seed, int(t), STREAM_PLACEMENT).random(len(mine))
            cell = self.network.cells[int(t)]
            keys = []
            for k in mine:
                ident = (id(sections[k]), id(ranges[k]))
                if ident not in normal:
                    normal[ident] = self._eligible(cell, sections[k], ranges[k], where,
                                                   int(rows[k]))
                keys.append(normal[ident])
            for key in dict.fromkeys(keys):
                sel = np.array([kk == key for kk in keys], dtype=bool)
                segs, xs, cum = self._segment_table(cell, key)
                if len(segs) == 0:
                    raise SonataError(f"{where}: edge {rows[mine[sel][0]]}: no segment of "
                                      f"{list(key[0])} within {key[1]}-{key[2]} µm of the soma")
                j = np.minimum(np.searchsorted(cum, u[sel] * cum[-1], side="right"),
                               len(segs) - 1)
                sec[mine[sel]], x[mine[sel]] = segs[j], xs[j]
        return sec, x

    def _eligible(self, cell, sections, distance_range, where, row):
        """(section types, min, max) of a target_sections / distance_range pair."""
        names = sections if isinstance(sections, (list, tuple)) else \
            ["soma", "dend", "apic"] if sections is None else [sections]
        try:
            types = tuple(sorted({SECTION_NAMES[str(n)] for n in names}))
        except KeyError as e:
            raise SonataError(f"{where}: edge {row}: target section {e.args[0]!r} is not one "
                              f"of {sorted(SECTION_NAMES)}") from None
        lo, hi = (0.0, np.inf) if distance_range is None else map(float, distance_range)
        return types, lo, hi

    def _segment_table(self, cell, key):
        types, lo, hi = key
        full = (cell.geometry_key(), types, lo, hi)
        if full not in self._segments:
            self._segments[full] = _segments(cell, types, lo, hi)
        return self._segments[full]

    def _synapse(self, pop, row, template, dynamics):
        key = (template, dynamics)
        if key in self._synapses:
            return self._synapses[key]
        params = {}
        if dynamics is not None:
            path = self._component("synaptic_models_dir", str(dynamics), "dynamics_params",
                                   f"{pop.path}: {pop.group_name}: edge {row}")
            params = read_json(path, "synapse parameters")
        template = str(template or params.get("level_of_detail", "exp2syn"))
        where = f"{pop.path}: {pop.group_name}: edge {row}"
        if template.lower() in SYNAPSE_TEMPLATES:
            mech, names = SYNAPSE_TEMPLATES[template.lower()]
            out = (mech, {names[k]: float(v) for k, v in params.items() if k in names})
        elif template in BIONET_SYNAPSES:
            out = self._bionet_synapse(template, params, dynamics, where)
        else:
            try:
                mech = ns.mechanisms.resolver(self._mechanisms_dir()[0])(template)
            except NeurosimError:
                raise SonataError(f"{pop.path}: {pop.group_name}: edge {row}: synapse "
                                  f"model_template {template!r} is not known (exp2syn, "
                                  "expsyn, a point process of components.mechanisms_dir or "
                                  "a neurosim point mechanism)") from None
            out = (mech, {k: v for k, v in params.items() if k != "level_of_detail"})
        self._synapses[key] = out
        return out

    def _bionet_synapse(self, template, params, dynamics, where):
        """A synapse of bmtk's .mod files, its parameters set as BioNet's setter sets them."""
        try:
            mech = self._mechanism(template, where)
        except SonataError as e:
            raise SonataError(f"{e} (BioNet's {template} is the .mod file of that name bmtk "
                              "ships with its examples)") from None
        keys = BIONET_SYNAPSES[template]
        missing = [k for k in keys.values() if k not in params]
        if missing:
            raise SonataError(f"{where}: synapse parameters {dynamics!r} lack {missing} (BioNet's "
                              f"{template} sets {', '.join(keys)} from {list(keys.values())})")
        try:
            values = {name: float(params[k]) for name, k in keys.items()}
        except (TypeError, ValueError):
            raise SonataError(f"{where}: synapse parameters {dynamics!r}: {list(keys.values())} "
                              "must be numbers") from None
        return mech, values


def _segments(cell, types, lo, hi):
    """Segment centres (section, x) of the given section types within [lo, hi] µm of the
    soma, and the cumulative lengths to draw among them."""
    part = discretize(cell, point_processes=False)
    morph = cell.morphology
    centre = part.area > 0
    sec, x, dist = part.section[centre], part.x[centre], part.distance[centre]
    keep = np.array([morph[int(s)].type_name in types for s in sec], dtype=bool) & \
        (dist >= lo) & (dist <= hi)
    nseg = part.layout.nseg
    length = np.array([morph[int(s)].length / nseg[int(s)] for s in sec[keep]])
    return sec[keep], x[keep], np.cumsum(length)
