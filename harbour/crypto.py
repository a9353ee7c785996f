"""Field encryption: AES-GCM, the associated data binding each value to its table, row and field.

A sealed value reads ``hb1:<key version>:<base64 of nonce + ciphertext>``; the associated data
names the table, row, field and key version, so a token copied elsewhere or relabelled fails. Keys live in a key file
(mode 0600) or in ``HARBOUR_ENCRYPTION_KEYS``, never in the database, which holds only each key's
check value (``harbour.db.storekeys``). Key versions are random ids. Old keys stay in the keyring
after a rotation so that every row is readable at every moment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from harbour.errors import CryptoError

TOKEN_PREFIX = "hb1"
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_KEY_ID = 2**31 - 1
KEY_CHECK_MESSAGE = b"harbour key check value v1"
BLIND_INDEX_INFO = b"harbour blind index v1"  # HKDF label: the index key is not the sealing key


@dataclass
class Keyring:
    keys: dict[int, bytes] = field(default_factory=dict)
    primary: int = 0

    @classmethod
    def generate(cls) -> Keyring:
        return cls().with_new_key()

    def with_new_key(self) -> Keyring:
        """This keyring and a new primary key. Its id is random, not the next number, so that two
        keyrings made apart (two hosts, a restored backup) never both hold a different key N."""
        version = _new_key_id(taken=set(self.keys))
        return Keyring({**self.keys, version: secrets.token_bytes(KEY_BYTES)}, version)

    def check_values(self) -> dict[int, str]:
        """Each key's check value: what the store records to know its keys, never the key."""
        return {version: key_check_value(key) for version, key in self.keys.items()}

    def to_json(self) -> str:
        keys = {str(v): base64.b64encode(k).decode() for v, k in sorted(self.keys.items())}
        return json.dumps({"primary": self.primary, "keys": keys}, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str) -> Keyring:
        try:
            data = json.loads(text)
            keys = {int(v): base64.b64decode(k, validate=True) for v, k in data["keys"].items()}
            primary = int(data.get("primary", max(keys)))
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise CryptoError("keyring_unreadable", f"{source} is not a Harbour keyring") from None
        if primary not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
            raise CryptoError("keyring_invalid", f"{source}: keys must be 32 bytes, primary listed")
        return cls(keys, primary)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """The keyring in ``path``; refused if group or others have any access to the file."""
        try:
            with path.open("rb") as handle:
                mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
                if mode & 0o077:
                    raise CryptoError(
                        "key_file_exposed",
                        f"key file {path} has mode {mode:04o}, open to group or others: run "
                        f"`chmod 600 {path}`, and if anyone else may have read it, rotate the "
                        "keys with `harbour keys rotate`",
                    )
                text = handle.read().decode()
        except FileNotFoundError:
            raise CryptoError(
                "key_missing",
                f"key file {path} not found: restore it from the keyring backup (a new keyring "
                "cannot open the values sealed under this one), or set HARBOUR_KEY_FILE to it",
            ) from None
        except (OSError, UnicodeDecodeError):
            raise CryptoError("key_unreadable", f"key file {path} cannot be read") from None
        return cls.from_json(text, str(path))

    def save(self, path: Path) -> None:
        """Write atomically with mode 0600: a crash leaves the old file or the new, never half.
        Through a link (``HARBOUR_KEY_FILE`` naming one): the file it points to is replaced,
        where the keyring is kept and backed up from, not the link by a file of its own."""
        path = path.resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)  # a leftover from a kill may have other permissions
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.to_json())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)


class FieldCipher:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._aead = {v: AESGCM(k) for v, k in keyring.keys.items()}
        self._index_keys = {v: _derived(k, BLIND_INDEX_INFO) for v, k in keyring.keys.items()}
        # "read" and "write" once this keyring was found to be the store's (harbour.db.storekeys)
        self.checked_for: set[str] = set()
        self.write_checked_at = 0.0  # time.monotonic() of the last "write" check

    @property
    def primary(self) -> int:
        return self.keyring.primary

    def encrypt(self, value: str, *, table: str, row_id: str, field: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        version = self.keyring.primary
        aad = _aad(table, row_id, field, version)
        sealed = self._aead[version].encrypt(nonce, value.encode(), aad)
        return f"{TOKEN_PREFIX}:{version}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, table: str, row_id: str, field: str) -> str:
        version, blob = _split(token)
        aead = self._aead.get(version)
        if aead is None:
            raise CryptoError(
                "key_missing", f"no key version {version} in the keyring (wrong key file?)"
            )
        try:
            aad = _aad(table, row_id, field, version)
            plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise CryptoError(
                "decrypt_failed",
                f"{table}.{field} does not open with key version {version} (wrong key file?)",
            ) from None
        return plain.decode()

    @staticmethod
    def key_version(token: str) -> int:
        return _split(token)[0]

    def blind_index(self, value: str, version: int | None = None) -> str:
        """A keyed HMAC of ``value`` under a key derived from key ``version`` (the primary by
        default): equal values match, and without the keyring it says nothing of the value."""
        key = self._index_keys[self.keyring.primary if version is None else version]
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    def blind_indexes(self, value: str) -> dict[int, str]:
        """``value``'s blind index under every key: to find rows indexed before a rotation."""
        return {version: self.blind_index(value, version) for version in self._index_keys}


def key_check_value(key: bytes) -> str:
    """An HMAC of a constant under ``key``: equal for the same key, and says nothing of it."""
    return hmac.new(key, KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()


def _derived(key: bytes, info: bytes) -> bytes:
    """A key for another purpose (``info`` names it), derived from ``key`` by HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _new_key_id(taken: set[int]) -> int:
    while True:
        version = secrets.randbelow(MAX_KEY_ID) + 1
        if version not in taken:
            return version


def _aad(table: str, row_id: str, field: str, version: int) -> bytes:
    return f"{TOKEN_PREFIX}|{table}|{row_id}|{field}|{version}".encode()


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: a crash right after must not bring the old key file back."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _split(token: str) -> tuple[int, bytes]:
    try:
        prefix, version, blob = token.split(":", 2)
        if prefix != TOKEN_PREFIX:
            raise ValueError
        return int(version), base64.b64decode(blob, validate=True)
    except (ValueError, binascii.Error):
        raise CryptoError("not_sealed", "stored value is not a sealed token") from None
