"""Repository-level promises: lint clean, README's commands and example, curated API."""

import importlib
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import jtoolkit

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PUBLIC_MODULES = [name for name in jtoolkit.__all__ if name != "__version__"]


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(python3 -m venv [^\n]+)\n```", README)


def test_ci_runs_exactly_the_readme_test_command():
    test_commands = [c for c in _readme_commands() if "pytest" in c]
    assert len(test_commands) == 1, test_commands
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert test_commands[0] in ci_script.splitlines()


def test_readme_demo_command_installs_the_demo_dataset():
    demo = [c for c in _readme_commands() if "jtoolkit.train" in c]
    assert len(demo) == 1 and '".[demo]"' in demo[0]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_modules_declare_all(name):
    module = importlib.import_module(f"jtoolkit.{name}")
    assert isinstance(module.__all__, list | tuple) and module.__all__
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"jtoolkit.{name}.__all__ names missing attributes: {missing}"


_README_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(_README_BLOCKS)))
def test_readme_python_examples_run(index, tmp_path):
    """Every Python block of the README runs as written (in a scratch directory)."""
    result = subprocess.run(
        [sys.executable, "-c", _README_BLOCKS[index]],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    float(result.stdout.strip().splitlines()[-1])  # each ends by printing a number


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff_clean(args):
    result = subprocess.run(["ruff", *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def _tracked_text_files():
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    suffixes = {".py", ".md", ".toml", ".txt", ".cfg", ".sh", ".yml", ".yaml"}
    return [ROOT / p for p in out if pathlib.Path(p).suffix in suffixes or "/" not in p]


def test_no_file_points_at_a_path_outside_the_repository():
    """A clone must be self-contained: no `../x` that leaves the repository, no
    absolute path into this machine's workspace."""
    relative = re.compile(r"(?<![\w.])((?:\.\./)+[\w.-]+(?:/[\w.-]+)*)")
    absolute = re.compile(r"(?<![\w.])/(?:work|home|root|tmp)/[\w.-]+")
    bad = []
    for path in _tracked_text_files():
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for m in relative.finditer(text):
            target = (path.parent / m.group(1)).resolve()
            if ROOT not in target.parents and target != ROOT:
                bad.append(f"{path.relative_to(ROOT)}: {m.group(1)}")
        for m in absolute.finditer(text):
            bad.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert bad == [], "paths outside the repository:\n" + "\n".join(bad)
