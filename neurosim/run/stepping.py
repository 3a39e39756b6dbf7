"""How a Simulation advances: kernel calls between spike exchanges (or compiled epochs), events
queued between them, signals answered at a step, traces collected (the :class:`Stepping` half
of :class:`~neurosim.run.simulation.Simulation`)."""

import signal
import sys
import threading

import numpy as np

from neurosim.errors import NumericalInstabilityError, ParameterError
from neurosim.kernels import epochs
from neurosim.run.parallel import on_every_rank
from neurosim.run.recording import share
from neurosim.validate import finite

_MAX_BUFFER = 8_000_000      # floats held per kernel call before traces are collected
_MAX_SPIKES = 1_000_000      # spike-buffer entries a kernel call may need at worst
_MAX_STEPS = 4096            # steps per kernel call at most: a signal is answered soon


class Stepping:
    """Running, for :class:`~neurosim.run.simulation.Simulation`."""

    @on_every_rank
    def run(self, t_stop, viewer=None):
        """Advance to absolute time ``t_stop`` (ms).  ``viewer``: show the run as it goes
        (a ``neurosim.viz.live.LiveView``, made on every rank; anything with an
        ``interval`` in ms and a collective ``frame()``)."""
        t_stop = finite("t_stop", t_stop)
        if viewer is not None:
            return self._run_viewed(t_stop, viewer)
        target = int(round(t_stop / self.dt))
        if target < self._step:
            raise ParameterError(f"run({t_stop}): the simulation is already at t = {self.t} ms")
        rows = len(self._probes)
        every = np.array([e for _, e, _ in self._probes] or [1], dtype=np.int64)
        span = max(1, min(target - self._step, _MAX_BUFFER // max(rows, 1)))
        ecp = getattr(self, "_ecp", None)
        if ecp is not None:     # each group's ECP samples of a call: keep them bounded
            per_sample = self.backend.n_groups * max(1, len(ecp.electrodes))
            span = min(span, max(ecp.every, _MAX_BUFFER // per_sample * ecp.every))
        span = self.comm.min(min(span, _MAX_STEPS))     # every rank makes the same calls
        # the spike buffer holds the worst case of the steps between two spike exchanges:
        # a detector crossing every second step, an artificial cell spiking twice a step
        chunk = span
        n_det = len(self.backend.det_node)
        if n_det:
            chunk = min(chunk, max(2, 2 * _MAX_SPIKES // n_det))
        if self.backend.n_artificial:
            chunk = min(chunk, max(1, _MAX_SPIKES // (2 * self.backend.n_artificial)))
        chunk = self.comm.min(chunk)
        handlers = self._catch_signals()
        try:
            self._run_to(target, span, chunk, rows, every)
        except Exception:
            if self.comm.size == 1:     # what was recorded until the error stays readable
                share(self.comm, self._traces, self._spike_records, False)
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        if self._stream is None:        # streamed records were shared call by call
            share(self.comm, self._traces, self._spike_records, False)
        return self

    def _run_viewed(self, t_stop, viewer):
        """Run in stretches of the viewer's interval, a frame after each (on the grid of
        interval multiples, so frames fall at the same times however runs are split)."""
        while self.t < t_stop - 0.5 * self.dt:
            nxt = (np.floor(self.t / viewer.interval + 1e-9) + 1.0) * viewer.interval
            self.run(min(t_stop, nxt))
            viewer.frame()
        return self

    def _catch_signals(self):
        """SIGINT and SIGTERM stop the run at the end of the current kernel call, on every
        rank at the same step (they agree in the spike exchange): recordings stay complete
        to there.  The handlers in place before are given back after the run; a signal
        noted in ``_signal`` before the run (by a caller's handler) stops it at once."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def note(signum, frame):
            self._signal = signum
        return {signum: signal.signal(signum, note) for signum in (signal.SIGINT,
                                                                    signal.SIGTERM)}

    def _stop_on_signal(self):
        """Raise, on every rank, for a signal received on any: KeyboardInterrupt for SIGINT
        (as Python does), SystemExit(128 + signal) for SIGTERM; the message once (rank 0)."""
        signum = self._signal or signal.SIGTERM      # another rank's signal: say SIGTERM
        self._signal = 0                             # answered: a later run goes on
        message = (f"neurosim: {signal.Signals(signum).name}: run stopped at t = {self.t:g} "
                   f"ms on every rank; recordings are complete to there")
        if self._stream is not None:
            self._stream.flush()
        else:
            share(self.comm, self._traces, self._spike_records, False)
        if signum == signal.SIGINT and self.comm.rank == 0:
            raise KeyboardInterrupt(message)
        if self.comm.rank == 0:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        raise SystemExit(128 + int(signum))

    def _exchange_after(self, step, limit, chunk):
        """The next step after ``step`` where spikes become events: ``chunk`` steps on (the
        spike buffer's reach), an epoch's end (no spike of an epoch reaches its targets
        within it, so the cell groups are independent within it) or ``limit``."""
        end = min(limit, step + chunk)
        if self.epoch_steps is not None:
            end = min(end, (step // self.epoch_steps + 1) * self.epoch_steps)
        return end

    def _exchange_points(self, limit, span, chunk):
        """The exchange points of one kernel call of at most ``span`` steps (at least one
        point) from the current step: the compiled epochs' call runs through them all, the
        Python path calls the kernel once per point."""
        ends, step = [], self._step
        while step < limit:
            end = self._exchange_after(step, limit, chunk)
            if ends and end - self._step > span:
                break
            ends.append(end)
            step = end
        return np.array(ends, dtype=np.int64)

    def _run_to(self, target, span, chunk, rows, every):
        while self._step < target:
            limit = target
            change = self._apply_step_currents()
            if change is not None and change > self._step:
                limit = min(limit, change)
            if self._compiled_epochs():
                self._run_epochs(self._exchange_points(limit, span, chunk), rows, every)
                continue
            end = self._exchange_after(self._step, limit, chunk)
            self._queue_source_spikes(end)
            events = self.events.pop_before(end)
            n = end - self._step
            count = np.zeros(max(rows, 1), dtype=np.int64)
            out = np.empty((max(rows, 1), n // int(every.min()) + 1))
            done, code = self.backend.advance(self._step, n, every, count, out, events)
            if code >= 0:           # the state is lost: stop at the failing step
                v = self.backend.v[code]
                # the samples and spikes of the steps before it stay: the traces hold
                # the run up to the last good step
                self._collect(self._step, n, every, count, out, until=self._step + done)
                if self.comm.size == 1:
                    self._take_spikes()
                self._step += done
                raise NumericalInstabilityError(
                    f"numerical blow-up at t = {self.t:.6g} ms: "
                    f"v = {v:.6g} mV at node {code} ({self.model.describe_node(code)}); "
                    "reduce dt or check parameters")
            self._collect(self._step, n, every, count, out)
            if getattr(self, "_ecp", None) is not None:
                e = self._ecp.every
                data = self.backend.take_ecp()
                first = (self._step // e + 1) * e
                self._ecp._append((first + e * np.arange(len(data))) * self.dt, data)
            self._step = end
            stop = self._take_spikes()
            if self._stream is not None:
                share(self.comm, self._traces, self._spike_records, True)
                self._stream.flush()
            if stop:
                self._finish_exchange()
                self._stop_on_signal()
        if self._finish_exchange():
            self._stop_on_signal()

    def _compiled_epochs(self):
        """Whether kernel calls run many epochs, the events between them in compiled code
        (``neurosim.kernels.epochs``).  That pays where steps are cheap next to the events, in
        networks of point neurons and artificial cells (no cable cells); it needs one rank
        (no exchange), a backend that has it and no ECP (whose samples are taken per
        call)."""
        return (self.comm.size == 1 and not self.cells and self.epoch_steps is not None
                and getattr(self.backend, "advance_epochs", None) is not None
                and getattr(self, "_ecp", None) is None)

    def _epoch_network(self):
        """What the compiled epochs read: the connection rows, each (table, instance)'s
        cell group, the spike sources' times; and an empty queue whose ring spans an epoch
        and the longest delay."""
        c, groups = self.connections, self.backend.inst_group
        start = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
        flat = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups] +
                              [np.zeros(0, dtype=np.int64)])
        longest = float(c.delay.max(initial=0.0))
        ring = self.epoch_steps + int(np.ceil(longest / self.dt)) + 4
        net = (c.ptr, c.delay, c.target_table, c.target_instance, c.lead, flat, start,
               self._source_times, np.asarray(self._source_sent, dtype=float),
               self._source_gids)
        return net, epochs.new_queue(ring)

    def _run_epochs(self, ends, rows, every):
        """One kernel call from the current step through the exchange points ``ends``
        (none: nothing runs, the kernel is loaded), with the event queue moved into the
        compiled ring and back."""
        if self._ring is None:
            self._net, self._ring = self._epoch_network()
        queue = self._ring
        counters = queue[5]
        counters[epochs.BASE] = self._step
        counters[epochs.ORDER] = self.events.next_order
        counters[epochs.SOURCE] = self._source_next
        counters[epochs.RECORDS] = 0
        queue = epochs.file_events(queue, *self.events.take_all())
        end = int(ends[-1]) if len(ends) else self._step
        n = end - self._step
        count = np.zeros(max(rows, 1), dtype=np.int64)
        out = np.empty((max(rows, 1), n // int(every.min()) + 1))
        queue, records, done, code = self.backend.advance_epochs(
            self._step, ends, every, count, out, queue, np.zeros((2, 1024), dtype=np.int64),
            self.spike_times == "step", self._net)
        self._ring = queue
        self._epoch_calls += len(ends) > 0
        counters = queue[5]
        self.events._file(*epochs.all_pending(queue))
        self.events.next_order = int(counters[epochs.ORDER])
        self._source_next = int(counters[epochs.SOURCE])
        n_rec = int(counters[epochs.RECORDS])
        gids = records[0, :n_rec].copy()
        times = records[1, :n_rec].copy().view(np.float64)
        for rec in self._spike_records:
            rec._append(gids, times)
        self._collect(self._step, n, every, count, out,
                      until=None if code < 0 else self._step + done)
        if code >= 0:
            self._step += done
            v = self.backend.v[code]
            raise NumericalInstabilityError(
                f"numerical blow-up at t = {self.t:.6g} ms: "
                f"v = {v:.6g} mV at node {code} ({self.model.describe_node(code)}); "
                "reduce dt or check parameters")
        self._step = end
        if self._stream is not None:
            share(self.comm, self._traces, self._spike_records, True)
            self._stream.flush()
        if self._signal:
            self._stop_on_signal()

    def _take_spikes(self):
        """Record this call's spikes and send them to the ranks that need them (their
        events are queued once they arrive); whether any rank received a signal."""
        gids, times, exact = self.backend.take_spikes()
        if self.spike_times == "step":      # the step's end, where the kernel interpolated
            times = np.where(exact, times, np.ceil(times / self.dt - 1e-9) * self.dt)
        else:                               # events leave at the interpolated crossing
            exact = np.ones(len(gids), dtype=bool)
        spikes = (gids, times, exact)
        for rec in self._spike_records:
            rec._append(spikes[0], spikes[1])
        if self.overlap:
            stop = self._finish_exchange()          # the last call's: queued in time
            self._in_flight = self.comm.start_exchange(spikes, self._signal, self._capacity)
            return stop
        received, stop = self.comm.exchange_spikes(spikes, self._signal, self.route)
        self._queue_events(received)
        return stop

    def _finish_exchange(self):
        """Wait for the exchange in flight, if any, and queue its events."""
        if self._in_flight is None:
            return False
        received, stop, largest = self._in_flight.finish()
        self._in_flight = None
        self._capacity = max(64, 1 << int(2 * largest).bit_length())   # same on every rank
        self._queue_events(received)
        return stop

    def _queue_events(self, spikes):
        """Queue the events of spikes received, numbered in the order they were sent: by
        the time sent (a detected spike leaves at the end of its step); at one time, exact
        (net_event) spikes first, as they came (a rank's in the order its cells emitted
        them, ranks in rank order), then detected spikes by gid (the same for any number of
        ranks)."""
        gids, times, exact = spikes
        if len(gids):
            sent = np.where(exact, times, np.ceil(times / self.dt - 1e-9) * self.dt)
            order = np.lexsort((np.arange(len(gids)), np.where(exact, -1, gids), sent))
            self.events.push_spikes(gids[order], sent[order], detected=False)

    def _queue_source_spikes(self, end_step):
        """Spike-source spikes before the end of this call become events (every rank knows
        them; rank 0 records them)."""
        stop = int(np.searchsorted(self._source_times, end_step * self.dt, side="left"))
        if stop > self._source_next:
            sl = slice(self._source_next, stop)
            g, t = self._source_gids[sl], self._source_times[sl]
            self.events.push_spikes(g, self._source_sent[sl], detected=False)
            if self.comm.rank == 0:
                for rec in self._spike_records:
                    rec._append(g, t)
            self._source_next = stop

    def _collect(self, step0, done, every, count, out, until=None):
        """The samples a call took (those of steps after ``until`` dropped)."""
        for r, (trace, e, probe) in enumerate(self._probes):
            k = int(count[r])
            if probe[0] == "param":     # a constant: sampled here, not by the kernel
                k = (step0 + done) // e - step0 // e
                out[r, :k] = self._probe_value(probe)
            if k:
                first = (step0 // e + 1) * e
                steps = first + e * np.arange(k)
                if until is not None:
                    k = int(np.sum(steps <= until))
                    steps = steps[:k]
                trace._append(steps * self.dt, out[r, :k].copy())
