"""The typed data lowering hands on: a cell's nodes (:class:`CellNodes`, from
``discretize``), a whole model's arrays (:class:`LoweredModel`, from ``lower``) and their tables
of mechanism instances and ions.  Units: area µm², cap nF, axial conductance µS, voltage mV."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MechanismTable:
    """All instances of one mechanism: node index, parameters (nparam, n), states (nstate, n)
    and the assigned variables it keeps between phases (nassigned, n)."""
    mechanism: object
    nodes: np.ndarray
    params: np.ndarray
    states: np.ndarray
    assigned: np.ndarray = None
    labels: np.ndarray = None      # point processes: (cell, label) of each instance
    gids: np.ndarray = None        # artificial cells: the gid of each instance
    event_gids: np.ndarray = None  # point processes calling net_event: their cells' gids


    def __post_init__(self):
        if self.assigned is None:
            self.assigned = np.zeros((len(self.mechanism.assigned), len(self.nodes)))
        n = len(self.nodes)
        # the node each POINTER of each instance reads (-1: not set), set with the network
        self.pointer_nodes = np.full((len(self.mechanism.pointers), n), -1, dtype=np.int64)
        # incoming connections of each instance, CSR (FOR_NETCONS): set with the network
        self.incoming = (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))
        # pending self-event of each instance (net_send): time (inf: none), flag, and the
        # connection whose event scheduled it (-1: INITIAL did)
        self.self_event = (np.full(n, np.inf), np.zeros(n), np.full(n, -1, dtype=np.int64))

    @property
    def name(self):
        return self.mechanism.name


# NEURON's defaults: reversal potential (mV), inside and outside concentration (mM), valence
ION_DEFAULTS = {"na": (50.0, 10.0, 140.0, 1.0), "k": (-77.0, 54.4, 2.5, 1.0),
                "ca": (132.4579341637009, 5e-5, 2.0, 2.0)}
OTHER_ION_DEFAULT = (0.0, 1.0, 1.0, 1.0)


@dataclass
class IonTable:
    """Per-node reversal potential and concentrations of one ion; ``nernst`` lists the nodes
    whose concentrations a mechanism writes, where the reversal potential follows Nernst."""
    e: np.ndarray
    ci: np.ndarray
    co: np.ndarray
    valence: float
    nernst: np.ndarray


@dataclass
class CellLayout:
    """Where a cell's sections landed among the nodes (the arrays are cell-local and shared
    by every cell of one template; ``first_node`` places this cell)."""
    first_node: int          # the cell's node 0 (root 0-end)
    n_nodes: int
    nseg: np.ndarray         # per section
    seg0: np.ndarray         # cell-local index of each section's first centre node
    conn: np.ndarray         # cell-local node each section's 0-end is (its attachment point)
    new_of: np.ndarray = None  # the model's final node numbering, once nodes are reordered

    def node(self, sec, x):
        """NEURON's node for location (sec, x): the 0-end and 1-end nodes for x = 0 and 1,
        otherwise the centre node of the segment containing x."""
        n = int(self.nseg[sec])
        if x <= 0.0:
            k = int(self.conn[sec])
        elif x >= 1.0:
            k = int(self.seg0[sec] + n)
        else:
            k = int(self.seg0[sec] + min(int(x * n), n - 1))
        k += self.first_node
        return k if self.new_of is None else int(self.new_of[k])


@dataclass
class PlacedMechanism:
    """One mechanism's instances on one cell: their nodes, parameters (nparam, n) and, for a
    point process, each instance's label."""
    mechanism: object
    nodes: np.ndarray
    params: np.ndarray
    labels: list = field(default_factory=list)


@dataclass
class CellNodes:
    """One cell discretised (:func:`discretize`): NEURON's nodes with their geometry, initial
    voltage and painted mechanisms, cell-local (node 0 is index 0) until placed in a model.
    Units as the LoweredModel's."""
    n: int                   # nodes
    v: np.ndarray
    area: np.ndarray         # µm² (0: a section's 1-end node, or the root's 0-end)
    cap: np.ndarray
    g_axial: np.ndarray
    parent: np.ndarray
    section: np.ndarray      # each node's section
    x: np.ndarray            # and position along it
    distance: np.ndarray     # path distance from the root's 0-end, µm
    diam: np.ndarray
    layout: CellLayout
    mechanisms: dict         # name -> PlacedMechanism
    stims: list = field(default_factory=list)     # (node, delay, dur, amp) of each IClamp
    node_cell: np.ndarray = None                   # once placed in a model
    shape: int = 0           # cells of one tree (whatever the sizes) share a number


@dataclass
class LoweredModel:
    v: np.ndarray
    area: np.ndarray
    cap: np.ndarray
    g_axial: np.ndarray      # conductance (µS) between node i and parent[i]
    parent: np.ndarray
    node_cell: np.ndarray
    node_section: np.ndarray
    node_x: np.ndarray
    node_distance: np.ndarray
    layouts: list
    mechanisms: list
    stim_node: np.ndarray
    stim_delay: np.ndarray
    stim_dur: np.ndarray
    stim_amp: np.ndarray
    cells: list = field(default_factory=list)
    ions: dict = field(default_factory=dict)     # ion name -> IonTable
    streams: int = 0                             # RANDOM streams numbered (_number_streams)
    group_node: np.ndarray = None  # cell groups: group g owns nodes [group_node[g], [g+1])
    node_order: object = None      # the backend's node-order policy lowering applied, if any

    @property
    def n_nodes(self):
        return len(self.v)

    @property
    def kernel_tables(self):
        """The tables the step kernel loops over, in the numbering events, POINTERs and
        probes are addressed in: every table but the constant ohmic leaks, which fold into
        the matrix (``cells.split_static``)."""
        return [t for t in self.mechanisms if not t.mechanism.static_conductance]

    @property
    def n_compartments(self):
        """Nodes with membrane (NEURON's segments); zero-area section ends excluded."""
        return int(np.count_nonzero(self.area > 0))

    @property
    def d_axial(self):
        d = np.zeros(self.n_nodes)
        has = self.parent >= 0
        d[has] += self.g_axial[has]
        np.add.at(d, self.parent[has], self.g_axial[has])
        return d

    def locate(self, location, cell=0):
        c = self.cells[cell]
        sec, x = c.check_location(location)
        return self.layouts[cell].node(sec, x)

    def describe_node(self, node):
        cell = int(self.node_cell[node])
        return (f"cell {cell}, section {int(self.node_section[node])}, "
                f"x={float(self.node_x[node]):.4g}")
