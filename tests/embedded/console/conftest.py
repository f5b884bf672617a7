"""Fixtures of the console's page tests: one in-process `up` with traffic, shared by a module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from embedded.up import UpStack
from tests.embedded.console.rig import Traffic, running_up, send_traffic, wait_for, wait_for_lake_bad


@dataclass
class Console:
    stack: UpStack
    client: TestClient
    registry: Path
    data: Path
    traffic: Traffic


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    with running_up(tmp) as (stack, client, registry):
        traffic = send_traffic(client)
        wait_for(client, len(traffic.good) + len(traffic.bad))
        wait_for_lake_bad(tmp / "data", len(traffic.bad))
        yield Console(stack, client, registry, tmp / "data", traffic)
