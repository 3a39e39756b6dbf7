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
from neurosim.errors import NeurosimError

from .allen import allactive_cell, allen_mechanism, perisomatic_cell
from .config import SonataError, circuit_of, read_json, resolve
from .edges import Edges
from .nml_template import build_cell
from .tables import edge_populations, node_populations

class Circuit(Edges):
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
