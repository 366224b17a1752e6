"""The field catalogue (字段目录): each field's Chinese label, whether it is sensitive, and how its
codes are shown by name; department names; how a matcher's evidence is said in Chinese.

The data is ``config/fields.yaml``; :func:`parse_catalogue` turns its parsed content into a
:class:`FieldCatalogue` (pure), :func:`catalogue` reads the shipped file once. Code names come from
the national code tables of :mod:`core.standardise.codes` (a reverse lookup), never a copy.

>>> c = catalogue()
>>> c.label("attributes.employer"), c.display("relation_to_head", "02"), c.display("ethnicity", "01")
('工作单位', '户主', '汉族')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from core.standardise.codes import ETHNICITY, MARITAL_STATUS, NATIONALITY, RELATION_TO_HEAD, SEX, CodeTable
from core.standardise.errors import UnknownCodeValue

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "config" / "fields.yaml"
CODE_TABLES: Mapping[str, CodeTable] = {"sex": SEX, "marital_status": MARITAL_STATUS, "ethnicity": ETHNICITY,
                                        "relation_to_head": RELATION_TO_HEAD, "nationality": NATIONALITY}
UNLISTED = "其他信息"  # the heading of an attribute nobody has catalogued yet (its English key is never shown)


class CatalogueError(ValueError):
    """``config/fields.yaml`` is not a valid catalogue (the message names the entry)."""


@dataclass(frozen=True)
class FieldEntry:
    """One field: ``attributes.floor_area`` → 建筑面积（平方米）, not sensitive, no code table."""

    key: str
    label: str
    sensitive: bool = False
    codes: str | None = None  # a name in :data:`CODE_TABLES`
    short: Mapping[str, str] = field(default_factory=dict)  # standard name → the console's shorter one
    values: Mapping[str, str] = field(default_factory=dict)  # a field's own values → names


@dataclass(frozen=True)
class FieldCatalogue:
    fields: Mapping[str, FieldEntry]
    sensitive_words: tuple[str, ...] = ()
    departments: Mapping[str, str] = field(default_factory=dict)  # source → 公安, 人社 …
    evidence: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # comparison → level → 姓名一致
    sensitive_terms: tuple[str, ...] = ()  # words that make free text holding them sensitive (低保, 残疾 …)
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # source → native column → field

    def label(self, key: str) -> str:
        """The Chinese heading of a field (an uncatalogued attribute is :data:`UNLISTED`)."""
        entry = self.fields.get(key)
        if entry is not None:
            return entry.label
        return UNLISTED if key.startswith("attributes.") else key

    def is_sensitive(self, key: str) -> bool:
        """Listed fields say so themselves; an unlisted attribute is sensitive when its key holds
        one of :attr:`sensitive_words` (assistance, disability, health …)."""
        entry = self.fields.get(key)
        if entry is not None:
            return entry.sensitive
        return key.startswith("attributes.") and any(word in key for word in self.sensitive_words)

    @property
    def sensitive_fields(self) -> frozenset[str]:
        return frozenset(k for k, e in self.fields.items() if e.sensitive)

    def display(self, key: str, value: str | None) -> str:
        """A stored value as a worker reads it: codes by name (``02`` → 户主, ``CHN`` → 中国,
        ``female`` → 女); anything else as it is."""
        if value is None:
            return ""
        entry = self.fields.get(key)
        if entry is None:
            return value
        if value in entry.values:
            return entry.values[value]
        if entry.codes is not None:
            table = CODE_TABLES[entry.codes]
            try:
                name = table.name_of(table.code_of(value))
            except UnknownCodeValue:
                return value  # a value outside the table is shown as the source wrote it
            return entry.short.get(name, name)
        return value

    def department(self, source: str) -> str:
        """公安, 人社, 民政, 住建, 社区, 网格中心; an unknown source as its own name."""
        return self.departments.get(source, source)

    def evidence_text(self, comparison: str, level: str) -> str | None:
        """How one comparison's level is said (``id_number``/``same_valid`` → 身份证号一致);
        ``None`` when nothing was compared (a side missing)."""
        if level in ("null", "missing"):
            return None
        said = self.evidence.get(comparison, {}).get(level)
        if said is not None:
            return said
        return f"{self.label(comparison)}：{level}"


def parse_catalogue(data: Mapping[str, Any], mapping_titles: Mapping[str, str] | None = None,
                    columns: Mapping[str, Mapping[str, str]] | None = None) -> FieldCatalogue:
    """The catalogue from ``config/fields.yaml``'s content; ``mapping_titles`` (source → the mapping's
    ``title``) names the departments by the title's first word; ``columns`` (source → native column →
    canonical field, from the mappings) tells the redactor which column of a raw row holds what."""
    entries: dict[str, FieldEntry] = {}
    for key, spec in (data.get("fields") or {}).items():
        if not isinstance(spec, Mapping) or not spec.get("label"):
            raise CatalogueError(f"field {key!r} needs a label")
        codes = spec.get("codes")
        if codes is not None and codes not in CODE_TABLES:
            raise CatalogueError(f"field {key!r}: no code table {codes!r} (known: {', '.join(CODE_TABLES)})")
        entries[str(key)] = FieldEntry(key=str(key), label=str(spec["label"]), sensitive=bool(spec.get("sensitive")),
                                       codes=codes, short={str(k): str(v) for k, v in (spec.get("short") or {}).items()},
                                       values={str(k): str(v) for k, v in (spec.get("values") or {}).items()})
    departments = {source: title.split()[0] for source, title in (mapping_titles or {}).items() if title.strip()}
    evidence = {str(c): {str(level): str(text) for level, text in levels.items()}
                for c, levels in (data.get("evidence") or {}).items()}
    return FieldCatalogue(fields=entries, sensitive_words=tuple(str(w) for w in data.get("sensitive_attribute_words") or ()),
                          departments=departments, evidence=evidence,
                          sensitive_terms=tuple(str(w) for w in data.get("sensitive_terms") or ()),
                          columns={source: dict(cols) for source, cols in (columns or {}).items()})


def mapping_titles(paths: Iterable[Path]) -> dict[str, str]:
    """Source → ``title`` of each department mapping file (``mappings/*.yaml``)."""
    titles = {}
    for path in paths:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if spec.get("source"):
            titles[str(spec["source"])] = str(spec.get("title") or "")
    return titles


def mapping_columns(paths: Iterable[Path]) -> dict[str, dict[str, str]]:
    """Source → native column → the canonical field its mapping reads it into (``standardise.fields``)."""
    found: dict[str, dict[str, str]] = {}
    for path in paths:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        fields = (spec.get("standardise") or {}).get("fields") or {}
        if not spec.get("source") or not isinstance(fields, Mapping):
            continue
        columns = found.setdefault(str(spec["source"]), {})
        for target, native in fields.items():
            for column in native if isinstance(native, list) else [native]:
                if isinstance(column, str):
                    columns.setdefault(column, str(target))
    return found


@cache
def catalogue(path: Path = CATALOGUE_FILE) -> FieldCatalogue:
    """The shipped catalogue, with department names from the ``mappings/`` folder beside ``config/``."""
    mappings = path.resolve().parents[1] / "mappings"
    files = sorted(mappings.glob("*.yaml"))
    return parse_catalogue(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, mapping_titles(files),
                           mapping_columns(files))
