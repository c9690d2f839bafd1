"""Where the dashboard script (app.py, pages/) and the sample data live.

In a source checkout or an editable install they sit next to the package, at the
repository's top level. A wheel carries copies inside the package, under
hallu_core/bundled/ (setup.py puts them there at build time), because nothing
outside the package is installed.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # hallu_core/
PACKAGED = PACKAGE / "bundled"
CHECKOUT = PACKAGE.parent


def bundle_root() -> Path:
    """The folder holding app.py, pages/ and sample_data/: the wheel's copy first, else the checkout."""
    return PACKAGED if (PACKAGED / "app.py").is_file() else CHECKOUT


def app_path() -> Path:
    """The Streamlit script `hallu serve` runs; a clear error when this install lacks it."""
    app = bundle_root() / "app.py"
    if not app.is_file() or not (app.parent / "pages").is_dir():
        raise FileNotFoundError(
            f"the dashboard is missing from this install: neither {PACKAGED / 'app.py'} nor "
            f"{CHECKOUT / 'app.py'} exists (with pages/ beside it); reinstall Hallu from a full "
            "source tree or wheel")
    return app


def sample_data() -> Path:
    return bundle_root() / "sample_data"
