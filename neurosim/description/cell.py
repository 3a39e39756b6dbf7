"""Cell: a morphology plus cable properties, a discretization policy, painted mechanisms and
placed stimuli.  A Cell is a description only; :mod:`neurosim.lowering.cells` turns it into arrays.

Units are NEURON's: cm µF/cm², ra Ω·cm, v_init mV, IClamp nA and ms.
"""

import copy
from dataclasses import dataclass

import numpy as np

from neurosim import mechanisms
from neurosim.description.discretization import DLambda, MaxLength, NSeg
from neurosim.description.morphology import Morphology
from neurosim.description.regions import Distance, check_region
from neurosim.errors import LocationError, ParameterError
from neurosim.providers import provided
from neurosim.validate import finite


@dataclass(frozen=True)
class IClamp:
    """A current step of ``amp`` nA from ``delay`` for ``dur`` ms (NEURON's IClamp)."""
    location: tuple
    delay: float
    dur: float
    amp: float


@dataclass(frozen=True)
class Synapse:
    """A point process placed at a location, named by ``label``."""
    location: tuple
    mechanism: object
    label: str
    params: dict


@dataclass(frozen=True)
class Insert:
    mechanism: object
    region: object
    params: dict


@dataclass(frozen=True)
class Paint:
    region: object
    values: dict


