"""Files of the corpus table into a folder: from git mirrors (``git cat-file``) or by
download, every file's sha256 checked, what is already there and good kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mne.utils import logger

from ..utils._files import file_sha256
from .registry import DataFile


def mirror_git_dir(mirror, repo):
    """The git directory of ``repo`` (``owner/name``) in a folder of mirrors laid out as
    ``<owner>+<name>/repo`` (a bare repository, or a clone with ``repo/.git``)."""
    base = Path(mirror) / repo.replace("/", "+") / "repo"
    if (base / ".git").is_dir():
        return base / ".git"
    if (base / "objects").is_dir():
        return base
    raise FileNotFoundError(
        f"No git mirror of {repo} at {base} (expected a bare repository or a clone "
        f"there). Fetch the repository there, or build without mirror= to download "
        "the files from their public URLs."
    )


def git_blob(git_dir, commit, path):
    """The bytes of ``path`` at ``commit`` in a git directory."""
    try:
        out = subprocess.run(
            ["git", "--git-dir", str(git_dir), "cat-file", "blob", f"{commit}:{path}"],
            check=True,
            capture_output=True,
        )
    except FileNotFoundError as err:  # pragma: no cover - git missing
        raise OSError("git is needed to build the corpus from mirrors; install it.") from err
    except subprocess.CalledProcessError as err:
        detail = err.stderr.decode(errors="replace").strip().splitlines()
        raise OSError(
            f"{path} at {commit[:12]} is not in the mirror {git_dir} "
            f"({detail[-1] if detail else 'git cat-file failed'}): large and LFS files can "
            "be missing from snapshots; build without mirror= to download it."
        ) from err
    return out.stdout


def _write_checked(data_or_path, target, sha256, relpath, origin):
    """Write bytes (or move a file) to ``target`` only when its sha256 is ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fid:
            if isinstance(data_or_path, bytes):
                fid.write(data_or_path)
            else:
                with open(data_or_path, "rb") as src:
                    shutil.copyfileobj(src, fid)
        got = file_sha256(tmp)
        if got != sha256:
            raise OSError(
                f"{relpath} from {origin} does not match its sha256 in the corpus table "
                f"(got {got}, expected {sha256}): not kept. The source changed or the table "
                "is wrong; check the file at its URL, and the table row."
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch_row(row, folder, mirror=None):
    """Put one file of the table into ``folder``; ``"kept"``, ``"copied"`` or
    ``"downloaded"``. A file already there with the right sha256 is kept; one with
    another sha256 is replaced (logged)."""
    from .download import fetch_file

    target = Path(folder) / row["relpath"]
    if target.is_file():
        if file_sha256(target) == row["sha256"]:
            return "kept"
        logger.info(f"{row['relpath']}: sha256 differs from the table; fetching it again")
        target.unlink()
    if mirror is not None:
        git_dir = mirror_git_dir(mirror, row["repo"])
        data = git_blob(git_dir, row["commit"], row["path"])
        _write_checked(data, target, row["sha256"], row["relpath"], f"the mirror {git_dir}")
        return "copied"
    fetch_file(DataFile(row["relpath"], row["url"], row["sha256"]), Path(folder))
    return "downloaded"
