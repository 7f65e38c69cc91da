"""First boot of a bulk-flashed SD card: adopt a configuration dropped on the boot partition.

Installers flash many cards from one image, then copy each gateway's `smart-elevator.toml` onto
the card's FAT boot partition (`/boot/firmware/` on Raspberry Pi OS), the only partition a laptop
can write. The boot partition is world-readable and holds the broker password, so on the next
start (the unit's ExecStartPre, as root) the file is moved under `/etc/smart-elevator/agent.toml`
with mode 0640 root:elev-agent and removed from the boot partition.

A file that is not valid TOML is not adopted: the reason is written next to it as
`smart-elevator.toml.error` for the installer to read on a laptop, the previous configuration
(if any) stays in force, and the agent starts as before. The move is atomic: write a temporary
file in /etc, fsync, rename, then delete the source.
"""

from __future__ import annotations

import argparse
import grp
import os
import sys
import tomllib
from pathlib import Path

BOOT_NAME = "smart-elevator.toml"
SERVICE_GROUP = "elev-agent"


def adopt(boot_dir: Path, etc_dir: Path, group: str = SERVICE_GROUP) -> str:
    """Move a dropped configuration under /etc; returns a one-line account of what happened."""
    src = boot_dir / BOOT_NAME
    if not src.is_file():
        return f"no {src}: nothing to adopt"
    data = src.read_bytes()
    try:
        tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        reason = f"{src}: not adopted: {exc}"
        (boot_dir / (BOOT_NAME + ".error")).write_text(reason + "\n")
        return reason
    etc_dir.mkdir(parents=True, exist_ok=True)
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        gid = -1
    dst = etc_dir / "agent.toml"
    tmp = etc_dir / ".agent.toml.new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, data)
        os.fchmod(fd, 0o640)
        if gid >= 0 and os.geteuid() == 0:
            os.fchown(fd, 0, gid)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, dst)
    dfd = os.open(etc_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    src.unlink()
    (boot_dir / (BOOT_NAME + ".error")).unlink(missing_ok=True)
    return f"adopted {src} as {dst} (mode 0640) and removed it from the boot partition"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edge_agent.firstboot", description=__doc__.split("\n\n")[0])
    ap.add_argument("--boot-dir", type=Path, default=Path("/boot/firmware"))
    ap.add_argument("--etc-dir", type=Path, default=Path("/etc/smart-elevator"))
    ap.add_argument("--group", default=SERVICE_GROUP)
    args = ap.parse_args(argv)
    try:
        print(f"firstboot: {adopt(args.boot_dir, args.etc_dir, args.group)}", file=sys.stderr)
    except OSError as exc:
        # Never keep the agent from starting because the boot partition is odd: report and go on.
        print(f"firstboot: could not adopt a configuration: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
