"""A SONATA edge population onto the circuit's Network: PointNet's connections onto NEST
neurons, BioNet's onto NEURON's artificial cells, and synapses placed on biophysical cells
(``Circuit``'s part that reads edges; the rules are in ``circuit``'s docstring)."""

from dataclasses import dataclass

import numpy as np

import neurosim as ns
from neurosim.description.connectivity import rng
from neurosim.errors import NeurosimError
from neurosim.lowering.cells import discretize

from .config import SonataError, read_json
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


@dataclass(frozen=True)
class EdgeColumns:
    """An edge population's columns, one entry an edge."""
    src: np.ndarray             # source gids
    tgt: np.ndarray             # target gids
    weight: np.ndarray          # bmtk's weight (weight function applied)
    delay: np.ndarray           # ms
    nsyns: np.ndarray           # synapses an edge (1 where not given)
    given_nsyns: np.ndarray     # the nsyns attribute as stored (None where not given)
    functions: np.ndarray       # weight_function names (None where none)


class Edges:
    """Circuit's edges (a part of Circuit: it uses the circuit's network, gids, components
    and caches ``_segments``/``_synapses``)."""

    def _add_edges(self, pop):
        """Weights as bmtk applies them (``weights.edge_weights``): onto a biophysical
        cell each of ``nsyns`` synapses takes the weight; onto a NEURON artificial cell
        (BioNet) the weight times the synapse file's ``sign`` times ``nsyns`` where the
        edges give ``nsyns`` (not preselected targets), else the weight alone; onto a NEST
        point neuron (PointNet) the weight function's value, or ``syn_weight * nsyns``
        without one."""
        net = self.network
        where = f"{pop.path}: {pop.group_name}"
        edges = self._edge_columns(pop, where)
        tgt = edges.tgt
        virtual = np.isin(tgt, np.fromiter(net.spike_sources, dtype=np.int64))
        if virtual.any():
            row = int(np.flatnonzero(virtual)[0])
            raise SonataError(f"{where}: edge {row} targets a virtual node (gid {tgt[row]})")
        point = np.isin(tgt, np.fromiter(net.artificial, dtype=np.int64))
        nest = np.isin(tgt, np.fromiter(self.nest_gids, dtype=np.int64))
        self._connect_nest(pop, edges, np.flatnonzero(nest), where)
        self._connect_bionet_points(pop, edges, np.flatnonzero(point & ~nest), where)
        self._connect_cells(pop, edges, np.flatnonzero(~point), where)

    def _edge_columns(self, pop, where):
        """The population's gids, weights, delays, ``nsyns`` (given or not) and weight
        functions, checked."""
        per_edge = pop.dynamics_names()
        if per_edge:        # bmtk's Edge.dynamics_params raises NotImplementedError on them
            raise SonataError(f"{where}: per-edge dynamics_params/{per_edge[0]} (an edge "
                              "group's dynamics_params): not supported (neither by bmtk); "
                              "give synapse parameters by edge type (dynamics_params files)")
        src = self.gids(pop.source_population, pop.source)
        tgt = self.gids(pop.target_population, pop.target)
        weight = edge_weights(pop, np.arange(pop.size),
                              self._node_props(pop.source_population, pop.source),
                              self._node_props(pop.target_population, pop.target), where)
        delay = pop.numbers("delay", default=1.0)
        nsyns = pop.numbers("nsyns", default=1.0).astype(np.int64)
        if (nsyns < 0).any():
            row = int(np.flatnonzero(nsyns < 0)[0])
            raise SonataError(f"{where}: edge {row} has nsyns {nsyns[row]} < 0")
        bad = np.flatnonzero(delay < 0)
        if len(bad):
            raise SonataError(f"{where}: edge {bad[0]} has delay {delay[bad[0]]} ms < 0")
        # the shortest delay of an edge from a cell (not a virtual node): a spike made
        # during the run cannot reach its target within the step it was made in
        made = ~np.isin(src, np.fromiter(self.network.spike_sources, dtype=np.int64))
        if made.any():
            row = int(np.flatnonzero(made)[np.argmin(delay[made])])
            self.shortest_delays.append((float(delay[row]), where, row))
        return EdgeColumns(src, tgt, weight, delay, nsyns, pop.attribute("nsyns"),
                           pop.attribute("weight_function"))

    def _connect_nest(self, pop, e, rows, where):
        """PointNet: one connection an edge onto a NEST neuron."""
        self._check_nest_synapses(pop, rows, where)
        with_function = np.array([f is not None for f in e.functions[rows]], dtype=bool)
        scale = np.where(with_function, 1.0, e.nsyns[rows])
        self.network.connect_many(
            e.src[rows], e.tgt[rows], [None] * len(rows),
            self._nest_weights(pop, rows, e.tgt[rows], e.weight[rows] * scale, where),
            e.delay[rows])

    def _connect_bionet_points(self, pop, e, rows, where):
        """BioNet's point processes (NEURON's artificial cells): one connection an edge."""
        preselected = np.array([g is None for g in e.given_nsyns[rows]], dtype=bool) | \
            np.array([s is not None for s in pop.attribute("afferent_section_id", rows)],
                     dtype=bool)
        sign = self._signs(pop, rows[~preselected], where)
        scale = np.ones(len(rows))
        scale[~preselected] = sign * e.nsyns[rows[~preselected]]
        self.network.connect_many(e.src[rows], e.tgt[rows], [None] * len(rows),
                                  e.weight[rows] * scale, e.delay[rows])

    def _connect_cells(self, pop, e, rows, where):
        """Onto biophysical cells: ``nsyns`` synapses an edge (one where the edge gives
        its afferent section, as BioNet), each its own connection."""
        net, tgt, nsyns = self.network, e.tgt, e.nsyns.copy()
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
                except NeurosimError as err:
                    raise SonataError(f"{where}: edges onto gid {tgt[syn_row[lo]]}: {err}") \
                        from None
        net.connect_many(e.src[syn_row], tgt[syn_row], labels, e.weight[syn_row],
                         e.delay[syn_row])

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
