"""Units of a .mod file: each must be one that NEURON's units table knows, or one the file's
UNITS block defines; any other (``(furlongs)``) is reported with a warning, as NEURON's
``modlunit`` would complain.  Units never change the arithmetic (as in nocmodl), so an
unknown one is only a warning.

A unit is a product of factors separated by spaces, ``/``, ``*`` and ``-``; a factor is a
number, or a name with an optional SI prefix, an optional plural ``s`` and an optional
integer power (``cm2``, ``um^3``).  The names below are the ones neuroscience models use.
"""

import re
import warnings

from ...errors import NmodlUnitWarning

_NAMES = {
    # length, area, volume
    "m", "meter", "metre", "micron", "angstrom", "l", "L", "liter", "litre",
    # mass, amount, concentration
    "g", "gram", "mol", "mole", "M", "molar", "molal",
    # time, frequency
    "s", "sec", "second", "min", "minute", "h", "hr", "hour", "d", "day", "Hz", "hertz",
    # electricity
    "A", "amp", "ampere", "V", "volt", "S", "siemens", "mho", "ohm", "megohm", "F", "farad",
    "C",
    "coul", "coulomb", "e",
    # temperature, energy, force, pressure, power
    "K", "kelvin", "degK", "degC", "celsius", "J", "joule", "cal", "calorie", "N", "newton",
    "Pa", "pascal", "atm", "W", "watt", "erg", "dyne", "eV",
    # angles, counts, constants a UNITS block may name
    "rad", "radian", "deg", "degree", "sr", "percent", "faraday", "k-mole", "R", "boltzmann",
    "pi", "avogadro", "1",
}
_PREFIXES = ["yotta", "zetta", "exa", "peta", "tera", "giga", "mega", "kilo", "hecto", "deka",
             "deca", "deci", "centi", "milli", "micro", "nano", "pico", "femto", "atto",
             "zepto", "yocto", "da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c",
             "m", "u", "n", "p", "f", "a", "z", "y"]
_FACTOR = re.compile(r"[A-Za-z][A-Za-z_]*(?:-[A-Za-z]+)?|[0-9.eE+]+")


def _known_name(word, defined):
    if word in _NAMES or word in defined or word in _PREFIXES[:21]:   # "femto amp meter"
        return True
    for stem in (word, word[:-1] if word.endswith("s") else None):    # coulombs
        if not stem:
            continue
        if stem in _NAMES or stem in defined:
            return True
        if any(stem.startswith(p) and (stem[len(p):] in _NAMES or stem[len(p):] in defined)
               for p in _PREFIXES if len(stem) > len(p)):
            return True
    return False


def unknown_factor(unit, defined=()):
    """The first factor of ``unit`` (text without parentheses) that is not a known unit, or
    None.  ``defined``: the names a UNITS block gives, e.g. ``mM`` from ``(mM) = (...)``."""
    text = unit.strip()
    if not text or text in defined:
        return None
    for word in _FACTOR.findall(text):
        if word[0].isdigit() or word[0] == ".":
            continue                                  # a scale: (1/ms), (1e-3)
        word = word.rstrip("0123456789")              # a power: cm2, um3
        if not _known_name(word, defined):
            if "-" in word and all(_known_name(w, defined) for w in word.split("-")):
                continue                              # mV-ms
            return word
    return None


def warn_unknown_units(units, defined, filename):
    """``units``: (text with parentheses, (line, column)) for every unit of a file."""
    for text, (line, col) in units:
        bad = unknown_factor(text.strip()[1:-1], defined)
        if bad is not None:
            warnings.warn(NmodlUnitWarning(f"{filename}:{line}:{col}: unknown unit {bad!r} in "
                                           f"{text} (NEURON's units table does not define "
                                           "it; units do not change the arithmetic)"),
                          stacklevel=4)
