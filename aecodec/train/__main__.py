"""``python -m aecodec.train ...``: ``aecodec train`` (:mod:`aecodec.cli.train`), as the
README's torchrun lines run it."""

import sys

from aecodec.errors import DependencyError, require_torch

try:
    require_torch("python -m aecodec.train")
except DependencyError as exc:
    print(f"aecodec: error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)

from aecodec.train.codec import main

main()