class Cell:
    """A multi-compartment neuron built like a NEURON or Jaxley cell::

        cell = ns.Cell(morph, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.NSeg(1))
        cell.insert("pas", region="all", g=2.5e-5, e=-65.0)
        cell.insert("hh", region="soma")
        cell.add_iclamp((0, 0.5), delay=10.0, dur=100.0, amp=0.1)
    """

    def __init__(self, morphology, cm=1.0, ra=35.4, v_init=-65.0, discretization=None):
        if not isinstance(morphology, Morphology):
            raise ParameterError(f"Cell needs a Morphology, got {type(morphology).__name__}")
        self.morphology = morphology
        self._version = 0               # counts changes that alter nodes or density mechanisms
        self._base = None               # (template, its _version) for a copy: see copy()
        self.paints = [Paint("all", {"cm": finite("cm", cm, positive=True),
                                     "ra": finite("ra", ra, positive=True),
                                     "v_init": finite("v_init", v_init)})]
        self.discretization = []
        self.set_discretization(NSeg(1) if discretization is None else discretization)
        self.inserts = []
        self.iclamps = []
        self.ion_settings = []
        self.synapses = []
        self.detector = None

    @classmethod
    def from_hoc(cls, path, template=None, *, args=(), v_init=-65.0, section_type=None):
        """A cell from a NEURON hoc template (``neurosim.io.hoc``): the sections, 3-D points,
        nseg, Ra, cm and inserted mechanisms that ``h.<template>(*args)`` builds.  The
        result has ``section_names`` (hoc name such as ``"dend[3]"`` -> section id)."""
        return provided("hoc reader")(path, template, args=args, v_init=v_init,
                                      section_type=section_type)

    def copy(self):
        """A cell with the same morphology and properties whose later changes (synapses,
        clamps) stay its own: one template, per-gid synapses."""
        other = copy.copy(self)
        for name in ("paints", "discretization", "inserts", "iclamps", "ion_settings",
                     "synapses"):
            setattr(other, name, list(getattr(self, name)))
        # while neither changes its nodes or density mechanisms, lowering computes them
        # once for the template and all its copies
        base = self._base[0] if self._base is not None and self.geometry_key() != id(self) \
            else self
        other._base = (base, base._version)
        return other

    def geometry_key(self):
        """Cells with equal keys have the same nodes and density mechanisms."""
        if self._base is not None:
            base, version = self._base
            if base._version == version and self._version == version:
                return id(base)
        return id(self)

    # -------------------------------------------------------------- cable properties
    def paint(self, region="all", *, cm=None, ra=None, v_init=None, missing_ok=False):
        """Set cm (µF/cm²), ra (Ω·cm) or v_init (mV) on the sections of ``region``.  A region
        matching no section is an error unless ``missing_ok`` (then nothing changes)."""
        check_region(self.morphology, region, missing_ok)
        if isinstance(region, Distance) and (cm is not None or ra is not None):
            raise ParameterError("cm and ra are set per section; give a section region")
        values = {}
        if cm is not None:
            values["cm"] = finite("cm", cm, positive=True, context=f"region {region!r}")
        if ra is not None:
            values["ra"] = finite("ra", ra, positive=True, context=f"region {region!r}")
        if v_init is not None:
            values["v_init"] = finite("v_init", v_init, context=f"region {region!r}")
        self.paints.append(Paint(region, values))
        self._version += 1
        return self

    def set_discretization(self, policy, region="all", missing_ok=False):
        """Compartments per section: NSeg(n), MaxLength(um) or DLambda(0.1, freq=100);
        a later call overrides earlier ones on its region."""
        if not isinstance(policy, (NSeg, MaxLength, DLambda)) and not hasattr(policy, "nseg"):
            raise ParameterError(f"discretization must be NSeg, MaxLength or DLambda, got "
                                 f"{policy!r}")
        check_region(self.morphology, region, missing_ok)
        self.discretization.append((region, policy))
        self._version += 1
        return self

    # -------------------------------------------------------------- mechanisms
    def insert(self, mechanism, region="all", *, missing_ok=False, **params):
        """Insert a density mechanism (a name such as ``"hh"`` or a Mechanism) on ``region``.
        Parameters are given by name (``g=`` or NEURON's ``g_pas=``); a value may be a
        function of path distance from the soma (µm).  Inserting again on an overlapping
        region updates the parameters given there.  A region matching no section is an
        error unless ``missing_ok``."""
        mech = mechanisms.get(mechanism)
        if mech.kind != "density":
            raise ParameterError(f"{mech.name!r} is a {mech.kind} mechanism; cell.insert takes "
                                 "density mechanisms (point processes: cell.add_synapse)")
        check_region(self.morphology, region, missing_ok)
        checked = {}
        for key, value in params.items():
            name = mech.resolve_parameter(key)
            checked[name] = mech.check_value(name, value, context=f"region {region!r}")
        self.inserts.append(Insert(mech, region, checked))
        self._version += 1
        return self

    def set_ion(self, ion, region="all", *, e=None, ci=None, co=None, missing_ok=False):
        """Reversal potential ``e`` (mV) and initial concentrations ``ci``, ``co`` (mM) of
        ``ion`` on ``region`` (NEURON's ``ena``, ``nai``, ``nao``).  Where a mechanism writes
        the ion's concentration, e follows Nernst instead, as in NEURON."""
        if not str(ion).isidentifier():
            raise ParameterError(f"ion name {ion!r} is not an identifier")
        check_region(self.morphology, region, missing_ok)
        values = {}
        if e is not None:
            values["e"] = finite(f"e{ion}", e, context=f"region {region!r}")
        if ci is not None:
            values["ci"] = finite(f"{ion}i", ci, positive=True, context=f"region {region!r}")
        if co is not None:
            values["co"] = finite(f"{ion}o", co, positive=True, context=f"region {region!r}")
        self.ion_settings.append((region, ion, values))
        self._version += 1
        return self

    # -------------------------------------------------------------- point items
    def check_location(self, location):
        """Return ``(section_id, x)`` or raise LocationError."""
        try:
            sec, x = location
            sec_i = int(sec)
            x = float(x)
        except (TypeError, ValueError):
            raise LocationError(f"a location is (section_id, x), got {location!r}") from None
        n = len(self.morphology)
        if sec_i != sec or not 0 <= sec_i < n:
            raise LocationError(f"location {location!r}: section {sec!r} does not exist "
                                f"(the cell has sections 0..{n - 1})")
        if not 0.0 <= x <= 1.0:
            raise LocationError(f"location {location!r}: x = {x} is outside [0, 1]")
        return sec_i, x

    def add_iclamp(self, location, delay, dur, amp):
        """A current clamp of ``amp`` nA on from ``delay`` for ``dur`` ms at
        ``location = (section_id, x)``."""
        loc = self.check_location(location)
        stim = IClamp(loc, finite("IClamp delay", delay, nonnegative=True),
                      finite("IClamp dur", dur, nonnegative=True), finite("IClamp amp", amp))
        self.iclamps.append(stim)
        return stim

    def add_detector(self, location, threshold=-10.0):
        """Make the cell a spike source: a spike whenever v at ``location`` crosses
        ``threshold`` (mV) upwards, stamped as the Simulation's ``spike_times`` says (default:
        the end of the step holding the crossing, as NEURON)."""
        self.detector = (self.check_location(location), finite("threshold", threshold))
        return self

    def add_synapse(self, location, mechanism, label=None, **params):
        """Place a point process (``ExpSyn``-like, a NEURON POINT_PROCESS) at ``location``;
        returns its label (default: the mechanism's name and a number).  Its current is in
        nA; its parameters are given by name."""
        loc = self.check_location(location)
        mech = mechanisms.get(mechanism)
        if mech.kind != "point":
            raise ParameterError(f"{mech.name!r} is a {mech.kind} mechanism, not a point "
                                 "process: use cell.insert() for it")
        if label is None:
            label = f"{mech.name}{sum(s.mechanism is mech for s in self.synapses)}"
        if not isinstance(label, str) or not label:
            raise ParameterError(f"a synapse label must be a non-empty string, got {label!r}")
        if any(s.label == label for s in self.synapses):
            raise ParameterError(f"synapse label {label!r} is already used on this cell")
        checked = {}
        for key, value in params.items():
            name = mech.resolve_parameter(key)
            if callable(value):
                raise ParameterError(f"{mech.name}.{name}: a point process takes numbers")
            checked[name] = mech.check_value(name, value, context=f"synapse {label!r}")
        self.synapses.append(Synapse(loc, mech, label, checked))
        return label

    def add_synapses(self, sections, xs, mechanism, labels, **params):
        """Many point processes of one mechanism and parameters at once (a circuit's
        synapses): at ``(sections[k], xs[k])`` labelled ``labels[k]``; checked as a whole."""
        mech = mechanisms.get(mechanism)
        if mech.kind != "point":
            raise ParameterError(f"{mech.name!r} is a {mech.kind} mechanism, not a point "
                                 "process")
        sections = np.asarray(sections, dtype=np.int64)
        xs = np.asarray(xs, dtype=float)
        n = len(self.morphology)
        bad = (sections < 0) | (sections >= n) | ~(xs >= 0.0) | ~(xs <= 1.0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise LocationError(f"synapse {labels[k]!r}: location ({sections[k]}, {xs[k]}) "
                                f"is not on the cell (sections 0..{n - 1}, x in [0, 1])")
        taken = {s.label for s in self.synapses}
        if len(set(labels)) != len(labels) or taken.intersection(labels):
            raise ParameterError("synapse labels must be new and distinct")
        checked = {mech.resolve_parameter(k): v for k, v in params.items()}
        checked = {k: mech.check_value(k, v, context=f"synapse {labels[0]!r}")
                   for k, v in checked.items()}
        self.synapses += [Synapse((int(s_), float(x)), mech, label, checked)
                          for s_, x, label in zip(sections, xs, labels)]
        return labels

    def __repr__(self):
        return (f"Cell({self.morphology!r}, {len(self.inserts)} inserts, "
                f"{len(self.iclamps)} clamps)")
