"""`attnsim run --save-outputs DIR`: the inputs, outputs and float64 reference outputs of every
functional layer, one .npz file per layer and hardware config, each written atomically."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from .errors import AttnsimError
from .fileio import write_atomic


def check_folder(folder: str) -> Path:
    """The folder, created if missing; an AttnsimError naming the flag when it cannot be one."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise AttnsimError(f"--save-outputs {folder}: is a file; give a folder for the .npz files")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AttnsimError(f"--save-outputs {folder}: cannot create the folder: {exc.strerror or exc}") from None
    return path


def file_name(result) -> str:
    """workload.layer.hw.npz, with anything but letters, digits, '_', '-' and '.' replaced by '_'."""
    parts = (result.workload, result.layer, result.hw.name)
    return ".".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", part) for part in parts) + ".npz"


def layer_arrays(result) -> dict[str, np.ndarray]:
    """input/NAME and output/NAME as the run held them (the number format's values, float32), and
    reference/NAME: each output from the float64 reference of the same graph on the same inputs."""
    from .exact import run_exact

    with np.errstate(all="ignore"):
        reference = run_exact(result.graph, result.inputs)
    arrays = {f"input/{name}": np.asarray(arr) for name, arr in result.inputs.items()}
    arrays.update({f"output/{name}": np.asarray(arr) for name, arr in result.outputs.items()})
    arrays.update({f"reference/{name}": reference[name].reshape(np.shape(arr)) for name, arr in result.outputs.items()})
    return arrays


def save_outputs(results, folder: Path) -> list[str]:
    """Write one .npz per functional result into `folder`; returns the file names."""
    names = []
    for result in results:
        if result.outputs is None:
            continue
        buf = io.BytesIO()
        np.savez(buf, **layer_arrays(result))
        name = file_name(result)
        try:
            write_atomic(folder / name, buf.getvalue())
        except OSError as exc:
            raise AttnsimError(f"--save-outputs: cannot write {folder / name}: {exc.strerror or exc}") from None
        names.append(name)
    return names
