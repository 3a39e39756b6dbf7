"""Nothing silently wrong: each case a user or a hostile file can cause, and the clear
behaviour neurosim gives instead (an error naming the file and the key, or a refusal)."""

import json

import pytest

from neurosim.io.sonata import SonataError, load_config
from neurosim.io.sonata.config import MAX_EXPANDED


def config_with(tmp_path, manifest, value="$A/out"):
    path = tmp_path / "simulation_config.json"
    path.write_text(json.dumps({"manifest": manifest, "output": {"output_dir": value}}))
    return path


@pytest.mark.parametrize("manifest, cycle", [
    ({"$A": "$B", "$B": "$A"}, r"\$A -> \$B -> \$A"),
    ({"$A": "$A$A"}, r"\$A -> \$A"),
    ({"$A": "${B}/x", "$B": "$C", "$C": "${A}"}, r"\$A -> \$B -> \$C -> \$A"),
])
def test_a_manifest_cycle_is_an_error_naming_the_variables(tmp_path, manifest, cycle):
    with pytest.raises(SonataError, match="manifest variables refer to themselves: " + cycle):
        load_config(config_with(tmp_path, manifest))


def test_a_manifest_that_doubles_at_each_level_is_refused_quickly(tmp_path):
    manifest = {f"$V{k}": f"$V{k + 1}$V{k + 1}" for k in range(40)}
    manifest["$V40"] = "ab"
    manifest["$A"] = "$V0"                  # 2^41 characters if expanded
    with pytest.raises(SonataError, match=f"expands to over {MAX_EXPANDED} characters"):
        load_config(config_with(tmp_path, manifest))


def test_manifest_variables_in_any_order_expand_in_full(tmp_path):
    path = config_with(tmp_path, {"$OUT": "$BASE/output", "$BASE": "${configdir}/run"},
                       "$OUT/spikes")
    assert load_config(path)["output"]["output_dir"] == f"{tmp_path}/run/output/spikes"
