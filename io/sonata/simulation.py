"""Run a SONATA simulation config: the circuit, its inputs, reports and outputs.

    run = SonataRun("simulation_config.json", threads=2)
    run.run(progress=True)          # to run.tstop, in blocks, reports written as it goes
    run.write()                     # spikes file (reports are complete already)

``run``: tstop, dt (default 0.025), dL (20 µm), spike_threshold (-15 mV); ``conditions``:
celsius (34 °C), v_init (-80 mV); ``inputs``: ``spikes`` (a SONATA spikes file onto
virtual nodes) and current clamps (``current_clamp``: IClamp amp/delay/duration, or
``csv``/``file``: amplitudes played from a CSV; at the soma or a section of a node set);
``reports``: ``membrane_report`` of a variable at the soma or at every segment
(``sections``: soma | all) of a node set, every ``dt`` ms; ``output``: output_dir,
spikes_file, spikes_file_csv (bmtk's CSV), spikes_sort_order.  Node sets from
``node_sets_file`` (or ``node_sets``); a node set may list gids, as bmtk numbers them.
"""

import os
import signal
import sys
import warnings

import numpy as np

import neurosim as ns
from neurosim.kernels.compilation import Stopwatch
from neurosim.lowering.cells import discretized_once
from neurosim.run.checkpoint import load_state

from .circuit import Circuit
from .clamps import CLAMP_INPUTS, current_clamp, voltage_clamp
from .config import SonataError, SonataWarning, circuit_of, load_simulation, read_json, resolve
from .manifest import Manifest
from .output import read_spikes, write_spikes, write_spikes_csv
from .reports import ALL_NODES, open_report


def _populations(query):
    """The populations a node-set query names (``population`` or ``populations``, one name
    or a list, as bmtk reads them), or None for every population."""
    for key in ("population", "populations"):
        if key in query:
            value = query[key]
            return list(value) if isinstance(value, (list, tuple)) else [value]
    return None


def _enabled(section):
    """The inputs or reports of a config that are on: bmtk leaves out those with
    ``"enabled": false`` (not the spec's, but the peers' and their users')."""
    return {name: spec for name, spec in section.items()
            if not (isinstance(spec, dict) and spec.get("enabled", True) is False)}


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)




