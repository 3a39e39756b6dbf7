"""Lowering: cells become a LoweredModel of flat arrays, the only thing a backend sees.

Nodes follow NEURON: per cell, node 0 is the root section's 0-end; each section then adds its
nseg segment-centre nodes and a zero-area node at its 1-end, sections in parents-first order,
so ``parent[i] < i`` everywhere (the Hines ordering).  Units: area µm², cap nF, axial
conductance µS, voltage mV.
"""

import contextlib
from dataclasses import replace

import numpy as np

from neurosim.description.regions import Distance, section_mask
from neurosim.errors import MechanismError, ParameterError
from neurosim.lowering.geometry import segment_diameters, segment_geometry
from neurosim.lowering.model import (ION_DEFAULTS, OTHER_ION_DEFAULT, CellLayout, CellNodes,
                                     IonTable, LoweredModel, MechanismTable, PlacedMechanism)
from neurosim.lowering.trees import depths

_NF_PER_UF_UM2 = 1e-5    # cm [µF/cm²] * area [µm²] -> nF


# Nodes per cell group at most: a group's state (~60 bytes a node in the step's loops) stays
# in the core's L2 cache through an epoch.  Large groups make long SIMD runs of identical
# cells (``solver.block_solve_range``): the 128-cell ring's 200 ms took 0.26 s with groups
# of 512 nodes, 0.18 s with groups of 16384.
GROUP_NODES = 16384
# Groups at least, where there are cells enough: threads share them out.  Not the thread
# count itself: the node order must not depend on it (a checkpoint restores on any number
# of threads).  Four groups instead of one cost the 128-cell ring ~5 %.
MIN_GROUPS = 4


def lower(cells, coupled=(), group_nodes=GROUP_NODES, min_groups=MIN_GROUPS, streams=0,
          node_order=None):
    """Lower a list of Cells into one LoweredModel (node indices are global).  Cells that are
    the same Cell object (one template, many gids) are lowered once.

    Cells are packed into groups of at most about ``group_nodes`` nodes, at least
    ``min_groups`` of them where there are enough cells, each group's nodes contiguous: the
    kernel advances a group through a whole epoch while its state stays in cache, and groups
    can run on different threads.  Cells ``coupled`` (pairs of cell indices: gap junctions,
    POINTERs) read each other's voltage every step and share a group.

    ``node_order``: the node order a backend's kernels need (``backends.node_order(name)``),
    a policy ``node_order(model) -> order`` (new -> old; ``parent[i] < i`` kept, each group's
    nodes kept within the group) applied after the cell-group order; the model keeps it as
    ``model.node_order``.  Everything located later (probes, synapses, junctions) is in this
    final numbering: no backend renumbers the model.
    """
    with discretized_once():            # copies of one template share their nodes
        parts, shape, streams = _placed_cells(cells, streams)

    def cat(key, dtype=float):
        return np.concatenate([getattr(p, key) for p in parts] + [np.zeros(0)]).astype(dtype)

    mech_tables = _merge_mechanisms(parts)
    ions = _ion_tables(cells, parts, mech_tables)
    stims = [s for p in parts for s in p.stims]
    model = LoweredModel(
        v=cat("v"), area=cat("area"), cap=cat("cap"), g_axial=cat("g_axial"),
        parent=cat("parent", np.int64), node_cell=cat("node_cell", np.int64),
        node_section=cat("section", np.int64), node_x=cat("x"),
        node_distance=cat("distance"), layouts=[p.layout for p in parts],
        mechanisms=mech_tables,
        stim_node=np.array([s[0] for s in stims], dtype=np.int64),
        stim_delay=np.array([s[1] for s in stims], dtype=float),
        stim_dur=np.array([s[2] for s in stims], dtype=float),
        stim_amp=np.array([s[3] for s in stims], dtype=float),
        cells=list(cells), ions=ions)
    model.streams = streams
    _group_order(model, cell_groups(model, coupled, group_nodes, min_groups, shape), shape)
    if node_order is not None:
        renumber(model, node_order(model))
        model.node_order = node_order
    return model


