"""Bad NMODL: each error names file:line:column; the parser is fuzzed and only ever raises
its own clean error."""

import os
import re
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim as ns
from neurosim.errors import NeurosimError, NmodlUnitWarning
from neurosim.mechanisms.nmodl.syntax import NmodlError

from test_nmodl_corpus import CORPORA, corpus_files, neuron_traces, neurosim_traces

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


def test_a_pointer_assigned_or_read():
    """A POINTER a block assigns is written through (tests/mechanisms/test_nmodl_pointers.py runs
    hnn-core's dipole against NEURON); one only read is not."""
    text = GOOD.replace("RANGE gbar", "RANGE gbar\n    POINTER vpre").replace(
        "ASSIGNED { v (mV)", "ASSIGNED { vpre (mV) v (mV)").replace(
        "ina = gbar * (v - ena)", "ina = gbar * (v - ena)\n    vpre = 1")
    assert compile_(text).pointers_written == ("vpre",)
    reads = GOOD.replace("RANGE gbar", "RANGE gbar\n    POINTER vpre").replace(
        "ASSIGNED { v (mV)", "ASSIGNED { vpre (mV) v (mV)").replace(
        "(v - ena)", "(vpre - ena)")
    m = compile_(reads)
    assert m.pointers == ("vpre",) and m.pointers_written == ()


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NmodlUnitWarning)     # a mutated unit may warn
            compile_(text)
    except NmodlError as e:
        assert re.match(r"bad\.mod:\d+:\d+: ", str(e)), str(e)


# ------------------------------------------------------------------ limits (issue 21 item 11)
def _with_current(expr):
    return GOOD.replace("ina = gbar * (v - ena)", f"ina = ({expr}) * (v - ena)")


def _refused_quickly(text, where, words):
    start = time.perf_counter()
    with pytest.raises(NmodlError) as err:
        compile_(text)
    took = time.perf_counter() - start
    assert isinstance(err.value, NeurosimError)
    msg = str(err.value)
    assert msg.startswith(f"bad.mod:{where}: "), msg
    assert words in msg, msg
    assert took < 10.0, took


def test_a_huge_expression_is_refused_quickly_naming_the_limit():
    terms = " + ".join(f"{k}.25e-6 * gbar" for k in range(100_000))     # 1.8 MB
    assert len(terms) > 1_800_000
    _refused_quickly(_with_current(terms), "1:1", "up to 1000000 characters")
    # well under the size limit, far deeper than the nesting limit: one level per operator
    _refused_quickly(_with_current(" + ".join(["gbar"] * 5000)), "9:11",
                     "nested deeper than 150 levels")
    _refused_quickly(_with_current("(1 + " * 2000 + "gbar" + ")" * 2000), "9:11",
                     "nested deeper than 150 levels")


def test_deeply_nested_parentheses_around_one_term_parse():
    # parentheses alone add no level to the tree: 20000 of them parse (iteratively)
    m = compile_(_with_current("(" * 20_000 + "gbar" + ")" * 20_000))
    assert m.name == "leak2"


@pytest.mark.parametrize("old,new,where", [
    ("ASSIGNED { v (mV)", "ASSIGNED { _g v (mV)", "7:12"),
    ("PARAMETER { gbar", "PARAMETER { _gbar = 1 gbar", "6:13"),
    ("ina = gbar * (v - ena)", "LOCAL _x\n    ina = gbar * (v - ena)", "9:11"),
    ("BREAKPOINT {", "STATE { _m }\nBREAKPOINT {", "8:9"),
])
def test_names_beginning_with_underscore_are_refused_by_name(old, new, where):
    # nocmodl refuses them too (a syntax error); neurosim's generated code keeps them
    with pytest.raises(NmodlError) as err:
        compile_(GOOD.replace(old, new))
    msg = str(err.value)
    assert msg.startswith(f"bad.mod:{where}: name '_"), msg
    assert "begins with '_'" in msg, msg


def test_a_renamed_reserved_name_clashing_with_a_declared_one_is_refused():
    text = GOOD.replace("ASSIGNED { v (mV)", "ASSIGNED { g g_ v (mV)")
    with pytest.raises(NmodlError, match=r"bad\.mod:7:\d+: 'g_' clashes with 'g'"):
        compile_(text)


