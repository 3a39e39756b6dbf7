"""The current and voltage clamps of a SONATA config's inputs, as bmtk 1.2 makes them.

- ``current_clamp``: IClamps of ``amp`` (nA; pA onto NEST neurons) from ``delay`` for
  ``duration``, numbers or lists (one IClamp each);
- ``csv`` / ``file``: amplitudes from a CSV's timestamps on (BioNet plays them into an
  IClamp at their one interval; PointNet makes a step_current_generator);
- ``nwb`` / ``allen``: a stimulus sweep of an Allen Cell Types NWB file (``sweep_id``,
  ``downsample``, ``sweep_window``, ``delay``), amperes read as nA;
- ``voltage_clamp`` / ``module: SEClamp``: BioNet's SEClamp input (``seclamp.py``).

At ``section_name`` / ``section_index`` / ``section_dist`` of each cell (the soma's centre
by default); onto NEST point neurons a current clamp is PointNet's step_current_generator.
"""

import warnings

import h5py
import numpy as np

import neurosim as ns

from .config import SonataError, SonataWarning, resolve
from .seclamp import bionet_seclamp

CLAMP_INPUTS = ("current_clamp", "csv", "file", "nwb", "allen")   # bmtk's IClamp types


def voltage_clamp(run, spec, where):
    """BioNet's SEClamp input (bmtk 1.2, ``io/sonata/seclamp.py``): ``amp`` (mV) from
    ``delay`` for ``duration`` ms through ``resistance``, at each cell of the node set
    (at ``section_name`` / ``section_index`` / ``section_dist``, the soma's centre by
    default)."""
    net = run.circuit.network
    for key in ("amp", "delay", "duration"):
        if key not in spec:
            raise SonataError(f"{where}: {key} is missing")
    try:
        params = {k: float(spec[k]) for k in ("amp", "delay", "duration")}
        params["resistance"] = float(spec.get("resistance", 1.0))
    except (TypeError, ValueError):
        raise SonataError(f"{where}: amp, delay, duration and resistance must be numbers "
                          "(one clamp per cell)") from None
    if not (np.all(np.isfinite(list(params.values()))) and params["delay"] >= 0
            and params["duration"] >= 0 and params["resistance"] > 0):
        raise SonataError(f"{where}: delay and duration must be >= 0, resistance > 0")
    gids = run.gids_of(spec.get("node_set", "All"))
    if len(gids) > 1:
        # bmtk 1.2 keeps only its last clamp and switches that one's resistance: the
        # others stay at NEURON's 1 MOhm throughout; neurosim switches each
        warnings.warn(f"{where}: {len(gids)} cells clamped: each clamp's resistance is "
                      "switched here (BioNet 1.2 switches only the last cell's)",
                      SonataWarning, stacklevel=2)
    label = f"SEClamp {where.rsplit('inputs.', 1)[-1]}"
    for gid in gids.tolist():
        cell = net.cells.get(int(gid))
        if cell is None:
            raise SonataError(f"{where}: gid {gid} is not a biophysical cell (an SEClamp "
                              "goes onto a cell's section)")
        cell.add_synapse(_clamp_location(cell, spec, where, int(gid)), bionet_seclamp(),
                         label=label, **params)


def current_clamp(run, spec, kind, where):
    """A current clamp onto a node set: given as amp/delay/duration (``current_clamp``),
    as a CSV of amplitudes from timestamps on (``csv``, ``file``) or as a sweep of an Allen
    Cell Types NWB file (``nwb``, ``allen``), made as BioNet (IClamps) or PointNet (a
    step_current_generator) makes it."""
    net = run.circuit.network
    if "node_set" not in spec:
        raise SonataError(f"{where}: node_set is missing")
    if kind == "current_clamp":
        for key in ("amp", "delay", "duration"):
            if key not in spec:
                raise SonataError(f"{where}: {key} is missing")
        amps, delays, durations = _clamp_lists(spec, where)
    elif kind in ("csv", "file"):
        amps, delays = _clamp_csv(run.config, spec, where)
        durations = None
    else:
        amps, delays, bionet_start = _clamp_nwb(run.config, spec, where)
        durations = None
    gids = run.gids_of(spec["node_set"])
    if len(gids) and all(int(g) in net.artificial and
                         "y0" in net.artificial[int(g)][0].states for g in gids):
        _point_current_clamp(net, gids, amps, delays, durations, run.dt, where)
        return
    if durations is not None:
        steps = list(zip(amps, delays, durations))
    elif kind in ("nwb", "allen"):
        steps = _nwb_steps(amps, bionet_start, float(spec.get("delay", 0.0)))
    else:
        steps = _played_steps(amps, delays, where)
    for gid in gids:
        cell = net.cells.get(int(gid))
        if cell is None:
            what = net.artificial[int(gid)][0].name if int(gid) in net.artificial \
                else "a virtual node"
            raise SonataError(f"{where}: node set {spec['node_set']!r} holds gid "
                              f"{gid} ({what}), which takes no current: a current clamp "
                              "goes onto biophysical cells or NEST point neurons (BioNet "
                              "clamps no artificial cell)")
        location = _clamp_location(cell, spec, where, int(gid))
        for amp, delay, duration in steps:
            cell.add_iclamp(location, delay, duration, amp)



