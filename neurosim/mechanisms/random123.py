"""NMODL's RANDOM streams: NEURON's nrnran123 (Random123's Philox4x32-10), draw for draw.

A stream is NEURON's ``nrnran123_State``: a 128-bit counter (seq, id3, id1, id2), the key
(NEURON's global index, 0, and 0) and the block of four 32-bit words that Philox made of the
counter, used one word per draw (``which``, 0..3); after the fourth the counter's seq steps
on and the next block is made.  In a kernel a stream is seven per-instance numbers (exact
as doubles): its ids, ``seq * 4 + which`` (NEURON's ``get_seq()``) and the ids the current
block was made with, which differ from the ids only after a ``set_ids`` (NEURON's
``nrnran123_setids`` does not remake the block: the draws up to the next block come from the
old ids, until ``set_seq``).  Philox4x32-10 is Salmon et al., SC'11 ("Parallel random
numbers: as easy as 1, 2, 3"), written here from its definition; 32-bit arithmetic in
int64, masked (a product of two words wraps in int64, its low 64 bits stay exact).
"""

import math

from numba import njit

_MASK = 0xFFFFFFFF
_M0, _M1 = 0xD2511F53, 0xCD9E8D57      # Philox4x32 multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85      # Weyl key increments
_SHIFT32 = 1.0 / 4294967297.0          # NEURON's 1/(2^32 + 1): u = (word + 1) * _SHIFT32
_SEQ4_MAX = float(0xFFFFFFFFFF)        # a set_seq beyond is 0, as in NEURON
N_VARS = 7                             # per stream: id1, id2, id3, seq4, block id1..id3
FIELDS = ("id1", "id2", "id3", "seq", "block_id1", "block_id2", "block_id3")

# fastmath=False said, not left out: Numba lets a callee without the option inherit its
# caller's, and the kernels' "contract" would fuse u1*u1 + u2*u2 into an FMA, a draw an ulp
# or more away from NEURON's (and which one a process got would depend on who compiled first)
jit = njit(cache=True, nogil=True, error_model="numpy", fastmath=False)


@jit
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1): four words."""
    for r in range(10):
        if r > 0:
            k0 = (k0 + _W0) & _MASK
            k1 = (k1 + _W1) & _MASK
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = (p0 >> 32) & _MASK, p0 & _MASK
        hi1, lo1 = (p1 >> 32) & _MASK, p1 & _MASK
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


@jit
def ipick(id1, id2, id3, seq4, b1, b2, b3, gix):
    """NEURON's nrnran123_ipick: (word, id1, id2, id3, seq4, b1, b2, b3) after it, all as
    doubles; the word of the current block (made with ids b1, b2, b3) at ``which``."""
    s = int(seq4)
    seq, which = s >> 2, s & 3
    words = philox(seq, int(b3), int(b1), int(b2), int(gix) & _MASK, 0)
    word = words[which]
    if which < 3:
        return float(word), id1, id2, id3, seq4 + 1.0, b1, b2, b3
    # the counter steps on (a carry runs into id3, id1, id2) and the block is remade
    c = [(seq + 1) & _MASK, int(id3), int(id1), int(id2)]
    for k in range(1, 4):
        if c[k - 1] != 0:
            break
        c[k] = (c[k] + 1) & _MASK
    return (float(word), float(c[2]), float(c[3]), float(c[1]), float(c[0]) * 4.0,
            float(c[2]), float(c[3]), float(c[1]))


@jit
def dblpick(id1, id2, id3, seq4, b1, b2, b3, gix):
    """nrnran123_dblpick: a double in (0, 1), then the stream."""
    w, id1, id2, id3, seq4, b1, b2, b3 = ipick(id1, id2, id3, seq4, b1, b2, b3, gix)
    return (w + 1.0) * _SHIFT32, id1, id2, id3, seq4, b1, b2, b3


@jit
def uniform(low, high, id1, id2, id3, seq4, b1, b2, b3, gix):
    u, id1, id2, id3, seq4, b1, b2, b3 = dblpick(id1, id2, id3, seq4, b1, b2, b3, gix)
    return low + u * (high - low), id1, id2, id3, seq4, b1, b2, b3


@jit
def negexp(mean, id1, id2, id3, seq4, b1, b2, b3, gix):
    u, id1, id2, id3, seq4, b1, b2, b3 = dblpick(id1, id2, id3, seq4, b1, b2, b3, gix)
    return -math.log(u) * mean, id1, id2, id3, seq4, b1, b2, b3


@jit
def normal(mean, std, id1, id2, id3, seq4, b1, b2, b3, gix):
    """nrnran123_normal: Marsaglia's polar method, one of the pair kept."""
    w = 2.0
    u1 = 0.0
    while w > 1.0:
        u1, id1, id2, id3, seq4, b1, b2, b3 = dblpick(id1, id2, id3, seq4, b1, b2, b3, gix)
        u2, id1, id2, id3, seq4, b1, b2, b3 = dblpick(id1, id2, id3, seq4, b1, b2, b3, gix)
        u1 = 2.0 * u1 - 1.0
        u2 = 2.0 * u2 - 1.0
        w = u1 * u1 + u2 * u2
    y = math.sqrt((-2.0 * math.log(w)) / w)
    return mean + u1 * y * std, id1, id2, id3, seq4, b1, b2, b3


@jit
def setseq(x, id1, id2, id3):
    """nrnran123_setseq(seq4which): the new seq4; the block is remade from the ids."""
    if not x >= 0.0 or x > _SEQ4_MAX:
        x = 0.0
    return float(int(x) & 0x3FFFFFFFF), id1, id2, id3


@jit
def setids(a, b, c):
    """nrnran123_setids's uint32 ids (the block is not remade)."""
    return float(int(a) & _MASK), float(int(b) & _MASK), float(int(c) & _MASK)


class Random123:
    """A RANDOM stream outside a simulation, as NEURON's ``NMODLRandom`` (``seg.mech.rng``)
    is one: give it to a FUNCTION that draws from it, ``mech.function("f")(rng=stream)``;
    each call goes on along the stream.  ``Random123(id1, id2, id3)`` is NEURON's
    ``nrnran123_newstream(id1, id2, id3)``; the stream NEURON gives the k-th RANDOM it
    creates is ``Random123(1, 0, k)`` (see docs/nmodl.md for which k an instance gets)."""

    def __init__(self, id1=1, id2=0, id3=0, state=None):
        # the seven numbers (FIELDS); ``state``: an array they live in (a simulation's)
        self.state = [float(id1), float(id2), float(id3), 0.0, float(id1), float(id2),
                      float(id3)] if state is None else state

    def set_ids(self, id1, id2, id3):
        """NEURON's ``set_ids``: the next draws up to a multiple of four still come from the
        block of the old ids unless ``set_seq`` follows, as in NEURON."""
        self.state[:3] = setids(id1, id2, id3)
        return self

    def get_ids(self):
        return tuple(int(x) for x in self.state[:3])

    def set_seq(self, seq4which):
        """NEURON's ``set_seq``: sequence * 4 + which of the block's four words."""
        self.state[3:] = setseq(float(seq4which), *self.state[:3])
        return self

    def get_seq(self):
        return self.state[3]

    def uniform(self):
        """A draw in (0, 1), NEURON's ``NMODLRandom.uniform()``."""
        u, *self.state[:] = dblpick(*self.state, 0.0)
        return u

    def __repr__(self):
        return f"Random123(ids={self.get_ids()}, seq={self.get_seq():.0f})"