# Variables named like what neurosim's generated code uses (Python keywords and builtins, the
# kernel's functions, i/g): NEURON takes them; neurosim renames them.
RESERVED_NAMES = """NEURON {
    SUFFIX resv
    NONSPECIFIC_CURRENT i
    RANGE g, lambda, math, dense_solve, hines_solve_range, prange, None, np, LOCAL_ARRAY, len
}
PARAMETER { lambda = 0.0005 (S/cm2) np = 2 }
ASSIGNED { v (mV) i (mA/cm2) g (S/cm2) math dense_solve hines_solve_range prange None
           LOCAL_ARRAY len }
STATE { range }
INITIAL { range = 0.1 }
BREAKPOINT {
    SOLVE states METHOD cnexp
    math = range * np
    dense_solve = math / np
    hines_solve_range = 1  prange = 2  None = 3  LOCAL_ARRAY = 4  len = 5
    g = lambda * dense_solve * (hines_solve_range + prange + None + LOCAL_ARRAY) / (len + 5)
    i = g * (v + 80)
}
DERIVATIVE states { LOCAL max  max = 5  range' = (1 - range) / max }
"""
# the longest sum under the nesting limit, through the kernel
LONG_SUM = """NEURON { SUFFIX longsum NONSPECIFIC_CURRENT i RANGE gbar }
PARAMETER { gbar = 1e-6 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = (%s) * (v + 80) }
""" % " +\n    ".join(f"{k + 1} * gbar" for k in range(140))     # (nocmodl reads lines of
#                                                               a limited length)


def test_reserved_names_and_a_long_sum_match_neuron(tmp_path):
    mechs = []
    for name, text in (("resv", RESERVED_NAMES), ("longsum", LONG_SUM)):
        path = tmp_path / f"{name}.mod"
        path.write_text(text)
        mechs.append((str(path), ns.Mechanism.from_nmodl(str(path))))
    assert mechs[0][1].code_name("range") == "range_"
    theirs = neuron_traces(str(tmp_path), mechs)
    ours = neurosim_traces(mechs)
    for name in ("resv", "longsum"):
        assert abs(theirs[name][-1] - theirs[name][0]) > 1.0, name    # the current acts
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-6, err_msg=name)


# ------------------------------------------------------------------ units
def test_an_unknown_unit_warns_naming_file_line_and_unit():
    text = GOOD.replace("gbar = 0.001 (S/cm2)", "gbar = 0.001 (furlongs/cm2)")
    with pytest.warns(NmodlUnitWarning, match=r"bad\.mod:6:26: unknown unit 'furlongs' in "
                                              r"\(furlongs/cm2\)"):
        compile_(text)
    # a unit the file's UNITS block defines is known
    defined = "UNITS { (furlongs) = (meter) }\n" + text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_(defined)


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_the_units_of_the_corpora_are_known(corpus):
    files = corpus_files(corpus)
    assert files
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in files:
            try:
                ns.Mechanism.from_nmodl(path)
            except NmodlError:
                pass
    assert [str(w.message) for w in caught] == []


def test_assigning_diam_is_refused_by_name():
    # diam is the segment's diameter, read from the morphology: a mechanism that assigns it
    # (changing the morphology) is refused where it is declared
    text = GOOD.replace("ASSIGNED { v (mV)", "ASSIGNED { diam (um) v (mV)").replace(
        "ina = gbar", "diam = 2\n    ina = gbar")
    with pytest.raises(NmodlError, match=r"bad\.mod:7:12: diam is assigned"):
        compile_(text)
    assert compile_(GOOD.replace("ASSIGNED { v (mV)", "ASSIGNED { diam (um) v (mV)")
                    ).geometric == ("diam",)


def test_net_event_outside_a_point_process_or_net_receive_is_refused_by_name():
    density = GOOD.replace("BREAKPOINT {", "INITIAL { net_event(t) }\nBREAKPOINT {")
    with pytest.raises(NmodlError, match=r"bad\.mod:8:11: net_event is supported in the "
                                         r"NET_RECEIVE block of a POINT_PROCESS"):
        compile_(density)
    point = ("NEURON { POINT_PROCESS pe }\nASSIGNED { v (mV) }\n"
             "INITIAL { net_event(t) }\nNET_RECEIVE(w) { net_event(t) }\n")
    with pytest.raises(NmodlError, match=r"bad\.mod:3:11: net_event is supported"):
        compile_(point)
    assert compile_(point.replace("INITIAL { net_event(t) }\n", "")).uses_net_event


def test_function_table_with_a_wrong_number_of_arguments_is_refused_by_name():
    text = GOOD.replace("BREAKPOINT {", "FUNCTION_TABLE tab(v, x)\nBREAKPOINT {").replace(
        "ina = gbar *", "ina = tab(v) * gbar *")
    with pytest.raises(NmodlError, match=r"bad\.mod:10:11: FUNCTION_TABLE tab takes 2 "
                                         r"arguments, got 1"):
        compile_(text)
