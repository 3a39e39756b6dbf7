"""Connection rules and random draws that do not depend on how a network is split.

Every random number comes from NumPy's counter-based Philox generator keyed on
(seed, target gid, stream): the incoming connections of a cell, their weights and delays are
the same whichever rank builds them, and in whatever order cells are built.  Sources are
always considered in the order given.
"""

from dataclasses import dataclass

import numpy as np

from neurosim.errors import ParameterError
from neurosim.validate import finite

STREAM_CONNECT, STREAM_WEIGHT, STREAM_DELAY, STREAM_SPIKES = 1, 2, 3, 4


def rng(seed, gid, stream):
    """The generator of (seed, gid, stream): a Philox counter stream, no shared state."""
    key = (int(seed) & 0xFFFFFFFF) << 64 | (int(gid) & 0xFFFFFFFFFFFF) << 16 | int(stream)
    return np.random.Generator(np.random.Philox(key=key))


# ---------------------------------------------------------------------- distributions
@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def draw(self, g, n):
        return g.uniform(self.low, self.high, n)


@dataclass(frozen=True)
class Normal:
    """Normal(mean, std), redrawn below ``low`` or above ``high`` (NEST's clipped normal)."""
    mean: float
    std: float
    low: float = -np.inf
    high: float = np.inf

    def draw(self, g, n):
        out = g.normal(self.mean, self.std, n)
        bad = (out < self.low) | (out > self.high)
        for _ in range(1000):
            if not bad.any():
                break
            out[bad] = g.normal(self.mean, self.std, int(bad.sum()))
            bad = (out < self.low) | (out > self.high)
        if bad.any():
            raise ParameterError(f"{self}: cannot draw values inside [{self.low}, {self.high}]")
        return out


@dataclass(frozen=True)
class LogNormal:
    mu: float
    sigma: float

    def draw(self, g, n):
        return g.lognormal(self.mu, self.sigma, n)


def values(spec, n, g, what):
    """``n`` values of a constant, an array of n, or a distribution drawn from ``g``."""
    if hasattr(spec, "draw"):
        out = np.asarray(spec.draw(g, n), dtype=float)
    elif np.ndim(spec) == 0:
        out = np.full(n, finite(what, spec))
    else:
        out = np.asarray(spec, dtype=float).ravel()
        if len(out) != n:
            raise ParameterError(f"{what}: {len(out)} values for {n} connections")
    if not np.all(np.isfinite(out)):
        raise ParameterError(f"{what}: non-finite values")
    return out


# ---------------------------------------------------------------------- rules
@dataclass(frozen=True)
class AllToAll:
    allow_autapses: bool = False

    def sources_for(self, target, sources, g, distance=None):
        return sources if self.allow_autapses else sources[sources != target]


@dataclass(frozen=True)
class FixedProbability:
    """Each source connects with probability ``p``."""
    p: float
    allow_autapses: bool = False

    def __post_init__(self):
        if not 0.0 <= finite("FixedProbability(p)", self.p) <= 1.0:
            raise ParameterError(f"FixedProbability(p) needs 0 <= p <= 1, got {self.p}")

    def sources_for(self, target, sources, g, distance=None):
        pick = g.random(len(sources)) < self.p
        if not self.allow_autapses:
            pick &= sources != target
        return sources[pick]


@dataclass(frozen=True)
class FixedInDegree:
    """Exactly ``k`` sources per target, drawn without replacement (with ``multapses``
    allowed, with replacement)."""
    k: int
    allow_autapses: bool = False
    multapses: bool = False

    def sources_for(self, target, sources, g, distance=None):
        pool = sources if self.allow_autapses else sources[sources != target]
        if not self.multapses and self.k > len(pool):
            raise ParameterError(f"FixedInDegree({self.k}): only {len(pool)} sources")
        if len(pool) == 0:
            return pool
        idx = g.choice(len(pool), size=int(self.k), replace=self.multapses)
        return pool[np.sort(idx)]


