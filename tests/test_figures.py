# cpython-only: it reads README.md and docs/*.md from the host's file system with CPython's re and decimal.
# One source for every figure: README.md and docs/*.md quote docs/benchmarks.md (written by
# `make bench`) through citations, and a citation's figure must agree with the row it names.
#
# A citation is a Markdown link to benchmarks.md whose text is the figure and whose title names the
# row, inline or as a reference (README's "Figures from the benchmarks" describes it):
#   [12.96 B](docs/benchmarks.md#results "Flash bytes written per sample, littlefs, 10,000 samples, default flush policy | ours")
#   [85 days][life-esp32]  ...  [life-esp32]: benchmarks.md#energy "ESP32 (WROOM module, deep sleep) | life on 2,000 mAh"
# The anchor is the section's heading (GitHub's slug); the title is the row's label (its first
# cell, "#" columns aside; a parenthesised tail of the label may be left out, as it may hold a
# figure of the run), optionally " | " and a column's header; "after: PHRASE" instead names
# the numbers of the clause that follows PHRASE in the section's text, up to the next ":", ";" or
# sentence end (for figures the generators write in prose).
# Agreement: every number in the link text equals a number of the cited cell (or of any cell of
# the row when no column is named; of the clause after the phrase) rounded to the quoted number's places,
# half up; a whole number ending in two or more zeros is read as rounded to its last nonzero digit
# (3,400 for 3,412). Nothing here pins a number: regenerating benchmarks.md only needs the docs to
# follow.
import os
import re
from decimal import Decimal, ROUND_HALF_UP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = "docs/benchmarks.md"

NUM = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
INLINE = re.compile(r"\[([^\]]+)\]\(([^)\s]*benchmarks\.md#[^)\s]*)\s+\"([^\"]*)\"\)")
REF_USE = re.compile(r"\[([^\]]+)\]\[([^\]]+)\]")
EXAMPLE = re.compile(r"`\[[^`\n]*\]\([^`\n]*\)`")  # a citation shown as code: an example
UNTITLED = re.compile(r"\[([^\]]*\d[^\]]*)\]\(([^)\s]*benchmarks\.md#[^)\s]*)\)")  # a figure linked, no row named
REF_DEF = re.compile(r"^\[([^\]]+)\]:\s*(\S*benchmarks\.md#\S*)\s+\"([^\"]*)\"\s*$", re.M)

# Phrases that only a benchmark figure is written with: one left in README or docs outside a
# citation fails test_no_uncited_benchmark_figure, unless ALLOWED names it with a reason.
FIGURE_PATTERNS = [
    r"\d[\d,.]* ?(?:B|bytes?)(?: of flash)? (?:written |programmed |stored )?per (?:sample|point)\b",
    r"\d[\d,.]*-byte record",
    r"\d+\.\d+x the record",  # a target is a whole number ("under 2x the record")
    r"\d[\d,.]*(?:/s)? ?(?:samples|points)/s\b",
    r"\d[\d,.]* (?:block |sector )?erases\b",
    r"\d[\d,.]* ?ms per (?:sample|point)\b",
    r"\d[\d,.]* points per wake\b",
    r"\d[\d,.]* ?KB free\b",  # not "KB heap": "in a 64 KB heap" is the spec's target and tests/test_heap.py's
    r"\d[\d,.]* days(?: \(\d[\d.]* months\))?(?! without)",  # "3.6 days without an upload": a duration
]
FIGURE = re.compile("|".join("(?:%s)" % p for p in FIGURE_PATTERNS))

