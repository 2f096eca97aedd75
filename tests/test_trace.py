"""`attnsim run --schedule/--trace/--gantt`: the trace of workloads/bert_base_layer.yaml read back as
Trace Event Format, the Gantt chart, the schedule switch and its errors."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest
import yaml

from simulator import load_hardware, load_workload, simulate
from simulator.cli import main
from simulator.schedule.tasks import T

ROOT = Path(__file__).resolve().parent.parent
BERT = str(ROOT / "workloads" / "bert_base_layer.yaml")
DEFAULT = ROOT / "hw_configs" / "default.yaml"


def read_trace(path: Path) -> dict:
    """A minimal Trace Event Format reader: every event checked against the format's rules."""
    data = json.loads(path.read_text())
    assert set(data) >= {"traceEvents", "displayTimeUnit", "otherData"}
    names = {}
    for e in data["traceEvents"]:
        assert e["ph"] in ("X", "i", "M") and isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "process_sort_index", "thread_name", "thread_sort_index")
            if e["name"] == "thread_name":
                names[(e["pid"], e["tid"])] = e["args"]["name"]
        else:
            assert isinstance(e["name"], str) and e["name"] and isinstance(e["ts"], int) and e["ts"] >= 0
        if e["ph"] == "X":
            assert isinstance(e["dur"], int) and e["dur"] >= 0
        if e["ph"] == "i":
            assert e["s"] in ("t", "p", "g")
    data["thread_names"] = names
    return data


@pytest.fixture(scope="module")
def bert_trace(tmp_path_factory):
    out = tmp_path_factory.mktemp("trace")
    assert main(["run", BERT, "--trace", str(out / "t.json"), "--gantt", str(out / "g.png"), "--format", "csv",
                 "--out", str(out / "r.csv")]) == 0
    return out


def test_trace_opens_as_trace_event_format(bert_trace):
    data = read_trace(bert_trace / "t.json")
    assert data["otherData"]["time_unit"] == "cycles"
    assert {name for name in data["thread_names"].values()} == {"MAC array", "vector unit", "fill dram -> sram",
                                                              "drain sram -> dram"}
    layers = data["otherData"]["layers"]
    assert [entry["layer"] for entry in layers] == ["attention", "ffn_in", "ffn_out"]


def test_last_event_ends_at_the_layer_cycles_and_tracks_never_overlap(bert_trace):
    data = read_trace(bert_trace / "t.json")
    report = pd.read_csv(bert_trace / "r.csv")
    for entry in data["otherData"]["layers"]:
        pid = entry["pid"]
        events = [e for e in data["traceEvents"] if e["pid"] == pid and e["ph"] in ("X", "i")]
        assert max(e["ts"] + e.get("dur", 0) for e in events) == entry["cycles"]
        assert entry["cycles"] == int(report.loc[report["layer"] == entry["layer"], "cycles"].iloc[0])
        for tid in {e["tid"] for e in events}:
            spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e["tid"] == tid and e["ph"] == "X")
            assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), tid


def test_every_task_appears_once():
    hw = load_hardware(DEFAULT)
    results = simulate(load_workload(BERT), hw, tasks=True)
    from simulator.schedule.trace import trace_events

    for pid, r in enumerate(results):
        events = [e for e in trace_events(r, pid) if e["ph"] in ("X", "i")]
        tab = r.schedule.graph.tab
        spills = int((r.schedule.times[2][len(tab):] > 0).sum())
        assert len(events) == int((tab[:, T.UNIT] >= 0).sum()) + spills
        keys = [(e["tid"], e["ts"], e.get("dur", 0), e["name"]) for e in events]
        assert len(set(keys)) == len(keys)


def test_gantt_is_a_readable_picture(bert_trace):
    image = matplotlib.image.imread(bert_trace / "g.png")
    assert image.shape[0] > 400 and image.shape[1] > 600
    assert image[..., :3].std() > 0.05


def test_schedule_switch_and_hardware_key(tmp_path, capsys):
    def cycles(*args):
        assert main(["run", BERT, "--format", "csv", *args]) == 0
        return pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))

    over, ser = cycles(), cycles("--schedule", "serial")
    assert (ser["cycles"] == ser["serial_cycles"]).all()
    assert (over["serial_cycles"] == ser["serial_cycles"]).all()
    assert over.loc[over["layer"] == "attention", "cycles"].iloc[0] < ser.loc[ser["layer"] == "attention",
                                                                              "cycles"].iloc[0]
    data = yaml.safe_load(DEFAULT.read_text())
    data["schedule"] = "serial"
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(data))
    keyed = cycles("--hw", str(tmp_path / "hw.yaml"))
    assert list(keyed["cycles"]) == list(ser["cycles"])
    assert list(cycles("--hw", str(tmp_path / "hw.yaml"), "--schedule", "overlapped")["cycles"]) == list(over["cycles"])


def test_schedule_errors(tmp_path, capsys):
    assert main(["run", BERT, "--trace", str(tmp_path / "t.txt")]) == 2
    assert "--trace" in capsys.readouterr().err
    assert main(["run", BERT, "--gantt", str(tmp_path)]) == 2
    assert "--gantt" in capsys.readouterr().err
    data = yaml.safe_load(DEFAULT.read_text())
    data["schedule"] = "parallel"
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(data))
    assert main(["run", BERT, "--hw", str(tmp_path / "hw.yaml")]) == 2
    assert "schedule: expected one of overlapped, serial; got 'parallel'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="schedule must be one of"):
        simulate(load_workload(BERT), load_hardware(DEFAULT), schedule="parallel")


def test_op_rows_relate_to_the_layer_row():
    """Op rows are each op alone (cycles = its own latency = its serial cycles); their spans lie
    within the layer's makespan; the layer's busy cycles are the ops' (forwarding changes only
    transfers)."""
    from simulator import to_frame

    results = simulate(load_workload(BERT), load_hardware(DEFAULT))
    ops, layers = to_frame(results, level="op"), to_frame(results)
    for _, layer in layers.iterrows():
        mine = ops[ops["layer"] == layer["layer"]]
        assert (mine["cycles"] == mine["serial_cycles"]).all()
        assert mine["serial_cycles"].sum() == layer["serial_cycles"]
        assert mine["end_cycle"].max() == layer["cycles"] and (mine["start_cycle"] >= 0).all()
        assert (mine["start_cycle"] <= mine["end_cycle"]).all()
        assert mine["array_busy_cycles"].sum() == layer["array_busy_cycles"]
        assert mine["vector_busy_cycles"].sum() == layer["vector_busy_cycles"]
        assert mine["dram_read_busy_cycles"].sum() >= layer["dram_read_busy_cycles"]
