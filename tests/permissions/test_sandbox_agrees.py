"""The sandbox keeps its own permission rules; they must agree with the shipped reference the
dashboard diagnoses from, for every entity the picker lists (and the unlisted templates)."""

from __future__ import annotations

import pytest

from graphpermissions import APPLICATION, DELEGATED, reference
from graphsandbox import permissions
from microsoft import catalogue

ENTITIES = [e for e in catalogue.ENTITIES]


def _concrete(path: str) -> str:
    return "/" + path.replace("{id}", "0f8fad5b-d9cb-469f-a165-70867728950e")


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.path)
def test_following_the_dashboards_advice_works_in_the_sandbox(entity):
    """The least privileged permission the diagnosis names opens every path the dashboard reads."""
    for path in entity.read_paths:
        rule = permissions.required(_concrete(path))
        assert rule is not None, path
        if entity.application.possible:
            assert permissions.satisfied(rule, {entity.application.least[0]}, set()), (path, entity.application.least)
        else:
            assert rule.application == (), path
        assert permissions.satisfied(rule, set(), {entity.delegated.least[0]}), (path, entity.delegated.least)


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.path)
def test_the_sandbox_accepts_nothing_microsofts_reference_does_not_grant(entity):
    """Otherwise the dashboard would call a token insufficient that the sandbox lets through."""
    for path in entity.read_paths:
        rule = permissions.required(_concrete(path))
        for kind, names in ((APPLICATION, rule.application), (DELEGATED, rule.delegated)):
            granting = {n.casefold() for n in reference().granting([path], kind)}
            extra = [n for n in names if n.casefold() not in granting]
            assert not extra, (path, kind, extra)


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.path)
def test_the_sandbox_issues_microsofts_ids_for_every_permission_it_knows(entity):
    for name in entity.application.accepted:
        if name in permissions.APP_ROLE_IDS:
            assert permissions.APP_ROLE_IDS[name] == reference().id_of(name, APPLICATION)
    for path in entity.read_paths:
        for name in permissions.required(_concrete(path)).application:
            assert permissions.app_role_id(name) == reference().id_of(name, APPLICATION), name
        for name in permissions.required(_concrete(path)).delegated:
            assert permissions.scope_id(name) == reference().id_of(name, DELEGATED), name
