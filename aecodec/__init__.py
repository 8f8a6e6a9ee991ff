"""aecodec: a neural audio codec for music.

Light on import: torch is only imported by the modules that need it (``codec``, ``model``...),
so ``aecodec --help`` and error paths start fast.
"""

__version__ = "0.1.0"