@dataclass(frozen=True)
class FixedTotalNumber:
    """``n`` connections from ``sources`` to ``targets``, each one a (source, target) pair
    drawn uniformly and independently: NEST's ``fixed_total_number`` (multapses always;
    autapses by default, as NEST).  The whole projection is one draw from a generator keyed
    on (seed, first source, first target), not target by target: a target's in-degree is
    a share of the total, so it cannot come from that target's own stream.  Every rank
    holds all of a projection's connections, so every rank makes the same draw; the
    weights and delays are drawn on from the same generator (``Network.connect_rule``),
    one vectorised draw instead of one generator per target."""
    n: int
    allow_autapses: bool = True

    def __post_init__(self):
        if int(self.n) != self.n or self.n < 0:
            raise ParameterError(f"FixedTotalNumber(n) needs a whole n >= 0, got {self.n}")

    def connections(self, seed, sources, targets):
        """(source gids, target gids) of the connections, by target then source, and the
        generator, for the connections' weights and delays."""
        targets = np.asarray(targets, dtype=np.int64)
        if self.n and (len(sources) == 0 or len(targets) == 0):
            raise ParameterError("FixedTotalNumber: no sources or no targets")
        key = ((int(seed) & 0xFFFFFFFF) << 96 | (int(sources[0]) & 0xFFFFFFFFFFFF) << 48
               | int(targets[0]) & 0xFFFFFFFFFFFF) if self.n else 0
        g = np.random.Generator(np.random.Philox(key=key))
        src = sources[g.integers(0, len(sources), self.n)]
        tgt = targets[g.integers(0, len(targets), self.n)]
        for _ in range(1000):                   # redraw autapses, as NEST does
            bad = np.flatnonzero(src == tgt) if not self.allow_autapses else ()
            if len(bad) == 0:
                break
            src[bad] = sources[g.integers(0, len(sources), len(bad))]
        else:
            raise ParameterError("FixedTotalNumber: no connection but autapses possible")
        # by target, then source: one sort of a packed key (gids are >= 0 and < 2**32;
        # equal keys are equal pairs, so the order among them does not matter)
        key = np.sort(tgt.astype(np.int64) << 32 | src)
        return key & 0xFFFFFFFF, key >> 32, g


@dataclass(frozen=True)
class DistanceDependent:
    """Connect with probability ``probability(d)`` of the distance d (µm) between the cells'
    positions (``Network.add_cells(..., positions=...)``)."""
    probability: object
    allow_autapses: bool = False

    def sources_for(self, target, sources, g, distance=None):
        if distance is None:
            raise ParameterError("DistanceDependent needs cell positions: "
                                 "net.add_cells(cell, n, positions=...)")
        p = np.clip(np.asarray(self.probability(distance), dtype=float), 0.0, 1.0)
        pick = g.random(len(sources)) < p
        if not self.allow_autapses:
            pick &= sources != target
        return sources[pick]


def poisson_times(rate_hz, start, stop, g):
    """Spike times (ms) of a homogeneous Poisson process on [start, stop)."""
    rate = finite("rate", rate_hz, nonnegative=True) / 1000.0      # per ms
    if stop <= start or rate == 0.0:
        return np.zeros(0)
    n = g.poisson(rate * (stop - start))
    return np.sort(g.uniform(start, stop, n))


def inhomogeneous_poisson_times(times, rates_hz, stop, g):
    """Poisson spikes with a piecewise-constant rate: ``rates_hz[i]`` from ``times[i]``
    (thinning of a process at the peak rate)."""
    times = np.asarray(times, dtype=float)
    rates = np.asarray(rates_hz, dtype=float)
    if times.shape != rates.shape or np.any(np.diff(times) <= 0) or np.any(rates < 0):
        raise ParameterError("inhomogeneous Poisson: times increasing, rates >= 0, same length")
    peak = rates.max() if len(rates) else 0.0
    candidates = poisson_times(peak, times[0] if len(times) else 0.0, stop, g)
    if len(candidates) == 0:
        return candidates
    rate_at = rates[np.searchsorted(times, candidates, side="right") - 1]
    return candidates[g.random(len(candidates)) * peak < rate_at]
