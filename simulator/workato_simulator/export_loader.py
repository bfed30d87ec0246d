"""Load real Workato export packages into a simulator :class:`Workspace`.

Workato's export packages (Recipe Lifecycle Management zips, ``workato pull`` trees) hold
recipes with ``code`` as a JSON *object* and every cross-asset reference as an object
``{zip_name, name, folder[, folder_full_path][, custom]}`` (reference doc §3.1). The live API
the simulator serves has numeric ids instead. :func:`load_exports` turns a folder of such
packages into live items so genuine exports can be served by
:class:`~workato_simulator.server.WorkatoSimulator`::

    report = load_exports(corpus_dir())
    with WorkatoSimulator(report.workspace, rate_limits=None) as sim:
        ...

Mapping rules
-------------
* **Packages.** With ``layout="auto"`` a folder that directly contains ``*.json`` files is one
  package; otherwise every immediate sub-folder is its own package (the shared corpus has one
  ``<owner>__<repo>`` sub-folder per package). Each package becomes one **project** (a
  top-level folder under Home, created with :meth:`Workspace.add_project`, named after the
  package folder), so identical zip_names in two packages never collide.
* **Folders.** An asset's folder is the directory part of its zip_name (or the ``folder``
  value of the reference that named it), created once as nested plain folders *inside the
  package's project* (``"CICD Automation/Connections"`` → ``Home/<package>/CICD Automation/
  Connections``). Projects cannot nest in the model, so the first zip_name segment is a plain
  folder, not a project. Folders are created only for assets placed in the workspace
  (recipes and connections); ``folder_full_path``'s ``Home/`` prefix is implied.
* **zip_names.** A file's zip_name is its path relative to the package root. Files that were
  copied out of a package *flat* (no directory part) are matched to references by base name
  when every reference with that base name agrees on a single zip_name and no file sits at
  that exact path; the file then takes the referenced zip_name (and its folder). These
  matches are listed in :attr:`LoadReport.aliases`.
* **Connections.** Every ``*.connection.json`` becomes a connection: a string ``provider`` is
  the application; an object ``provider`` (a ``*.custom_adapter.json`` reference, i.e. a
  custom SDK connector) takes the provider of the first recipe ``config`` entry that uses this
  connection, else a slug of the adapter's name. ``tags`` are kept as given;
  ``secure_gateway_tunnel_name`` has no field in the model and is kept in the report only.
  Connections referenced (in ``config[].account_id`` or in code) but with no file in the
  package are created as placeholders (name from the reference, application from the
  referencing config entry's provider, else :data:`UNKNOWN_APPLICATION`, folder from the
  reference) and reported with ``origin == "reference"``
  (:attr:`LoadReport.created_from_references`).
* **Recipes.** Name, description, tags, ``version`` (→ ``version_no``), ``version_comment``
  and a deep copy of ``code`` (renumbered only when a block lacks an integer ``number``).
  ``config`` becomes the live form (``application_config(provider, connection id or None)``,
  keeping the export's ``skip_validation``). Every reference object anywhere in ``code`` is
  replaced by the referenced asset's id as a digit **string**: recipes → the loaded recipe's
  id; connections → the connection id; anything else (lookup tables, data tables, topics,
  schemas, ...) → a stable id assigned per ``(package, zip_name)``. A recipe reference whose
  target is not in the package (or failed to load) gets a stable id from a separate range
  (:data:`EXTERNAL_RECIPE_ID_BASE`); no recipe is invented, and the reference is reported in
  :attr:`LoadReport.out_of_package_recipes`. Digit-string ``flow_id`` values, datapills and
  ``dynamicPickListSelection`` are left untouched.
* **Other assets** (``*.lookup_table.json``, ``*.workato_db_table.json``,
  ``*.api_endpoint.json``, ...) have no place in the workspace model; they are kept in
  :attr:`LoadReport.assets` with their stable id and their content with references replaced.
* **Determinism.** Packages, files and references are processed in sorted order and stable
  ids are assigned in sorted zip_name order, so loading the same folder into two fresh
  workspaces gives identical ids. Stable ids are remembered per workspace: loading more
  packages into the same workspace never reuses one for a different asset.
* **Bad files** (not UTF-8 JSON, not an object, a recipe without a ``code`` object, a
  connection without ``name``/``provider``) are skipped and listed in
  :attr:`LoadReport.bad_files`; the load continues.
"""

