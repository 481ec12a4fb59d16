"""A batch's finished files, kept on disk until the report is written.

:class:`OutcomeSpool`: a batch run from the command line pickles each finished file's
whole outcome (report entry, verification, output thumbnail: about 16 KB for a photo)
into one anonymous temporary file (removed by the system when it is closed or the
process ends), so that what it holds per file until the report is its place in the spool
(:mod:`veil.jobs.runners`), not a gigabyte and a half for 100,000 photos.
:class:`Mapped` is the lazy view the report and the summary read them through.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any, Generic, TypeVar, overload


class OutcomeSpool:
    """Finished files' outcomes, pickled one after the other into one anonymous
    temporary file (:meth:`put` gives a number, :meth:`get` reads it back as a new
    object): what a batch holds per finished file until its report is then a few dozen
    bytes (where it is), not the outcome (its report entry, verification and thumbnail,
    about 16 KB for a photo)."""

    def __init__(self) -> None:
        from array import array

        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._at = array("q")
        self._size = array("q")

    def put(self, obj: object) -> int:
        import pickle

        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="veil-outcomes-")  # noqa: SIM115
            self._at.append(self._file.seek(0, 2))
            self._size.append(len(data))
            self._file.write(data)
            return len(self._at) - 1

    def get(self, number: int) -> Any:
        import pickle

        with self._lock:
            if self._file is None:
                raise ValueError("nothing was spooled")
            self._file.seek(self._at[number])
            data = self._file.read(self._size[number])
        return pickle.loads(data)

    def __len__(self) -> int:
        return len(self._at)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


T = TypeVar("T")
U = TypeVar("U")


class Mapped(Sequence[U], Generic[T, U]):
    """``fn`` of each item of ``items``, computed when the item is read: a view over a
    batch's outcomes (which may wait on disk) that never holds what it hands out."""

    def __init__(self, items: Sequence[T], fn: Callable[[T], U]) -> None:
        self.items = items
        self.fn = fn

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, i: int) -> U: ...

    @overload
    def __getitem__(self, i: slice) -> list[U]: ...

    def __getitem__(self, i: int | slice) -> U | list[U]:
        if isinstance(i, slice):
            return [self[k] for k in range(len(self))[i]]
        return self.fn(self.items[i])
