"""CSV ledgers read as RFC 4180 says, through the real connector and broker: a quoted cell holding
a line break (Excel's Alt+Enter) or doubled quotes is one cell of one record; the record's location
names its first line; and the counts add up (read = events + unchanged + dead letters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.kafka_sink import KafkaSink
from connectors.spec import ConnectorSpec
from onceonly import bootstrap
from onceonly.settings import Settings
from schemas.source_record import DeadLetter, SourceRecord
from tests.helpers import read_topic

pytestmark = pytest.mark.kafka

# A civil-affairs ledger as Excel exports it, in GB18030, rows ending in CRLF:
#  line 2: an ordinary row;
#  lines 3-4: one record whose 家庭住址 was typed on two lines (Alt+Enter writes a bare LF);
#  line 5: a 备注 with doubled quotes (他说"已核实") and a traditional-character name;
#  line 6: a row without its record id (救助证号): the one dead letter.
LEDGER = (
    "救助证号,姓名,身份证号,救助类别,家庭住址,联系电话,备注\r\n"
    "MZ-1,王芳,,高龄津贴,中华门街道西街8号,025-84561234,\r\n"
    'MZ-2,李雷,,城市低保,"南京市秦淮区\n中华路104号10幢1702室",13912345678,\r\n'
    'MZ-3,張偉,,特困供养,钞库街12号,13800138000,"他说""已核实"""\r\n'
    ",韩梅,,城市低保,西街9号,,\r\n"
)
MAPPING = """
source: civil_affairs
kind: csv
version: "rfc4180-1"
encoding: gb18030
record_id: [救助证号]
expected_columns: [救助证号, 姓名, 身份证号]
standardise:
  fields:
    name: 姓名
    id_number: 身份证号
    phones: 联系电话
    addresses.residential: 家庭住址
    attributes.assistance: 救助类别
    attributes.note: 备注
  default_area_code: "025"
"""


def test_a_gb18030_ledger_with_a_two_line_address_keeps_the_whole_address(hub_settings: Settings,
                                                                          tmp_path: Path) -> None:
    ledger = tmp_path / "救助台账.csv"
    ledger.write_bytes(LEDGER.encode("gb18030"))
    (tmp_path / "civil_affairs.yaml").write_text(MAPPING, encoding="utf-8")
    spec = ConnectorSpec.load(tmp_path / "civil_affairs.yaml")
    bootstrap.prepare_topics(hub_settings)
    with KafkaSink(hub_settings.kafka_bootstrap or "") as sink:
        counts = bootstrap.connector(hub_settings, spec, sink, only_file=ledger).run()

    assert (counts.read, counts.events, counts.unchanged, counts.dead_letters) == (4, 3, 0, 1)
    assert counts.read == counts.events + counts.unchanged + counts.dead_letters
    raw = {r.record_id: r for r in read_topic(hub_settings.kafka_bootstrap or "", hub_settings.raw_topic("civil_affairs"))
           if isinstance(r, SourceRecord)}
    assert sorted(raw) == ["MZ-1", "MZ-2", "MZ-3"]
    assert raw["MZ-2"].payload["家庭住址"] == "南京市秦淮区\n中华路104号10幢1702室"  # the whole cell, not its first line
    assert raw["MZ-2"].location == "救助台账.csv:3"  # where the record starts
    assert raw["MZ-3"].location == "救助台账.csv:5"  # line numbers count the address's second line
    assert raw["MZ-3"].payload["备注"] == '他说"已核实"'
    letters = [d for d in read_topic(hub_settings.kafka_bootstrap or "", hub_settings.deadletter_topic)
               if isinstance(d, DeadLetter)]
    assert [d.location for d in letters] == ["救助台账.csv:6"]
