"""The staging folder's file writer: a small process the build feeds through a pipe.

``python -I pipeline/build/_writer.py STAGING PREVIOUS`` reads frames from standard input until it
closes and, for each, links the file from the previous build (``L``) or writes the bytes
that follow (``W``). Creating tens of thousands of files is seconds of file-system time;
in its own process it runs beside the renderers instead of between them (threads would
wait for the renderers' GIL after every system call). Frame: op (1 byte), path length (4
bytes), data length (8 bytes, little-endian), the UTF-8 path relative to STAGING, the data.

Where hard links are not possible the previous file is copied. Links whose source is gone
are listed, one path per line, on standard output at the end; any other failure (a full
disk) ends it with one line on standard error (the file and the reason) and a nonzero status.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
from collections.abc import Callable

HEAD = struct.Struct("<cIQ")


def main() -> None:
    staging, previous = sys.argv[1], sys.argv[2]
    read = sys.stdin.buffer.read
    failed = []
    while head := read(HEAD.size):
        op, path_size, data_size = HEAD.unpack(head)
        path = read(path_size).decode()
        try:
            if op == b"L":
                old, new = os.path.join(previous, path), os.path.join(staging, path)
                try:
                    os.link(old, new)
                except FileNotFoundError:
                    failed.append(path)
                except OSError:  # a file system without hard links: the same bytes, copied
                    shutil.copyfile(old, new)
            else:
                _write(os.path.join(staging, path), data_size, read)
        except OSError as exc:  # a full disk, a read-only folder: one line for the build
            sys.exit(f"{path}: {exc.strerror or exc}")
    sys.stdout.write("".join(f"{p}\n" for p in failed))


def _write(dest: str, size: int, read: Callable[[int], bytes]) -> None:
    """Write the next ``size`` bytes of the input to ``dest``."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        while size:
            chunk = read(min(size, 1 << 20))
            if not chunk:
                raise EOFError(f"{dest}: the build stopped while sending it")
            size -= len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
