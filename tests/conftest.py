from pathlib import Path

import pytest

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current simulator instead of comparing")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")


# CI runs the property tests with a fixed seed so a red build is reproducible.
def _hypothesis_profiles():
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")


_hypothesis_profiles()


@pytest.fixture(autouse=True, scope="session")
def no_compile_notice():
    """In-process CLI runs compare stderr exactly; whether a kernel is still to be compiled depends
    on the order tests run in and on the disk cache, so the cold-cache notice is off here (its own
    tests turn it on)."""
    from simulator import compile_notice

    compile_notice.ENABLED = False
    yield
    compile_notice.ENABLED = True


@pytest.fixture(autouse=True, scope="session")
def reports_folder_untouched():
    """Tests never write into reports/ (what the CLI writes by default): they use temp folders."""
    def listing():
        return sorted(p.relative_to(REPORTS) for p in REPORTS.rglob("*")) if REPORTS.exists() else None

    before = listing()
    yield
    assert listing() == before, "a test wrote into reports/"
