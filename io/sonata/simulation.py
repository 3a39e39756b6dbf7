"""Run a SONATA simulation config: the circuit, its inputs, reports and outputs.

    run = SonataRun("simulation_config.json", threads=2)
    run.run(progress=True)          # to run.tstop, in blocks, reports written as it goes
    run.write()                     # spikes file (reports are complete already)

``run``: tstop, dt (default 0.025), dL (20 µm), spike_threshold (-15 mV); ``conditions``:
celsius (34 °C), v_init (-80 mV); ``inputs``: ``spikes`` (a SONATA spikes file onto
virtual nodes) and ``current_clamp`` (IClamp amp/delay/duration at the soma of a node set);
``reports``: ``membrane_report`` of a variable at the soma or at every segment
(``sections``: soma | all) of a node set, every ``dt`` ms; ``output``: output_dir,
spikes_file, spikes_sort_order.  Node sets from ``node_sets_file`` (or ``node_sets``).
"""

import os
import signal
import sys
import time

import numpy as np

import neurosim as ns

from .circuit import Circuit
from .config import SonataError, circuit_of, load_config, read_json, resolve
from .output import ReportWriter, read_spikes, write_spikes


class SonataRun:
    """``restore``: a checkpoint written by ``checkpoint`` (or ``neurosim run
    --checkpoint``) of the same config: the run goes on from there, its spikes and
    reports continuing those of the run that wrote it."""

    def __init__(self, path, threads=1, backend="cpu", comm=None, restore=None,
                 output_dir=None, tstop=None):
        self.config = cfg = load_config(path, "simulation config")
        self.path = cfg["_path"]
        run = cfg.get("run", {})
        if "tstop" not in run:
            raise SonataError(f"{self.path}: run.tstop is missing")
        self.tstop = self._number(run, "tstop", "run") if tstop is None else float(tstop)
        self.tstart = self._number(run, "tstart", "run", 0.0)
        self.dt = self._number(run, "dt", "run", 0.025)
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
        for name, spec in cfg.get("inputs", {}).items():
            self._input(name, spec)
        self.sim = ns.Simulation(net, dt=self.dt, celsius=self.celsius, threads=threads,
                                 backend=backend, comm=comm)
        output = cfg.get("output", {})
        self.output_dir = resolve(cfg, output.get("output_dir", "output")) \
            if output_dir is None else os.path.abspath(output_dir)
        spikes_file = os.path.basename(output.get("spikes_file", "spikes.h5")) \
            if output_dir is not None else output.get("spikes_file", "spikes.h5")
        self.spikes_file = spikes_file if os.path.isabs(spikes_file) else \
            os.path.join(self.output_dir, spikes_file)
        self.sort = output.get("spikes_sort_order", "time")
        self.spikes = self.sim.record_spikes(list(net.cells) + list(net.artificial))
        if restore is not None:
            from neurosim.checkpoint import load_state
            extra = load_state(self.sim, restore)
            if "spike_gids" in extra:
                self.spikes._store(extra["spike_gids"], extra["spike_times"])
        self.reports = [self._report(name, spec, resume=restore is not None)
                        for name, spec in cfg.get("reports", {}).items()]

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
        cfg = self.config
        sets = {}
        for source in (circuit_of(cfg), cfg):
            if "node_sets_file" in source:
                data = read_json(resolve(source, source["node_sets_file"]), "node sets file")
                if not isinstance(data, dict):
                    raise SonataError(f"{source['node_sets_file']}: node sets are a JSON "
                                      "object")
                sets.update(data)
            sets.update(source.get("node_sets", {}) if isinstance(source.get("node_sets"),
                                                                 dict) else {})
        return sets

    def gids_of(self, node_set, seen=()):
        """Sorted gids of a node set: a name, a list of names (union) or a query object
        (population, node_id, attribute values)."""
        c = self.circuit
        if isinstance(node_set, str):
            if node_set in seen:
                raise SonataError(f"{self.path}: node set {node_set!r} refers to itself")
            if node_set == "All" and node_set not in self.node_sets:
                return np.sort(np.concatenate([c.gids(p, c.nodes[p].ids) for p in c.nodes]))
            if node_set not in self.node_sets:
                raise SonataError(f"{self.path}: unknown node set {node_set!r} (known: "
                                  f"{sorted(self.node_sets)})")
            return self.gids_of(self.node_sets[node_set], seen + (node_set,))
        if isinstance(node_set, list):
            return np.unique(np.concatenate([self.gids_of(s, seen) for s in node_set] +
                                            [np.zeros(0, dtype=np.int64)]))
        if not isinstance(node_set, dict):
            raise SonataError(f"{self.path}: a node set is a name, a list or an object, got "
                              f"{node_set!r}")
        pops = [node_set["population"]] if "population" in node_set else list(c.nodes)
        out = []
        for name in pops:
            if name not in c.nodes:
                raise SonataError(f"{self.path}: node set names population {name!r}, which "
                                  "the circuit does not have")
            pop = c.nodes[name]
            keep = np.ones(pop.size, dtype=bool)
            for key, want in node_set.items():
                if key == "population":
                    continue
                values = pop.ids if key == "node_id" else pop.attribute(key)
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
            population = None
            if isinstance(spec.get("node_set"), str) and \
                    isinstance(self.node_sets.get(spec["node_set"]), dict):
                population = self.node_sets[spec["node_set"]].get("population")
            path = resolve(self.config, spec["input_file"])
            used = 0
            for pop, (ids, times) in read_spikes(path, population).items():
                if pop not in self.circuit.nodes:
                    raise SonataError(f"{where}: the spikes of population {pop!r} name no "
                                      "population of the circuit")
                known = np.isin(ids, self.circuit.nodes[pop].ids)
                if not known.all():
                    raise SonataError(f"{where}: spikes of node {ids[~known][0]}, which "
                                      f"population {pop!r} does not have")
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
        elif kind == "current_clamp":
            for key in ("amp", "delay", "duration", "node_set"):
                if key not in spec:
                    raise SonataError(f"{where}: {key} is missing")
            for gid in self.gids_of(spec["node_set"]):
                if int(gid) not in net.cells:
                    raise SonataError(f"{where}: node set {spec['node_set']!r} holds gid "
                                      f"{gid}, which is not a biophysical cell")
                net.cells[int(gid)].add_iclamp(
                    (0, 0.5), self._number(spec, "delay", f"inputs.{name}"),
                    self._number(spec, "duration", f"inputs.{name}"),
                    self._number(spec, "amp", f"inputs.{name}"))
        else:
            raise SonataError(f"{where}: input_type {kind!r} is not supported (spikes, "
                              "current_clamp)")

    # ------------------------------------------------------------------ reports
    def _report(self, name, spec, resume=False):
        where = f"{self.path}: reports.{name}"
        module = spec.get("module", "membrane_report")
        if module == "extracellular":
            from .ecp import EcpReport
            return EcpReport(self, name, spec, resume)
        if module not in ("membrane_report", "compartment_report"):
            raise SonataError(f"{where}: module {module!r} is not supported (membrane_report)")
        variable = spec.get("variable_name", "v")
        sections = spec.get("sections", "soma")
        if sections not in ("soma", "all"):
            raise SonataError(f"{where}: sections {sections!r} is not soma or all")
        step = self._number(spec, "dt", f"reports.{name}", self.dt)
        gids = self.gids_of(spec.get("cells", "All"))
        net = self.circuit.network
        gids = gids[[int(g) in net.cells or int(g) in net.artificial for g in gids]]
        if len(gids) == 0:
            raise SonataError(f"{where}: the node set holds no simulated cell")
        file_name = spec.get("file_name", f"{name}.h5")
        path = file_name if os.path.isabs(file_name) else \
            os.path.join(self.output_dir, file_name)
        return _Report(self, path, variable, sections, step, gids,
                       self._number(spec, "start_time", f"reports.{name}", self.tstart),
                       self._number(spec, "end_time", f"reports.{name}", self.tstop), resume)

    # ------------------------------------------------------------------ running
    def checkpoint(self, path):
        """Save the run's state (``neurosim.checkpoint``) with the spikes so far; the reports'
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
        due = sim.t + every if checkpoint is not None and every else np.inf
        t0 = time.perf_counter()
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
                    show(sim.t, time.perf_counter() - t0)
        except (KeyboardInterrupt, SystemExit):
            # every rank stopped at the same step: the state is whole, save it
            if checkpoint is not None:
                self.checkpoint(checkpoint)
                if rank0:
                    sys.stderr.write(f"neurosim: checkpoint at t = {sim.t:g} ms written to "
                                     f"{checkpoint}; go on with --restore {checkpoint}\n")
            else:
                self._discard()
            raise
        except BaseException:
            self._discard()
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        for report in self.reports:
            report.close()
        self.wall = time.perf_counter() - t0
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

    def _discard(self):
        for report in self.reports:
            report.discard()

    def write(self):
        """The spikes file, per simulated population (rank 0 writes)."""
        if self.sim.comm.rank != 0:
            return None
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
        return write_spikes(self.spikes_file, out, sort)


class _Report:
    """One membrane report: probes on its cells, frames written into one SONATA report
    file (a group per node population) as the run goes."""

    def __init__(self, run, path, variable, sections, step, gids, start, end, resume=False):
        self.run, self.start, self.end = run, start, end
        sim, circuit, net = run.sim, run.circuit, run.circuit.network
        self.writer = ReportWriter(path, resume) if sim.comm.rank == 0 else None
        self.traces, self.columns = [], []
        by_pop = {}
        for gid in gids:
            by_pop.setdefault(circuit.node(int(gid))[0], []).append(int(gid))
        for pop, members in by_pop.items():
            elements, first = [], len(self.traces)
            for gid in members:
                if gid in net.artificial:
                    locs, name = [None], variable if variable != "v" else "V_m"
                    elements.append(([0], [0.5]))
                else:
                    locs, name = _locations(net.cells[gid], sections), variable
                    elements.append(([s for s, _ in locs], [x for _, x in locs]))
                for loc in locs:
                    self.traces.append(sim.record(name, loc, cell=gid, interval=step))
            self.columns.append((first, len(self.traces)))
            if self.writer is not None:
                self.writer.add(pop, [circuit.node(g)[1] for g in members], elements, start,
                                step, units="mV" if variable in ("v", "V_m") else "")

    def collect(self):
        """Frames recorded since the last call: written (rank 0), and dropped from memory
        on every rank."""
        new = [(np.concatenate(t._times) if t._times else np.zeros(0),
                np.concatenate(t._values) if t._values else np.zeros(0))
               for t in self.traces]
        for t in self.traces:
            t._times, t._values, t._sent = [], [], 0
        if self.writer is None or not new:
            return
        times = new[0][0]
        data, _, start, step = self.writer.populations[0]
        written = start + step * data.shape[0]        # a restored run has frames already
        keep = (times >= max(self.start, written) - 1e-9) & (times <= self.end + 1e-9)
        for index, (a, b) in enumerate(self.columns):
            self.writer.append(index, np.stack([new[k][1][keep] for k in range(a, b)],
                                               axis=1))

    def close(self):
        return self.writer.close() if self.writer is not None else None

    def flush(self):
        if self.writer is not None:
            self.writer.flush()

    def discard(self):
        if self.writer is not None:
            self.writer.discard()


def _locations(cell, sections):
    """(section, x) of the soma centre, or of every segment centre of the cell."""
    if sections == "soma":
        return [(0, 0.5)]
    from neurosim.lowering import _lower_cell
    part = _lower_cell(cell)
    centre = part["area"] > 0
    return [(int(s), float(x)) for s, x in zip(part["section"][centre], part["x"][centre])]


class Progress:
    """A progress line on stderr: simulated time, wall time, wall seconds per simulated
    second; redrawn in place on a terminal, a line per tenth of the run otherwise."""

    def __init__(self, tstop, stream=None):
        self.tstop, self.stream = tstop, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = -1

    def __call__(self, t, wall):
        frac = t / self.tstop if self.tstop > 0 else 1.0
        tenth = int(10 * frac + 1e-9)
        if not self.tty and tenth == self.last:
            return
        self.last = tenth
        width = 30
        done = int(width * frac)
        per = wall / (t / 1000.0) if t > 0 else 0.0
        self.stream.write(f"[{'#' * done}{'.' * (width - done)}] {t:9.1f} / {self.tstop:g} ms"
                          f"  wall {wall:7.1f} s  {per:7.2f} s per simulated s"
                          + ("\r" if self.tty else "\n"))
        self.stream.flush()
