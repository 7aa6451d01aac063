"""Where image files come from: a folder, a .tar or .zip archive, parquet shards, or a Hub dataset.

A ``Source`` lists its image files (``names``), reads their bytes (``chunks``), and gives a
``fingerprint`` of their content for the decode cache key:

* archives and parquet files: size and sha256 of the bytes. Hashing reads the file (about 0.1 s
  for the 77 MB anime archive) but any change to any byte changes the key.
* folders: sha256 of the sorted list of (relative name, size, mtime). Reading every byte of a big
  folder on every run would cost as much as decoding it; any normal write to a file changes its
  mtime, and adding, removing or renaming a file changes the list.
* Hub snapshots: the repository and the commit hash, which already name the content.

``chunks`` hands out reading jobs that the decode threads run themselves: folders, tar and zip
files can be read anywhere from any thread, so the main thread only hands out ranges (were it to
parse the archive while the workers decode, they would queue for the GIL behind it). Parquet
files are read in order by the main thread, in pyarrow's C code.

No torch here: ``ganzoo info`` reaches this module without it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ganzoo.data.images import IMAGE_EXTENSIONS, Unusable, is_image_name
from ganzoo.errors import GanzooError
from ganzoo.io.hub_errors import cache_only_reason, hub_errors

ARCHIVE_SUFFIXES = (".tar", ".zip")
#: no image file is this big (50 megapixels as 32-bit BMP is 200 MB); a file or archive member
#: that claims more is skipped as "too large" rather than read into memory (a zip bomb inflates
#: a few kilobytes to gigabytes)
MAX_FILE_BYTES = 256 * 2**20
PARQUET_BATCH = 256  # rows read from a parquet file at a time

Items = list[bytes | Unusable]  # the bytes of each file, or why they could not be read


def file_digest(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise GanzooError(f"cannot read {path}: {exc.strerror or exc}") from None
    return f"sha256:{digest}:{path.stat().st_size}"


class Source:
    """A sequence of image files to decode.

    Subclasses implement ``_list`` (the file names; only called when needed, since a cache hit
    on an archive needs its hash, not its listing), ``_compute_fingerprint``, and ``read_range``
    (or ``chunks`` when they cannot read at random).
    """

    def __init__(self, label: str, fingerprint: str | None = None):
        self.label = label  # how messages name it: a path or hf://datasets/...
        self.unreadable_folders = 0
        self._fingerprint = fingerprint

    @functools.cached_property
    def names(self) -> list[str]:
        return self._list()

    def __len__(self) -> int:
        return len(self.names)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def chunks(self, size: int) -> Iterator[tuple[int, Callable[[], Items]]]:
        """(count, job) pairs covering all files in order; ``job()`` reads ``count`` files and
        may run in any thread."""
        for start in range(0, len(self), size):
            stop = min(start + size, len(self))
            yield stop - start, functools.partial(self.read_range, start, stop)

    def read_range(self, start: int, stop: int) -> Items:
        raise NotImplementedError

    def close(self) -> None:
        """Closes files that reading opened."""

    def _list(self) -> list[str]:
        raise NotImplementedError

    def _compute_fingerprint(self) -> str:
        raise NotImplementedError


class FolderSource(Source):
    """Image files anywhere under a folder; hidden folders and unreadable ones are skipped."""

    def __init__(self, root: Path, label: str | None = None, fingerprint: str | None = None):
        super().__init__(label or str(root), fingerprint)
        self.root = root

    def _list(self) -> list[str]:
        names = []

        def count_unreadable(exc: OSError) -> None:
            self.unreadable_folders += 1

        self.unreadable_folders = 0
        for folder, subfolders, files in os.walk(self.root, onerror=count_unreadable):
            subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__MACOSX"]
            rel = os.path.relpath(folder, self.root)
            names += [os.path.normpath(os.path.join(rel, f)) for f in files if is_image_name(f)]
        return sorted(names)

    def _compute_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in self.names:
            try:
                st = os.stat(self.root / name)
                digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{name}\0?\n".encode())
        return f"folder:{digest.hexdigest()}"

    def read_range(self, start: int, stop: int) -> Items:
        return [_read_file(self.root / name) for name in self.names[start:stop]]


def _read_file(path: Path) -> bytes | Unusable:
    """A regular file's bytes. Opened without blocking and checked before reading: a named pipe
    (or a device) with an image's name would otherwise wait forever for a writer."""
    try:
        with open(path, "rb", opener=_open_nonblocking) as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                return Unusable("not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                return Unusable("too large")
            return f.read()
    except OSError:
        return Unusable("unreadable")


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


class TarSource(Source):
    """Image members of an uncompressed .tar archive, read at the offsets its listing gives."""

    def __init__(self, path: Path, label: str | None = None):
        super().__init__(label or str(path))
        self.path = path
        self._spans: list[tuple[int, int]] = []  # (offset, size) of each member's data

    def _list(self) -> list[str]:
        try:
            with tarfile.open(self.path, "r:") as tar:
                members = [m for m in tar if m.isfile() and is_image_name(m.name)]
        except (tarfile.TarError, OSError, EOFError) as exc:
            hint = " (compressed archives are not supported: extract it)"
            hint = hint if isinstance(exc, tarfile.ReadError) else ""
            raise GanzooError(f"cannot read archive {self.path}: {exc}{hint}") from None
        self._spans = [(m.offset_data, m.size) for m in members]
        return [m.name for m in members]

    def _compute_fingerprint(self) -> str:
        return file_digest(self.path)

    def read_range(self, start: int, stop: int) -> Items:
        self.names  # noqa: B018  (lists the archive, filling _spans, if not done yet)
        items = []
        with open(self.path, "rb") as f:
            for offset, size in self._spans[start:stop]:
                if size > MAX_FILE_BYTES:  # a header can claim any size; pread would allocate it
                    items.append(Unusable("too large"))
                    continue
                data = os.pread(f.fileno(), size, offset)
                items.append(data if len(data) == size else Unusable("corrupt"))
        return items


class ZipSource(Source):
    """Image members of a .zip archive."""

    def __init__(self, path: Path, label: str | None = None):
        super().__init__(label or str(path))
        self.path = path
        self._local = threading.local()  # a ZipFile per thread: one is not safe to share
        self._opened: list[zipfile.ZipFile] = []

    def _list(self) -> list[str]:
        try:
            with zipfile.ZipFile(self.path) as archive:
                return [
                    i.filename
                    for i in archive.infolist()
                    if not i.is_dir()
                    and is_image_name(i.filename)
                    and not i.filename.startswith("__MACOSX/")
                ]
        except (zipfile.BadZipFile, OSError) as exc:
            raise GanzooError(f"cannot read archive {self.path}: {exc}") from None

    def _compute_fingerprint(self) -> str:
        return file_digest(self.path)

    def read_range(self, start: int, stop: int) -> Items:
        archive = getattr(self._local, "archive", None)
        if archive is None:
            archive = self._local.archive = zipfile.ZipFile(self.path)
            self._opened.append(archive)  # list.append is atomic: no lock needed
        items = []
        for name in self.names[start:stop]:
            try:
                # the size the member inflates to, from its header; zipfile stops reading there,
                # so a header that lies gives a short, corrupt member, not a bomb
                if archive.getinfo(name).file_size > MAX_FILE_BYTES:
                    items.append(Unusable("too large"))
                    continue
                items.append(archive.read(name))
            except (zipfile.BadZipFile, OSError, EOFError):  # bad CRC, truncated member
                items.append(Unusable("corrupt"))
            except (RuntimeError, NotImplementedError):  # encrypted, unknown compression
                items.append(Unusable("unreadable"))
        return items

    def close(self) -> None:
        while self._opened:
            self._opened.pop().close()
        self._local = threading.local()


def _pyarrow_parquet(label: str):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise GanzooError(
            f"{label} is stored as parquet files; reading them needs pyarrow: pip install pyarrow"
        ) from None
    return pq


def _image_column(schema) -> str:
    """The column holding images: "image", or the first one of {"bytes", "path"} structs."""
    names = list(schema.names)
    if "image" in names:
        return "image"
    for field in schema:
        kind = field.type
        if hasattr(kind, "get_field_index") and kind.get_field_index("bytes") >= 0:
            return field.name
    raise GanzooError(f"no image column in parquet columns {names}")


class ParquetSource(Source):
    """Rows of parquet files, as Hugging Face datasets store images: {"bytes": ..., "path": ...}."""

    def __init__(self, files: list[Path], label: str, fingerprint: str | None = None):
        super().__init__(label, fingerprint)
        self.files = files

    def _list(self) -> list[str]:
        pq = _pyarrow_parquet(self.label)
        names = []
        for path in self.files:
            rows = pq.ParquetFile(path).metadata.num_rows
            names += [f"{path.name}#{i}" for i in range(rows)]
        return names

    def _compute_fingerprint(self) -> str:
        return "parquet:" + ",".join(file_digest(p) for p in self.files)

    def chunks(self, size: int) -> Iterator[tuple[int, Callable[[], Items]]]:
        # Parquet is read in order, here, in the main thread; the jobs only hand the bytes over.
        pq = _pyarrow_parquet(self.label)
        for path in self.files:
            parquet = pq.ParquetFile(path)
            column = _image_column(parquet.schema_arrow)
            for batch in parquet.iter_batches(batch_size=size, columns=[column]):
                items = []
                for value in batch.column(0).to_pylist():
                    if isinstance(value, dict):
                        value = value.get("bytes")
                    # A row without bytes points at a file outside the dataset.
                    items.append(value if isinstance(value, bytes) else Unusable("unreadable"))
                yield len(items), functools.partial(list, items)


class ConcatSource(Source):
    """Several sources read one after the other (a Hub dataset shipped as several archives)."""

    def __init__(self, parts: list[Source], label: str, fingerprint: str | None = None):
        super().__init__(label, fingerprint)
        self.parts = parts

    def _list(self) -> list[str]:
        return [f"{p.label}/{n}" for p in self.parts for n in p.names]

    def _compute_fingerprint(self) -> str:
        return "concat:" + ",".join(p.fingerprint() for p in self.parts)

    def chunks(self, size: int) -> Iterator[tuple[int, Callable[[], Items]]]:
        for part in self.parts:
            yield from part.chunks(size)

    def close(self) -> None:
        for part in self.parts:
            part.close()


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def open_path(path: Path, label: str | None = None) -> Source:
    """A folder (of images, or of parquet shards), an archive, or a .parquet file."""
    if path.is_dir():
        source = FolderSource(path, label)
        if not source.names:  # a folder of parquet shards, e.g. a Hub dataset saved locally
            shards = sorted(path.rglob("*.parquet"))
            if shards:
                return ParquetSource(shards, label or str(path))
        return source
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipSource(path, label)
    if is_archive(path):
        return TarSource(path, label)
    if name.endswith(".parquet"):
        return ParquetSource([path], label or str(path))
    raise GanzooError(f"{path} is not a folder, a .tar or .zip of images, or a .parquet file")


# --- the Hugging Face Hub ---------------------------------------------------------------------

# What a dataset snapshot downloads: parquet shards, loose images, or archives of images.
HUB_PATTERNS = ["*.parquet", "*.zip", "*.tar"] + [
    f"*{ext}" for e in IMAGE_EXTENSIONS for ext in (e, e.upper())
]


def hub_snapshot(
    repo: str, revision: str | None = None, patterns: list[str] | None = None, download=True
) -> Path:
    """The local folder of a Hub dataset, downloaded into (or found in) the Hugging Face cache;
    its errors are one line (``ganzoo.io.hub_errors``)."""
    from huggingface_hub import snapshot_download

    cache_only = cache_only_reason(download)
    with hub_errors(repo, kind="dataset", revision=revision, cache_only=cache_only):
        return Path(
            snapshot_download(
                repo,
                repo_type="dataset",
                revision=revision,
                allow_patterns=patterns or HUB_PATTERNS,
                local_files_only=cache_only is not None,
            )
        )


def hub_source(
    repo: str, revision: str | None = None, patterns: list[str] | None = None, download=True
) -> Source:
    """A Hub dataset's images: its parquet shards if it has any, else its images, else archives."""
    snapshot = hub_snapshot(repo, revision, patterns, download)
    return snapshot_source(snapshot, repo)


def snapshot_source(snapshot: Path, repo: str) -> Source:
    label = f"hf://datasets/{repo}"
    # A snapshot folder is named after its commit, which fixes the content.
    fingerprint = f"hub:{repo}@{snapshot.name}"
    files = sorted(p for p in snapshot.rglob("*") if p.is_file())
    shards = [p for p in files if p.suffix == ".parquet"]
    if shards:
        return ParquetSource(shards, label, fingerprint)
    if any(is_image_name(p.name) for p in files):
        return FolderSource(snapshot, label, fingerprint)
    archives = [p for p in files if is_archive(p)]
    if archives:
        return ConcatSource([open_path(p) for p in archives], label, fingerprint)
    raise GanzooError(f"{label} holds no images, parquet shards or archives of images")
