"""SONATA configuration files: circuit_config.json and simulation_config.json.

Both are JSON with a ``manifest`` of variables (``"$BASE_DIR": "${configdir}/.."``) that
expand anywhere in the file's strings; ``${configdir}`` is the folder of the file.  A
simulation config names its circuit (``"network": "circuit_config.json"``) or holds the
circuit's sections itself.  Relative paths are taken from the config's folder.
"""

import json
import os
import re

from neurosim.errors import NeurosimError

_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


class SonataError(NeurosimError, ValueError):
    """A SONATA file is missing, malformed or inconsistent; the message names file and
    dataset."""


class SonataWarning(UserWarning):
    """Something the peers tolerate (a missing node sets file, input spikes of unknown
    node ids) and neurosim tolerates too, said once."""


def read_json(path, what="JSON file"):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SonataError(f"{path}: {what} not found") from None
    except json.JSONDecodeError as e:
        raise SonataError(f"{path}: line {e.lineno} column {e.colno}: not valid JSON "
                          f"({e.msg})") from None
    except OSError as e:
        raise SonataError(f"{path}: cannot read the {what}: {e}") from None


# an expanded value longer than this is refused ("$A": "$A$A..." would grow without end)
MAX_EXPANDED = 4096


def _manifest(raw, path):
    """The manifest's variables, each expanded in full (variables may name others, in any
    order); a cycle or self-reference is an error naming the variables."""
    manifest = raw.get("manifest", {})
    if not isinstance(manifest, dict):
        raise SonataError(f"{path}: 'manifest' must be an object")
    folder = os.path.dirname(path)
    given = {"configdir": folder, "workingdir": os.getcwd()}
    for key, value in manifest.items():
        given[key.lstrip("$").strip("{}")] = str(value)
    done = {}

    def value_of(name, chain):
        if name in done:
            return done[name]
        if name in chain:
            cycle = " -> ".join(f"${n}" for n in chain[chain.index(name):] + (name,))
            raise SonataError(f"{path}: manifest variables refer to themselves: {cycle}")
        if name not in given:
            raise SonataError(f"{path}: unknown manifest variable ${name} (in the manifest "
                              f"value of ${chain[-1]})" if chain else
                              f"{path}: unknown manifest variable ${name}")
        text = _VARIABLE.sub(lambda m: value_of(m.group(1), chain + (name,)), given[name])
        if len(text) > MAX_EXPANDED:
            raise SonataError(f"{path}: manifest variable ${name} expands to over "
                              f"{MAX_EXPANDED} characters")
        done[name] = text
        return text

    return {name: value_of(name, ()) for name in given}


def _expand(value, variables, path):
    if isinstance(value, str):
        def sub(m):
            name = m.group(1)
            if name not in variables:
                raise SonataError(f"{path}: unknown manifest variable ${name} in {value!r}")
            return variables[name]
        return _VARIABLE.sub(sub, value)      # the variables are expanded in full already
    if isinstance(value, list):
        return [_expand(v, variables, path) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, variables, path) for k, v in value.items()}
    return value


def load_config(path, what="SONATA config"):
    """A config file with its manifest expanded and ``_path``/``_dir`` recorded."""
    path = os.path.abspath(os.fspath(path))
    raw = read_json(path, what)
    if not isinstance(raw, dict):
        raise SonataError(f"{path}: a {what} is a JSON object")
    variables = _manifest(raw, path)
    config = _expand({k: v for k, v in raw.items() if k != "manifest"}, variables, path)
    config["_path"], config["_dir"] = path, os.path.dirname(path)
    return config


def resolve(config, value):
    """A path of the config, absolute (relative paths from the config's folder)."""
    if value is None:
        return None
    value = os.path.expanduser(str(value))
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(config["_dir"],
                                                                            value))


def load_simulation(path):
    """The simulation config behind any of SONATA's entry points, manifest expanded:

    * ``config.json`` holding ``network`` (a circuit config) and ``simulation`` (a
      simulation config), the spec's "config" form: the simulation file read, the circuit
      it names (or ``network`` here) taken as its circuit;
    * a ``simulation_config.json`` naming its circuit (``network``), holding the circuit's
      ``networks``/``components`` itself, or with neither beside a ``circuit_config.json``
      (the spec's default name, in the same folder).

    Keys neurosim does not use (``target_simulator``, ``log_file``, ``nsteps_block``, ...)
    are accepted as the spec defines them."""
    config = load_config(path, "SONATA config")
    if "simulation" in config and not any(k in config for k in ("run", "networks")):
        simulation = load_config(resolve(config, config["simulation"]), "simulation config")
        if "network" in config:
            # the top file's circuit wins over one the simulation file may also name
            simulation["network"] = resolve(config, config["network"])
        simulation["_entry"] = config["_path"]
        return simulation
    return config


def circuit_of(sim_config):
    """The circuit part of a simulation config: its own ``networks``/``components``, the
    circuit_config.json it names (``network``), or the ``circuit_config.json`` beside it."""
    if "networks" in sim_config:
        return sim_config
    name = sim_config.get("network")
    if name is None:
        beside = os.path.join(sim_config["_dir"], "circuit_config.json")
        if not os.path.exists(beside):
            raise SonataError(f"{sim_config['_path']}: neither 'networks' nor 'network' (the "
                              "circuit config) is given, and there is no circuit_config.json "
                              "beside it")
        name = beside
    circuit = load_config(resolve(sim_config, name), "circuit config")
    if "networks" not in circuit:
        raise SonataError(f"{circuit['_path']}: no 'networks' section")
    return circuit
