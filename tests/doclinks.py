"""The citation checker behind tests/test_docs_links.py, written apart from the package.

`check_repository(root)` reads the repository's Markdown, YAML and Python files and returns a
`Checker` whose `problems` lists every citation that does not resolve (see the test module's
docstring for the rules).
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_DIRS = ("simulator", "tests", "docs", "workloads", "hw_configs", "sweeps", "models", "benchmarks",
            "reports")
BARE_REF_REACH = 25     # lines a bare §x.y may sit below the path it refers to

FORBIDDEN = [
    (re.compile(r"\bspec/[\w-]+\.md"), "cites a research note outside the repository (spec/*.md)"),
    (re.compile(r"\.\./shared\b|\bshared/(spec|DESIGN)"), "cites a folder outside the repository"),
    (re.compile(r"\bDESIGN\.md"), "cites DESIGN.md, which is outside the repository (cite docs/architecture.md)"),
    (re.compile(r"\b[Ss]pec(?:'s)?\s*§|\b[Ss]pec sections?\b"), "cites 'spec §', a section of an outside note"),
    (re.compile(r"\b[Tt]he spec(?:'s)?(?=[\s.,;:)])"), "cites 'the spec', an outside note"),
]
MD_LINK = re.compile(r"(!?)\[([^\[\]]*)\]\(([^()\s]*)\)")
REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
SECTION = r"§\s?(\d+(?:\.\d+)*)"
PLAIN_REF = re.compile(r"([\w./-]+\.md)((?:(?:\s*(?:,|and|to|-|–)\s*|\s+)" + SECTION + r")+)")
ANCHOR_REF = re.compile(r"([\w./-]+\.md)#([\w-]+)")
TITLE_REF = re.compile(r"([\w./-]+\.md)\s+\(\"([^\"]+)\"\)")
DOCS_PATH = re.compile(r"(?<![\w./-])(docs/[\w./-]*\.md)")
REPO_PATH = re.compile(r"(?<![\w./<-])((?:%s)/[\w./-]*)" % "|".join(TOP_DIRS))
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


# --- Markdown structure -------------------------------------------------------------------------

def strip_fences(text: str) -> str:
    """The text with fenced code blocks blanked (line numbers kept)."""
    out, fenced = [], False
    for line in text.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced else line)
    return "\n".join(out)


def strip_code_spans(text: str) -> str:
    return re.sub(r"(`+)(.+?)\1", lambda m: " " * len(m.group(0)), text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: rendered text, lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)      # links keep their text
    text = text.replace("`", "").replace("*", "").lower()
    keep = [c for c in text if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc"]
    return "".join(keep).replace(" ", "-")


def headings(text: str) -> list[tuple[int, str]]:
    """(level, text) of every ATX heading outside fenced code."""
    found = []
    for line in strip_fences(text).split("\n"):
        m = HEADING.match(line)
        if m:
            found.append((len(m.group(1)), m.group(2)))
    return found


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title in headings(text):
        base = slug(title)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def numbered(text: str) -> dict[str, str]:
    """Section number ('2', '2.2') -> that heading's anchor."""
    out = {}
    for _, title in headings(text):
        m = re.match(r"(\d+(?:\.\d+)*)\.?\s", title)
        if m:
            out[m.group(1)] = slug(title)
    return out


# --- the checker ----------------------------------------------------------------------------------

