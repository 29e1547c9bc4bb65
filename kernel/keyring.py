"""Secrets sealed in the database with keys kept outside it: each event's ticket-signing key (#16 point 3).

Anyone with a copy of the database (a backup, a stolen disk) could once forge tickets for every event: the
Ed25519 private keys were stored raw. Now they are sealed with Fernet (AES-128-CBC and HMAC-SHA256, from the
`cryptography` library) under keys kept in a file outside the database: DENHUB_SIGNING_KEY_FILE, by default
var/signing-keys, made 0600 on first use. The file holds one key a line: the first seals, every one opens
(so a rotation never leaves a sealed value unreadable half-way). Without the file the sealed keys are noise.

Rotation (README, "Signing keys"): `denhub keys rotate` adds a new first key, seals every event's key again
with it, then drops the old keys. A process that meets a value sealed with a key it has not loaded reads the
file again once.

The app and the CLI say which file to use (`use(settings)`); code that seals or opens calls `current()`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kernel.settings import Settings, write_private

FERNET_PREFIX = b"gAAAAA"  # every Fernet token: version byte 0x80 and a 64-bit time, base64url


class KeyringError(RuntimeError):
    """The key file is missing, unreadable, or does not open a sealed value: restore it from its backup."""


def is_sealed(value: bytes) -> bool:
    """True for a sealed value (a Fernet token), False for raw bytes stored before sealing (32 bytes)."""
    return bytes(value).startswith(FERNET_PREFIX) and len(value) > 64


class KeyRing:
    """The keys in one key file: seal() with the first, open() with any of them."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._keys: list[bytes] | None = None
        self._fernet: MultiFernet | None = None
        self._mtime: float | None = None

    # --- the file --------------------------------------------------------------------------------

    def _load(self, *, create: bool) -> MultiFernet:
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                if not create:
                    raise KeyringError(f"the signing key file {self.path} is missing: restore it from its backup "
                                       "(without it no event's ticket-signing key can be opened)") from None
                write_private(self.path, Fernet.generate_key() + b"\n")
                stat = self.path.stat()
            if self._fernet is None or stat.st_mtime != self._mtime:
                keys = [line.strip() for line in self.path.read_bytes().splitlines() if line.strip()]
                try:
                    fernet = MultiFernet([Fernet(key) for key in keys])
                except (ValueError, TypeError):
                    raise KeyringError(f"the signing key file {self.path} holds no valid keys") from None
                self._keys, self._fernet, self._mtime = keys, fernet, stat.st_mtime
            return self._fernet

    def keys(self) -> list[bytes]:
        self._load(create=True)
        return list(self._keys or ())

    def write_keys(self, keys: list[bytes]) -> None:
        """Replace the file's keys (0600, never half-written); the first seals from now on."""
        write_private(self.path, b"".join(key + b"\n" for key in keys))
        with self._lock:
            self._fernet = None

    # --- sealing ---------------------------------------------------------------------------------

    def seal(self, secret: bytes) -> bytes:
        """`secret` sealed with the file's first key (the file is made, 0600, if there is none yet)."""
        return self._load(create=True).encrypt(bytes(secret))

    def open(self, sealed: bytes) -> bytes:
        """The secret in a sealed value; a raw value stored before sealing is returned as it is."""
        sealed = bytes(sealed)
        if not is_sealed(sealed):
            return sealed
        try:
            return self._load(create=False).decrypt(sealed)
        except InvalidToken:
            with self._lock:
                self._fernet = None  # rotated by another process since we read it: read it again, once
            try:
                return self._load(create=False).decrypt(sealed)
            except InvalidToken:
                raise KeyringError(f"no key in {self.path} opens this sealed key: was the file replaced? "
                                   "Restore the one this database was sealed with.") from None

    def reseal(self, sealed: bytes) -> bytes:
        """`sealed` (or a raw value) sealed again with the first key."""
        return self.seal(self.open(sealed))


_rings: dict[Path, KeyRing] = {}
_current: KeyRing | None = None


def ring_for(path: Path) -> KeyRing:
    path = Path(path).absolute()
    ring = _rings.get(path)
    if ring is None:
        ring = _rings[path] = KeyRing(path)
    return ring


def use(settings: Settings) -> KeyRing:
    """Make the key file `settings` name the one current() gives (the app factory and the CLI call this)."""
    return use_file(settings.effective_signing_key_file)


def use_file(path: Path) -> KeyRing:
    """Make the key file at `path` the one current() gives (a test reading another process's database)."""
    global _current
    _current = ring_for(path)
    return _current


def current() -> KeyRing:
    """The key ring in use: the one use() chose, else the one DENHUB_* settings name."""
    if _current is None:
        return use(Settings.from_env())
    return _current


def rotate(ring: KeyRing) -> tuple[bytes, list[bytes]]:
    """Put a new first key in the ring's file, keeping the others (to open what they sealed until it is
    sealed again); returns (new key, old keys)."""
    old = ring.keys()
    new = Fernet.generate_key()
    ring.write_keys([new, *old])
    return new, old
