"""Where the test data of other projects live: ``../shared/data`` beside the repository
(their licences and READMEs with them), the same place on a developer's machine and in CI.
Tests copy what they run into a temporary folder; nothing is written there."""

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SONATA_EXAMPLES = SHARED_DATA / "sonata-examples"


def shared(*parts):
    """A path under ../shared/data, which must exist (a missing file is a failure, not a
    skip: CI has them all)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"test data {path} is missing (../shared/data beside the "
                                "repository)")
    return path
NMODL_CORPUS = SHARED_DATA / "nmodl-corpus"
BAAIWORM_MODS = SHARED_DATA / "baaiworm" / "mechanism" / "modfile"
