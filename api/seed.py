"""Demo users, one per role (``onceonly users seed``); their passwords are for the local demo only."""

from __future__ import annotations

from dataclasses import dataclass

from core.access import Role
from core.access.roles import scope_text
from store.auth_tables import UserExists, UserStore

DEMO_PASSWORD = "onceonly-demo"  # noqa: S105 - the demo's documented password, never a real account's


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    display_name: str
    communities: tuple[str, ...] = ()
    department: str | None = None
    grids: tuple[str, ...] = ()  # "社区/网格": a grid worker (网格员) sees only these grids

    @property
    def scope(self) -> str:
        return scope_text(self.communities, self.grids, self.department)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("worker_qinhong", "community_worker", "秦虹社区 社区工作者", ("秦虹社区",)),
    DemoUser("worker_zhanyuan", "community_worker", "瞻园社区 社区工作者", ("瞻园社区", "长乐路社区")),
    DemoUser("grid_qinhong_2", "community_worker", "秦虹社区 第2网格 网格员", grids=("秦虹社区/第2网格",)),
    DemoUser("steward", "steward", "数据管理员"),
    DemoUser("auditor", "auditor", "审计员"),
    DemoUser("admin", "admin", "系统管理员"),
    DemoUser("dept_civil_affairs", "department_reader", "民政局（机器账号）", department="civil_affairs"),
    DemoUser("dept_public_security", "department_reader", "公安分局（机器账号）", department="public_security"),
)


def seed_demo_users(users: UserStore, password: str = DEMO_PASSWORD) -> list[DemoUser]:
    """Add the demo users that do not exist yet; return the ones added."""
    added = []
    for user in DEMO_USERS:
        try:
            users.add(user.username, password, user.role, communities=user.communities, grids=user.grids,
                      department=user.department, display_name=user.display_name)
        except UserExists:
            continue
        added.append(user)
    return added
