"""Allen Cell Types morphologies shipped in bmtk's wheel (read in place, never copied)."""

import glob
import os

from neurosim.errors import NeurosimError


def allen_morphologies():
    """Paths of the Allen SWC files in the installed bmtk package."""
    try:
        import bmtk
    except ImportError:
        raise NeurosimError("the demo cell's morphology comes from the bmtk package: "
                            "pip install 'neurosim[demo]'") from None
    base = os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet",
                        "morphologies")
    paths = sorted(glob.glob(os.path.join(base, "*.swc")))
    if not paths:
        raise NeurosimError(f"no SWC files found in {base}")
    return paths


def allen_morphology(name="Scnn1a"):
    for path in allen_morphologies():
        if os.path.basename(path).startswith(name):
            return path
    raise NeurosimError(f"no Allen morphology named {name!r}; have "
                        f"{[os.path.basename(p) for p in allen_morphologies()]}")
