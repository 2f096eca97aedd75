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
    assert re.search(r"^pip install -e '\.\[test\]' && pytest -q\s+# the tests$", first_screen, re.M)
