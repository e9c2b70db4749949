"""Citations of the project's notes cannot rot: every `docs/<file>.md section <N>` names a real section.

Code, tests, the READMEs and the notes themselves cite the notes in `docs/` by file and section
number. These tests find every such citation and check that the file exists and has a heading with
that number (`## N. Title` or `### N.M Title`), and that each note numbers its sections 1, 2, 3...
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# where citations may live: the package, the tests, the notes themselves, the README
SCANNED = ("gaelp", "tests", "docs", "README.md")
SUFFIXES = {".py", ".md", ".toml", ".txt"}

CITATION = re.compile(r"docs/([\w.-]+\.md)`?(?:,?\s+sections?\s+(\d+(?:\.\d+)*))?")
HEADING = re.compile(r"^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
TOP_HEADING = re.compile(r"^##\s+(\d+)\.\s", re.MULTILINE)


def sections(text: str) -> set[str]:
    """Section numbers of a note's numbered headings, e.g. {"1", "2", "3.1"}."""
    return set(HEADING.findall(text))


def citations(text: str) -> list[tuple[int, str, str | None]]:
    """(line, file name, section or None) of every citation of a note in `text`."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)) for m in CITATION.finditer(text)]


def problems(where: str, text: str, docs: dict[str, str]) -> list[str]:
    """What is wrong with the citations in `text` (from `where`), given the notes `docs` (name -> text)."""
    out = []
    for line, name, section in citations(text):
        if name not in docs:
            out.append(f"{where}:{line}: docs/{name} does not exist")
        elif section is not None and section not in sections(docs[name]):
            out.append(f"{where}:{line}: docs/{name} has no section {section}")
    return out


def _notes() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}


def _scanned_files() -> list[Path]:
    here = Path(__file__).resolve()
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        else:
            files.extend(p for p in sorted(path.rglob("*")) if p.suffix in SUFFIXES and p.is_file())
    return [p for p in files if p.resolve() != here]  # this file's own examples are not citations


def test_every_cited_note_and_section_exists():
    notes = _notes()
    found, bad = 0, []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        found += len(citations(text))
        bad += problems(str(path.relative_to(ROOT)), text, notes)
    assert found > 0, "no citation of docs/ found: the scanner is broken or the notes are cited nowhere"
    assert not bad, "citations of missing notes or sections:\n" + "\n".join(bad)


def test_the_checker_flags_a_missing_note_and_a_missing_section():
    notes = {"a.md": "# A\n\n## 1. One\n\n### 1.1 Detail\n\n## 2. Two\n"}
    cite = "docs/" + "a.md"  # built, so the scan of this file could not mistake it for a citation
    text = (f"see {cite} section 2 and `{cite}` section 1.1,\nthen {cite}\nsection 3 and "
            f"docs/{'b.md'} section 1; also {cite}")
    assert [c[1:] for c in citations(text)] == [("a.md", "2"), ("a.md", "1.1"), ("a.md", "3"), ("b.md", "1"),
                                                 ("a.md", None)]
    assert problems("x.py", text, notes) == ["x.py:2: docs/a.md has no section 3", "x.py:3: docs/b.md does not exist"]


def test_each_note_numbers_its_sections_one_by_one():
    for name, text in _notes().items():
        numbers = [int(n) for n in TOP_HEADING.findall(text)]
        assert numbers == list(range(1, len(numbers) + 1)), f"docs/{name}: sections numbered {numbers}"
