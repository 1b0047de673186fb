"""Derive the shipped permission data from Microsoft Graph's own permission reference.

Run ``python -m graphpermissions.build [folder]`` (or ``manage.py build_permission_data``) with the
folder holding ``permissions.json`` and ``provisioningInfo.json`` from Microsoft's
``microsoftgraph/microsoft-graph-devx-content`` repository (folder ``permissions/new/``, MIT); the
default is the copy kept in ``graphpermissions/source/``. It writes ``graph_permissions.json`` beside this file: only what the dashboard needs, namely every
permission's ids, names, descriptions, consent and privilege per scheme, and for every API path
the permissions that grant ``GET`` on it with Microsoft's ``least=`` marks. Nothing is decided
here: choosing the least privileged permission happens in ``graphpermissions.reference``.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from .reference import DATA_FILE, KINDS, normalise_reference_path

# Microsoft's scheme names → ours. Personal (consumer) accounts are out of scope: a connection
# is to an organisation's tenant.
SCHEMES = {"Application": "application", "DelegatedWork": "delegated"}
FORMAT = (
    "names: permission names; permissions[i]: {kind: [id, admin display name, requires admin consent (0/1), "
    "privilege level 1-5, offered (0: hidden or disabled)]} for kind application (app role) and delegated "
    "(scope); paths: {normalised path: [application, delegated]} where each is an index into grant_lists "
    "or -1; grant_lists[j]: the permissions granting GET, as index i into names, or -(i + 1) when Microsoft "
    "marks it least privileged for that kind."
)
_WELL_FORMED = re.compile(r"^/[^{}]*(\{[^{}/]*\}[^{}]*)*$")


def _deployment(deployments: list[dict[str, Any]], scheme: str) -> dict[str, Any] | None:
    """The public-cloud deployment of a permission for one scheme (visible and enabled first)."""
    public = [
        d
        for d in deployments
        if d.get("scheme") == scheme
        and "public" in [e.strip().lower() for e in str(d.get("environment") or "").split(";")]
    ]
    public.sort(key=lambda d: (bool(d.get("isHidden")), d.get("isEnabled") is False))
    return public[0] if public else None


def derive(permissions: dict[str, Any], provisioning: dict[str, Any], source: dict[str, str]) -> dict[str, Any]:
    """The compact data, described in ``FORMAT``."""
    perms: dict[str, dict[str, Any]] = {}
    for name, entry in sorted(permissions.items()):
        if entry.get("authorizationType") != "oAuth2":
            continue  # resource-specific consent (Teams) is not an app-registration permission
        deployments = provisioning.get(name) or []
        kinds: dict[str, Any] = {}
        for scheme, kind in SCHEMES.items():
            info = (entry.get("schemes") or {}).get(scheme)
            deployed = _deployment(deployments, scheme)
            if info is None or deployed is None or not deployed.get("id"):
                continue
            offered = not deployed.get("isHidden") and deployed.get("isEnabled") is not False
            kinds[kind] = [
                str(deployed["id"]).lower(),
                info.get("adminDisplayName") or "",
                int(bool(info.get("requiresAdminConsent", kind == "application"))),
                int(info.get("privilegeLevel") or 3),
                int(offered),
            ]
        if kinds:
            perms[name] = kinds
    names = sorted(perms)
    index = {n: i for i, n in enumerate(names)}
    paths: dict[str, dict[str, dict[int, bool]]] = {}
    for name, entry in sorted(permissions.items()):
        if name not in perms:
            continue
        for path_set in entry.get("pathSets") or []:
            if "GET" not in [m.upper() for m in path_set.get("methods") or []]:
                continue
            path_kinds = [SCHEMES[s] for s in path_set.get("schemeKeys") or [] if s in SCHEMES]
            for raw_path, marker in (path_set.get("paths") or {}).items():
                if not _WELL_FORMED.match(raw_path):
                    continue  # a few entries are malformed (e.g. ``/applications/{id}}/repair``)
                least = {
                    SCHEMES[s]
                    for s in re.sub(r"^least=", "", marker or "").split(",")
                    if marker and s.strip() in SCHEMES
                }
                target = paths.setdefault(normalise_reference_path(raw_path), {})
                for kind in path_kinds:
                    if kind not in perms[name]:
                        continue
                    grants = target.setdefault(kind, {})
                    grants[index[name]] = grants.get(index[name], False) or kind in least
    lists: dict[tuple[int, ...], int] = {}
    rows: dict[str, list[int]] = {}
    for path, kinds in sorted(paths.items()):
        row = []
        for kind in KINDS:
            codes = tuple(sorted((-(i + 1) if marked else i) for i, marked in kinds.get(kind, {}).items()))
            row.append(lists.setdefault(codes, len(lists)) if codes else -1)
        rows[path] = row
    return {
        "format": FORMAT,
        "source": source,
        "names": names,
        "permissions": [perms[n] for n in names],
        "grant_lists": [list(codes) for codes in lists],
        "paths": rows,
    }


SOURCE_FOLDER = Path(__file__).with_name("source")
SOURCE_COMMIT = "6cbd6bbd665a877560fdefbad74f3bdb5b57af88"  # of the copy in source/


def derive_folder(folder: Path = SOURCE_FOLDER, commit: str = SOURCE_COMMIT) -> dict[str, Any]:
    """The derived data for the reference files in ``folder``."""
    permissions = json.loads((folder / "permissions.json").read_text(encoding="utf-8"))["permissions"]
    provisioning = json.loads((folder / "provisioningInfo.json").read_text(encoding="utf-8"))["permissionDeployments"]
    source = {
        "repository": "https://github.com/microsoftgraph/microsoft-graph-devx-content",
        "folder": "permissions/new",
        "commit": commit,
        "licence": "MIT (see LICENSE beside this file)",
    }
    return derive(permissions, provisioning, source)


def serialise(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n"


def build(folder: Path = SOURCE_FOLDER, target: Path = DATA_FILE, commit: str = SOURCE_COMMIT) -> dict[str, int]:
    data = derive_folder(folder, commit)
    target.write_text(serialise(data), encoding="utf-8")
    return {"permissions": len(data["names"]), "paths": len(data["paths"]), "bytes": target.stat().st_size}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=SOURCE_FOLDER,
        help="folder with permissions.json and provisioningInfo.json (default: source/)",
    )
    parser.add_argument("--commit", default=SOURCE_COMMIT, help="the source repository's commit, recorded in the file")
    args = parser.parse_args(argv)
    counts = build(args.folder, commit=args.commit)
    print(f"{counts['permissions']} permissions, {counts['paths']} paths, {counts['bytes']} bytes → {DATA_FILE}")


if __name__ == "__main__":
    main()
