"""`--executor dask` gives the same files as the local executor (Dask is in the `test` extra, so CI
runs this; it skips only where dask.distributed is not installed)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from simulator import cli
from simulator.sweep.run import run_sweep
from simulator.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "sweeps" / "quick.yaml"
CSVS = ("results.csv", "pareto.csv", "invalid.csv", "influence.csv")
_STAMP = re.compile(r",\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", re.M)


def same_files(a: Path, b: Path) -> None:
    for name in CSVS:
        assert _STAMP.sub("", (a / name).read_text()) == _STAMP.sub("", (b / name).read_text()), name
    for name in ("pareto.png", "heatmap.png"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    run_sweep(load_sweep(QUICK), out, jobs=1)
    return out


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed: "
                                      "pip install 'attnsim[distributed]' (the test extra includes it)")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as c:
        yield c


def test_dask_cluster_equals_local(local, cluster, tmp_path):
    outcome = run_sweep(load_sweep(QUICK), tmp_path, executor="dask", scheduler=cluster.scheduler_address,
                        chunk_size=4)
    assert outcome.evaluated == 27
    same_files(tmp_path, local)


def test_cli_dask_with_a_scheduler_address(local, cluster, tmp_path, capsys):
    assert cli.main(["sweep", str(QUICK), "--out", str(tmp_path), "--executor", "dask",
                     "--scheduler", cluster.scheduler_address, "--chunk-size", "2", "--quiet"]) == 0
    same_files(tmp_path, local)


def test_cli_dask_local_cluster_when_no_scheduler_is_given(local, tmp_path):
    pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")
    assert cli.main(["sweep", str(QUICK), "--out", str(tmp_path), "--executor", "dask", "--jobs", "1",
                     "--quiet"]) == 0
    same_files(tmp_path, local)


def test_missing_dask_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)        # import fails as if not installed
    assert cli.main(["sweep", str(QUICK), "--out", str(tmp_path), "--executor", "dask", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.endswith("attnsim: error: --executor dask needs Dask's distributed scheduler: "
                        "pip install 'attnsim[distributed]'\n")