def _clamp_lists(spec, where):
    """amp, delay and duration of a current_clamp: numbers, or lists as long as each other
    (BioNet makes an IClamp of each)."""
    try:
        amps, delays, durations = (np.atleast_1d(np.asarray(spec[k], dtype=float))
                                   for k in ("amp", "delay", "duration"))
    except (TypeError, ValueError):
        raise SonataError(f"{where}: amp, delay and duration must be numbers or lists of "
                          "numbers") from None
    if not len(amps) == len(delays) == len(durations) or amps.ndim != 1:
        raise SonataError(f"{where}: amp, delay and duration must be as many")
    if not (np.all(np.isfinite(amps)) and np.all(delays >= 0) and np.all(durations >= 0)
            and np.all(np.isfinite(delays + durations))):
        raise SonataError(f"{where}: amp must be finite, delay and duration finite and >= 0")
    return amps, delays, durations


def _clamp_csv(config, spec, where):
    """(amplitudes, timestamps) of a current clamp's CSV (bmtk's: ``file``, columns
    ``timestamps_column`` "timestamps" and ``amplitudes_column`` "amps", ``separator`` " ",
    a header line; at least two rows)."""
    if "file" not in spec:
        raise SonataError(f"{where}: file is missing (the CSV of timestamps and amplitudes)")
    path = resolve(config, spec["file"])
    sep = spec.get("separator", " ")
    columns = (spec.get("timestamps_column", "timestamps"),
               spec.get("amplitudes_column", "amps"))
    try:
        with open(path) as f:
            rows = [line.split(sep) if sep != " " else line.split()
                    for line in f.read().splitlines() if line.strip()]
    except OSError as e:
        raise SonataError(f"{where}: cannot read {path} ({e.strerror})") from None
    header = [c.strip() for c in rows[0]] if rows else []
    missing = [c for c in columns if c not in header]
    if missing:
        raise SonataError(f"{path}: no column {missing[0]!r} (has {header}; "
                          "timestamps_column / amplitudes_column name others)")
    at = [header.index(c) for c in columns]
    try:
        table = np.array([[float(r[k]) for k in at] for r in rows[1:]], dtype=float)
    except (ValueError, IndexError):
        raise SonataError(f"{path}: every row needs a number in {columns[0]!r} and "
                          f"{columns[1]!r}") from None
    if len(table) < 2:
        raise SonataError(f"{path}: a current clamp's CSV needs two or more rows")
    times, amps = table[:, 0], table[:, 1]
    if not (np.all(np.isfinite(table)) and times[0] >= 0 and np.all(np.diff(times) > 0)):
        raise SonataError(f"{path}: timestamps must be finite, >= 0 and increasing, "
                          "amplitudes finite")
    return amps, times


def _played_steps(amps, times, where):
    """BioNet's IClamp with the CSV's amplitudes played into it (``Vector.play`` at the
    timestamps' interval, which must be constant): amps[k] from times[k] to the next
    timestamp, nothing before the first; the last amplitude held one more interval unless
    it is 0 (then the clamp ends there).  As (amp, delay, duration) steps."""
    intervals = np.diff(times)
    if not np.allclose(intervals, intervals[0], rtol=0, atol=1e-9):
        raise SonataError(f"{where}: the CSV's timestamps must have one interval (BioNet "
                          "plays the amplitudes at a fixed interval), got "
                          f"{sorted(set(np.round(intervals, 9).tolist()))[:4]}")
    ends = np.append(times[1:], times[-1] + (intervals[0] if amps[-1] != 0 else 0.0))
    return [(a, t, e - t) for a, t, e in zip(amps, times, ends) if e > t and a != 0]


