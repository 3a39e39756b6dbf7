"""Bad NMODL: each error names file:line:column; the parser is fuzzed and only ever raises
its own clean error."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim as ns
from neurosim.mechanisms.nmodl.syntax import NmodlError

GOOD = """\
NEURON {
    SUFFIX leak2
    USEION na READ ena WRITE ina
    RANGE gbar
}
PARAMETER { gbar = 0.001 (S/cm2) }
ASSIGNED { v (mV) ena (mV) ina (mA/cm2) }
BREAKPOINT {
    ina = gbar * (v - ena)
}
"""


def compile_(text):
    return ns.Mechanism.from_nmodl_text(text, "bad.mod")


def test_the_good_file_compiles():
    m = compile_(GOOD)
    assert m.name == "leak2" and m.parameters == {"gbar": 0.001}


def test_writing_through_a_pointer_is_refused():
    text = GOOD.replace("RANGE gbar", "RANGE gbar\n    POINTER vpre").replace(
        "ASSIGNED { v (mV)", "ASSIGNED { vpre (mV) v (mV)").replace(
        "ina = gbar * (v - ena)", "ina = gbar * (v - ena)\n    vpre = 1")
    with pytest.raises(NmodlError, match=r"bad.mod:5:5: .*POINTER vpre is assigned"):
        compile_(text)
    reads = GOOD.replace("RANGE gbar", "RANGE gbar\n    POINTER vpre").replace(
        "ASSIGNED { v (mV)", "ASSIGNED { vpre (mV) v (mV)").replace(
        "(v - ena)", "(vpre - ena)")
    assert compile_(reads).pointers == ("vpre",)


@pytest.mark.parametrize("old,new,where,words", [
    ("ina = gbar * (v - ena)", "ina = gbar * (v - ena", "10:1", "syntax error"),   # unclosed (
    ("ina = gbar * (v - ena)", "ina = gbar * * v", "9:18", "syntax error"),
    ("ina = gbar * (v - ena)", "ina = gbar * (v - enak)", "9:23", "undefined name 'enak'"),
    ("ina = gbar * (v - ena)", "ina = gbar * (v - ek)", "9:23",
     "undefined name 'ek' (missing USEION k READ ek?)"),
    ("ina = gbar * (v - ena)", "ina = gbar * foo(v)", "9:18", "undefined function 'foo'"),
    ("ina = gbar * (v - ena)", "VERBATIM\n  x = 1;\nENDVERBATIM", "9:5",
     "unsupported construct VERBATIM"),
    ("RANGE gbar", "RANGE gbar\n    BBCOREPOINTER p", "5:5",
     "unsupported construct BBCOREPOINTER"),
    ("ina = gbar * (v - ena)", "ina = gbar * (v - ena)\n    q = 1", "10:5",
     "assignment to undeclared name 'q'"),
    ("ina = gbar * (v - ena)", "ina = gbar * (v - ena)\n    ena = 3", "10:5",
     "ena is only READ"),
    ("ina = gbar * (v - ena)", "SOLVE nothing METHOD cnexp", "9:5",
     "SOLVE nothing: no such DERIVATIVE or KINETIC block"),
])
def test_errors_name_file_line_column(old, new, where, words):
    text = GOOD.replace(old, new)
    with pytest.raises(NmodlError) as err:
        compile_(text)
    msg = str(err.value)
    assert msg.startswith(f"bad.mod:{where}:"), msg
    assert words in msg, msg


def test_ion_names_without_useion_are_plain_variables():
    # NEURON reads a declared ena/ina without USEION as a variable of the mechanism, not
    # linked to the ion (BAAIWorm's and HNN's files declare ki, cao, eca that way)
    text = GOOD.replace("    USEION na READ ena WRITE ina\n", "")
    mech = compile_(text)
    assert not mech.ions and "ina" in mech.assigned


def test_event_calls_outside_their_blocks_are_refused():
    text = GOOD.replace("ina = gbar * (v - ena)", "ina = gbar * (v - ena)\n    net_send(1, 1)")
    with pytest.raises(NmodlError, match=r"bad\.mod:10:5: net_send is supported in the INITIAL"):
        compile_(text)
    artificial = "NEURON {\n    ARTIFICIAL_CELL Gen\n    USEION na READ ena\n}\n" \
                 "ASSIGNED { ena }\n"
    with pytest.raises(NmodlError, match=r"bad\.mod:2:5: ARTIFICIAL_CELL Gen cannot have ions"):
        compile_(artificial)


_MUTATION = st.tuples(st.integers(0, len(GOOD)), st.integers(0, 8),
                      st.text(alphabet="{}()=+-*/^:<>~'!&|,.;0123456789 \nabcxyzQ_", max_size=6))


@settings(max_examples=300, deadline=None)
@given(st.lists(_MUTATION, min_size=1, max_size=4))
def test_fuzzed_nmodl_only_raises_clean_errors(mutations):
    text = GOOD
    for at, cut, insert in mutations:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    try:
        compile_(text)
    except NmodlError as e:
        assert re.match(r"bad\.mod:\d+:\d+: ", str(e)), str(e)
