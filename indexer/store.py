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
import errno
import fcntl
import os
import pickle
import shutil
import struct
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from whoosh import index as whoosh_index
from whoosh.index import Index
from whoosh.writing import SegmentWriter

from vnsearch.indexer import checksums, generation


class StoreError(Exception):
    """A problem with the index folder that the user can fix; the message says how."""


class DamagedIndex(StoreError):
    """An index file is missing or does not read back; `vnsearch check` says which."""


# What reading a truncated or overwritten file raises, from Whoosh, pickle, zlib and
# NumPy: when an index is opened, or later when a posting block, stored document or
# column is first read. Whoosh also raises a bare Exception ("Block tag error").
_DAMAGE = (pickle.UnpicklingError, zlib.error, zipfile.BadZipFile, EOFError, struct.error, OSError,
           ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
           whoosh_index.IndexError, checksums.ManifestError, generation.Mismatch)


def _is_damage(error: BaseException) -> bool:
    return isinstance(error, _DAMAGE) or type(error) is Exception


def damaged(home: Path, error: BaseException) -> DamagedIndex:
    detail = f"{type(error).__name__}: {error}"
    if len(detail) > 160:
        detail = detail[:159] + "…"
    return DamagedIndex(f"the index at {home} is damaged or unreadable ({detail}); "
                        f"run `vnsearch check --index {home}`")


@contextmanager
def reading(home: Path) -> Iterator[None]:
    """Turn what a damaged index file raises into one DamagedIndex naming the index folder.

    Opening stays cheap: nothing is verified here (that is `vnsearch check`'s job); this
    only catches, at the boundary, the errors that reading a damaged file raises.
    """
    try:
        yield
    except StoreError:
        raise
    except Exception as error:
        if not _is_damage(error):
            raise
        raise damaged(home, error) from error


# The system refusing to write (or read) at all, as opposed to a damaged file's contents
# (a missing file, a seek to a nonsensical offset), which are reported as damage.
_WRITE_REFUSED = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM}


def reason(error: OSError) -> str:
    """What an operating system error means, in a few words: "no space left on device"."""
    text = error.strerror or str(error) or type(error).__name__
    text = text[:1].lower() + text[1:]
    return text + " (is the disk failing?)" if error.errno == errno.EIO else text


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
    with reading(home):
        return whoosh_index.open_dir(str(build))


@contextmanager
def changing(home: Path, doing: str) -> Iterator[SegmentWriter]:
    """A writer for one change to the live index (an update, a deletion, a merge).

    Call with the write lock held, and commit with `generation.commit`. If anything
    fails before the commit, the writer is abandoned and the files it wrote are removed:
    the index stays as it was, and a full disk or a damaged file becomes one StoreError
    that says so (`doing` names the change in it: "updating the index").
    """
    folder = current_build(home)
    ix = open_index(home)
    change = None
    try:
        change = writer(ix)
        yield change
    except BaseException as error:
        generation.abandon(change, folder)
        failure = _change_failed(home, doing, error)
        if failure is error:
            raise
        raise failure from error


def _change_failed(home: Path, doing: str, error: BaseException) -> BaseException:
    if isinstance(error, generation.CommittedError):
        cause = error.__cause__
        what = reason(cause) if isinstance(cause, OSError) else f"{type(cause).__name__}: {cause}"
        return StoreError(f"{what} after the change was saved ({doing} at {home}); "
                          f"run `vnsearch check --index {home}`")
    if isinstance(error, OSError) and error.errno in _WRITE_REFUSED:
        return StoreError(f"{reason(error)} while {doing} at {home}; the index is unchanged")
    if isinstance(error, StoreError) or not _is_damage(error):
        return error
    return damaged(home, error)


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
    # The new build is live from here on. What follows is housekeeping: if it fails (a
    # full disk refusing a link), the build must not fail and be deleted. Without a
    # new `previous` link, the sweep would delete the build open readers are still using.
    try:
        if old is not None and old != build.resolve():
            _point(home, "previous", old)
        sweep(home)
    except OSError:
        pass


def sweep(home: Path) -> None:
    """Remove builds that are neither current nor previous: failed or superseded ones."""
    keep = {p.resolve() for p in (home / "current", home / "previous") if p.is_symlink()}
    for build in (home / "builds").glob("*"):
        if build.resolve() not in keep:
            shutil.rmtree(build, ignore_errors=True)


def segment_count(home: Path) -> int:
    with reading(home), open_index(home).reader() as reader:
        return len(reader.leaf_readers())


def disk_size(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
