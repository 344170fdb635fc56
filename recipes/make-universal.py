#!/usr/bin/env python3
"""Join thin Mach-O binaries into one universal (fat) binary.

Apple's lipo is not available where we cross-compile, and the fat format is
small: a big-endian header listing each architecture's slice, then the
slices, each aligned to its page size. `make cross` uses this for
dist/jcds2-uploader; `file` or `lipo -info` on a Mac shows both
architectures.

    make-universal.py OUTPUT THIN [THIN ...]
"""

import struct
import sys

FAT_MAGIC = 0xCAFEBABE
MH_MAGIC_64 = 0xFEEDFACF
CPU_TYPE_X86_64 = 0x01000007
CPU_TYPE_ARM64 = 0x0100000C
# Page alignment of each slice, as log2: 16 KiB on arm64, 4 KiB on x86_64.
ALIGN = {CPU_TYPE_ARM64: 14, CPU_TYPE_X86_64: 12}


def read_thin(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, cputype, cpusubtype = struct.unpack("<III", data[:12])
    if magic != MH_MAGIC_64:
        sys.exit("%s: not a 64-bit little-endian Mach-O file" % path)
    if cputype not in ALIGN:
        sys.exit("%s: unsupported CPU type %#x" % (path, cputype))
    return cputype, cpusubtype, data


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out, thins = argv[1], [read_thin(p) for p in argv[2:]]
    if len({t[0] for t in thins}) != len(thins):
        sys.exit("two slices have the same architecture")
    offset = 8 + 20 * len(thins)
    header = struct.pack(">II", FAT_MAGIC, len(thins))
    layout = []
    for cputype, cpusubtype, data in thins:
        align = ALIGN[cputype]
        offset = (offset + (1 << align) - 1) & ~((1 << align) - 1)
        header += struct.pack(">IIIII", cputype, cpusubtype, offset, len(data), align)
        layout.append((offset, data))
        offset += len(data)
    with open(out, "wb") as f:
        f.write(header)
        for off, data in layout:
            f.write(b"\0" * (off - f.tell()))
            f.write(data)
    print("%s: universal binary with %d architectures" % (out, len(thins)))


if __name__ == "__main__":
    main(sys.argv)
