"""A department's mapping file (YAML), as a model: where its records come from and how to read them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

ConnectorKind = Literal["csv", "sql", "http", "xlsx", "kafka", "ingest"]


class ConnectorSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    source: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Source name, also the topic suffix raw.<source>")
    kind: ConnectorKind
    version: str = Field(description="Mapping version, stamped on every envelope")
    record_id: list[str] = Field(min_length=1, description="Native column(s) that identify a record")
    encoding: str = "utf-8"
    location: str | None = None

    @classmethod
    def load(cls, path: Path) -> ConnectorSpec:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls.model_validate(data)
