"""kombu's filesystem transport, with each message written whole before a worker can see it.

kombu writes a message straight into its final file name; a worker listing the folder can move and
read that file before the bytes are in, fail to decode it and stop ("Unrecoverable error:
JSONDecodeError"). Here the message is written under a name the worker skips (it takes only
``*.<queue>.msg``) and renamed into place, which is atomic on one filesystem. Registered for the
``filesystem://`` scheme in ``graphconn.celery``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``payload`` onto ``queue``: the same file name and content as kombu's, written whole first."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
