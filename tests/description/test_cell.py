"""Cell, the description alone (no lowering, no simulation): what it records, what it
refuses and names, and when copies of a template share their nodes."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.errors import LocationError, MechanismError, ParameterError


def cell():
    return ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)


def test_insert_records_parameters_by_their_own_names():
    c = cell()
    c.insert("pas", region="dend", g_pas=2e-5, e=-70.0)      # NEURON's g_pas is g
    (ins,) = c.inserts
    assert ins.mechanism.name == "pas" and ins.region == "dend"
    assert ins.params == {"g": 2e-5, "e": -70.0}


@pytest.mark.parametrize("call, error, words", [
    (lambda c: c.insert("no_such_channel"), MechanismError, "unknown mechanism"),
    (lambda c: c.insert("ExpSyn"), ParameterError, "point mechanism"),
    (lambda c: c.insert("pas", gbar=1.0), ParameterError, "gbar"),
    (lambda c: c.insert("hh", region="apic"), ParameterError, "apic"),
    (lambda c: c.paint("soma", cm=-1.0), ParameterError, "cm"),
    (lambda c: c.add_synapse((0, 0.5), "hh"), ParameterError, "not a point process"),
    (lambda c: c.add_synapse((5, 0.5), "ExpSyn"), LocationError, "section 5"),
    (lambda c: c.add_iclamp((0, 1.5), 1.0, 1.0, 0.1), LocationError, "outside"),
    (lambda c: c.add_detector("soma"), LocationError, "(section_id, x)"),
])
def test_bad_input_is_refused_by_name(call, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        call(cell())


def test_a_region_without_sections_is_allowed_when_asked():
    c = cell()
    c.insert("hh", region="apic", missing_ok=True)
    assert len(c.inserts) == 1


def test_synapse_labels_are_numbered_and_unique():
    c = cell()
    assert c.add_synapse((1, 0.5), "ExpSyn") == "ExpSyn0"
    assert c.add_synapse((1, 0.2), "ExpSyn", tau=3.0) == "ExpSyn1"
    with pytest.raises(ParameterError, match="already used"):
        c.add_synapse((1, 0.1), "ExpSyn", label="ExpSyn0")
    with pytest.raises(ParameterError, match="new and distinct"):
        c.add_synapses([1, 1], [0.1, 0.2], "ExpSyn", ["a", "a"])
    assert [s.label for s in c.synapses] == ["ExpSyn0", "ExpSyn1"]
    assert c.synapses[1].params == {"tau": 3.0}


def test_copies_share_their_geometry_until_one_changes():
    template = cell().insert("hh", region="soma")
    a, b = template.copy(), template.copy()
    assert a.geometry_key() == b.geometry_key() == template.geometry_key()
    a.add_synapse((1, 0.5), "ExpSyn")          # point processes are each copy's own
    assert a.geometry_key() == template.geometry_key() and not b.synapses
    b.insert("pas", region="dend")             # nodes' mechanisms change: b stands alone
    assert b.geometry_key() != template.geometry_key()
    assert a.geometry_key() == template.geometry_key()
    template.paint("dend", ra=200.0)           # the template changes: so does every key
    assert a.geometry_key() != template.geometry_key()


def test_a_location_is_a_section_and_a_position_on_it():
    c = cell()
    assert c.check_location((1, 0.25)) == (1, 0.25)
    assert c.check_location((np.int64(0), 1)) == (0, 1.0)
    with pytest.raises(LocationError, match="section 1.5"):
        c.check_location((1.5, 0.5))
