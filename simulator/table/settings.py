"""Every size `attnsim table` measures at, in one object: the command uses the defaults; tests run
the same code path on every preset at `TableSettings.small()`."""
from __future__ import annotations

from dataclasses import dataclass, field

from .generation import GenerationSettings
from .table1 import Settings


@dataclass(frozen=True)
class TableSettings:
    table1: Settings = field(default_factory=Settings)
    crossover_d: tuple[int, ...] = (256, 512, 1024)
    crossover_n: tuple[int, ...] = tuple(2 ** i for i in range(4, 15))          # 16 .. 16384
    heads_arrays: tuple[int, ...] = (32, 64, 128)                                 # square arrays, side
    heads_n: int = 512
    heads_d: int = 768                                                            # 12 heads of 64 vs one of 768
    memory_n: tuple[int, ...] = tuple(2 ** i for i in range(8, 15))             # 256 .. 16384
    memory_d: int = 64               # one head of width 64 (docs/conventions/counting.md §3, §4)
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    @classmethod
    def small(cls) -> "TableSettings":
        """Every section at a few small sizes: seconds per preset instead of a minute."""
        table1 = Settings(n=64, d=32, k=3, r=9, n_sweep=(32, 64, 128), d_sweep=(16, 32, 64), k_sweep=(3, 5, 9),
                          r_sweep=(5, 9, 17), r_sweep_n=128, steps_n=(16, 32, 64), path_n=(16, 32, 64),
                          path_k=(3, 5), path_r=(5, 9))
        generation = GenerationSettings(d=64, heads=16, kernel=3, window=9, batches=(1, 4), n_sweep=(16, 32, 64),
                                        state_n=32)
        return cls(table1=table1, crossover_d=(16, 32), crossover_n=(8, 16, 32, 64), heads_arrays=(16, 32),
                   heads_n=32, heads_d=96, memory_n=(32, 64), memory_d=16, generation=generation)
