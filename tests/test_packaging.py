"""A wheel install (not editable) carries what `hallu serve` and the default workspace need."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a 23 MB wheel: a few seconds
REPO = Path(__file__).resolve().parent.parent
BUNDLED = "hallu_core/bundled/"


def source_files() -> list[str]:
    """What a checkout of the current work holds: tracked and new files, minus the ignored ones."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in listed if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout to know which files a source tree holds")
    if not (importlib.util.find_spec("pip") and importlib.util.find_spec("setuptools")):
        pytest.skip("needs pip and setuptools in the test environment to build offline")
    # build from a copy: an in-tree build writes build/ into the checkout, shared by concurrent runs
    source = tmp_path_factory.mktemp("source")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(dist), str(source)], check=True, capture_output=True)
    (built,) = dist.glob("hallu-*.whl")
    return built


def test_the_wheel_carries_the_dashboard_and_the_sample_workspace(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"app.py", "sample_data/README.md", "sample_data/ragtruth_dev.jsonl"}
    wanted |= {name for name in source_files() if name.startswith(("pages/", "sample_data/workspace/"))}
    assert any(name.startswith("sample_data/workspace/artifacts/") for name in wanted)
    assert {BUNDLED + name for name in wanted} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(("hallu.db-wal", "hallu.db-shm"))]


def test_every_file_the_package_reads_is_in_the_wheel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [name for name in source_files() if name.startswith("hallu_core/") and not name.endswith(".py")]
    assert "hallu_core/ui/span_selector/selector.js" in data
    assert sorted(set(data) - names) == []


def test_an_installed_wheel_serves_its_own_app_and_builds_the_default_workspace(wheel, tmp_path):
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)  # a pure-Python wheel installs by unpacking
    probe = (
        "import json, hallu_core\n"
        "from hallu_core.data import bundle, workspace\n"
        "store = workspace.open_workspace()\n"
        "print(json.dumps({'package': hallu_core.__file__, 'app': str(bundle.app_path()),\n"
        "                  'prebuilt': str(workspace.PREBUILT), 'root': str(store.root),\n"
        "                  'counts': store.counts()}))\n")
    env = {k: v for k, v in os.environ.items() if k != "HALLU_WORKSPACE"}
    env.update(PYTHONPATH=str(site), XDG_DATA_HOME=str(tmp_path / "xdg"))
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(site)  # the unpacked wheel, not the checkout
    assert Path(found["app"]) == site / BUNDLED / "app.py"
    assert (site / BUNDLED / "pages" / "overview.py").is_file()
    assert Path(found["prebuilt"]) == site / BUNDLED / "sample_data" / "workspace"
    assert Path(found["root"]) == tmp_path / "xdg" / "hallu" / "default-workspace"
    assert found["counts"]["generations"] > 0 and found["counts"]["runs"] > 0


def test_no_package_archive_is_in_the_source_tree():
    """A wheel or tarball committed by accident (a 10 MB ruff wheel once was) weighs on every clone."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout to know which files a source tree holds")
    archives = [name for name in source_files() if name.endswith((".whl", ".tar.gz", ".tgz", ".zip", ".egg"))]
    assert archives == [], f"package archives in the source tree: {archives}"
