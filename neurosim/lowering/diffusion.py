"""LONGITUDINAL_DIFFUSION: a KINETIC state diffusing between neighbouring segments, as
NEURON's ``ldifus.cpp`` (``stagger``) does at fixed step.

After every state is solved, each diffusing state takes one backward Euler step of
``vol_i dX_i/dt = sum over neighbours j of f_ij * (rate_i + rate_j) / 2 * (X_j - X_i)`` on the
tree of the mechanism's instances, the rate (NEURON: the diffusion constant times the
cross-section area) and volume read per instance from the file's expressions at that moment.
A segment's neighbour towards the root is the nearest instance up the tree as NEURON finds it
(the parent node; past a zero-area section end, its parent; else the parent section's first
segment), with NEURON's flux factors ``af = 2 / dxp / (dxc + dxp)`` (into the parent) and
``bf = 2 / dxc / (dxc + dxp)`` (into the child), ``dx`` a section's L / nseg.
"""

import textwrap

import numpy as np

from neurosim.errors import MechanismError


def tree(model, table):
    """(parent instance per instance (-1: none), flux factors (2, n): af, bf) of a density
    mechanism's instances; instances are sorted by node, so a parent comes first."""
    n = len(table.nodes)
    inst = np.full(model.n_nodes, -1, dtype=np.int64)
    inst[table.nodes] = np.arange(n)
    parent = np.full(n, -1, dtype=np.int64)
    factors = np.zeros((2, n))

    def first_of_parent_section(node):
        ci, sec = int(model.node_cell[node]), int(model.node_section[node])
        psec = model.cells[ci].morphology[sec].parent
        if psec < 0:
            return -1
        nseg = int(model.layouts[ci].nseg[psec])
        return inst[model.layouts[ci].node(psec, 0.5 / nseg)]

    for k, node in enumerate(table.nodes):
        p = model.parent[node]
        pin = inst[p] if p >= 0 else -1
        if pin < 0 and p >= 0:                   # a zero-area node between them
            pp = model.parent[p]
            pin = inst[pp] if pp >= 0 else -1
            if pin < 0:
                pin = first_of_parent_section(node)
        elif pin < 0:
            pin = first_of_parent_section(node)
        if pin < 0:
            continue
        if pin >= k:
            raise MechanismError(f"{table.name}: LONGITUDINAL_DIFFUSION needs its instances "
                                 "in tree order")
        parent[k] = pin
        dxc, dxp = _dx(model, node), _dx(model, table.nodes[pin])
        factors[0, k] = 2.0 / dxp / (dxc + dxp)
        factors[1, k] = 2.0 / dxc / (dxc + dxp)
    return parent, factors


def _dx(model, node):
    ci, sec = int(model.node_cell[node]), int(model.node_section[node])
    return model.cells[ci].morphology[sec].length / int(model.layouts[ci].nseg[sec])


def arrays(model, table):
    parent, factors = tree(model, table)
    work = np.zeros((4 + 2 * len(table.mechanism.diffusion), len(table.nodes)))
    return [parent, factors, work]


def kernel_code(j, mech, load):
    """The diffusion of mechanism j's states over the instances of cell group ``_g`` (after
    its states are advanced); ``load``: the lines loading an instance's variables."""
    p, span = f"_m{j}", f"_m{j}_grp[_g], _m{j}_grp[_g + 1]"
    w = f"{p}_ldw"
    coef = [f"{w}[{4 + 2 * e}, _k] = {rate}\n{w}[{5 + 2 * e}, _k] = {vol}"
            for e, (_, rate, vol) in enumerate(mech.diffusion)]
    out = [f"for _k in range({span}):\n" + textwrap.indent("\n".join(load + coef), "    ")]
    for e, (row, _, _) in enumerate(mech.diffusion):
        dc, vol = f"{w}[{4 + 2 * e}", f"{w}[{5 + 2 * e}"
        out.append(f"""\
for _k in range({span}):
    _pin = {p}_ldp[_k]
    {w}[2, _k] = 0.0
    if _pin >= 0:
        _dcm = ({dc}, _k] + {dc}, _pin]) / 2.0
        {w}[0, _k] = -{p}_ldf[0, _k] * _dcm / {vol}, _pin]
        {w}[1, _k] = -{p}_ldf[1, _k] * _dcm / {vol}, _k]
for _k in range({span}):
    _pin = {p}_ldp[_k]
    {w}[2, _k] += 1.0 / dt
    {w}[3, _k] = {p}_s[{row}, _k] / dt
    if _pin >= 0:
        {w}[2, _k] -= {w}[1, _k]
        {w}[2, _pin] -= {w}[0, _k]
for _k in range({p}_grp[_g + 1] - 1, {p}_grp[_g], -1):
    _pin = {p}_ldp[_k]
    if _pin >= 0:
        _q = {w}[0, _k] / {w}[2, _k]
        {w}[2, _pin] -= _q * {w}[1, _k]
        {w}[3, _pin] -= _q * {w}[3, _k]
for _k in range({span}):
    _pin = {p}_ldp[_k]
    if _pin >= 0:
        {w}[3, _k] -= {w}[1, _k] * {w}[3, _pin]
    {w}[3, _k] /= {w}[2, _k]
    {p}_s[{row}, _k] = {w}[3, _k]""")
    return "\n".join(out)
