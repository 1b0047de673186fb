"""The sandbox `make run` starts (the Makefile's SANDBOX_FLAGS, passed on by the Procfile) answers at
Graph's pace with a directory large enough that Sync now on the demo's users reads in partitions, as
it would against Graph for a tenant that size, and the run says what it spent of the budget."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

import pytest

from connections.syncs import partitions
from graphsandbox.testing import start_sandbox
from tests.factories import make_sandbox_connection
from tests.worker import ROOT

pytestmark = pytest.mark.django_db


def demo_sandbox_flags() -> list[str]:
    """The flags `make run` gives the sandbox: the Makefile's default, which the Procfile passes on."""
    assert "$SANDBOX_FLAGS" in (ROOT / "Procfile").read_text().split("graphsandbox", 1)[1].splitlines()[0]
    found = re.search(r"^run: export SANDBOX_FLAGS \?= (.+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert found, "the Makefile sets no SANDBOX_FLAGS for make run"
    return shlex.split(found.group(1))


@pytest.mark.slow
def test_sync_now_on_the_demo_sandbox_reads_its_users_in_partitions(
    settings, monkeypatch, team_a, operator_a, sync_inline, tmp_path
):
    planned: list[int] = []
    plan = partitions.PartitionedRead.plan

    def noted_plan(self, total, *args):
        planned.append(total)
        return plan(self, total, *args)

    monkeypatch.setattr(partitions.PartitionedRead, "plan", noted_plan)
    with start_sandbox(groups=None, extra_args=demo_sandbox_flags(), state_dir=tmp_path / "sandbox") as demo:
        host = urlsplit(demo.base_url)
        settings.GRAPH_CA_BUNDLE = demo.ca_path
        settings.GRAPH_ALLOWED_HOSTS = [*settings.GRAPH_ALLOWED_HOSTS, f"{host.hostname}:{host.port}"]
        model = demo.costs()["settings"]
        assert model["latency"] and model["latency_scale"] == 1 and model["budget"]  # Graph's pace and budget

        run = sync_inline(make_sandbox_connection(demo, team_a), operator_a)

        assert run.status == "succeeded", run.error
        assert planned == [run.total] and run.total >= settings.SYNC_PARTITIONS_FROM  # read in partitions
        assert run.rows == run.total
        assert run.resource_units > 0 and run.throttle_wait_seconds == 0
        assert demo.account()["throttled"] == 0
