"""Projects as files: `sectors/projects/<agency>/<id>.yaml`, one `ProjectSpec` each.

The folder names the lead agency and the file name the project's id, so a file is found where
its agency keeps it. A file that does not read, does not validate or does not match its place
is refused with `file: field: message` lines (every problem of every file at once), never a
traceback. Importing registers the new projects and updates the changed ones as the operator
principal `import`; running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from catalog.access.principal import Principal, Role
from catalog.ledger.projects import (
    ProjectError,
    ProjectLedger,
    ProjectSpec,
    UnknownProject,
    check_datasets,
)

IMPORTER = "import"


class ProjectFileError(ProjectError):
    """Project files that cannot be imported: every problem, one `file: field: message` line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Imported(BaseModel):
    """What an import did, by project id."""

    registered: list[str]
    updated: list[str]
    unchanged: list[str]


class _DatesAsText(yaml.SafeLoader):
    """YAML's safe loader leaving dates as text: pydantic reads them, so `start: 2026-13-01`
    is refused naming the field rather than failing the whole file in the YAML reader."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in found if tag != "tag:yaml.org,2002:timestamp"]
    for first, found in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def projects_dir(sectors_file: Path) -> Path:
    """Where the project files of a sectors file live: `projects/` beside it."""
    return sectors_file.parent / "projects"


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(file)"


def read_project_file(path: Path, root: Path) -> ProjectSpec:
    """One project file as a spec; ProjectFileError names the file and each bad field."""
    where = path.relative_to(root.parent) if path.is_relative_to(root.parent) else path
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_DatesAsText)  # a SafeLoader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProjectFileError([f"{where}: (file): not readable YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ProjectFileError([f"{where}: (file): a project file is a YAML mapping"])
    try:
        spec = ProjectSpec.model_validate(data)
    except ValidationError as exc:
        raise ProjectFileError(
            [f"{where}: {_field(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        ) from None
    problems = []
    if path.stem != spec.id:
        problems.append(f"{where}: id: {spec.id!r} must be the file's name ({path.stem}.yaml)")
    if path.parent.name != spec.lead:
        problems.append(
            f"{where}: lead: {spec.lead!r} must be the folder's agency ({path.parent.name}/)"
        )
    if problems:
        raise ProjectFileError(problems)
    return spec


def load_project_files(root: Path, check: Callable[[ProjectSpec], None]) -> list[ProjectSpec]:
    """Every project file under `root` (`<agency>/<id>.yaml`), read and passed to `check`;
    ProjectFileError with the problems of all of them (schema, place, what `check` refuses,
    repeated ids)."""
    if not root.is_dir():
        raise ProjectFileError([f"{root}: no such folder of project files"])
    specs: list[ProjectSpec] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.glob("*/*.yaml")):
        where = path.relative_to(root.parent)
        try:
            spec = read_project_file(path, root)
            check(spec)
        except ProjectFileError as exc:
            problems += exc.problems
            continue
        except ProjectError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if spec.id in seen:
            problems.append(f"{where}: id: {spec.id!r} is also {seen[spec.id]}")
            continue
        seen[spec.id] = where
        specs.append(spec)
    if problems:
        raise ProjectFileError(problems)
    return specs


def import_projects(ledger: ProjectLedger, root: Path, known_datasets: Collection[str]) -> Imported:
    """Register the files' new projects and update the changed ones (as operator `import`);
    nothing is written unless every file is valid (agencies, sectors and datasets exist)."""

    def check(spec: ProjectSpec) -> None:
        ledger.check(spec)
        check_datasets(spec, known_datasets)

    specs = load_project_files(root, check)
    done = Imported(registered=[], updated=[], unchanged=[])
    for spec in specs:
        importer = Principal(subject=IMPORTER, agency=spec.lead, role=Role.operator, via="api_key")
        try:
            current = ledger.get(spec.id)
        except UnknownProject:
            ledger.register(importer, spec)
            done.registered.append(spec.id)
            continue
        if current.spec.model_dump(mode="json") == spec.model_dump(mode="json"):
            done.unchanged.append(spec.id)
        else:
            ledger.update(importer, spec)
            done.updated.append(spec.id)
    return done
