"""``python -m minifw.bench [W0 ... W9 | all] [--quick] [--json FILE] ...``: the same command as
``minifw bench`` (one implementation, in the CLI), for environments where the console script is not on
PATH."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from minifw_cli.main import main as cli_main

    sys.argv = ["python -m minifw.bench", "bench", *(sys.argv[1:] if argv is None else argv)]
    try:
        cli_main()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