from __future__ import annotations

import copy
import json
import os
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from workato_simulator.workspace import (
    Connection,
    Recipe,
    Workspace,
    application_config,
    iter_blocks,
    renumber,
)

#: Environment variable overriding :func:`corpus_dir`.
CORPUS_ENV_VAR = "ARCHY_CORPUS_DIR"
#: Repository root (the folder holding the product's ``pyproject.toml``).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The shared corpus of genuine exports, ``../shared/corpus/workato-exports`` from the repo.
DEFAULT_CORPUS_DIR = (REPO_ROOT.parent / "shared" / "corpus" / "workato-exports").resolve()

#: Application of a placeholder connection nothing tells the provider of (code-only refs).
UNKNOWN_APPLICATION = "unknown"
#: Stable ids for recipes referenced from a package but not in it start above this.
EXTERNAL_RECIPE_ID_BASE = 90_000_000
#: Stable ids for other asset types start above these (one counter per type).
ASSET_ID_BASES: dict[str, int] = {
    "lookup_table": 20_000,
    "workato_db_table": 30_000,
    "topic": 40_000,
    "workato_schema": 45_000,
    "api_endpoint": 50_000,
    "api_group": 55_000,
    "custom_adapter": 60_000,
}
DEFAULT_ASSET_ID_BASE = 70_000

Layout = Literal["auto", "package", "packages"]


def corpus_dir() -> Path:
    """The genuine-export corpus: ``$ARCHY_CORPUS_DIR`` if set, else :data:`DEFAULT_CORPUS_DIR`."""
    override = os.environ.get(CORPUS_ENV_VAR)
    return Path(override).expanduser().resolve() if override else DEFAULT_CORPUS_DIR


def asset_type(zip_name: str) -> str:
    """The asset type of a package member: ``a/b/x.recipe.json`` → ``recipe``."""
    base = PurePosixPath(zip_name).name
    parts = base.split(".")
    if len(parts) >= 3 and parts[-1] == "json":
        return parts[-2]
    return parts[0] if parts else base