def _placed_cells(cells, streams):
    """Each cell's nodes placed after the previous cell's; the ``shape`` (tree topology)
    number of each cell; the RANDOM streams numbered so far."""
    parts, offset, done = [], 0, {}
    shape = np.zeros(len(cells), dtype=np.int64)     # cells of one tree share a number
    shapes = {}
    for ci, cell in enumerate(cells):
        if id(cell) not in done:
            done[id(cell)] = _with_point_processes(cell, _body(cell))
            tree = done[id(cell)].parent.tobytes()    # the topology, whatever the sizes
            done[id(cell)].shape = shapes.setdefault(tree, len(shapes))
        shape[ci] = done[id(cell)].shape
        part = _placed(done[id(cell)], offset)
        part.node_cell = np.full(part.n, ci, dtype=np.int64)
        streams = _number_streams(part, offset, streams)
        parts.append(part)
        offset += part.n
    return parts, shape, streams


def cell_groups(model, coupled, group_nodes, min_groups=1, shape=None):
    """Cell indices of each group: coupled cells together (union-find), units packed in
    order of the ``shape`` of their first cell (cells of one tree together: long SIMD
    runs), then of their first cell, into groups of about equal size: as few as keep them
    within ``group_nodes`` nodes, but at least ``min_groups``."""
    n_cells = len(model.cells)
    root = list(range(n_cells))

    def find(i):
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for a, b in coupled:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            root[max(ra, rb)] = min(ra, rb)
    units = {}
    for ci in range(n_cells):
        units.setdefault(find(ci), []).append(ci)
    sizes = np.bincount(model.node_cell, minlength=n_cells)
    total = int(sizes.sum())
    wanted = max(min_groups, -(-total // group_nodes))
    shape = np.zeros(n_cells, dtype=np.int64) if shape is None else shape
    groups, current, count = [], [], 0
    for unit in sorted(units.values(), key=lambda u: (shape[u[0]], u[0])):
        current += unit
        count += int(sizes[unit].sum())
        if len(groups) < wanted - 1 and count * wanted >= total * (len(groups) + 1):
            groups.append(current)                # the k-th group ends past k/wanted
            current = []
    if current or not groups:
        groups.append(current)
    return groups


def split_static(model):
    """(kernel tables, d_static, rhs_static): constant ohmic leaks (``static_conductance``,
    e.g. pas) fold into the matrix once, g on the diagonal and g e on the right-hand side,
    beside the axial conductances; the other tables keep their per-step loops."""
    d = model.d_axial.copy()
    rhs = np.zeros(model.n_nodes)
    for t in model.mechanisms:
        if not t.mechanism.static_conductance:
            continue
        names = list(t.mechanism.parameters)
        g_name, e_name = t.mechanism.static_conductance
        g = t.params[names.index(g_name)] * model.area[t.nodes] * 0.01          # µS
        np.add.at(d, t.nodes, g)
        np.add.at(rhs, t.nodes, g * t.params[names.index(e_name)])
    return model.kernel_tables, d, rhs


def streams_at_load(mechanisms):
    """The RANDOM streams NEURON makes when it loads the mechanisms (before any instance):
    hoc_register_tolerance allocates a dummy instance of each mechanism with STATEs
    (init.cpp), whose RANDOMs take the first ids, in nrnivmodl's order of registration (the
    files' sorted names: here the mechanisms')."""
    return sum(len(m.randoms) for m in sorted(mechanisms, key=lambda m: m.name) if m.states)


def _number_streams(part, offset, made):
    """NEURON's default ids of RANDOM streams, (1, 0, k) for the k-th stream it creates
    (nrnran123_newstream(): ++id3), given to the instances of a cell's mechanisms that kept
    id3 -1 (not set by the user): ``made`` streams were created before.  The order is
    NEURON's for a script that inserts the mechanisms in the order of the cell's first
    inserts, section by section, then creates its point processes in the order added:
    NEURON's insert allocates a section's segments last to first (mech_insert1), and an
    instance its RANDOMs in declaration order.  The number of streams made after."""
    for name, mt in part.mechanisms.items():
        mech = mt.mechanism
        if not mech.randoms:
            continue
        n, nv = len(mt.nodes), len(mech.randoms)
        order = np.arange(n)
        if mech.kind == "density":
            local = mt.nodes - offset
            order = np.lexsort((-part.x[local], part.section[local]))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        params = mt.params.copy()          # (a cell's copies share their template's)
        names = list(mech.parameters)
        for j, r in enumerate(mech.randoms):
            ids = made + rank * nv + j + 1.0
            for f in ("id3", "block_id3"):
                row = params[names.index(f"{r}_{f}")]
                row[row == -1.0] = ids[row == -1.0]
        part.mechanisms[name] = replace(mt, params=params)
        made += n * nv
    return made


def artificial_tables(artificial, streams=0):
    """Mechanism tables for artificial cells {gid: (mechanism, params)}: no nodes (-1); the
    RANDOM streams of those ids left to NEURON's default numbered, in gid order, after the
    ``streams`` made before."""
    groups = {}
    for gid, (mech, params) in sorted(artificial.items()):
        params = dict(params)
        for j, r in enumerate(mech.randoms):
            for f in ("id3", "block_id3"):
                if params.get(f"{r}_{f}", -1.0) == -1.0:
                    params[f"{r}_{f}"] = streams + j + 1.0
        streams += len(mech.randoms)
        groups.setdefault(mech.name, (mech, []))[1].append((gid, params))
    tables = []
    for mech, members in groups.values():
        n = len(members)
        values = np.array([[{**mech.parameters, **p}[name] for name in mech.parameters]
                           for _, p in members], dtype=float).T.reshape(len(mech.parameters), n)
        tables.append(MechanismTable(mech, np.full(n, -1, dtype=np.int64),
                                     np.ascontiguousarray(values),
                                     np.zeros((len(mech.states), n)),
                                     gids=np.array([g for g, _ in members], dtype=np.int64)))
    return tables


def _group_order(model, groups, shape):
    """Renumber nodes group by group and, within a group, by depth (stable): consecutive
    nodes are then independent, so the elimination's division chains overlap in the CPU
    instead of running one after another.  Within a depth, cells of one ``shape`` (tree)
    come together, interleaved node by node: runs the solve eliminates with SIMD
    instructions.  ``parent[i] < i`` still holds, and every group's nodes are contiguous."""
    group_of_cell = np.empty(len(model.cells), dtype=np.int64)
    for g, members in enumerate(groups):
        group_of_cell[members] = g
    node_group = group_of_cell[model.node_cell]
    level = depths(model.parent)
    first = np.searchsorted(model.node_cell, np.arange(len(model.cells)))
    local = np.arange(model.n_nodes) - first[model.node_cell]          # index in its cell
    order = np.lexsort((model.node_cell, local, shape[model.node_cell], level,
                        node_group))                                      # new -> old
    model.group_node = np.searchsorted(node_group[order], np.arange(len(groups) + 1))
    renumber(model, order)
    return model


def renumber(model, order):
    """Renumber the model's nodes in place: new node j is old node ``order[j]`` (a
    permutation that keeps ``parent[i] < i``).  The node arrays, parents, clamps, ions,
    mechanism instances (sorted by their new node; artificial cells have none) and the
    cells' layouts (``locate``) follow; returns the old -> new map."""
    new_of = np.empty_like(order)
    new_of[order] = np.arange(len(order))                    # old -> new
    for name in ("v", "area", "cap", "g_axial", "node_cell", "node_section", "node_x",
                 "node_distance"):
        setattr(model, name, getattr(model, name)[order])
    parent = model.parent[order]
    model.parent = np.where(parent >= 0, new_of[np.maximum(parent, 0)], -1)
    model.stim_node = new_of[model.stim_node]
    for table in model.ions.values():
        table.e, table.ci, table.co = table.e[order], table.ci[order], table.co[order]
        table.nernst = np.sort(new_of[table.nernst])
    composed = {}                # layouts share one map: compose it once, not per cell
    for layout in model.layouts:
        old = layout.new_of
        if id(old) not in composed:
            composed[id(old)] = new_of if old is None else new_of[old]
        layout.new_of = composed[id(old)]
    for t in model.mechanisms:
        if len(t.nodes) == 0 or t.nodes[0] < 0:
            continue
        nodes = new_of[t.nodes]
        by_node = np.argsort(nodes, kind="stable")
        t.nodes = nodes[by_node]
        t.params = np.ascontiguousarray(t.params[:, by_node])
        t.states = np.ascontiguousarray(t.states[:, by_node])
        t.assigned = np.ascontiguousarray(t.assigned[:, by_node])
        if t.labels is not None:
            t.labels = t.labels[by_node]
    return new_of


def _section_values(cell):
    m = cell.morphology
    vals = {"cm": np.empty(len(m)), "ra": np.empty(len(m))}
    for paint in cell.paints:
        if isinstance(paint.region, Distance):
            continue
        mask = section_mask(m, paint.region)
        for key in ("cm", "ra"):
            if key in paint.values:
                vals[key][mask] = paint.values[key]
    return vals


def _placed(template, offset):
    """A discretised cell moved to start at node ``offset``."""
    lay = template.layout
    return replace(
        template, parent=np.where(template.parent >= 0, template.parent + offset, -1),
        mechanisms={name: replace(mt, nodes=mt.nodes + offset)
                    for name, mt in template.mechanisms.items()},
        stims=[(node + offset, *rest) for node, *rest in template.stims],
        layout=CellLayout(offset, lay.n_nodes, lay.nseg, lay.seg0, lay.conn))


def discretize(cell, point_processes=True):
    """``cell`` discretised as NEURON does: its nodes (each section's nseg centres and its
    1-end, sections parents first), their geometry and initial voltage, the mechanisms
    painted on them and — with ``point_processes`` — its point processes and clamps; a
    :class:`CellNodes`, cell-local.  Inside ``discretized_once()`` each geometry is
    discretised once."""
    body = _body(cell)
    return _with_point_processes(cell, body) if point_processes else body


_BODIES = None      # geometry key -> (cell, its version, its nodes), in discretized_once()


@contextlib.contextmanager
def discretized_once():
    """Within the block each distinct cell geometry (``Cell.geometry_key``: a template and
    its unchanged copies share one) is discretised once, however many steps ask — the
    partition's costs, the memory estimate and lowering of one Simulation.  A cell changed
    inside the block is discretised again."""
    global _BODIES
    outer = _BODIES is not None
    if not outer:
        _BODIES = {}
    try:
        yield
    finally:
        if not outer:
            _BODIES = None


def _body(cell):
    if _BODIES is None:
        return _lower_body(cell)
    key = cell.geometry_key()
    held = _BODIES.get(key)
    if held is None or held[0].geometry_key() != key or held[0]._version != held[1]:
        # the cell is held until the block ends: the id in its key is not reused (a
        # recipe's survey builds cells and drops them before the local build)
        held = _BODIES[key] = (cell, cell._version, _lower_body(cell))
    return held[2]


def _with_point_processes(cell, body):
    """``body`` (nodes and density mechanisms) with the cell's point processes and clamps."""
    mechs = dict(body.mechanisms)
    for name, placed in _place_point_processes(cell, body.layout, body.diam).items():
        if name in mechs:
            raise MechanismError(f"{name!r} is used both as a density mechanism and a point "
                                 "process")
        mechs[name] = placed
    stims = [(body.layout.node(*st.location), st.delay, st.dur, st.amp)
             for st in cell.iclamps]
    return replace(body, mechanisms=mechs, stims=stims)


def _lower_body(cell):
    """A cell's nodes and density mechanisms, cell-local."""
    m = cell.morphology
    sv = _section_values(cell)
    nseg = np.ones(len(m), dtype=np.int64)
    for region, policy in cell.discretization:
        for s in np.flatnonzero(section_mask(m, region)):
            n = policy.nseg(m[s], sv["ra"][s], sv["cm"][s])
            if int(n) != n or n < 1:
                raise ParameterError(f"discretization {policy!r} gave nseg={n} for section {s}")
            nseg[s] = int(n)
    total = 1 + int(np.sum(nseg + 1))
    area = np.zeros(total)
    diam = np.zeros(total)
    g = np.zeros(total)
    parent = np.full(total, -1, dtype=np.int64)
    section = np.zeros(total, dtype=np.int64)
    x = np.zeros(total)
    seg0 = np.zeros(len(m), dtype=np.int64)
    conn = np.zeros(len(m), dtype=np.int64)
    layout = CellLayout(0, total, nseg, seg0, conn)
    start = m.section_start_distances()
    dist = np.zeros(total)
    order = m.preorder()
    root = order[0]
    section[0] = root
    dist[0] = m.distance(root, 0.0, _start=start)
    k = 1
    for s in order:
        sec = m[s]
        n = int(nseg[s])
        conn[s] = 0 if sec.parent < 0 else layout.node(sec.parent, sec.parent_x)
        seg0[s] = k
        a, ri = segment_geometry(sec, n, sv["ra"][s])
        idx = np.arange(k, k + n + 1)
        area[k:k + n] = a
        diam[k:k + n] = segment_diameters(sec, n)
        g[idx] = 1.0 / ri
        parent[k] = conn[s]
        parent[k + 1:k + n + 1] = idx[:-1]
        section[idx] = s
        x[k:k + n] = (np.arange(n) + 0.5) / n
        x[k + n] = 1.0
        dist[idx] = [m.distance(s, xx, _start=start) for xx in x[idx]]
        k += n + 1
    cap = sv["cm"][section] * area * _NF_PER_UF_UM2
    v = _node_v_init(cell, section, dist, area)
    mechs = _paint_mechanisms(cell, section, dist, area > 0, diam)
    return CellNodes(n=total, v=v, area=area, cap=cap, g_axial=g, parent=parent,
                     section=section, x=x, distance=dist, diam=diam, layout=layout,
                     mechanisms=mechs)


def _node_mask(cell, region, section, dist, membrane):
    if isinstance(region, Distance):
        inside = section_mask(cell.morphology, region.region)[section]
        return membrane & inside & (dist >= region.min) & (dist < region.max)
    return membrane & section_mask(cell.morphology, region)[section]


def _node_v_init(cell, section, dist, area):
    v = np.empty(len(section))
    everywhere = np.ones(len(section), dtype=bool)
    for paint in cell.paints:
        if "v_init" in paint.values:
            v[_node_mask(cell, paint.region, section, dist, everywhere)] = paint.values["v_init"]
    return v


def _paint_mechanisms(cell, section, dist, membrane, diam):
    out = {}
    for ins in cell.inserts:
        mech = ins.mechanism
        if mech.name not in out:
            defaults = np.array(list(mech.parameters.values()), dtype=float)
            out[mech.name] = {"mech": mech, "mask": np.zeros(len(section), dtype=bool),
                              "params": np.repeat(defaults[:, None], len(section), axis=1)}
        entry = out[mech.name]
        if entry["mech"] is not mech:
            raise MechanismError(f"two different mechanisms are named {mech.name!r}")
        sel = _node_mask(cell, ins.region, section, dist, membrane)
        entry["mask"] |= sel
        names = list(mech.parameters)
        for pname, value in ins.params.items():
            row = names.index(pname)
            if callable(value):
                got = np.broadcast_to(np.asarray(value(dist[sel]), dtype=float), (sel.sum(),))
                if not np.all(np.isfinite(got)):
                    raise ParameterError(f"{mech.name}.{pname} on region {ins.region!r}: the "
                                         "function of distance gave a non-finite value")
                if pname in mech.nonnegative and np.any(got < 0):
                    raise ParameterError(f"{mech.name}.{pname} on region {ins.region!r}: the "
                                         "function of distance gave a negative value")
                entry["params"][row, sel] = got
            else:
                entry["params"][row, sel] = value
    result = {}
    for name, entry in out.items():
        nodes = np.flatnonzero(entry["mask"]).astype(np.int64)
        _fill_geometric(entry["mech"], entry["params"], diam)
        result[name] = PlacedMechanism(entry["mech"], nodes,
                                       np.ascontiguousarray(entry["params"][:, nodes]))
    return result


def _ion_tables(cells, parts, mech_tables):
    """Ion arrays for every ion a mechanism uses: NEURON's defaults, then the cells'
    ``set_ion`` values, Nernst where a mechanism writes a concentration."""
    valence = {}
    for t in mech_tables:
        for use in t.mechanism.ions:
            z = use.valence if use.valence is not None else \
                ION_DEFAULTS.get(use.ion, OTHER_ION_DEFAULT)[3]
            if valence.setdefault(use.ion, z) != z:
                raise MechanismError(f"ion {use.ion!r} has valence {valence[use.ion]} in one "
                                     f"mechanism and {z} in {t.name!r}")
    n = sum(p.n for p in parts)
    tables = {}
    for ion, z in sorted(valence.items()):
        e0, ci0, co0, _ = ION_DEFAULTS.get(ion, OTHER_ION_DEFAULT)
        table = IonTable(np.full(n, e0), np.full(n, ci0), np.full(n, co0), float(z),
                         np.zeros(0, dtype=np.int64))
        offset = 0
        for cell, part in zip(cells, parts):
            for region, name, values in getattr(cell, "ion_settings", []):
                if name != ion:
                    continue
                everywhere = np.ones(part.n, dtype=bool)
                sel = _node_mask(cell, region, part.section, part.distance, everywhere)
                for key, value in values.items():
                    getattr(table, key)[offset:offset + part.n][sel] = value
            offset += part.n
        writes = [t.nodes for t in mech_tables for use in t.mechanism.ions
                  if use.ion == ion and any(use.field(w) in ("ci", "co") for w in use.writes)]
        table.nernst = np.unique(np.concatenate(writes)).astype(np.int64) if writes else \
            table.nernst
        tables[ion] = table
    return tables


def _fill_geometric(mech, params, diam, nodes=slice(None)):
    """The rows of ``params`` that the segment gives (``mech.geometric``: diam)."""
    names = list(mech.parameters)
    for pname in mech.geometric:
        params[names.index(pname)] = diam[nodes]


def _place_point_processes(cell, layout, diam):
    """Point processes (synapses) of ``cell``: one instance each, several may share a node.
    Node indices are cell-local, like the painted mechanisms'."""
    out = {}
    for syn in cell.synapses:
        mech = syn.mechanism
        entry = out.setdefault(mech.name, {"mech": mech, "nodes": [], "params": [],
                                           "labels": []})
        if entry["mech"] is not mech:
            raise MechanismError(f"two different mechanisms are named {mech.name!r}")
        values = dict(mech.parameters)
        values.update(syn.params)
        entry["nodes"].append(layout.node(*syn.location))
        entry["params"].append([values[n] for n in mech.parameters])
        entry["labels"].append(syn.label)
    placed = {}
    for name, entry in out.items():
        nodes = np.array(entry["nodes"], dtype=np.int64)
        params = np.array(entry["params"], dtype=float).T.reshape(
            len(entry["mech"].parameters), len(nodes))
        _fill_geometric(entry["mech"], params, diam, nodes)
        placed[name] = PlacedMechanism(entry["mech"], nodes, params, entry["labels"])
    return placed


def _merge_mechanisms(parts):
    merged = {}
    for ci, p in enumerate(parts):
        for name, mt in p.mechanisms.items():
            if name in merged and merged[name]["mech"] is not mt.mechanism:
                raise MechanismError(f"two different mechanisms are named {name!r}")
            merged.setdefault(name, {"mech": mt.mechanism, "nodes": [], "params": [],
                                     "labels": []})
            merged[name]["nodes"].append(mt.nodes)
            merged[name]["params"].append(mt.params)
            merged[name]["labels"] += [(ci, lab) for lab in mt.labels]
    tables = []
    for name, e in merged.items():
        nodes = np.concatenate(e["nodes"])
        params = np.concatenate(e["params"], axis=1)
        mech = e["mech"]
        states = np.zeros((len(mech.states), len(nodes)))
        labels = np.empty(len(e["labels"]), dtype=object)
        labels[:] = e["labels"]
        tables.append(MechanismTable(mech, nodes, np.ascontiguousarray(params), states,
                                     labels=labels if len(labels) else None))
    # Mechanisms that write ion concentrations go first, so that mechanisms reading a
    # concentration see it initialised and advanced within the same step.
    def writes_concentration(t):
        return any(u.field(w) in ("ci", "co") for u in t.mechanism.ions for w in u.writes)
    return sorted(tables, key=lambda t: not writes_concentration(t))
