"""The items a network is described with, besides cells (:mod:`.cell`: their synapses,
clamps and detectors) and connection rules (:mod:`.connectivity`).

A Recipe describes a gid's items relative to it (:class:`Connection`, :class:`GapJunction`,
:class:`PoissonDrive`, :class:`SpikeSource`, as Arbor's recipe does); ``build_network``
adds them to a Network, which keeps its connections as columns of arrays (:mod:`.edges`) and
the others as records (:class:`GapJunctionRecord`, :class:`PointerBinding`,
:class:`DriveRecord`: named tuples, read by field in lowering)."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Connection:
    """An incoming connection: a spike of gid ``source`` reaches the synapse ``label`` of the
    gid being described (None for a point neuron) after ``delay`` ms with ``weight``."""
    source: int
    label: object
    weight: object
    delay: float


@dataclass(frozen=True)
class GapJunction:
    """An ohmic gap junction of ``g`` µS from ``location`` on the gid being described to
    ``peer_location`` on gid ``peer``; describe it on one of the two gids only."""
    location: tuple
    peer: int
    peer_location: tuple
    g: float


@dataclass(frozen=True)
class PoissonDrive:
    """A Poisson input of ``rate`` Hz on [start, stop) ms onto the synapse ``label`` of the
    gid being described (None for a point neuron), each input spike an event of ``weight``:
    ``Network.add_poisson_drive`` for one gid (drawn in the kernel, no memory)."""
    label: object
    rate: float
    weight: object
    start: float = 0.0
    stop: float = float("inf")


@dataclass(frozen=True)
class SpikeSource:
    """A gid that emits spikes at ``times`` (ms)."""
    times: tuple


class GapJunctionRecord(NamedTuple):
    """An ohmic junction of ``g`` µS between two locations (section, x) of two gids."""
    gid_a: int
    location_a: tuple
    gid_b: int
    location_b: tuple
    g: float


class PointerBinding(NamedTuple):
    """POINTER ``pointer`` of the mechanism ``target`` on ``gid`` (a point process's label,
    or ((section, x), mechanism name)) points at ``source`` on ``source_gid`` (a location:
    its voltage; or (where, variable))."""
    gid: int
    target: object
    pointer: str
    source_gid: int
    source: object


class DriveRecord(NamedTuple):
    """A Poisson input onto ``gid``'s synapse ``label`` (None: a point neuron): ``rate`` Hz
    on [start, stop) ms, each input spike an event of ``weight``; ``index`` numbers the
    drives of one gid (its key, with the network's seed and the gid, draws its spikes)."""
    gid: int
    label: object
    rate: float
    weight: np.ndarray
    start: float
    stop: float
    index: int
