"""Inputs and outputs on any filesystem pyarrow understands (``s3://``, ``gs://``...),
for ``--engine ray``: read through :func:`pyarrow.fs.FileSystem.from_uri`, written with the
local engine's rule that nothing partial or unverified ever appears under a final name.

A file is uploaded only once it is finished (verified, when verifying), first under a
hidden temporary name beside its final one (``.veil-partial.NAME``), then moved to its
final name; on any failure the temporary object is deleted. A filesystem's options go in
the URI's query (``s3://bucket/in?endpoint_override=host:9000&scheme=http``) and apply to
every path derived from it; credentials come from the environment, never the URI (the
report records the URIs).

Needs pyarrow (the ``ray`` extra); local runs never import this module.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from functools import lru_cache
from typing import Any

PARTIAL_PREFIX = ".veil-partial."
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_uri(text: object) -> bool:
    """True for ``scheme://...`` (not a local path, not a Windows drive)."""
    return isinstance(text, str) and bool(_SCHEME.match(text))


class Uri(str):
    """A file on a remote filesystem where veil's results hold a path: prints as the URI
    (the report's ``input``/``output``), and answers the few path questions asked of it."""

    @property
    def base(self) -> str:
        return self.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self[len(self.base):]

    @property
    def name(self) -> str:
        return self.base.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Uri:
        return Uri(self.base.rstrip("/").rsplit("/", 1)[0] + self.query)

    def resolve(self) -> Uri:
        return self

    def is_file(self) -> bool:
        return False

    def exists(self) -> bool:
        return exists(self)

    def __truediv__(self, rel: str) -> Uri:
        return join(self, str(rel))


def join(uri: str, rel: str) -> Uri:
    """``uri`` + ``/`` + ``rel``, the query kept at the end."""
    u = Uri(uri)
    rel = rel.strip("/")
    return Uri(u.base.rstrip("/") + ("/" + rel if rel else "") + u.query)


def sibling(uri: str, suffix: str) -> Uri:
    """``<uri><suffix>`` (``s3://b/out`` → ``s3://b/out.veil``), the query kept."""
    u = Uri(uri)
    return Uri(u.base.rstrip("/") + suffix + u.query)


@lru_cache(maxsize=32)
def _filesystem(root: str) -> Any:
    from pyarrow.fs import FileSystem

    return FileSystem.from_uri(root)


def resolve(uri: str) -> tuple[Any, str]:
    """``(filesystem, path)`` for ``uri`` (a URI, or a local absolute path); the
    filesystem of each scheme, host and query is made once per process."""
    u = Uri(uri)
    if not is_uri(u):
        from pyarrow.fs import LocalFileSystem

        return LocalFileSystem(), str(u)
    scheme, rest = u.base.split("://", 1)
    host = rest.split("/", 1)[0]
    fs, root_path = _filesystem(f"{scheme}://{host}{u.query}")
    if scheme in ("s3", "gs", "gcs"):  # bucket/key: the path is what follows the scheme
        return fs, rest.rstrip("/")
    from pyarrow.fs import FileSystem

    return fs, FileSystem.from_uri(str(u))[1].rstrip("/")


def exists(uri: str) -> bool:
    from pyarrow.fs import FileType

    fs, path = resolve(uri)
    return fs.get_file_info(path).type != FileType.NotFound


def is_dir(uri: str) -> bool:
    from pyarrow.fs import FileType

    fs, path = resolve(uri)
    return fs.get_file_info(path).type == FileType.Directory


def list_files(uri: str) -> list[str]:
    """The files under the folder ``uri`` (recursive), as paths relative to it, sorted."""
    from pyarrow.fs import FileSelector, FileType

    fs, path = resolve(uri)
    infos = fs.get_file_info(FileSelector(path, recursive=True))
    return sorted(i.path[len(path):].lstrip("/") for i in infos if i.type == FileType.File)


def read_bytes(uri: str) -> bytes:
    fs, path = resolve(uri)
    with fs.open_input_stream(path) as stream:
        return bytes(stream.read())


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` to ``uri``: under a hidden temporary name, then moved to ``uri``;
    nothing is left under either name if it fails."""
    if not data:
        raise OSError(f"nothing was written for {Uri(uri).name}")
    fs, path = resolve(uri)
    folder, _, name = path.rpartition("/")
    tmp = f"{folder}/{PARTIAL_PREFIX}{uuid.uuid4().hex[:8]}.{name}"
    with contextlib.suppress(OSError):
        fs.create_dir(folder, recursive=True)
    try:
        with fs.open_output_stream(tmp) as out:
            out.write(data)
        fs.move(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete_file(tmp)
        raise


def delete(uri: str) -> None:
    fs, path = resolve(uri)
    with contextlib.suppress(OSError):
        fs.delete_file(path)


def sha256(uri: str) -> str | None:
    """The SHA-256 of the file at ``uri`` (read in pieces), or ``None`` when it is not
    there or cannot be read."""
    import hashlib

    fs, path = resolve(uri)
    digest = hashlib.sha256()
    try:
        with fs.open_input_stream(path) as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
