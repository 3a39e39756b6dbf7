"""The run manifest: which run writes an output folder, and how far it got.

``neurosim_run.json`` in the output folder, written when a run starts (``running``) and when
it ends (``complete``, or ``partial`` with the time reached and why)::

    {"state": "partial", "config": "/.../simulation_config.json",
     "config_sha256": "...", "started": "2026-12-05T05:12:00+00:00",
     "tstop": 3000.0, "time_reached": 1250.0, "reason": "SIGTERM"}

A folder whose manifest says ``running`` was left by a run that was killed (or is still
going); its files are an earlier run's or incomplete.  Every output file also carries the
``complete`` and ``time_reached`` attributes.  ``state_of(folder)`` reads it;
``neurosim info`` prints it.
"""

import datetime
import hashlib
import json
import os

NAME = "neurosim_run.json"


def config_hash(paths):
    """sha256 over the contents of the config files (simulation, circuit, node sets)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            with open(path, "rb") as f:
                digest.update(f.read())
        except OSError:
            digest.update(f"<missing {path}>".encode())
    return digest.hexdigest()


class Manifest:
    """The manifest of one run, rewritten atomically at each change of state."""

    def __init__(self, folder, config, config_files, tstop):
        self.path = os.path.join(folder, NAME)
        self.data = {"state": "running", "config": config,
                     "config_sha256": config_hash(config_files),
                     "started": datetime.datetime.now(datetime.timezone.utc)
                     .isoformat(timespec="seconds"),
                     "tstop": float(tstop), "time_reached": None}

    def write(self, state, time_reached=None, reason=None):
        self.data.update(state=state, time_reached=time_reached)
        if reason is not None:
            self.data["reason"] = reason
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)


def state_of(folder):
    """The manifest of an output folder (a dict), or None if no neurosim run wrote it."""
    path = os.path.join(folder, NAME)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def describe(folder):
    """One line on an output folder's state."""
    m = state_of(folder)
    if m is None:
        return f"output {folder}: no neurosim run manifest ({NAME})"
    if m.get("state") == "complete":
        return f"output {folder}: complete (to {m.get('tstop'):g} ms, started " \
               f"{m.get('started')})"
    if m.get("state") == "partial":
        return f"output {folder}: PARTIAL, to t = {m.get('time_reached')} ms of " \
               f"{m.get('tstop'):g} ({m.get('reason', 'stopped')}; started {m.get('started')})"
    return f"output {folder}: a run started {m.get('started')} is writing it or was killed " \
           "(its files are incomplete or an earlier run's)"