# (file, text of the match, why it is not a benchmark figure)
ALLOWED = [
    (
        "docs/RAWSTORE.md",
        "14.58 bytes programmed per sample",
        "printed by tests/test_rawstore.py's wear test (two streams, the policy's meta), named there",
    ),
    ("docs/FORMAT.md", "13-byte record", "a round record size for a percentage in the design discussion"),
    ("docs/FIRMWARE.md", "22.1 bytes per point", "make demo's own figure (tools/demo.py prints it), under its bullet"),
    ("docs/FORMAT.md", "5 within 198 days", "format arithmetic: the range of a 5-byte delta"),
    ("docs/ENERGY.md", "182.6 days", "the definition of six months"),
    ("docs/ENERGY.md", "203 days", "a sensitivity of the model (a fast wake of no time), not a benchmarks.md row"),
    (
        "docs/ENERGY.md",
        "256 days",
        "a sensitivity of the model (27 mA CPU current; a 150 ms boot gives the same), not a benchmarks.md row",
    ),
    ("docs/ENERGY.md", "323 days", "a sensitivity of the model (27 mA and a 150 ms boot), not a benchmarks.md row"),
    ("docs/ENERGY.md", "38 days", "the cap a 2.2 mA sleep allows: 2,000 mAh / 2.2 mA, arithmetic"),
    ("docs/ENERGY.md", "24 days", "the model's formula (hours per day)"),
    ("docs/TIME.md", "~6 days", "half the ticks period, arithmetic"),
]


def slug(heading):
    # GitHub's anchor for a heading
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_bench(text):
    # {anchor: {"rows": {label: [{header: cell}, ...]}, "text": section's text}}
    sections = {}
    cur = None
    header = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("## "):
            cur = sections.setdefault(slug(line[3:]), {"rows": {}, "text": ""})
            header = None
            continue
        if cur is None:
            continue
        if line.startswith("|"):
            cells = _cells(line)
            if header is None:
                header = cells
            elif all(re.fullmatch(r":?-+:?", c) for c in cells):
                pass
            else:
                label_at = 1 if header and header[0] == "#" else 0
                label = cells[label_at].replace("**", "").strip()
                values = {h: c for j, (h, c) in enumerate(zip(header, cells)) if j > label_at}
                cur["rows"].setdefault(label, []).append(values)
        else:
            header = None
            cur["text"] += line + "\n"
    return sections


def _numbers(s):
    return [m.group(0).replace(",", "") for m in NUM.finditer(s)]


def agrees(quoted, value):
    q = Decimal(quoted)
    v = Decimal(value)
    places = -q.as_tuple().exponent if "." in quoted else 0
    if v.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) == q:
        return True
    if places == 0:
        digits = quoted.lstrip("-")
        zeros = len(digits) - len(digits.rstrip("0"))
        if zeros >= 2 and digits.rstrip("0"):
            return v.quantize(Decimal(1).scaleb(zeros), rounding=ROUND_HALF_UP) == q
    return False


def citations(text):
    # [(line number, figure text, anchor, title)]
    out = []
    text = EXAMPLE.sub(lambda m: " " * len(m.group(0)), text)
    for m in INLINE.finditer(text):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2), m.group(3)))
    for m in UNTITLED.finditer(text):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2), ""))
    defs = {k.lower(): (url, title) for k, url, title in REF_DEF.findall(text)}
    for m in REF_USE.finditer(text):
        d = defs.get(m.group(2).lower())
        if d:
            out.append((text.count("\n", 0, m.start()) + 1, m.group(1), d[0], d[1]))
    return out


