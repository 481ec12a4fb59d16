"""Write-then-rename: a file appears under its final name only when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The permissions a plainly created file or folder would get (mkstemp makes its files
# 0600, mkdtemp its folders 0700). Read once: setting the umask to read it is not safe
# while other threads create files.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
FOLDER_MODE = 0o777 & ~_UMASK


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success.

    On any exception the temporary file is removed and nothing appears under the
    final name. The temporary name starts with a dot and ends in ``.partial`` (plus
    the real suffix, so that writers that pick a format by extension still work).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=f".partial{final.suffix}", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise OSError(f"nothing was written for {final.name}")
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
