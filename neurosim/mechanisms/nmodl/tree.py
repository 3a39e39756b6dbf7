"""The NMODL syntax tree's node types: plain dataclasses, expressions frozen, each statement
and block carrying its ``pos`` (line, column[, included file]) for messages; ``ModFile`` holds
a whole file's declarations and blocks.  :mod:`.syntax` builds them from the source."""

from dataclasses import dataclass, field


# ------------------------------------------------------------------ expressions
@dataclass(frozen=True)
class Num:
    value: float
    pos: tuple = None


@dataclass(frozen=True)
class Name:
    id: str
    pos: tuple = None


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    pos: tuple = None


@dataclass(frozen=True)
class BinOp:
    op: str          # + - * / ^ < <= > >= == != && ||
    left: object
    right: object
    pos: tuple = None


@dataclass(eq=False)
class Element:
    """x[index] with an index that is not a constant: ``size`` (x's declared size) is filled
    in once the whole file is read (see :func:`fill_element_sizes`)."""
    base: str
    index: object
    pos: tuple = None
    size: int = None


@dataclass(frozen=True)
class Unary:
    op: str          # - !
    operand: object
    pos: tuple = None


# ------------------------------------------------------------------ statements
@dataclass
class Assign:
    name: str
    expr: object
    pos: tuple = None
    index: object = None     # x[index] = expr with an index that is not a constant: name is x


@dataclass
class Deriv:
    name: str
    expr: object
    pos: tuple = None


@dataclass
class Local:
    names: list
    pos: tuple = None


@dataclass
class CallStmt:
    call: Call
    pos: tuple = None


@dataclass
class If:
    cond: object
    body: list
    orelse: list
    pos: tuple = None


@dataclass
class While:
    cond: object
    body: list
    pos: tuple = None


@dataclass
class From:
    var: str
    start: object
    stop: object
    step: object
    body: list
    pos: tuple = None


@dataclass
class Solve:
    block: str
    method: str
    steadystate: str
    pos: tuple = None


@dataclass
class Reaction:
    lhs: list          # [(stoichiometry, state)]
    rhs: list
    kf: object
    kb: object
    pos: tuple = None


@dataclass
class FluxIn:
    states: list
    expr: object
    pos: tuple = None


@dataclass
class Conserve:
    lhs: object
    rhs: object
    pos: tuple = None


@dataclass
class Compartment:
    volume: object
    states: list
    pos: tuple = None
    index: str = None        # COMPARTMENT i, vol[i] {X}: X[k]'s volume is vol[i] at i = k


@dataclass
class LongDiffusion:
    """LONGITUDINAL_DIFFUSION [i,] rate {X}: X diffuses between neighbouring segments with
    ``rate`` (NEURON: the diffusion constant times the cross-section area)."""
    rate: object
    states: list
    pos: tuple = None
    index: str = None        # LONGITUDINAL_DIFFUSION i, mu[i] {X}: X[k]'s rate is mu[k]


@dataclass
class LinearEq:
    lhs: object
    rhs: object
    pos: tuple = None


@dataclass
class NetInitial:
    """INITIAL inside NET_RECEIVE: run once per connection when the simulation starts."""
    body: list
    pos: tuple = None


@dataclass
class ForNetcons:
    """FOR_NETCONS(args) { body }: the body for each connection into this instance."""
    args: list
    body: list
    pos: tuple = None


@dataclass
class Unsupported:
    what: str
    pos: tuple = None


# ------------------------------------------------------------------ the file
@dataclass
class Block:
    kind: str
    name: str
    args: list
    body: list
    pos: tuple = None


@dataclass
class ModFile:
    filename: str
    title: str = ""
    kind: str = ""            # SUFFIX | POINT_PROCESS | ARTIFICIAL_CELL
    name: str = ""
    ions: list = field(default_factory=list)          # (ion, reads, writes, valence, pos)
    nonspecific: list = field(default_factory=list)
    electrode_current: list = field(default_factory=list)
    range: list = field(default_factory=list)
    globals: list = field(default_factory=list)
    unit_constants: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)    # name -> (default or None, pos)
    parameter_units: dict = field(default_factory=dict)  # name -> unit text, e.g. "S/cm2"
    constants: dict = field(default_factory=dict)
    assigned: dict = field(default_factory=dict)      # name -> pos
    states: dict = field(default_factory=dict)        # name -> pos
    top_locals: dict = field(default_factory=dict)
    blocks: list = field(default_factory=list)        # Block
    pointers: list = field(default_factory=list)      # POINTER names
    arrays: dict = field(default_factory=dict)        # array variable -> its size
    function_tables: dict = field(default_factory=dict)   # FUNCTION_TABLE name -> (nargs, pos)
    externals: list = field(default_factory=list)     # EXTERNAL names
    randoms: list = field(default_factory=list)       # RANDOM names (Random123 streams)
    unsupported: list = field(default_factory=list)   # Unsupported
    pos: dict = field(default_factory=dict)           # what -> pos, for messages

    def block(self, kind, name=None):
        for b in self.blocks:
            if b.kind == kind and (name is None or b.name == name):
                return b
        return None
