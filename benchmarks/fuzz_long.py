"""The long fuzz run (by hand): tests/test_fuzz.py's properties with many more examples, and a
tally of how the mutated inputs ended (exit 0, exit 2), so a run shows what it exercised.

    python benchmarks/fuzz_long.py [--examples N] [--seed S]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests import fuzzing, test_fuzz  # noqa: E402


def _caller(prop):
    def run(case):
        prop(case)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per property (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tally: Counter = Counter()
    original = fuzzing.check_outcome

    def counting(code, out, err, named, what):
        tally[(what.split(":")[0].split(" ")[0] if ":" in what else what.split(" ")[0], code)] += 1
        original(code, out, err, named, what)

    fuzzing.check_outcome = counting
    props = (("hardware", test_fuzz.mutated_hardware(), test_fuzz.hardware_property, args.examples),
             ("workload", test_fuzz.mutated_workload(), test_fuzz.workload_property, args.examples),
             ("sweep", st.just(None), None, max(1, args.examples // 10)))
    print(f"{'property':<10} {'examples':>8} {'seconds':>8}")
    for name, strategy, prop, examples in props:
        started = time.perf_counter()
        if name == "sweep":
            @given(st.data())
            def run(data):
                test_fuzz.sweep_property(test_fuzz.sweep_mutation(data))
        else:
            run = given(strategy)(_caller(prop))
        settings(max_examples=examples, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))(seed(args.seed)(run))()
        print(f"{name:<10} {examples:>8} {time.perf_counter() - started:>8.1f}")
    print("\nmutation kind x exit status:")
    for (kind, code), n in sorted(tally.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        print(f"  {kind:<12} exit {code}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
