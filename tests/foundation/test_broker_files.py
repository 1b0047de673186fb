"""The embedded default's broker never hands a worker a message file that is still being written."""

from __future__ import annotations

from queue import Empty

import pytest
from kombu import Connection

import graphconn  # noqa: F401  (registers the transport for filesystem://)
from graphconn.brokers import Channel


def _channel(folder) -> Channel:
    connection = Connection(
        "filesystem://",
        transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False},
    )
    channel = connection.default_channel
    assert isinstance(channel, Channel)
    return channel


def test_a_message_is_renamed_into_place_whole_and_a_file_being_written_is_skipped(tmp_path):
    channel = _channel(tmp_path)
    # What kombu's own transport left visible while writing: an empty file under a message name a
    # worker would take (and fail to decode). Ours writes under a name the worker skips.
    (tmp_path / "1_half.celery.msg.partial").write_bytes(b"")
    with pytest.raises(Empty):
        channel._get("celery")
    channel._put("celery", {"body": "hello"})
    names = {path.name for path in tmp_path.iterdir()}
    assert "1_half.celery.msg.partial" in names and len(names) == 2  # the half-written file is left alone
    assert (names - {"1_half.celery.msg.partial"}).pop().endswith(".celery.msg")  # ours: whole, in place
    assert channel._get("celery") == {"body": "hello"}