def _clamp_location(cell, spec, where, gid):
    """BioNet's place for a clamp: ``section_name`` (default soma), its ``section_index``
    among the cell's sections of that type (default 0; NEURON's ``soma[0]``, ``dend[3]``,
    in the order of the hoc ``all`` list, as ``afferent_section_id`` counts sections) and
    ``section_dist`` (default 0.5)."""
    name = spec.get("section_name", "soma")
    index = spec.get("section_index", 0)
    dist = spec.get("section_dist", 0.5)
    if isinstance(index, (list, tuple)):
        raise SonataError(f"{where}: section_index {index!r}: a range of distances (BioNet "
                          "draws a section in it) is not supported; give one index")
    if name not in ("soma", "dend", "apic", "axon"):
        raise SonataError(f"{where}: section_name {name!r} is not soma, dend, apic or axon")
    try:
        index, dist = int(index), float(dist)
    except (TypeError, ValueError):
        raise SonataError(f"{where}: section_index must be an integer and section_dist a "
                          "number") from None
    if not 0.0 <= dist <= 1.0:
        raise SonataError(f"{where}: section_dist {dist} is not within 0..1")
    of_type = [s.id for s in cell.morphology.sections if s.type_name == name]
    if not 0 <= index < len(of_type):
        raise SonataError(f"{where}: gid {gid} has {len(of_type)} {name} sections: no "
                          f"{name}[{index}]")
    return (of_type[index], dist)


def _point_current_clamp(net, gids, amps, delays, durations, dt, where):
    """A current clamp onto NEST point neurons as PointNet makes it: a step_current_generator
    (amplitudes in pA, as given), on at each delay and, with ``durations``, off after its
    duration unless the next step starts first (a CSV's last amplitude stays on); steps
    starting at or before dt skipped (PointNet's NEST limit)."""
    times, values = [], []
    for k in range(len(delays)):
        if delays[k] <= dt:
            continue
        times.append(delays[k])
        values.append(amps[k])
        if durations is not None and (k + 1 == len(delays) or
                                      delays[k] + durations[k] <= delays[k + 1]):
            times.append(delays[k] + durations[k])
            values.append(0.0)
    if times:
        try:
            net.add_step_current(np.asarray(gids, dtype=np.int64), times, values)
        except ns.NeurosimError as e:
            raise SonataError(f"{where}: {e}") from None


def _clamp_nwb(config, spec, where):
    """(amplitudes in nA, PointNet's times, BioNet's times) of a stimulus sweep of an
    Allen Cell Types NWB file, read as bmtk 1.2 reads it: ``epochs/Sweep_<sweep_id>/
    stimulus/timeseries`` (``data`` in A, ``starting_time`` carrying the ``rate``), every
    ``downsample``-th ms where that is above the file's interval, the samples within
    ``sweep_window`` [start, stop] ms; PointNet's times are the samples' own plus ``delay``,
    BioNet plays the kept samples from t = 0 (``Vector.play``) into an IClamp on from
    ``delay``."""
    for key in ("file", "sweep_id"):
        if key not in spec:
            raise SonataError(f"{where}: {key} is missing")
    path = resolve(config, spec["file"])
    sweep = spec["sweep_id"]
    try:
        sweep = f"Sweep_{int(sweep)}"
    except (TypeError, ValueError):
        sweep = str(sweep)
    try:
        with h5py.File(path, "r") as f:
            group = f.get(f"epochs/{sweep}/stimulus/timeseries")
            if group is None:
                raise SonataError(f"{where}: {path} has no epochs/{sweep}/stimulus/timeseries")
            interval = 1000.0 / float(group["starting_time"].attrs["rate"])
            amps = np.asarray(group["data"][()], dtype=float) * 1e9
    except (OSError, KeyError) as e:
        raise SonataError(f"{where}: {path}: not an Allen NWB stimulus sweep ({e})") from None
    times = np.arange(len(amps)) * interval
    downsample = spec.get("downsample")
    if downsample is not None and float(downsample) > interval:
        stride = int(np.round(float(downsample) / interval))
        amps, times, interval = amps[::stride], times[::stride], float(downsample)
    window = spec.get("sweep_window")
    if window is not None:
        if len(window) != 2 or not 0 <= window[0] < window[1]:
            raise SonataError(f"{where}: sweep_window must be [start, stop] with 0 <= start "
                              "< stop")
        keep = (times >= window[0]) & (times <= window[1])
        amps, times = amps[keep], times[keep]
    if len(amps) == 0 or not np.all(np.isfinite(amps)):
        raise SonataError(f"{where}: {path} {sweep}: no finite stimulus samples kept")
    return amps, times + float(spec.get("delay", 0.0)), np.arange(len(amps)) * interval


def _nwb_steps(amps, played, delay):
    """BioNet's IClamp of an NWB sweep as (amp, delay, duration) steps: the samples played
    from t = 0 (``played``, at their interval), the clamp on from ``delay`` for longer than
    any run (the last sample holds); consecutive equal samples make one step."""
    change = np.flatnonzero(np.diff(amps) != 0) + 1
    starts = np.append(played, np.inf)
    steps = []
    for a, b in zip(np.concatenate([[0], change]), np.append(change, len(amps))):
        t0 = max(float(starts[a]), delay)
        t1 = float(starts[b]) if b < len(amps) else t0 + 1e12
        if t1 > t0 and amps[a] != 0:
            steps.append((float(amps[a]), t0, t1 - t0))
    return steps