def slugify(text: str) -> str:
    """``"CICD for GitHub V3"`` → ``"cicd_for_github_v3"`` (connector-name style)."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or UNKNOWN_APPLICATION


def is_reference(value: Any) -> bool:
    """Whether ``value`` is an export reference object (a dict with a string ``zip_name``)."""
    return isinstance(value, dict) and isinstance(value.get("zip_name"), str)


# ---------------------------------------------------------------------- report


@dataclass(frozen=True)
class BadFile:
    """A file that could not be loaded, and why."""

    path: Path
    error: str


@dataclass
class PackageInfo:
    """One export package and the project it was loaded into."""

    name: str
    root: Path
    project_id: int
    folder_id: int
    files: list[str] = field(default_factory=list)


@dataclass
class LoadedRecipe:
    package: str
    file: Path
    zip_name: str
    recipe_id: int
    folder_id: int
    name: str
    renumbered: bool


@dataclass
class LoadedConnection:
    package: str
    zip_name: str
    connection_id: int
    name: str
    application: str
    folder_id: int
    #: ``"file"`` (a ``*.connection.json``) or ``"reference"`` (placeholder, no file).
    origin: str
    file: Path | None = None
    #: How ``application`` was found: ``provider``, ``recipe_config``, ``adapter_name``,
    #: ``unknown``.
    application_source: str = "provider"
    secure_gateway_tunnel_name: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class LoadedAsset:
    """An asset the workspace model does not hold (lookup table, data table, endpoint...)."""

    package: str
    zip_name: str
    type: str
    #: The stable id, as the digit string recipes now carry.
    asset_id: str
    name: str | None
    #: ``None`` when the asset is only referenced, not present in the package.
    file: Path | None = None
    #: The file's content with every reference replaced by its id.
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reference:
    """One reference object found in a loaded file, and what it became."""

    package: str
    source: Path
    #: JSON path inside the source file, e.g. ``code.block[0].input.flow_id``.
    location: str
    zip_name: str
    type: str
    name: str | None
    #: The id the reference was replaced with (digit string).
    target_id: str
    #: Whether the referenced asset was loaded from this package.
    in_package: bool


@dataclass
class LoadReport:
    """What :func:`load_exports` loaded, created, resolved and skipped."""

    workspace: Workspace
    root: Path
    packages: dict[str, PackageInfo] = field(default_factory=dict)
    recipes: list[LoadedRecipe] = field(default_factory=list)
    connections: list[LoadedConnection] = field(default_factory=list)
    assets: list[LoadedAsset] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    bad_files: list[BadFile] = field(default_factory=list)
    #: ``(package, file path in package) → zip_name`` for flat files matched by base name.
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    #: ``(package, folder path) → folder id`` for every folder created.
    folders: dict[tuple[str, str], int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def created_from_references(self) -> list[LoadedConnection]:
        """Placeholder connections made for references without a connection file."""
        return [c for c in self.connections if c.origin == "reference"]

    @property
    def out_of_package_recipes(self) -> list[Reference]:
        """Recipe references whose target is not (loaded) in the package."""
        return [r for r in self.references if r.type == "recipe" and not r.in_package]

    @property
    def unresolved_references(self) -> list[Reference]:
        """Every reference whose target was not loaded from the package (any type)."""
        return [r for r in self.references if not r.in_package]

    @property
    def loaded_files(self) -> set[Path]:
        files = {r.file for r in self.recipes}
        files |= {c.file for c in self.connections if c.file is not None}
        files |= {a.file for a in self.assets if a.file is not None}
        return files

    def recipe(self, name: str, package: str | None = None) -> LoadedRecipe:
        """The loaded recipe whose file name or zip_name is ``name``."""
        return _one(
            [
                r
                for r in self.recipes
                if name in (r.file.name, r.zip_name) and package in (None, r.package)
            ],
            name,
        )

    def connection(self, name: str, package: str | None = None) -> LoadedConnection:
        """The connection whose file name, zip_name or display name is ``name``."""
        return _one(
            [
                c
                for c in self.connections
                if name in (c.file.name if c.file else None, c.zip_name, c.name)
                and package in (None, c.package)
            ],
            name,
        )

    def asset(self, name: str, package: str | None = None) -> LoadedAsset:
        """The non-workspace asset whose file name or zip_name is ``name``."""
        return _one(
            [
                a
                for a in self.assets
                if name in (a.file.name if a.file else None, a.zip_name)
                and package in (None, a.package)
            ],
            name,
        )


def _one(found: list[Any], name: str) -> Any:
    if len(found) != 1:
        raise KeyError(f"{len(found)} loaded items match {name!r}")
    return found[0]


# ---------------------------------------------------------------------- stable ids

#: Stable ids handed out per workspace: ``{kind: {(package, zip_name): id}}``.
_STABLE_IDS: weakref.WeakKeyDictionary[Workspace, dict[str, dict[tuple[str, str], int]]] = (
    weakref.WeakKeyDictionary()
)


def _stable_id(ws: Workspace, kind: str, key: tuple[str, str]) -> int:
    with ws.lock:
        table = _STABLE_IDS.setdefault(ws, {}).setdefault(kind, {})
        if key not in table:
            base = (
                EXTERNAL_RECIPE_ID_BASE
                if kind == "recipe"
                else ASSET_ID_BASES.get(kind, DEFAULT_ASSET_ID_BASE)
            )
            table[key] = max(table.values(), default=base) + 1
        return table[key]


# ---------------------------------------------------------------------- loading


@dataclass
class _File:
    path: Path
    rel: str
    type: str
    data: dict[str, Any]
    zip_name: str = ""


@dataclass
class _RefSite:
    file: _File
    location: str
    ref: dict[str, Any]
    #: Provider of the ``config`` entry holding this reference (connection refs only).
    config_provider: str | None = None


def load_exports(
    path: str | Path,
    workspace: Workspace | None = None,
    *,
    running: bool = True,
    layout: Layout = "auto",
) -> LoadReport:
    """Load every export package under ``path`` into ``workspace`` (a new one if ``None``).

    Args:
        path: a package folder, or a folder of package folders (see ``layout``).
        workspace: the workspace to add to; a fresh :class:`Workspace` when omitted.
        running: whether loaded recipes are running.
        layout: ``"package"`` (``path`` is one package), ``"packages"`` (each immediate
            sub-folder is one) or ``"auto"`` (one package iff ``path`` directly holds
            ``*.json`` files).

    Returns:
        A :class:`LoadReport`; ``report.workspace`` is the workspace loaded into.

    Raises:
        FileNotFoundError: ``path`` is not a directory.
    """
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"export folder not found: {root}")
    if layout not in ("auto", "package", "packages"):
        raise ValueError(f"unknown layout {layout!r}")
    ws = workspace if workspace is not None else Workspace()
    report = LoadReport(workspace=ws, root=root)
    if layout == "auto":
        layout = "package" if any(_json_files(root, recursive=False)) else "packages"
    if layout == "package":
        package_roots = [root]
    else:
        package_roots = sorted(
            p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        for stray in _json_files(root, recursive=False):
            report.bad_files.append(BadFile(stray, "file outside any package folder"))
    for package_root in package_roots:
        _load_package(package_root, ws, report, running)
    return report


def load_corpus(workspace: Workspace | None = None, *, running: bool = True) -> LoadReport:
    """:func:`load_exports` of :func:`corpus_dir`."""
    return load_exports(corpus_dir(), workspace, running=running)


def _json_files(folder: Path, *, recursive: bool) -> list[Path]:
    found = folder.rglob("*.json") if recursive else folder.glob("*.json")
    return sorted(
        p
        for p in found
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _parse(path: Path, rel: str) -> _File:
    """Read and check one package member; raise ValueError with the reason if unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    kind = asset_type(rel)
    if kind == "recipe":
        code = data.get("code")
        if isinstance(code, str):  # tolerate a live-form (stringified) code
            try:
                code = json.loads(code)
            except json.JSONDecodeError as err:
                raise ValueError(f"code is a string but not JSON: {err}") from None
        if not isinstance(code, dict):
            raise ValueError("recipe has no 'code' object")
        data = {**data, "code": code}
        if not isinstance(data.get("config", []), list):
            raise ValueError("recipe 'config' is not a list")
    elif kind == "connection":
        if not isinstance(data.get("name"), str) or not data["name"]:
            raise ValueError("connection has no 'name'")
        provider = data.get("provider")
        if not (isinstance(provider, str) and provider) and not is_reference(provider):
            raise ValueError("connection 'provider' is neither a name nor a reference")
    return _File(path=path, rel=rel, type=kind, data=data)


