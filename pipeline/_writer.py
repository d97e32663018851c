"""The staging folder's file writer: a small process the build feeds through a pipe.

``python -I pipeline/_writer.py STAGING PREVIOUS`` reads frames from standard input until it
closes and, for each, links the file from the previous build (``L``) or writes the bytes
that follow (``W``). Creating tens of thousands of files is seconds of file-system time;
in its own process it runs beside the renderers instead of between them (threads would
wait for the renderers' GIL after every system call). Frame: op (1 byte), path length (4
bytes), data length (8 bytes, little-endian), the UTF-8 path relative to STAGING, the data.

Links that fail are listed, one path per line, on standard output at the end; any other
failure (a full disk) ends it with a traceback on standard error and a nonzero status.
"""

from __future__ import annotations

import os
import struct
import sys

HEAD = struct.Struct("<cIQ")


def main() -> None:
    staging, previous = sys.argv[1], sys.argv[2]
    read = sys.stdin.buffer.read
    failed = []
    while head := read(HEAD.size):
        op, path_size, data_size = HEAD.unpack(head)
        path = read(path_size).decode()
        dest = os.path.join(staging, path)
        if op == b"L":
            try:
                os.link(os.path.join(previous, path), dest)
            except OSError:
                failed.append(path)
            continue
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            left = data_size
            while left:
                chunk = read(min(left, 1 << 20))
                if not chunk:
                    raise EOFError(f"{path}: the build stopped while sending it")
                left -= len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    sys.stdout.write("".join(f"{p}\n" for p in failed))


if __name__ == "__main__":
    main()
