"""`vnsearch check`: verify an index's files against the checksums recorded when they were written.

Like Lucene's CheckIndex, but over checksums only: every file of the current generation
is read in full and compared with `checksums.json`, which finds truncated, overwritten
and missing files that opening or searching the index may never notice. When the
current build is damaged, the previous one is checked too, to offer it as a way back.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vnsearch.indexer import checksums, generation, store


@dataclass
class BuildCheck:
    build: str
    generation: int | None = None  # as recorded in checksums.json
    files: int = 0
    bytes: int = 0
    problems: list[dict] = field(default_factory=list)  # {"file": name, "problem": what}

    @property
    def sound(self) -> bool:
        return not self.problems


@dataclass
class CheckReport:
    index: str
    sound: bool
    seconds: float
    current: BuildCheck
    previous: BuildCheck | None = None  # checked only when the current build is damaged
    advice: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# An update committing while we read can make a sound index look damaged for a moment
# (a new table of contents before its checksums, old files removed): look again.
_ATTEMPTS = 3
_SETTLE_SECONDS = 0.1


def check_build(folder: Path) -> BuildCheck:
    for _ in range(_ATTEMPTS):
        before = _state(folder)
        report = _check_build(folder)
        if report.sound:
            return report
        time.sleep(_SETTLE_SECONDS)
        if _state(folder) == before:  # no writer came by: the damage is real
            return report
    return report


def _state(folder: Path) -> tuple:
    """What a commit changes: the newest generation, and when checksums.json was written."""
    try:
        written = (folder / checksums.FILE_NAME).stat().st_mtime_ns
    except OSError:
        written = None
    return generation.latest_generation(folder), written


def _check_build(folder: Path) -> BuildCheck:
    report = BuildCheck(str(folder))
    try:
        manifest = checksums.read(folder)
    except checksums.ManifestError as error:
        report.problems.append({"file": checksums.FILE_NAME, "problem": f"cannot be read ({error.detail}); "
                                "the files cannot be verified"})
        return report
    if manifest is None:
        report.problems.append({"file": checksums.FILE_NAME, "problem": "missing: no checksums were recorded "
                                "(an index written before `vnsearch check` existed?)"})
        return report
    report.generation = manifest.generation
    report.files = len(manifest.files)
    report.bytes = sum(entry["size"] for entry in manifest.files.values())
    for name, problem in checksums.problems(folder, manifest.files):
        report.problems.append({"file": name, "problem": problem})
    latest = generation.latest_generation(folder)
    if latest > manifest.generation:
        report.problems.append({"file": generation.toc_name(latest), "problem": "a newer generation with no "
                                f"recorded checksums (checksums.json is for generation {manifest.generation})"})
    return report


def check_index(home: Path) -> CheckReport:
    home = Path(home)
    started = time.monotonic()
    build = store.current_build(home)
    if build is None:
        raise store.StoreError(f"no index at {home}: run `vnsearch index` first")
    current = check_build(build)
    report = CheckReport(str(home), current.sound, 0.0, current)
    if not current.sound:
        report.advice.append(f"rebuild it from your articles: vnsearch index PATH ... --index {home}")
        previous = (home / "previous").resolve() if (home / "previous").is_symlink() else None
        if previous is not None and previous.is_dir() and previous != build:
            report.previous = check_build(previous)
            if report.previous.sound:
                report.advice.append(
                    "or go back to the previous build, which is intact but lacks the changes made since "
                    f"the last rebuild: ln -sfn {os.path.relpath(previous, home.resolve())} {home / 'current'}")
    report.seconds = round(time.monotonic() - started, 3)
    return report
