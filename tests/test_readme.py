"""The README's commands and Python example keep working."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_example_runs(capsys, monkeypatch):
    block = README.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    ratio = float(re.search(r"max \|simulated - numpy\| / max\|C\| = ([0-9.e-]+)", out).group(1))
    assert ratio < 1 / 127        # int8 output quantisation: at most half a step of max|C|/127
    attn = float(re.search(r"attention max \|simulated - numpy\| / max\|Y\| = ([0-9.e-]+)", out).group(1))
    assert attn < 0.05            # three quantised tensors in a row (scores, probabilities, output)


def test_first_screen_has_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:15])
    assert re.search(r"^pip install -e \. && attnsim \S+ .*# main job", first_screen, re.M)
    assert re.search(r"^pip install -e '\.\[test\]' && pytest -q -n auto\s+# the tests$", first_screen, re.M)


def test_readme_test_command_prints_the_summary_line(tmp_path):
    """The README's test command, under the project's pytest configuration, ends with pytest's
    summary line (counts), which a doubled -q (README + addopts) would hide."""
    import subprocess
    import sys

    line = re.search(r"^pip install -e '\.\[test\]' && (pytest[^#]*?)\s+# the tests$", README, re.M).group(1)
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_one():\n    assert True\n")
    args = line.split()[1:]
    out = subprocess.run([sys.executable, "-m", "pytest", *args, "-c", str(ROOT / "pyproject.toml"),
                          "--rootdir", str(tmp_path), "-p", "no:cacheprovider", str(probe)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert re.search(r"^1 passed in [0-9.]+s", out.stdout, re.M), out.stdout
