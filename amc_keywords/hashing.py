"""SHA-256 of a file's bytes, as the manifest records each output and input file.

Input
    A path. Output: the hex digest, read in blocks of :data:`HASH_BLOCK` bytes, so that a
    file of any size is hashed in constant memory.
"""
import hashlib

HASH_BLOCK = 1 << 20


def file_sha256(path: str) -> str:
    """SHA-256 of the file at ``path`` (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buffer = bytearray(HASH_BLOCK)
        view = memoryview(buffer)
        while True:
            n = f.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
    return digest.hexdigest()