class SonataRun:
    """``restore``: a checkpoint written by ``checkpoint`` (or ``neurosim run
    --checkpoint``) of the same config: the run goes on from there, its spikes and
    reports continuing those of the run that wrote it.  ``spike_times``: "step" (NEURON's
    fixed-step stamps, the default) or "interpolated" (``Simulation``'s option)."""

    def __init__(self, path, threads=1, backend="cpu", comm=None, restore=None,
                 output_dir=None, tstop=None, force=False, spike_times="step"):
        # the reader (synapse placement), the Simulation and the reports discretise each
        # cell geometry once between them
        with discretized_once():
            self._build(path, threads, backend, comm, restore, output_dir, tstop, force,
                        spike_times)

    def _build(self, path, threads, backend, comm, restore, output_dir, tstop, force,
               spike_times):
        self.config = cfg = load_simulation(path)
        self.path = cfg["_path"]
        run = cfg.get("run", {})
        if "tstop" not in run:
            raise SonataError(f"{self.path}: run.tstop is missing")
        self.tstop = self._number(run, "tstop", "run") if tstop is None else float(tstop)
        self.tstart = self._number(run, "tstart", "run", 0.0)
        self.dt = self._number(run, "dt", "run", 0.025)
        if self.tstop <= self.tstart:
            raise SonataError(f"{self.path}: run.tstop = {self.tstop:g} ms must be after "
                              f"run.tstart = {self.tstart:g} ms")
        if not 0 < self.dt <= self.tstop - self.tstart:
            raise SonataError(f"{self.path}: run.dt = {self.dt:g} ms must be > 0 and no "
                              f"longer than the run ({self.tstop - self.tstart:g} ms)")
        conditions = cfg.get("conditions", {})
        self.celsius = self._number(conditions, "celsius", "conditions", 34.0)
        self.v_init = self._number(conditions, "v_init", "conditions", -80.0)
        self.circuit = Circuit(cfg, dl=self._number(run, "dL", "run", 20.0),
                               spike_threshold=self._number(run, "spike_threshold", "run",
                                                            -15.0),
                               seed=int(self._number(run, "seed", "run", 0.0)),
                               v_init=self.v_init)      # as bmtk applies conditions.v_init
        self.node_sets = self._node_sets()
        net = self.circuit.network
        for name, spec in _enabled(cfg.get("inputs", {})).items():
            self._input(name, spec)
        # PointNet's run keys for its spike generators (NEST point neurons): precise_times
        # (bmtk's default, true) or times on the grid (allow_offgrid_spikes: the end of the
        # step; NEST's SonataNetwork)
        if "precise_times" in run or "allow_offgrid_spikes" in run:
            net.spike_timing = "nest" if run.get("precise_times", True) else "nest_grid"
        for delay, where, row in self.circuit.shortest_delays:
            if delay < self.dt * (1 - 1e-9):
                raise SonataError(
                    f"{where}: edge {row} has delay {delay:g} ms, shorter than dt = "
                    f"{self.dt:g} ms, from a cell: neurosim delivers a cell's spike in a "
                    "later step than the one that made it (BioNet across ranks refuses such "
                    "delays too); delays shorter than dt are honoured from virtual nodes, "
                    "whose spikes are known in advance")
        self.sim = ns.Simulation(net, dt=self.dt, celsius=self.celsius, threads=threads,
                                 backend=backend, comm=comm, force=force,
                                 spike_times=spike_times)
        output = cfg.get("output", {})
        self.output_dir = resolve(cfg, output.get("output_dir", "output")) \
            if output_dir is None else os.path.abspath(output_dir)
        spikes_file = os.path.basename(output.get("spikes_file", "spikes.h5")) \
            if output_dir is not None else output.get("spikes_file", "spikes.h5")
        self.spikes_file = spikes_file if os.path.isabs(spikes_file) else \
            os.path.join(self.output_dir, spikes_file)
        self.sort = output.get("spikes_sort_order", "time")
        csv = output.get("spikes_file_csv")
        self.spikes_csv = None if csv is None else csv if os.path.isabs(csv) else \
            os.path.join(self.output_dir, os.path.basename(csv) if output_dir is not None
                         else csv)
        if output.get("spikes_file_nwb") is not None:
            warnings.warn(f"{self.path}: output.spikes_file_nwb: neurosim writes no NWB "
                          "spikes file (spikes_file and spikes_file_csv are written)",
                          SonataWarning, stacklevel=2)
        files = [self.path, circuit_of(cfg)["_path"]] + [cfg[k] for k in ("_entry",)
                                                         if k in cfg]
        self.manifest = Manifest(self.output_dir, self.path, files, self.tstop)
        self.spikes = self.sim.record_spikes(list(net.cells) + list(net.artificial))
        if restore is not None:
            extra = load_state(self.sim, restore)
            if "spike_gids" in extra:
                self.spikes._store(extra["spike_gids"], extra["spike_times"])
        self._outputs = {}                  # real path -> the output writing it
        self.reports = [open_report(self, name, spec, resume=restore is not None)
                        for name, spec in _enabled(cfg.get("reports", {})).items()]
        self.reports = [r for r in self.reports if r is not None]

    def _number(self, section, key, where, default=None):
        value = section.get(key, default)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SonataError(f"{self.path}: {where}.{key} = {value!r} is not a number") \
                from None
        if not np.isfinite(value):
            raise SonataError(f"{self.path}: {where}.{key} must be finite")
        return value

    # ------------------------------------------------------------------ node sets
    def _node_sets(self):
        """Node sets of ``node_sets_file`` (circuit's, then the simulation's) and inline
        ``node_sets``.  A missing node sets file is a warning, as bmtk tolerates it: names
        that are population names still resolve, others are errors where used."""
        cfg = self.config
        sets = {}
        self.missing_node_sets = None
        for source in (circuit_of(cfg), cfg):
            if "node_sets_file" in source:
                path = resolve(source, source["node_sets_file"])
                if not os.path.exists(path):
                    warnings.warn(f"{source['_path']}: node_sets_file {path} does not exist; "
                                  "node sets that name a population still resolve",
                                  SonataWarning, stacklevel=2)
                    self.missing_node_sets = path
                    continue
                data = read_json(path, "node sets file")
                if not isinstance(data, dict):
                    raise SonataError(f"{path}: node sets are a JSON object")
                sets.update(data)
            sets.update(source.get("node_sets", {}) if isinstance(source.get("node_sets"),
                                                                 dict) else {})
        return sets

    def population_of(self, node_set):
        """The one population a node set (by name) is restricted to, or None."""
        if isinstance(node_set, str):
            spec = self.node_sets.get(node_set)
            if spec is None and node_set in self.circuit.nodes:
                return node_set
            node_set = spec
        pops = _populations(node_set) if isinstance(node_set, dict) else None
        return pops[0] if pops is not None and len(pops) == 1 else None

    def _gid_of(self, gid):
        """A number in a node-set list: a gid as bmtk numbers them (the populations one
        after another, in the circuit's order: the first population's node ids)."""
        c = self.circuit
        try:
            name, node_id = c.node(int(gid))
            if node_id not in c.nodes[name].ids:
                raise SonataError("no such node")
        except SonataError:
            raise SonataError(f"{self.path}: node-set list entry {gid!r} is no node's gid "
                              f"(the populations, numbered one after another: "
                              f"{self.circuit.offset})") from None
        return np.array([int(gid)], dtype=np.int64)

    def gids_of(self, node_set, seen=()):
        """Sorted gids of a node set: a name, a list of names (union) or a query object
        (population, node_id, attribute values).  A name that no node set has but a node
        population does stands for that population (bmtk resolves it so)."""
        c = self.circuit
        if isinstance(node_set, str):
            if node_set in seen:
                raise SonataError(f"{self.path}: node set {node_set!r} refers to itself")
            if node_set not in self.node_sets and node_set in c.nodes:
                return np.sort(c.gids(node_set, c.nodes[node_set].ids))
            if node_set in ALL_NODES and node_set not in self.node_sets:
                return np.sort(np.concatenate([c.gids(p, c.nodes[p].ids) for p in c.nodes]))
            if node_set not in self.node_sets:
                missing = "" if self.missing_node_sets is None else \
                    f"; the node sets file {self.missing_node_sets} does not exist"
                raise SonataError(f"{self.path}: unknown node set {node_set!r} (known: "
                                  f"{sorted(self.node_sets)}, and the populations "
                                  f"{sorted(c.nodes)}){missing}")
            return self.gids_of(self.node_sets[node_set], seen + (node_set,))
        if isinstance(node_set, list):      # names (a union) and, as bmtk reads them, gids
            return np.unique(np.concatenate([self._gid_of(s) if _is_int(s) else
                                             self.gids_of(s, seen) for s in node_set] +
                                            [np.zeros(0, dtype=np.int64)]))
        if not isinstance(node_set, dict):
            raise SonataError(f"{self.path}: a node set is a name, a list or an object, got "
                              f"{node_set!r}")
        pops = _populations(node_set)
        pops = list(c.nodes) if pops is None else pops
        out = []
        for name in pops:
            if name not in c.nodes:
                raise SonataError(f"{self.path}: node set names population {name!r}, which "
                                  "the circuit does not have")
            pop = c.nodes[name]
            keep = np.ones(pop.size, dtype=bool)
            for key, want in node_set.items():
                if key in ("population", "populations"):
                    continue
                values = pop.ids if key in ("node_id", "node_ids") else pop.attribute(key)
                if values.dtype == object and all(v is None for v in values):
                    # bmtk ignores a key no node has (with a message); so does neurosim
                    warnings.warn(f"{self.path}: node set key {key!r}: population {name!r} "
                                  "has no such attribute; ignored, as bmtk ignores it",
                                  SonataWarning, stacklevel=2)
                    continue
                want = want if isinstance(want, list) else [want]
                keep &= np.isin(values, np.asarray(want, dtype=values.dtype))
            out.append(c.gids(name, pop.ids[keep]))
        return np.sort(np.concatenate(out + [np.zeros(0, dtype=np.int64)]))

    # ------------------------------------------------------------------ inputs
    def _input(self, name, spec):
        net = self.circuit.network
        kind = spec.get("input_type")
        where = f"{self.path}: inputs.{name}"
        if kind == "spikes":
            if "input_file" not in spec:
                raise SonataError(f"{where}: input_file is missing")
            targets = self.gids_of(spec["node_set"]) if "node_set" in spec else None
            population = self.population_of(spec["node_set"]) if "node_set" in spec \
                else None
            path = resolve(self.config, spec["input_file"])
            used = 0
            for pop, (ids, times) in read_spikes(path, population).items():
                if pop not in self.circuit.nodes:
                    raise SonataError(f"{where}: the spikes of population {pop!r} name no "
                                      "population of the circuit")
                known = np.isin(ids, self.circuit.nodes[pop].ids)
                if not known.all():
                    # bmtk drops them; say how many
                    warnings.warn(f"{where}: {int((~known).sum())} spikes of "
                                  f"{len(np.unique(ids[~known]))} node ids that population "
                                  f"{pop!r} does not have (e.g. {ids[~known][0]}) in {path} "
                                  "are dropped", SonataWarning, stacklevel=2)
                    ids, times = ids[known], times[known]
                if len(times) and not np.all(times >= 0.0):
                    bad = int(np.flatnonzero(~(times >= 0.0))[0])
                    raise SonataError(f"{where}: {path}: spike {bad} of population {pop!r} "
                                      f"(node {ids[bad]}) is at t = {times[bad]} ms; spike "
                                      "times must be >= 0")
                gids = self.circuit.gids(pop, ids)
                keep = np.ones(len(gids), dtype=bool) if targets is None else \
                    np.isin(gids, targets)
                used += int(keep.sum())
                for gid in np.unique(gids[keep]):
                    if int(gid) not in net.spike_sources:
                        node = gid - self.circuit.offset[pop]
                        raise SonataError(f"{where}: spikes onto node {node} of {pop!r}, "
                                          "which is not a virtual node")
                    train = np.concatenate([net.spike_sources[int(gid)],
                                            times[keep & (gids == gid)]])
                    net.spike_sources[int(gid)] = np.sort(train)
            if used == 0:
                raise SonataError(f"{where}: none of its spikes ({path}) are of nodes of "
                                  f"node set {spec.get('node_set')!r}")
        elif kind in CLAMP_INPUTS:
            current_clamp(self, spec, kind, where)
        elif kind == "voltage_clamp" or spec.get("module") == "SEClamp":
            voltage_clamp(self, spec, where)
        else:
            raise SonataError(f"{where}: input_type {kind!r} is not supported (spikes, "
                              f"{', '.join(CLAMP_INPUTS)}, voltage_clamp)")

    # ------------------------------------------------------------------ running
    def checkpoint(self, path):
        """Save the run's state (``neurosim.run.checkpoint``) with the spikes so far; the reports'
        partial files stay for the run that restores it."""
        for report in self.reports:
            report.collect()
            report.flush()
        return self.sim.checkpoint(path, extra={"spike_gids": self.spikes.gids,
                                                "spike_times": self.spikes.times})

    def run(self, progress=False, block=None, checkpoint=None, every=None, viewer=None):
        """Advance to tstop in blocks (``block`` ms; default 1 % of the run), the reports
        taking their frames after each; ``progress``: print a progress line to stderr.
        ``checkpoint``: a file to save the state to every ``every`` ms of simulated time
        and when a signal (SIGTERM, Ctrl-C) stops the run.  ``viewer``: a
        ``neurosim.viz.live.LiveView`` (see ``live_view``), shown a frame per block of its
        interval."""
        sim, rank0 = self.sim, self.sim.comm.rank == 0
        block = max(self.dt, self.tstop / 100.0) if block is None else float(block)
        if viewer is not None:
            block = viewer.interval
        show = Progress(self.tstop) if progress and rank0 else None
        if rank0:
            self.manifest.write("running")
        due = sim.t + every if checkpoint is not None and every else np.inf
        clock = Stopwatch()
        # between blocks a signal is noted too; the next block's first exchange stops
        # every rank at one step
        handlers = sim._catch_signals()
        try:
            while sim.t < self.tstop - 1e-9:
                sim.run(min(self.tstop, sim.t + block, due))
                for report in self.reports:
                    report.collect()
                if viewer is not None:
                    viewer.frame()
                if sim.t >= due - 1e-9:
                    self.checkpoint(checkpoint)
                    due += every
                if show is not None:
                    show(sim.t, clock.wall_s, clock.compile_s)
        except (KeyboardInterrupt, SystemExit) as stop:
            # every rank stopped at the same step: the state is whole, save it
            if checkpoint is not None:
                self.checkpoint(checkpoint)
                if rank0:
                    self.manifest.write("partial", sim.t, f"stopped; checkpoint {checkpoint}")
                    sys.stderr.write(f"neurosim: checkpoint at t = {sim.t:g} ms written to "
                                     f"{checkpoint}; go on with --restore {checkpoint}\n")
            else:
                self._keep_partial("SIGINT" if isinstance(stop, KeyboardInterrupt) else
                                   f"signal (exit {stop.code})")
            raise
        except BaseException as error:
            self._keep_partial(f"{type(error).__name__}: {error}")
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        for report in self.reports:
            report.close(complete=True, time_reached=sim.t)
        # speed figures divide run_s: the kernels' first compilation is set apart
        self.wall, self.compile_s, self.run_s = clock.wall_s, clock.compile_s, clock.work_s
        if show is not None and show.tty:
            sys.stderr.write("\n")
        return self

    def live_view(self, interval=1.0, show=True, **options):
        """A live viewer of this run (every rank calls it): the circuit's cells at their
        positions and rotations, its node populations in the raster."""
        from neurosim.viz.live import LiveView
        c = self.circuit
        populations = {name: c.gids(name, pop.ids) for name, pop in c.nodes.items()}
        return LiveView(self.sim, interval=interval, show=show, rotations=c.rotations,
                        populations=populations, **options)

    def _keep_partial(self, reason):
        """A run that stopped early keeps what it recorded up to the step it reached, in
        files written as a finished run writes them but marked ``complete = False`` with
        the time reached; the manifest says ``partial``."""
        t = self.sim.t
        try:
            for report in self.reports:
                report.collect()
                report.close(complete=False, time_reached=t)
            self.write(complete=False)
        finally:
            if self.sim.comm.rank == 0:
                self.manifest.write("partial", t, reason)
                sys.stderr.write(f"neurosim: outputs to t = {t:g} ms kept in "
                                 f"{self.output_dir}, marked partial\n")

    def write(self, complete=True):
        """The spikes file, per simulated population (rank 0 writes); a finished run's
        manifest then says ``complete``."""
        if self.sim.comm.rank != 0:
            return None
        path = self._write_spikes(complete)
        if complete:
            self.manifest.write("complete", self.sim.t)
        return path

    def _write_spikes(self, complete):
        gids, times = self.spikes.gids, self.spikes.times
        out = {}
        for name, pop in self.circuit.nodes.items():
            if all(k == "virtual" for k in self.circuit.model_types[name]):
                continue
            first = self.circuit.offset[name]
            mine = (gids >= first) & (gids < first + (int(pop.ids.max()) + 1 if pop.size
                                                      else 0))
            out[name] = (gids[mine] - first, times[mine])
        sort = {"time": "by_time", "id": "by_id", "gid": "by_id"}.get(self.sort, self.sort)
        path = write_spikes(self.spikes_file, out, sort,
                            attrs={"complete": complete, "time_reached": self.sim.t})
        if self.spikes_csv is not None:
            write_spikes_csv(self.spikes_csv, out, sort)
        return path


class Progress:
    """A progress line on stderr: simulated time, wall time (and the part of it spent
    compiling kernels, when there is one), wall seconds per simulated second without the
    compilation; redrawn in place on a terminal, a line per tenth of the run otherwise."""

    def __init__(self, tstop, stream=None):
        self.tstop, self.stream = tstop, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = -1

    def __call__(self, t, wall, compile_s=0.0):
        frac = t / self.tstop if self.tstop > 0 else 1.0
        tenth = int(10 * frac + 1e-9)
        if not self.tty and tenth == self.last:
            return
        self.last = tenth
        width = 30
        done = int(width * frac)
        per = max(wall - compile_s, 0.0) / (t / 1000.0) if t > 0 else 0.0
        compiling = f" (compiling {compile_s:.1f} s)" if compile_s >= 0.05 else ""
        self.stream.write(f"[{'#' * done}{'.' * (width - done)}] {t:9.1f} / {self.tstop:g} ms"
                          f"  wall {wall:7.1f} s{compiling}  {per:7.2f} s per simulated s"
                          + ("\r" if self.tty else "\n"))
        self.stream.flush()
