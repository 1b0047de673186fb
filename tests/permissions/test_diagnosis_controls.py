"""The one diagnosis template: every action a registered diagnosis can offer renders a control
(a CSRF-protected POST button, or a link) for a role that may use it, and none that changes state
for a viewer. Retry does what its step says: on a sync run the same POST as Sync now (labelled Sync
again, so it is not mistaken for the panel's own button), elsewhere Test connection."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from connections.library.access import Can
from connections.models import ConnectionToken, Job, SyncRun
from microsoft.diagnoses import REGISTRY, Action, Diagnosis, Severity, Step, sync

TEMPLATE = "connections/_diagnosis.html"


def every_action() -> Diagnosis:
    steps = [
        Step(
            f"Step for {action}.",
            url="https://portal.azure.com/#blade" if action is Action.OPEN_LINK else None,
            action=None if action is Action.OPEN_LINK else action,
        )
        for action in sorted(REGISTRY.actions)
    ]
    return Diagnosis(
        key="demo.every_action",
        severity=Severity.ERROR,
        title="Every action",
        explanation="One step per action.",
        steps=steps,
    )


def render(connection, role: str, **context) -> str:
    request = RequestFactory().get("/")
    return render_to_string(
        TEMPLATE, {"d": every_action(), "connection": connection, "can": Can(role), **context}, request=request
    )


def control(html: str, action: str) -> str | None:
    """The form (or link) that carries the control for ``action``."""
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        if f'data-action="{action}"' in form:
            return form
    link = re.search(rf'<a\b[^>]*data-action="{action}"[^>]*>', html)
    return link.group(0) if link else None


def test_the_registry_offers_retry_and_every_action_a_step_can_have():
    assert Action.RETRY in REGISTRY.actions
    assert REGISTRY.actions == set(Action)


@pytest.mark.parametrize("action", sorted(REGISTRY.actions), ids=str)
def test_every_action_a_registered_diagnosis_uses_renders_a_control(connection_a, action):
    html = render(connection_a, "admin")

    found = control(html, action)
    assert found is not None, f"no control for {action}"
    if found.startswith("<form"):
        assert 'method="post"' in found and 'name="csrfmiddlewaretoken"' in found


def test_retry_is_test_connection_on_the_token_panel_and_sync_now_on_a_sync_run(connection_a):
    on_token_panel = control(render(connection_a, "operator"), "retry")
    on_sync_run = control(render(connection_a, "operator", on="sync"), "retry")

    assert f'action="{reverse("connections:test", args=[connection_a.pk])}"' in on_token_panel
    assert "Test connection" in on_token_panel
    assert f'action="{reverse("connections:sync_start", args=[connection_a.pk])}"' in on_sync_run
    assert "Sync again" in on_sync_run


def test_a_viewer_sees_the_steps_and_links_but_no_button_that_changes_anything(connection_a):
    html = render(connection_a, "viewer")

    assert "<form" not in html and "<button" not in html
    assert control(html, "open_link") is not None
    assert "Step for retry." in html and "Step for refetch_token." in html


def test_editing_is_offered_to_admins_only(connection_a):
    assert control(render(connection_a, "operator"), "edit_connection") is None
    assert control(render(connection_a, "admin"), "edit_connection") is not None


# --- on the pages ---------------------------------------------------------------------------------


def failed_run(connection, diagnosis: Diagnosis) -> SyncRun:
    return SyncRun.objects.create(
        connection=connection, entity=connection.entity, status=SyncRun.Status.FAILED, error=diagnosis.to_dict()
    )


@pytest.mark.django_db
def test_a_crashed_sync_offers_sync_now_and_pressing_it_starts_a_new_run(connection_a, operator_a, login):
    crashed = failed_run(connection_a, sync.crashed())
    client = login(operator_a)

    page = client.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    run_page = client.get(reverse("connections:sync_detail", args=[connection_a.pk, crashed.pk])).content.decode()

    start = reverse("connections:sync_start", args=[connection_a.pk])
    for html in (page, run_page):
        assert 'data-diagnosis="sync.crashed"' in html
        assert f'action="{start}"' in control(html, "retry")
    response = client.post(start)
    assert response.status_code == 302
    assert SyncRun.objects.filter(connection=connection_a).exclude(pk=crashed.pk).count() == 1


@pytest.mark.django_db
def test_a_token_request_that_timed_out_offers_test_connection_and_pressing_it_queues_the_test(
    connection_a, operator_a, login
):
    timed_out = REGISTRY["token.timeout"].build(
        title="The token endpoint did not answer in time",
        explanation="No answer.",
        steps=[Step("Try again.", action=Action.RETRY)],
    )
    ConnectionToken.objects.create(
        connection=connection_a, state=ConnectionToken.State.ERROR, error=timed_out.to_dict()
    )
    client = login(operator_a)

    page = client.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()

    test = reverse("connections:test", args=[connection_a.pk])
    assert f'action="{test}"' in control(page, "retry")
    assert client.post(test).status_code == 302
    assert Job.objects.filter(connection=connection_a, kind="test").exists()


@pytest.mark.django_db
def test_a_viewer_sees_the_diagnosis_of_a_crashed_sync_without_its_retry_button(connection_a, viewer_a, login):
    crashed = failed_run(connection_a, sync.crashed())
    client = login(viewer_a)

    page = client.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    run_page = client.get(reverse("connections:sync_detail", args=[connection_a.pk, crashed.pk])).content.decode()

    for html in (page, run_page):
        assert 'data-diagnosis="sync.crashed"' in html and "Press Sync now to try again" in html
        assert control(html, "retry") is None