class Checker:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.problems: list[str] = []
        self.resolved = 0               # citations with a section or anchor that resolved
        self.cited: set[str] = set()     # repo-relative Markdown files cited with a section
        self._texts: dict[Path, str] = {}

    def text(self, path: Path) -> str:
        if path not in self._texts:
            self._texts[path] = path.read_text(encoding="utf-8")
        return self._texts[path]

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def target(self, where: str, base: Path, name: str) -> Path | None:
        """The existing file or folder `name` relative to `base`, inside the repository."""
        path = (base / name).resolve()
        if self.root not in path.parents and path != self.root:
            self.fail(where, f"{name} points outside the repository")
            return None
        if not path.exists():
            self.fail(where, f"{name} does not exist")
            return None
        return path

    def section(self, where: str, doc: Path, number: str) -> None:
        self.resolve(where, doc, f"§{number}", lambda text: number in numbered(text),
                     f"no section numbered {number}")

    def anchor(self, where: str, doc: Path, name: str) -> None:
        self.resolve(where, doc, f"#{name}", lambda text: name in anchors(text), f"no heading with anchor #{name}")

    def resolve(self, where: str, doc: Path, cited: str, present, missing: str) -> None:
        if doc.suffix != ".md" or not doc.is_file():
            self.fail(where, f"{cited} points into {self.rel(doc)}, which is not a Markdown file")
        elif not present(self.text(doc)):
            self.fail(where, f"{self.rel(doc)} has {missing}")
        else:
            self.resolved += 1
            self.cited.add(self.rel(doc))

    def forbidden(self, path: Path) -> None:
        for n, line in enumerate(self.text(path).split("\n"), 1):
            for rx, why in FORBIDDEN:
                if rx.search(line):
                    self.fail(f"{self.rel(path)}:{n}", f"{why}: {line.strip()!r}")

    # Markdown: links, then every § must have been inside a link's text
    def markdown(self, path: Path) -> None:
        body = strip_fences(self.text(path))
        for n, line in enumerate(body.split("\n"), 1):
            where = f"{self.rel(path)}:{n}"
            prose = strip_code_spans(line)
            for m in MD_LINK.finditer(prose):
                self.md_link(where, path, m.group(2), m.group(3))
            for m in REF_DEF.finditer(prose):
                self.md_link(where, path, "", m.group(1))
            if "§" in MD_LINK.sub("", line):                         # code spans included
                self.fail(where, f"§ outside a link (cite as [name §x.y](file.md#anchor)): {line.strip()!r}")
            for m in REPO_PATH.finditer(line):
                self.repo_path(where, m.group(1), line[m.end():m.end() + 1])

    def md_link(self, where: str, path: Path, text: str, link: str) -> None:
        if re.match(r"[a-z][a-z0-9+.-]*:", link) or not link:
            return                                                  # external: not checked offline
        name, _, frag = link.partition("#")
        doc = self.target(where, path.parent, name) if name else path
        if doc is None:
            return
        numbers = re.findall(SECTION, text)
        if len(numbers) > 1:
            self.fail(where, f"one section per link: [{text}]")
        if frag:
            self.anchor(where, doc, frag)
        if numbers:
            want = numbered(self.text(doc)).get(numbers[0]) if doc.suffix == ".md" and doc.is_file() else None
            if not frag:
                self.fail(where, f"[{text}] cites §{numbers[0]} but the link has no #anchor")
            elif want is None:
                self.fail(where, f"{self.rel(doc)} has no section numbered {numbers[0]}")
            elif want != frag:
                self.fail(where, f"[{text}] says §{numbers[0]} but links #{frag} (§{numbers[0]} is #{want})")

    def repo_path(self, where: str, name: str, after: str = "") -> None:
        """A path the text names must exist, unless it is a pattern (`reports/sweeps/<name>/`)."""
        name = name.rstrip(".")
        if after in ("<", "*", "{") or "..." in name:
            return
        if not (self.root / name).exists():
            self.fail(where, f"{name} does not exist")

    # code and YAML: path + section, path#anchor, path ("Title"); bare § after a path
    def plain(self, path: Path, check_all_paths: bool) -> None:
        lines = self.text(path).split("\n")
        last: tuple[int, Path] | None = None
        for n, line in enumerate(lines, 1):
            where = f"{self.rel(path)}:{n}"
            covered = [False] * len(line)
            for m in DOCS_PATH.finditer(line):
                doc = self.target(where, self.root, m.group(1))
                if doc is not None:
                    last = (n, doc)
            if check_all_paths:
                for m in REPO_PATH.finditer(line):
                    self.repo_path(where, m.group(1), line[m.end():m.end() + 1])
            for m in PLAIN_REF.finditer(line):
                doc = self.target(where, self.root, m.group(1))
                for number in re.findall(SECTION, m.group(2)):
                    if doc is not None:
                        self.section(where, doc, number)
                covered[m.start():m.end()] = [True] * (m.end() - m.start())
                if doc is not None:
                    last = (n, doc)
            for m in ANCHOR_REF.finditer(line):
                doc = self.target(where, self.root, m.group(1))
                if doc is not None:
                    self.anchor(where, doc, m.group(2))
            for m in TITLE_REF.finditer(line):
                doc = self.target(where, self.root, m.group(1))
                if doc is not None and m.group(2) not in [t for _, t in headings(self.text(doc))]:
                    self.fail(where, f"{self.rel(doc)} has no heading {m.group(2)!r}")
            for m in re.finditer(SECTION, line):
                if covered[m.start()]:
                    continue
                if last is None or n - last[0] > BARE_REF_REACH:
                    self.fail(where, f"§{m.group(1)} names no file (write docs/....md §{m.group(1)})")
                else:
                    self.section(where, last[1], m.group(1))

    def structure(self, path: Path) -> None:
        """Numbered headings run 1, 2, ... and x.1, x.2, ... under x, one level deeper."""
        expect_top, current, expect_sub, top_level = 1, None, 1, None
        for level, title in headings(self.text(path)):
            m = re.match(r"(\d+)(?:\.(\d+))?\.?\s", title)
            if not m:
                continue
            where = f"{self.rel(path)}: heading {title!r}"
            if m.group(2) is None:
                if int(m.group(1)) != expect_top:
                    self.fail(where, f"expected section {expect_top}")
                current, expect_top, expect_sub, top_level = int(m.group(1)), int(m.group(1)) + 1, 1, level
            else:
                if current != int(m.group(1)) or int(m.group(2)) != expect_sub or top_level is None \
                        or level != top_level + 1:
                    self.fail(where, f"expected {current}.{expect_sub} one level below section {current}")
                expect_sub = int(m.group(2)) + 1


# --- what is scanned ------------------------------------------------------------------------------

# the checker and its tests quote the forbidden patterns on purpose
SELF = {Path(__file__).resolve(), Path(__file__).resolve().parent / "test_docs_links.py"}


def markdown_files(root: Path) -> list[Path]:
    files = [root / "README.md", *root.glob("docs/**/*.md"), *root.glob("models/**/*.md"),
             *root.glob("reports/**/*.md")]
    return sorted(p for p in files if p.is_file())


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for d in ("workloads", "hw_configs", "sweeps", "models")
                  for p in (root / d).glob("*") if p.suffix in (".yaml", ".yml", ".json"))


def code_files(root: Path) -> list[Path]:
    files = [p for d in ("simulator", "tests", "benchmarks") for p in (root / d).rglob("*.py")]
    extra = [root / "pyproject.toml", root / ".ci" / "run"]
    return sorted(p for p in files + extra if p.is_file() and p.resolve() not in SELF and "__pycache__" not in p.parts)


def check_repository(root: Path) -> Checker:
    chk = Checker(root)
    for path in markdown_files(root):
        chk.forbidden(path)
        chk.markdown(path)
        chk.structure(path)
    for path in yaml_files(root):
        chk.forbidden(path)
        chk.plain(path, check_all_paths=True)
    for path in code_files(root):
        chk.forbidden(path)
        chk.plain(path, check_all_paths=False)
    return chk