def _find_refs(value: Any, location: str, out: list[tuple[str, dict[str, Any]]]) -> None:
    """Collect ``(location, reference)`` pairs in ``value``, pre-order, no descent into refs."""
    stack: list[tuple[str, Any]] = [(location, value)]
    while stack:
        loc, current = stack.pop()
        if is_reference(current):
            out.append((loc, current))
        elif isinstance(current, dict):
            items = [(f"{loc}.{k}" if loc else str(k), v) for k, v in current.items()]
            stack.extend(reversed(items))
        elif isinstance(current, list):
            stack.extend(reversed([(f"{loc}[{i}]", v) for i, v in enumerate(current)]))


def _replace_refs(value: Any, resolve: Any, location: str) -> Any:
    """Return ``value`` with every reference replaced by ``resolve(location, ref)``."""
    if is_reference(value):
        return resolve(location, value)
    if isinstance(value, dict):
        return {
            k: _replace_refs(v, resolve, f"{location}.{k}" if location else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace_refs(v, resolve, f"{location}[{i}]") for i, v in enumerate(value)]
    return value


def _zip_folder(zip_name: str) -> str:
    parent = str(PurePosixPath(zip_name).parent)
    return "" if parent == "." else parent


def _ref_folder(ref: dict[str, Any]) -> str:
    """The folder a reference names: its ``folder`` value, else its zip_name's directory."""
    folder = ref.get("folder")
    if isinstance(folder, str):
        return folder.strip("/")
    return _zip_folder(ref["zip_name"])


def _load_package(package_root: Path, ws: Workspace, report: LoadReport, running: bool) -> None:
    package = package_root.name
    files: list[_File] = []
    for path in _json_files(package_root, recursive=True):
        rel = path.relative_to(package_root).as_posix()
        try:
            files.append(_parse(path, rel))
        except (OSError, ValueError) as err:
            report.bad_files.append(BadFile(path, str(err)))
    if not files:
        return

    # -- every reference in the package, with the config provider for connection refs
    sites: list[_RefSite] = []
    for f in files:
        found: list[tuple[str, dict[str, Any]]] = []
        if f.type == "recipe":
            _find_refs(f.data["code"], "code", found)
            sites.extend(_RefSite(f, loc, ref) for loc, ref in found)
            for i, entry in enumerate(f.data.get("config") or []):
                if isinstance(entry, dict) and is_reference(entry.get("account_id")):
                    provider = entry.get("provider") or entry.get("name")
                    sites.append(
                        _RefSite(
                            f,
                            f"config[{i}].account_id",
                            entry["account_id"],
                            provider if isinstance(provider, str) else None,
                        )
                    )
        else:
            _find_refs(f.data, "", found)
            sites.extend(_RefSite(f, loc, ref) for loc, ref in found)

    # -- zip_names: own path, or the single referenced path a flattened copy stands for
    by_rel = {f.rel: f for f in files}
    referenced: dict[str, set[str]] = {}
    for site in sites:
        zip_name = site.ref["zip_name"]
        if zip_name not in by_rel:
            referenced.setdefault(PurePosixPath(zip_name).name, set()).add(zip_name)
    for f in files:
        f.zip_name = f.rel
        if "/" in f.rel:
            continue
        candidates = referenced.get(f.rel, set())
        if len(candidates) == 1:
            f.zip_name = next(iter(candidates))
            report.aliases[(package, f.rel)] = f.zip_name
        elif len(candidates) > 1:
            report.warnings.append(
                f"{package}/{f.rel}: referenced under several paths {sorted(candidates)}; "
                "kept at the package root"
            )
    files.sort(key=lambda f: (f.zip_name, f.rel))
    index = {f.zip_name: f for f in files}

    # -- plan connections (files first, then placeholders) and folders
    config_providers: dict[str, str] = {}
    ref_names: dict[str, str] = {}
    ref_folders: dict[str, str] = {}
    for site in sorted(sites, key=lambda s: (s.file.zip_name, s.location)):
        zip_name = site.ref["zip_name"]
        if asset_type(zip_name) != "connection":
            continue
        if site.config_provider:
            config_providers.setdefault(zip_name, site.config_provider)
        if isinstance(site.ref.get("name"), str):
            ref_names.setdefault(zip_name, site.ref["name"])
        ref_folders.setdefault(zip_name, _ref_folder(site.ref))
    connection_files = [f for f in files if f.type == "connection"]
    placeholders = sorted(z for z in ref_folders if z not in index)
    recipe_files = [f for f in files if f.type == "recipe"]
    other_files = [f for f in files if f.type not in ("recipe", "connection")]

    folder_paths = {_zip_folder(f.zip_name) for f in connection_files + recipe_files}
    folder_paths |= {ref_folders[z] for z in placeholders}
    project = ws.add_project(package, description=f"Loaded from export package {package_root}")
    info = PackageInfo(package, package_root, project.id, project.folder_id, [f.rel for f in files])
    report.packages[package] = info
    report.folders[(package, "")] = project.folder_id
    for folder_path in sorted(folder_paths):
        _ensure_folder(ws, report, package, folder_path)

    # -- connections
    connection_ids: dict[str, int] = {}
    for f in connection_files:
        provider = f.data["provider"]
        if isinstance(provider, str):
            application, source = provider, "provider"
        elif f.zip_name in config_providers:
            application, source = config_providers[f.zip_name], "recipe_config"
        else:
            adapter_name = provider.get("name") or PurePosixPath(provider["zip_name"]).name
            application, source = slugify(str(adapter_name).split(".")[0]), "adapter_name"
        tags = [t for t in f.data.get("tags") or [] if isinstance(t, str)]
        conn = ws.add_connection(
            application,
            f.data["name"],
            _ensure_folder(ws, report, package, _zip_folder(f.zip_name)),
            tags=tags,
        )
        connection_ids[f.zip_name] = conn.id
        report.connections.append(
            _loaded_connection(package, f.zip_name, conn, "file", f.path, source, f.data, tags)
        )
    for zip_name in placeholders:
        if zip_name in config_providers:
            application, source = config_providers[zip_name], "recipe_config"
        else:
            application, source = UNKNOWN_APPLICATION, "unknown"
            report.warnings.append(
                f"{package}/{zip_name}: referenced only from code; application unknown"
            )
        name = ref_names.get(zip_name) or PurePosixPath(zip_name).name.split(".")[0]
        conn = ws.add_connection(
            application, name, _ensure_folder(ws, report, package, ref_folders[zip_name])
        )
        connection_ids[zip_name] = conn.id
        report.connections.append(
            _loaded_connection(package, zip_name, conn, "reference", None, source, {}, [])
        )

    # -- recipes (created first, references rewritten once every id is known)
    created: list[tuple[_File, Recipe]] = []
    for f in recipe_files:
        data = f.data
        code = copy.deepcopy(data["code"])
        renumbered = any(not _is_int(b.get("number")) for b in iter_blocks(code))
        if renumbered:
            renumber(code)
        version = data.get("version")
        name = data.get("name") if isinstance(data.get("name"), str) else None
        recipe = ws.add_recipe(
            name or PurePosixPath(f.rel).name.split(".")[0],
            code,
            [],
            _ensure_folder(ws, report, package, _zip_folder(f.zip_name)),
            description=data.get("description") or "",
            tags=[t for t in data.get("tags") or [] if isinstance(t, str)],
            version_no=version if _is_int(version) and version > 0 else 1,
            version_comment=data.get("version_comment")
            if isinstance(data.get("version_comment"), str)
            else None,
            running=running,
        )
        created.append((f, recipe))
        report.recipes.append(
            LoadedRecipe(
                package, f.path, f.zip_name, recipe.id, recipe.folder_id, recipe.name, renumbered
            )
        )
    recipe_ids = {f.zip_name: recipe.id for f, recipe in created}

    # -- stable ids for everything else, in sorted order
    other_keys = {f.zip_name for f in other_files}
    other_keys |= {
        s.ref["zip_name"]
        for s in sites
        if asset_type(s.ref["zip_name"]) not in ("recipe", "connection")
    }
    for zip_name in sorted(other_keys):
        _stable_id(ws, asset_type(zip_name), (package, zip_name))
    external = sorted(
        {
            s.ref["zip_name"]
            for s in sites
            if asset_type(s.ref["zip_name"]) == "recipe" and s.ref["zip_name"] not in recipe_ids
        }
    )
    for zip_name in external:
        _stable_id(ws, "recipe", (package, zip_name))

    def resolver(source: _File) -> Any:
        def resolve(location: str, ref: dict[str, Any]) -> str:
            zip_name = ref["zip_name"]
            kind = asset_type(zip_name)
            if kind == "recipe":
                in_package = zip_name in recipe_ids
                target = recipe_ids[zip_name] if in_package else None
            elif kind == "connection":
                in_package = zip_name in index
                target = connection_ids[zip_name]
            else:
                in_package = zip_name in index
                target = None
            if target is None:
                target = _stable_id(ws, kind, (package, zip_name))
            name = ref.get("name") if isinstance(ref.get("name"), str) else None
            report.references.append(
                Reference(
                    package, source.path, location, zip_name, kind, name, str(target), in_package
                )
            )
            return str(target)

        return resolve

    with ws.lock:
        for f, recipe in created:
            recipe.code = _replace_refs(recipe.code, resolver(f), "code")
            recipe.config = _live_config(f, report, resolver(f))
    for f in connection_files:  # a custom connector's adapter reference
        _replace_refs(f.data, resolver(f), "")

    # -- assets the workspace model does not hold
    for f in other_files:
        name = f.data.get("name") if isinstance(f.data.get("name"), str) else None
        report.assets.append(
            LoadedAsset(
                package,
                f.zip_name,
                f.type,
                str(_stable_id(ws, f.type, (package, f.zip_name))),
                name,
                f.path,
                _replace_refs(copy.deepcopy(f.data), resolver(f), ""),
            )
        )
    for zip_name in sorted(other_keys - {f.zip_name for f in other_files}):
        names = [
            s.ref["name"]
            for s in sites
            if s.ref["zip_name"] == zip_name and isinstance(s.ref.get("name"), str)
        ]
        kind = asset_type(zip_name)
        report.assets.append(
            LoadedAsset(
                package,
                zip_name,
                kind,
                str(_stable_id(ws, kind, (package, zip_name))),
                names[0] if names else None,
            )
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ensure_folder(ws: Workspace, report: LoadReport, package: str, folder_path: str) -> int:
    """Id of ``folder_path`` inside the package's project, creating missing folders."""
    parent = report.folders[(package, "")]
    walked: list[str] = []
    for segment in [s for s in folder_path.split("/") if s]:
        walked.append(segment)
        key = (package, "/".join(walked))
        if key not in report.folders:
            report.folders[key] = ws.add_folder(segment, parent).id
        parent = report.folders[key]
    return parent


def _loaded_connection(
    package: str,
    zip_name: str,
    conn: Connection,
    origin: str,
    path: Path | None,
    source: str,
    data: dict[str, Any],
    tags: list[str],
) -> LoadedConnection:
    gateway = data.get("secure_gateway_tunnel_name")
    return LoadedConnection(
        package=package,
        zip_name=zip_name,
        connection_id=conn.id,
        name=conn.name,
        application=conn.application,
        folder_id=conn.folder_id,
        origin=origin,
        file=path,
        application_source=source,
        secure_gateway_tunnel_name=gateway if isinstance(gateway, str) else None,
        tags=list(tags),
    )


def _live_config(f: _File, report: LoadReport, resolve: Any) -> list[dict[str, Any]]:
    """The export ``config`` array in live-API form."""
    live: list[dict[str, Any]] = []
    for i, entry in enumerate(f.data.get("config") or []):
        provider = (entry.get("provider") or entry.get("name")) if isinstance(entry, dict) else None
        if not isinstance(provider, str) or not provider:
            report.warnings.append(f"{f.path}: config[{i}] has no provider; dropped")
            continue
        account = entry.get("account_id")
        if is_reference(account):
            account_id: int | None = int(resolve(f"config[{i}].account_id", account))
        elif _is_int(account):
            account_id = account
        elif isinstance(account, str) and account.isdigit():
            account_id = int(account)
        else:
            account_id = None
        item = application_config(provider, account_id)
        if isinstance(entry.get("skip_validation"), bool):
            item["skip_validation"] = entry["skip_validation"]
        if isinstance(entry.get("keyword"), str):
            item["keyword"] = entry["keyword"]
        live.append(item)
    return live