def _resolve(sections, anchor, title):
    # (candidate values, description) or (None, error)
    sec = sections.get(anchor.split("#", 1)[1])
    if sec is None:
        return None, "no section #%s in %s" % (anchor.split("#", 1)[1], BENCH)
    if title.startswith("after: "):
        phrase = title[len("after: ") :]
        n = sec["text"].count(phrase)
        if n != 1:
            return None, "the phrase %r is in the section's text %d times (must be once)" % (phrase, n)
        rest = sec["text"][sec["text"].index(phrase) + len(phrase) :]
        rest = re.split(r"[:;\n]|\.(?:\s|$)", rest, maxsplit=1)[0]  # the clause that follows the phrase
        values = _numbers(rest)
        if not values:
            return None, "no number after the phrase %r" % phrase
        return values, "%r" % (phrase + rest)
    if not title:
        return None, "the link names no row (its title is the row's label)"
    label, _, column = title.partition(" | ")
    label = label.strip()
    rows = sec["rows"].get(label)
    if not rows:
        # a label's parenthesised tail may be left out: it can hold a figure of the run
        tails = [k for k in sec["rows"] if k.startswith(label + " (")]
        if len(tails) == 1:
            label = tails[0]
            rows = sec["rows"][label]
    if not rows:
        return None, "no row %r" % label
    if len(rows) > 1:
        return None, "%d rows are labelled %r in the section" % (len(rows), label)
    row = rows[0]
    if column:
        if column.strip() not in row:
            return None, "row %r has no column %r (columns: %s)" % (label, column, ", ".join(row))
        cells = [row[column.strip()]]
    else:
        cells = list(row.values())
    return [n for c in cells for n in _numbers(c)], "row %r%s: %s" % (
        label,
        " | " + column if column else "",
        " | ".join(cells),
    )


def check(docs, bench_text):
    # docs: {name: text}. Returns ([errors of citations], [errors of agreement]).
    sections = parse_bench(bench_text)
    missing, wrong = [], []
    for name in sorted(docs):
        for line, fig, anchor, title in citations(docs[name]):
            where = "%s:%d: figure %r" % (name, line, fig)
            values, desc = _resolve(sections, anchor, title)
            if values is None:
                missing.append("%s cites a row that does not exist: %s" % (where, desc))
                continue
            quoted = _numbers(fig)
            if not quoted:
                wrong.append("%s has no number (cites %s)" % (where, desc))
            for q in quoted:
                if not any(agrees(q, v) for v in values):
                    wrong.append("%s: %s disagrees with %s#%s %s" % (where, q, BENCH, anchor.split("#", 1)[1], desc))
    return missing, wrong


def _allowed(name, text, m, allowed):
    # an entry's text stands in the doc around the match
    for f, s, _ in allowed:
        if f != name:
            continue
        i = text.find(s)
        while i >= 0:
            if i <= m.start() and m.end() <= i + len(s):
                return True
            i = text.find(s, i + 1)
    return False


def uncited(docs, allowed=()):
    # figure-like phrases outside a citation's link text and not allowed: [message]
    out = []
    for name in sorted(docs):
        text = docs[name]
        spans = [(m.start(1), m.end(1)) for m in INLINE.finditer(text)]
        spans += [(m.start(1), m.end(1)) for m in REF_USE.finditer(text)]
        for m in FIGURE.finditer(text):
            if any(a <= m.start() < b for a, b in spans):
                continue
            if _allowed(name, text, m, allowed):
                continue
            line = text.count("\n", 0, m.start()) + 1
            out.append(
                "%s:%d: %r looks like a benchmark figure but cites no row of %s" % (name, line, m.group(0), BENCH)
            )
    return out


def _read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def _docs():
    names = ["README.md"] + [
        "docs/" + n
        for n in sorted(os.listdir(os.path.join(ROOT, "docs")))
        if n.endswith(".md") and n != "benchmarks.md"
    ]
    return {n: _read(n) for n in names}


def test_every_citation_names_a_row_that_exists():
    missing, _ = check(_docs(), _read(BENCH))
    assert not missing, "\n".join(missing)


def test_every_cited_figure_agrees_with_its_row():
    _, wrong = check(_docs(), _read(BENCH))
    assert not wrong, "\n".join(wrong)


def test_docs_cite_some_rows():
    # the checks above pass trivially on docs without citations
    assert sum(len(citations(t)) for t in _docs().values()) >= 20


def test_no_uncited_benchmark_figure():
    found = uncited(_docs(), ALLOWED)
    assert not found, "\n".join(found)


def test_every_allow_list_entry_still_matches_a_figure():
    docs = _docs()
    stale = [
        (f, s)
        for f, s, r in ALLOWED
        if f not in docs or not any(_allowed(f, docs[f], m, [(f, s, r)]) for m in FIGURE.finditer(docs[f]))
    ]
    assert not stale, "allow-list entries that match nothing: %r" % stale


