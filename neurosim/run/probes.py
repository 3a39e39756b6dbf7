"""What a Simulation records: probes of voltages, ion and mechanism variables, spikes, RANDOM
streams and extracellular potentials, addressed in the lowered model's numbering and the
kernel's tables (the :class:`Probes` half of :class:`~neurosim.run.simulation.Simulation`)."""

import numpy as np

from neurosim.errors import LocationError, ParameterError
from neurosim.kernels.codegen import ION_FIELDS
from neurosim.mechanisms.random123 import N_VARS, Random123
from neurosim.run.extracellular import Ecp, transfer_matrix
from neurosim.run.parallel import on_every_rank
from neurosim.run.recording import Spikes, Trace
from neurosim.validate import finite


def _state_or_param(j, row, inst):
    """The probe of a mechanism variable (``Mechanism.resolve_variable``'s row): a state or
    assigned variable the kernel samples, or a parameter no block writes (a constant, as
    NEURON records a synapse's ``tau1``)."""
    if isinstance(row, tuple):
        return ("param", j, row[1], inst)
    return ("state", j, row, inst)


class Probes:
    """Recording, for :class:`~neurosim.run.simulation.Simulation`."""

    @on_every_rank
    def record_spikes(self, gids=None):
        """Record the spikes of ``gids`` (default: every cell with a detector and every spike
        source) from now on; returns a Spikes object with ``.gids`` and ``.times``."""
        rec = Spikes(gids)
        if self._stream is not None:
            rec._stream(self._stream.spike_sink())
        self._spike_records.append(rec)
        return rec

    @on_every_rank
    def record(self, variable, location, cell=0, interval=None):
        """Record every ``interval`` ms (default dt), from now on.

        ``variable``: ``"v"``; an ion variable (``"cai"``, ``"ena"``, ``"ica"``); a state or
        assigned variable (a current, a conductance) of a mechanism, ``"m_hh"`` (NEURON style)
        or ``"hh.m"``.  ``location``: ``(section_id, x)``, or a point process's label, then
        ``variable`` names one of its variables (``sim.record("i", "syn", cell=3)``: the
        synapse's current, nA).  ``cell``: a gid, or a list of gids for one trace each (a list
        comes back).  A point neuron (an artificial cell) records a state (``"V_m"``) with
        location None."""
        interval = self.dt if interval is None else finite("interval", interval, positive=True)
        every = int(round(interval / self.dt))
        if every < 1 or abs(every * self.dt - interval) > 1e-9 * max(1.0, interval):
            raise ParameterError(f"record interval {interval} ms must be a multiple of "
                                 f"dt = {self.dt} ms")
        if np.ndim(cell):
            traces = [self._add_probe(variable, location, int(g), every) for g in cell]
        else:
            traces = self._add_probe(variable, location, int(cell), every)
        self._set_probes()
        return traces

    def _add_probe(self, variable, location, gid, every):
        if gid not in self.local and gid not in self.network.spike_sources and \
                self.network.knows(gid):
            # another rank's gid: it records there and sends the samples to rank 0
            trace = Trace(variable, None if location is None else
                          location if isinstance(location, str) else tuple(location),
                          gid, every * self.dt, owned=False)
            if self._stream is not None and self.comm.rank == 0:
                trace._stream(self._stream.trace_sink(trace))
            self._traces.append(trace)
            return trace
        if gid in self.network.artificial:
            j, row, inst = self._find_artificial(variable, gid)
            probe, trace = _state_or_param(j, row, inst), Trace(variable, None, gid,
                                                                 every * self.dt)
        elif gid not in self._index_of:
            raise ParameterError(f"cell {gid} is not a cell of the network")
        elif isinstance(location, str):
            j, row, inst = self._find_labelled(variable, gid, location)
            probe, trace = (_state_or_param(j, row, inst), Trace(variable, location, gid,
                                                                  every * self.dt))
        else:
            node = self.model.locate(location, self._index_of[gid])
            trace = Trace(variable, tuple(location), gid, every * self.dt)
            ion_field = self._ion_field(variable)
            if variable == "v":
                probe = ("v", node)
            elif variable == "i_membrane_":
                probe = ("imem", node)
            elif ion_field is not None:
                probe = ("ion", *ion_field, node)
            else:
                probe = _state_or_param(*self._find_variable(variable, node, location))
        if self._stream is not None:
            trace._stream(self._stream.trace_sink(trace))
        self.backend.host()                     # a GPU's state, for the first sample
        trace._append([self.t], [self._probe_value(probe)])
        self._probes.append((trace, every, probe))
        self._traces.append(trace)
        return trace

    def _probe_value(self, probe):
        if probe[0] == "v":
            return self.backend.v[probe[1]]
        if probe[0] == "imem":
            return self.backend.imem[probe[1]]
        if probe[0] == "ion":
            return self.backend.ions[probe[1]][probe[2]][probe[3]]
        if probe[0] == "param":
            return self.model.kernel_tables[probe[1]].params[probe[2], probe[3]]
        _, j, row, inst = probe
        table = self.model.kernel_tables[j]
        return table.states[row, inst] if row >= 0 else table.assigned[-1 - row, inst]

    def _find_artificial(self, variable, gid):
        for j, table in enumerate(self.model.kernel_tables):
            if table.gids is not None and gid in table.gids:
                row = table.mechanism.resolve_variable(variable.split(".")[-1])
                return j, row, int(np.flatnonzero(table.gids == gid)[0])
        raise ParameterError(f"gid {gid} is not an artificial cell")

    def _find_labelled(self, variable, gid, label):
        ci = self._index_of[gid]
        for j, table in enumerate(self.model.kernel_tables):
            if table.labels is None:
                continue
            for k, (c, lab) in enumerate(table.labels):
                if c == ci and lab == label:
                    return j, table.mechanism.resolve_variable(variable.split(".")[-1]), k
        raise LocationError(f"cell {gid} has no point process labelled {label!r} (a location "
                            "is (section_id, x) or a point process's label)")

    def _set_probes(self):
        probes = list(enumerate(p for _, _, p in self._probes))
        imem = [(r, p[1]) for r, p in probes if p[0] == "imem"]
        if imem or hasattr(self.backend, "set_imem_probes"):
            if not hasattr(self.backend, "set_imem_probes"):
                raise ParameterError("i_membrane_ is recorded on the CPU backend only")
            self.backend.set_imem_probes(imem)
        self.backend.set_probes([(r, p[1]) for r, p in probes if p[0] == "v"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "state"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "ion"])

    def random(self, variable, location=None, cell=0):
        """The RANDOM stream ``variable`` (``"rng_mech"``, NEURON style, or ``"mech.rng"``) of
        the instance at ``location`` (``(section_id, x)``, a point process's label, or None
        for an artificial cell) of ``cell``: a :class:`~neurosim.Random123` that reads and
        writes the simulation's stream, as NEURON's ``seg.mech.rng``: ``set_ids``,
        ``set_seq``, ``get_ids``, ``get_seq``, ``uniform``, or given to the mechanism's
        FUNCTIONs (``mech.function("f")(rng=stream)``).  On this process's cells."""
        if "." in variable:
            mech_name, name = variable.split(".", 1)
        else:                   # rng_mech: the longest mechanism name that ends it
            mech_name = max([t.name for t in self.model.kernel_tables
                             if variable.endswith("_" + t.name)], key=len, default="")
            name = variable[:-len(mech_name) - 1]
        gid = int(cell)
        if gid in self.network.artificial:
            where = [(j, t.gids == gid) for j, t in enumerate(self.model.kernel_tables)
                     if t.gids is not None]
        elif isinstance(location, str):
            ci = self._index_of[gid]
            where = [(j, np.array([lab == (ci, location) for lab in t.labels]))
                     for j, t in enumerate(self.model.kernel_tables) if t.labels is not None]
        else:
            node = self.model.locate(location, self._index_of[gid])
            where = [(j, t.nodes == node) for j, t in enumerate(self.model.kernel_tables)]
        where = [(j, np.flatnonzero(hit)) for j, hit in where
                 if self.model.kernel_tables[j].name == mech_name and np.any(hit)]
        if not where:
            raise ParameterError(f"no mechanism {mech_name!r} at {location!r} of cell {gid}")
        j, inst = where[0][0], int(where[0][1][0])
        table = self.model.kernel_tables[j]
        mech = table.mechanism
        if name not in mech.randoms:
            raise ParameterError(f"mechanism {mech.name!r} has no RANDOM {name!r}; it has "
                                 f"{list(mech.randoms)}")
        row = list(mech.parameters).index(f"{name}_id1")
        return Random123(state=table.params[row:row + N_VARS, inst])

    def _ion_field(self, variable):
        """(ion, field index) for an ion variable such as ``cai``, ``ena`` or ``ica``."""
        for ion in self.backend.ions:
            names = {f"e{ion}": "e", f"{ion}i": "ci", f"{ion}o": "co", f"i{ion}": "i"}
            if variable in names:
                return ion, ION_FIELDS.index(names[variable])
        return None

    def _find_variable(self, variable, node, location):
        if variable == "i_membrane":
            raise ParameterError("cannot record 'i_membrane', the current density of NEURON's "
                                 "extracellular mechanism (mA/cm2): neurosim records the total "
                                 "membrane current 'i_membrane_' (nA)")
        if "." in variable:
            mech_name, state = variable.split(".", 1)
        elif "_" in variable:
            state, mech_name = variable.rsplit("_", 1)
        else:
            raise ParameterError(f"cannot record {variable!r}: use 'v', 'state_mech' (NEURON "
                                 "style, e.g. 'm_hh') or 'mech.state'")
        for j, table in enumerate(self.model.kernel_tables):
            if table.name == mech_name:
                row = table.mechanism.resolve_variable(state)
                hit = np.flatnonzero(table.nodes == node)
                if len(hit) == 0:
                    raise ParameterError(f"cannot record {variable!r}: mechanism "
                                         f"{mech_name!r} is not inserted at {location}")
                return j, row, int(hit[0])
        raise ParameterError(f"cannot record {variable!r}: no mechanism {mech_name!r} in the "
                             f"model (present: {[t.name for t in self.model.kernel_tables]})")

    @on_every_rank
    def record_ecp(self, electrodes, gids=None, interval=None, sigma=0.3, positions=None,
                   rotations=None, minimum_distance=None):
        """Record the extracellular potential (mV) at ``electrodes`` ((channels, 3), µm)
        every ``interval`` ms (default dt) from the next step on: the line-source sum of the
        membrane currents of cells ``gids`` (default all), as bmtk's extracellular module
        computes it (``neurosim.run.extracellular``).  ``sigma``: conductivity (S/m);
        ``positions``/``rotations``: gid -> soma position (default the network's) / angles
        about x, y, z (radians).  Returns an ``Ecp`` with ``times`` and ``data``
        (samples, channels).  One ECP per simulation; CPU backend, one rank."""
        if not hasattr(self.backend, "set_ecp"):
            raise ParameterError("record_ecp runs on the CPU backend only")
        if self.comm.size > 1:
            raise ParameterError("record_ecp runs on one rank only")
        if getattr(self, "_ecp", None) is not None:
            raise ParameterError("this simulation records an ECP already")
        interval = self.dt if interval is None else finite("interval", interval, positive=True)
        every = int(round(interval / self.dt))
        if every < 1 or abs(every * self.dt - interval) > 1e-9 * max(1.0, interval):
            raise ParameterError(f"ecp interval {interval} ms must be a multiple of "
                                 f"dt = {self.dt} ms")
        sigma = finite("sigma", sigma, positive=True)
        tr = transfer_matrix(self, electrodes, gids, sigma, positions, rotations,
                             minimum_distance)
        self._ecp = Ecp(np.atleast_2d(np.asarray(electrodes, dtype=float)), tr,
                        every * self.dt, every)
        self.backend.set_ecp(tr, every)
        return self._ecp
