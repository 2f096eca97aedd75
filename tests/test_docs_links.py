"""Every citation in the repository resolves, and none points outside it.

Checked in README.md, every Markdown file under docs/, models/ and reports/, the bundled YAML files,
and the Python sources of simulator/, tests/ and benchmarks/:

* a relative Markdown link names a file or folder that exists, and its #anchor is a heading of that
  file (GitHub's anchor rules); a link whose text cites `§x.y` must point at the heading numbered
  x.y; every `§` in Markdown prose sits inside such a link;
* in code and YAML comments a citation is a path and a section, `docs/conventions/counting.md §2.2`
  (or `path.md#anchor`, or `path.md ("Heading")`); the file must exist and have that section; a
  later bare `§x.y` refers to the last such path within a few lines above it;
* repository paths named in Markdown and YAML, and `docs/` paths named in code, exist;
* nothing cites the research notes kept outside the repository (`spec/*.md`, `../shared`,
  `DESIGN.md`, "spec §").

The checker (tests/doclinks.py) is written apart from the package, and tested here on a small fake
repository so that a broken citation of each kind is known to fail.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.doclinks import ROOT, Checker, anchors, check_repository, slug


# --- the repository -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def repo() -> Checker:
    return check_repository(ROOT)


def test_every_citation_resolves(repo):
    assert not repo.problems, f"{len(repo.problems)} broken citations:\n" + "\n".join(repo.problems)


def test_the_scan_saw_the_citations(repo):
    """Guards against a checker that passes by reading nothing: the docs cite each conventions file
    by section, and hundreds of section citations were resolved."""
    assert repo.resolved > 200, repo.resolved
    conventions = {f"docs/conventions/{p.name}" for p in (ROOT / "docs" / "conventions").glob("*.md")}
    assert conventions >= {"docs/conventions/systolic.md", "docs/conventions/counting.md",
                           "docs/conventions/layers.md"}
    assert conventions <= repo.cited, conventions - repo.cited


def test_slug_matches_github():
    """Anchors GitHub gives these headings (checked against rendered pages of the kind)."""
    assert slug("2.2 MAC counts") == "22-mac-counts"
    assert slug("3. FlashAttention's memory accesses (Dao et al. 2022)") == \
        "3-flashattentions-memory-accesses-dao-et-al-2022"
    assert slug("`self_attention` (Table 1's first row)") == "self_attention-table-1s-first-row"
    assert slug("Vector ops (kernels/vector.py)") == "vector-ops-kernelsvectorpy"
    assert slug("1.4 Softmax: SM(m)") == "14-softmax-smm"
    assert slug("Public contract: departures") == "public-contract-departures"
    assert slug("A -- B") == "a----b"
    assert anchors("# Title\n## Tests\n## Tests\n```\n# not a heading\n```\n") == {"title", "tests", "tests-1"}


# --- the checker on a fake repository: each kind of break must be caught --------------------------

CONVENTIONS = """# Conventions

## 1. Notation

### 1.1 Symbols

### 1.2 MAC counts

## 2. Table 1

### 2.1 The table
"""


def fake_repo(tmp_path: Path, files: dict[str, str]) -> Checker:
    base = {"README.md": "# x\n", "docs/conventions/c.md": CONVENTIONS}
    for name, text in {**base, **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return check_repository(tmp_path)


GOOD = {
    "docs/a.md": "See [c §1.2](conventions/c.md#12-mac-counts) and [c](conventions/c.md#2-table-1), "
                 "[up](../README.md), `simulator/` and [here](#a).\n\n## A\n",
    "simulator/m.py": '"""Counts (docs/conventions/c.md §1.2, §2.1); the table: §2.\n\n'
                      'See docs/conventions/c.md#11-symbols and docs/a.md ("A")."""\n',
    "workloads/w.yaml": "# the point of docs/conventions/c.md §2.1, in workloads/w.yaml\nname: w\n",
}


def test_checker_accepts_good_citations(tmp_path):
    chk = fake_repo(tmp_path, GOOD)
    assert chk.problems == []
    assert chk.resolved == 8


@pytest.mark.parametrize("name,text,complaint", [
    ("docs/b.md", "[c](conventions/missing.md)\n", "conventions/missing.md does not exist"),
    ("docs/b.md", "[c](conventions/c.md#13-nothing)\n", "has no heading with anchor #13-nothing"),
    ("docs/b.md", "[c §1.1](conventions/c.md#12-mac-counts)\n", "says §1.1 but links #12-mac-counts"),
    ("docs/b.md", "[c §3.1](conventions/c.md#12-mac-counts)\n", "has no section numbered 3.1"),
    ("docs/b.md", "[c §1.2](conventions/c.md)\n", "the link has no #anchor"),
    ("docs/b.md", "as shown in §1.2 of c\n", "§ outside a link"),
    ("docs/b.md", "write `docs/conventions/c.md §1.2` in code\n", "§ outside a link"),
    ("docs/b.md", "[x](#nowhere)\n", "has no heading with anchor #nowhere"),
    ("docs/b.md", "[x](../../outside.md)\n", "points outside the repository"),
    ("docs/b.md", "the closed forms (`simulator/nothing.py`)\n", "simulator/nothing.py does not exist"),
    ("docs/b.md", "[ref]: conventions/gone.md\n", "conventions/gone.md does not exist"),
    ("docs/b.md", "see spec/variants.md\n", "spec/*.md"),
    ("docs/b.md", "the target design (`../shared/DESIGN.md`)\n", "outside the repository"),
    ("docs/b.md", "the columns of DESIGN.md\n", "cites DESIGN.md"),
    ("docs/b.md", "as the spec's table says\n", "'the spec'"),
    ("simulator/m.py", "# closed form (spec §5.2)\n", "'spec §'"),
    ("simulator/m.py", "# closed form (docs/conventions/c.md §5.2)\n", "has no section numbered 5.2"),
    ("simulator/m.py", "# closed form (docs/conventions/gone.md §1.2)\n", "docs/conventions/gone.md does not exist"),
    ("simulator/m.py", "# closed form (§1.2)\n", "§1.2 names no file"),
    ("simulator/m.py", "# docs/conventions/c.md §1.1\n" + "x = 1\n" * 30 + "# later (§1.2)\n", "§1.2 names no file"),
    ("simulator/m.py", '"""docs/conventions/c.md §1.1 and, further on, §4."""\n', "has no section numbered 4"),
    ("simulator/m.py", "# docs/conventions/c.md#22-nothing\n", "has no heading with anchor #22-nothing"),
    ("simulator/m.py", '# docs/conventions/c.md ("Nothing")\n', "has no heading 'Nothing'"),
    ("workloads/w.yaml", "# see hw_configs/none.yaml\nname: w\n", "hw_configs/none.yaml does not exist"),
    ("docs/conventions/d.md", "# D\n## 1. A\n### 1.2 B\n", "expected 1.1 one level below section 1"),
    ("docs/conventions/d.md", "# D\n## 1. A\n## 3. C\n", "expected section 2"),
])
def test_checker_catches(tmp_path, name, text, complaint):
    chk = fake_repo(tmp_path, {**GOOD, name: text})
    assert any(complaint in p for p in chk.problems), chk.problems