_BENCH = """# Benchmarks

## Results

| # | Measurement | ours | naive |
|---|---|---|---|
| 2 | Flash bytes written per sample | 12.96 B (1.05x the record) | 2188.3 B |
| 3 | Request body bytes per point (minimal: 34.92 B) | 34.92 B | 38.95 B |

## Energy

At the sync's pace a budget uploads about 3,412 points per wake.

| Board (model) | life on 2,000 mAh |
|---|---|
| ESP32 | **85 days (2.8 months)** |
"""


def test_checker_passes_figures_that_agree_with_their_rows():
    doc = (
        "writes [13.0 B](benchmarks.md#results \"Flash bytes written per sample | ours\"), "
        "[1.05x][r] the record, [about 3,400][p] points, [85 days][e], [35 B][b]\n\n"
        "[b]: benchmarks.md#results \"Request body bytes per point | ours\"\n"
        "[r]: benchmarks.md#results \"Flash bytes written per sample\"\n"
        "[p]: benchmarks.md#energy \"after: budget uploads about\"\n"
        "[e]: benchmarks.md#energy \"ESP32 | life on 2,000 mAh\"\n"
    )
    assert check({"doc.md": doc}, _BENCH) == ([], [])


def test_checker_fails_a_figure_that_disagrees_with_its_row():
    doc = "writes [13.4 B](benchmarks.md#results \"Flash bytes written per sample | ours\")\n"
    missing, wrong = check({"doc.md": doc}, _BENCH)
    assert missing == [] and len(wrong) == 1
    assert "doc.md:1" in wrong[0] and "13.4" in wrong[0] and "Flash bytes written per sample" in wrong[0]


def test_checker_fails_a_figure_quoted_from_the_wrong_column():
    doc = "naive [12.96 B](benchmarks.md#results \"Flash bytes written per sample | naive\")\n"
    assert len(check({"doc.md": doc}, _BENCH)[1]) == 1


def test_checker_fails_a_citation_of_a_row_that_no_longer_exists():
    doc = "x\n[13 B][r]\n\n[r]: benchmarks.md#results \"Flash bytes written per record\"\n"
    missing, wrong = check({"doc.md": doc}, _BENCH)
    assert wrong == [] and len(missing) == 1
    assert "doc.md:2" in missing[0] and "Flash bytes written per record" in missing[0]


def test_checker_fails_a_figure_linked_without_a_row():
    doc = "[13 B](benchmarks.md#results)\n"
    assert len(check({"doc.md": doc}, _BENCH)[0]) == 1


def test_checker_fails_a_citation_of_a_section_that_no_longer_exists():
    doc = "[13 B](benchmarks.md#flash \"Flash bytes written per sample\")\n"
    assert len(check({"doc.md": doc}, _BENCH)[0]) == 1


def test_checker_finds_an_uncited_benchmark_figure():
    doc = "cited: [12.96 B per sample](benchmarks.md#results \"Flash bytes written per sample\")\nuncited: 13.4 B per sample\n"
    found = uncited({"doc.md": doc})
    assert len(found) == 1 and "doc.md:2" in found[0] and "13.4 B per sample" in found[0]


def test_checker_reads_a_citation_shown_as_code_as_an_example():
    doc = "write `[12.96 B](benchmarks.md#results \"LABEL | ours\")`\n"
    assert citations(doc) == []


def test_checker_allows_only_the_allow_listed_figure_itself():
    doc = "5 within 198 days; 8 days\n"
    found = uncited({"doc.md": doc}, [("doc.md", "5 within 198 days", "arithmetic")])
    assert len(found) == 1 and "'8 days'" in found[0]


def test_rounding_rule():
    assert agrees("13", "12.96") and agrees("2.5", "2.45") and agrees("3,400".replace(",", ""), "3412")
    assert not agrees("13.4", "12.96") and not agrees("40", "35") and not agrees("1.06", "1.05")
