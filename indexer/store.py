"""Where the index lives on disk, and how a new build replaces the old one atomically.

    HOME/
      current -> builds/20261121-171300-4242   (symlink; readers open this)
      previous -> builds/...                    (kept so open readers finish their requests)
      builds/<one folder per complete or in-progress build>
      write.lock                                (one writer at a time)

A build is written into a fresh folder and `current` is switched with one atomic
rename only when it is complete: a reader never sees half an index, and a build that
fails or is killed leaves `current` untouched. Leftovers are swept by the next writer.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from whoosh import index as whoosh_index
from whoosh.index import Index


class StoreError(Exception):
    """A problem with the index folder that the user can fix; the message says how."""


# Whoosh reads a compound segment file by copying each part into memory (about 900 MB
# resident for the 22,643-article index); separate files are read from the OS's cache.
COMPOUND = False


def writer(ix: Index, **kwargs):
    """A Whoosh writer for `ix` that writes plain (not compound) segment files."""
    return ix.writer(compound=COMPOUND, **kwargs)


def default_home() -> Path:
    """$VNSEARCH_INDEX, else the per-user data folder ($XDG_DATA_HOME/vnsearch/index)."""
    if os.environ.get("VNSEARCH_INDEX"):
        return Path(os.environ["VNSEARCH_INDEX"]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "vnsearch" / "index"


def current_build(home: Path) -> Path | None:
    link = Path(home) / "current"
    return link.resolve() if link.is_symlink() and link.resolve().is_dir() else None


def open_index(home: Path) -> Index:
    build = current_build(home)
    if build is None:
        raise StoreError(f"no index at {home}: run `vnsearch index` first")
    try:
        return whoosh_index.open_dir(str(build))
    except (OSError, whoosh_index.EmptyIndexError) as error:
        raise StoreError(f"cannot open the index at {home}: {error}") from error


@contextmanager
def write_lock(home: Path, wait: bool = False) -> Iterator[None]:
    """Hold the index's writer lock; fail at once with a clear message unless `wait`."""
    home = Path(home)
    try:
        home.mkdir(parents=True, exist_ok=True)
        handle = open(home / "write.lock", "a")
    except OSError as error:
        raise StoreError(f"cannot write to the index folder {home}: {error.strerror}") from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise StoreError(f"another vnsearch process is writing the index at {home}; try again when it ends")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_build(home: Path) -> Path:
    """A fresh, empty folder for a build (call with the write lock held)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    build = Path(home) / "builds" / f"{stamp}-{os.getpid()}"
    build.mkdir(parents=True)
    return build


def _point(home: Path, name: str, build: Path) -> None:
    tmp = home / f".{name}.tmp-{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(os.path.relpath(build, home), tmp)
    os.replace(tmp, home / name)  # atomic: readers see the old link or the new one


def publish(home: Path, build: Path) -> None:
    """Make `build` the index readers open, keep the one before it, sweep the rest."""
    home = Path(home)
    old = current_build(home)
    _point(home, "current", build)
    if old is not None and old != build.resolve():
        _point(home, "previous", old)
    sweep(home)


def sweep(home: Path) -> None:
    """Remove builds that are neither current nor previous: failed or superseded ones."""
    keep = {p.resolve() for p in (home / "current", home / "previous") if p.is_symlink()}
    for build in (home / "builds").glob("*"):
        if build.resolve() not in keep:
            shutil.rmtree(build, ignore_errors=True)


def segment_count(home: Path) -> int:
    with open_index(home).reader() as reader:
        return len(reader.leaf_readers())


def disk_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
