"""Django's database sessions, reading a session with a query compiled once per process.

Every signed-in page reads its session first; Django builds and compiles that one-table query on
each request, which costs several times the lookup itself. The session is found by its key and
its expiry compared here (the same answer as Django's ``expire_date > now`` in SQL, with the clock
kept out of the compiled query). Writing, expiring and deleting sessions are Django's.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from connections.models.compiled import CompiledQuery

_BY_KEY = CompiledQuery(lambda key: Session.objects.filter(session_key=key), str)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        session = _BY_KEY.first(self.session_key)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        return session
