"""A door check (入户核实) on the real broker: a resident the hub places in the wrong community, with
the 住址有冲突 flag, is visited; the worker's answer, pushed through the ingest API like any visit,
goes through the real stream worker and places the resident where she lives, flag cleared."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from localinfra.processes import spawn, stop
from onceonly import bootstrap
from onceonly.settings import Settings
from simulators.district_files import ingest_department_files
from tests.helpers import cli, cli_env, eventually, placed, write_department_files

pytestmark = pytest.mark.kafka

TOKENS = {"community": "community-token-zhonghe"}
OLD = "江苏省南京市秦淮区瑞金路街道瑞金北村社区瑞金路12号瑞金北村19幢2单元502室"
NEW = "江苏省南京市秦淮区光华路街道中和村社区中和村10号中和村小区9幢1单元501室"
PHONE = "13912345678"
# 王秀英 moved in February from 瑞金北村 to 中和村. The station recorded the move (updated_at
# 2024-02-10); social security still writes the old flat (undated); a routine visit in May wrote
# the old flat from the roster. Two records against one: the hub places her in 瑞金北村社区, flagged.
DEPARTMENTS: dict[str, list[dict[str, str]]] = {
    "grid_centre": [
        {"地址编码": "ZT-0001", "街道": "瑞金路街道", "社区": "瑞金北村社区", "网格": "第3网格", "路名": "瑞金路",
         "门牌号": "12号", "小区名称": "瑞金北村", "楼栋": "19幢", "标准地址": "江苏省南京市秦淮区瑞金路12号瑞金北村19幢"},
        {"地址编码": "ZT-0002", "街道": "光华路街道", "社区": "中和村社区", "网格": "第1网格", "路名": "中和村",
         "门牌号": "10号", "小区名称": "中和村小区", "楼栋": "9幢", "标准地址": "江苏省南京市秦淮区中和村10号中和村小区9幢"},
    ],
    "public_security": [
        {"人员编号": "GA0001", "户号": "H0001", "姓名": "王秀英", "性别": "女", "民族": "汉族", "出生日期": "1956-04-12",
         "公民身份号码": "320104195604120424", "与户主关系": "户主", "户籍地址": OLD, "现住址": NEW, "人员状态": "正常",
         "注销日期": "", "联系电话": PHONE, "updated_at": "2024-02-10 09:12:00"},
    ],
    "social_security": [
        {"grbh": "SB0001", "xm": "王秀英", "zjlx": "01", "sfzhm": "320104195604120424", "xb": "2", "csny": "195604",
         "mz": "01", "gj": "CHN", "sjhm": PHONE, "dwmc": "", "cbzt": "4", "xzlx": "110", "cbrq": "20160501",
         "txdz": "瑞金北村19幢2单元502室", "gxsj": "2023-11-02T10:00:00", "yxbz": "1"},
    ],
    "community": [
        {"走访编号": "ZF0001", "街道": "瑞金路街道", "社区": "瑞金北村社区", "网格": "第3网格", "姓名": "王秀英", "性别": "女",
         "年龄": "68", "联系电话": PHONE, "居住地址": "瑞金北村19幢2单元502室", "户主姓名": "王秀英", "与户主关系": "本人",
         "人员类型": "户籍", "走访日期": "2024-05-06", "备注": "独居老人"},
    ],
}
# What the worker finds at the door in July, written the way visits are written.
DOOR_CHECK = {"走访编号": "HS1-0001", "街道": "光华路街道", "社区": "中和村社区", "网格": "第1网格", "姓名": "王秀英",
              "性别": "女", "年龄": "68", "联系电话": PHONE, "居住地址": "中和村小区9栋1单元501", "与户主关系": "本人",
              "人员类型": "户籍", "走访日期": "2024-07-10", "备注": "独居老人", "核实方式": "入户核实"}


def test_a_door_check_moves_a_flagged_resident_to_where_she_lives_and_clears_the_flag(
        hub_settings: Settings, tmp_path: Path) -> None:
    settings = hub_settings.model_copy(update={"ingest_tokens": Settings(ingest_tokens=TOKENS).ingest_tokens})
    write_department_files(tmp_path / "departments", DEPARTMENTS)
    bootstrap.prepare_topics(settings)
    engine = bootstrap.engine(settings)
    worker = spawn(cli("worker"), tmp_path / "worker.log", env=cli_env(settings))
    try:
        assert ingest_department_files(settings, tmp_path / "departments") == 3
        linked = eventually(lambda: (p := placed(engine, "community:ZF0001")) is not None
                            and p == placed(engine, "public_security:GA0001") and p[1] is not None and p,
                            timeout=180, every=1.0)
        profile_id, community, _, contested = linked
        assert (community, contested) == ("瑞金北村社区", True)  # wrong, and flagged for a check at the door

        with TestClient(create_app(engine, bootstrap.sources(settings), settings)) as client:
            answer = client.post("/api/v1/ingest/community", json={"batch_id": "door-1", "rows": [DOOR_CHECK]},
                                 headers={"Authorization": f"Bearer {TOKENS['community']}"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["events"], answer.json()["dead_letters"]) == (1, 0)

        after = eventually(lambda: (p := placed(engine, "community:HS1-0001")) is not None
                           and p[1] == "中和村社区" and p, timeout=180, every=1.0)
        assert after == (profile_id, "中和村社区", "中和村社区/第1网格", False)  # her own profile, flag cleared
    finally:
        stop(worker)
        engine.dispose()
