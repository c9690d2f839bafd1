"""Build hook: the wheel carries the dashboard and the sample data inside hallu_core.

The repository keeps app.py, pages/ and sample_data/ at the top level, outside the
package, so a plain wheel would lack them and `hallu serve` could not start. A regular
build copies them into hallu_core/bundled/ in the build folder (never the source tree),
where hallu_core.data.bundle looks first. An editable install skips the copy and reads the
checkout. Everything else lives in pyproject.toml.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

HERE = Path(__file__).resolve().parent
SHIPPED = ("app.py", "pages", "sample_data")
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.py[co]", "hallu.db-*")  # caches, SQLite's live side files


class BuildWithDashboard(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "hallu_core" / "bundled"
        shutil.rmtree(target, ignore_errors=True)  # nothing stale from an earlier build
        target.mkdir(parents=True)
        for name in SHIPPED:
            source = HERE / name
            if not source.exists():
                raise FileError(f"{source} is missing: the wheel would ship without the dashboard")
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=LEFT_OUT)
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithDashboard})
