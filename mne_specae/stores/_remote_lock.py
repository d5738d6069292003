"""The lock object ``prepare.lock`` of a store written to object storage.

On a local disk a lock names a pid, and a lock whose process is gone is taken over
(:class:`~mne_specae.stores._writing.StoreLock`); on object storage no pid can be
asked, so the lock records who holds it and the holder keeps it fresh:

* the lock is created by a conditional PUT (``If-None-Match: *``): of several writers,
  exactly one creates it. It holds JSON: ``host``, ``pid``, a unique ``token``, what
  the holder does, when it was ``taken`` and last ``refreshed`` (UTC);
* the holder rewrites it (a heartbeat) every :data:`HEARTBEAT` seconds (at most a
  third of ``stale_after``) from a thread, and at a commit when that long has passed,
  after checking it still holds it (same token): a writer whose lock was taken over
  stops before it commits anything more;
* a lock not refreshed for ``stale_after`` seconds (default :data:`STALE_LOCK`, 15
  minutes) was left by a killed writer: it is taken over, with a warning naming the
  old holder. ``stale_after=0`` takes over any lock (break it: only when its holder is
  known to be gone). A fresh lock is refused with an error naming its holder, when it
  was refreshed and how to proceed.

A takeover and a heartbeat replace the lock object only if it is still the one read
(``If-Match: <ETag>`` on S3 and its kin: of several writers that found one stale
lock, one takes it over); on a file system without conditional writes, the lock is
read again (its ETag, else its content's hash) just before it is replaced. The age of a lock is measured against the
``refreshed`` stamp written by its holder: the writers' clocks must agree to well
within ``stale_after`` (NTP does). A lock of an older version (no JSON) is as old as
the object's modification time.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import socket
import threading
import time
import uuid
from datetime import datetime, timezone

from mne.utils import logger, warn

from ._remote import remote_error

LOCK = "prepare.lock"
#: Seconds after which a remote store's lock that was not refreshed is stale.
STALE_LOCK = 900.0
#: The longest interval (s) between two refreshes of a held lock (at commits).
HEARTBEAT = 60.0


class LockLostError(RuntimeError):
    """The lock of a store being written was taken over by another writer."""


def _now():
    return datetime.now(timezone.utc)


def _stamp(when):
    return when.isoformat(timespec="seconds")


def _conflict(err):
    """Whether ``err`` is a failed condition of a conditional PUT."""
    return isinstance(err, FileExistsError) or (
        isinstance(err, OSError) and (err.errno == errno.EINVAL or "condition" in str(err).lower())
    )


class RemoteLock:
    """The lock object of the store at ``url`` (``fs``, ``path``: where it is).

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The store's file system.
    path : str
        The lock object's path in ``fs``.
    url : str
        The store's URL (for messages).
    stale_after : float
        Seconds without a refresh after which another writer's lock is taken over
        (``0``: any lock).
    doing : str
        What the holder does, for the error another writer gets.
    """

    def __init__(self, fs, path, url, stale_after=STALE_LOCK, doing="preparing"):
        self.fs, self.path, self.url, self.doing = fs, path, url, doing
        self.stale_after = float(stale_after)
        if not self.stale_after >= 0:
            raise ValueError(f"stale_lock must be a number of seconds >= 0, got {stale_after!r}")
        self.heartbeat = min(HEARTBEAT, self.stale_after / 3) or HEARTBEAT
        self.token = None
        self._taken = None
        self._refreshed = None  # time.monotonic() of the last refresh
        self._mutex = threading.Lock()  # one refresh at a time (commits, the beat)
        self._stop = self._beat = self._lost = None

    def _record(self):
        return json.dumps(
            dict(
                host=socket.gethostname(),
                pid=os.getpid(),
                token=self.token,
                doing=self.doing,
                taken=_stamp(self._taken),
                refreshed=_stamp(_now()),
            ),
            indent=1,
        ).encode()

    def read(self):
        """``(holder, etag)`` of the lock object (``holder``: its fields, ``refreshed``
        a datetime), ``None`` when there is none."""
        self.fs.invalidate_cache(self.path)  # another writer's change: not a listing's
        try:
            info = self.fs.info(self.path)
            data = self.fs.cat_file(self.path)
        except FileNotFoundError:
            return None
        etag = info.get("ETag") or info.get("etag")  # else: the content's hash
        etag = etag or f"sha256:{hashlib.sha256(data).hexdigest()}"
        try:
            holder = json.loads(data)
            holder["refreshed"] = datetime.fromisoformat(holder["refreshed"])
        except (ValueError, KeyError, TypeError):  # an older version's lock: bytes
            pid = re.search(rb"pid (\d+)", data)
            stamp = info.get("LastModified") or info.get("mtime") or info.get("created")
            stamp = stamp or _now()
            if not isinstance(stamp, datetime):
                stamp = datetime.fromtimestamp(float(stamp), timezone.utc)
            holder = dict(pid=int(pid.group(1)) if pid else None, refreshed=stamp)
        if holder["refreshed"].tzinfo is None:
            holder["refreshed"] = holder["refreshed"].replace(tzinfo=timezone.utc)
        return holder, etag

    def describe(self, holder):
        """The holder, in words."""
        age = (_now() - holder["refreshed"]).total_seconds()
        return (
            f"pid {holder.get('pid') or 'unknown'} on {holder.get('host') or 'an unknown host'}"
            f" ({holder.get('doing') or 'writing'}; taken {holder.get('taken') or 'at an unknown time'}"
            f", last refreshed {_stamp(holder['refreshed'])}, {age:.0f} s ago)"
        )

    def _replace(self, etag):
        """Our record in place of the lock object whose ETag is ``etag``; ``False``
        when the object changed or went meanwhile."""
        data = self._record()
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else self.fs.protocol
        try:
            if not etag.startswith("sha256:") and {"s3", "s3a"} & set(protocols):
                self.fs.pipe_file(self.path, data, IfMatch=etag)
            else:  # no conditional write here: read again just before
                found = self.read()
                if found is None or found[1] != etag:
                    return False
                self.fs.pipe_file(self.path, data)
        except FileNotFoundError:
            return False
        except Exception as err:
            if _conflict(err):
                return False
            raise remote_error(self.url, err) from err
        return True

    def _held(self):
        """The lock is ours: start the heartbeat thread."""
        self._refreshed, self._lost = time.monotonic(), None
        self._stop = threading.Event()
        self._beat = threading.Thread(
            target=self._beating, args=(self._stop,), daemon=True, name="mne-specae-lock"
        )
        self._beat.start()
        return self

    def _beating(self, stop):
        """Between commits (a long file), the lock is refreshed all the same."""
        while not stop.wait(max(self.heartbeat, 1.0)):
            try:
                self.refresh()
            except LockLostError:
                return  # recorded: the next commit raises it
            except Exception as err:  # a network hiccup: the next beat tries again
                logger.debug(f"{self.url}: the lock could not be refreshed ({err})")

    def acquire(self):
        """Create the lock, or take over a stale one; the error when a fresh one exists."""
        self.token, self._taken = uuid.uuid4().hex, _now()
        for _ in range(5):
            try:
                self.fs.pipe_file(self.path, self._record(), mode="create")
                return self._held()
            except Exception as err:
                if not _conflict(err):
                    raise remote_error(self.url, err) from err
            found = self.read()
            if found is None:
                continue  # released meanwhile: create it again
            holder, etag = found
            age = (_now() - holder["refreshed"]).total_seconds()
            if age < self.stale_after:
                raise RuntimeError(
                    f"Another process is writing the store {self.url}: its lock "
                    f"{self.url}/{LOCK} is held by {self.describe(holder)}. Wait for it to "
                    "end. If that process no longer runs (killed), the lock is taken over "
                    f"once it was not refreshed for {self.stale_after:g} s (stale_lock); to "
                    "take it over now, run again with stale_lock=0 (command line: "
                    "--stale-lock 0), or remove that object."
                )
            warn(
                f"{self.url}: taking over the lock of {self.describe(holder)}, "
                + (
                    "as asked (stale_lock=0): that writer must no longer run"
                    if self.stale_after == 0
                    else f"not refreshed for over {self.stale_after:g} s (stale_lock): "
                    "an earlier writer was killed"
                )
            )
            if self._replace(etag):
                return self._held()
        raise RuntimeError(
            f"Could not take the lock {self.url}/{LOCK}: other writers keep taking it; "
            "write one store with one process at a time."
        )

    def refresh(self, force=False):
        """The heartbeat: rewrite the lock (at most every ``heartbeat`` seconds unless
        ``force``), after checking it is still ours (:class:`LockLostError` if not)."""
        with self._mutex:
            if self._lost is not None:
                raise self._lost
            if not force and time.monotonic() - self._refreshed < self.heartbeat:
                return
            self._refresh()

    def _refresh(self):
        found = self.read()
        if found is None or found[0].get("token") != self.token or not self._replace(found[1]):
            found = self.read()
            self._lost = LockLostError(
                f"The lock {self.url}/{LOCK} held while {self.doing} the store was "
                + ("removed" if found is None else f"taken over by {self.describe(found[0])}")
                + ": this run stops (what it committed stays in the store). Run one "
                "preparation of a store at a time; a lock is taken over only once it was "
                f"not refreshed for stale_lock seconds ({self.stale_after:g} s here)."
            )
            raise self._lost
        self._refreshed = time.monotonic()
        logger.debug(f"{self.url}: lock refreshed")

    def release(self):
        """Remove the lock if it is still ours."""
        if self.token is None:
            return
        if self._beat is not None:
            self._stop.set()
            self._beat.join(timeout=30)
        found = self.read()
        if found is not None and found[0].get("token") == self.token:
            try:
                self.fs.rm_file(self.path)
            except FileNotFoundError:
                pass
        self.token = None
