"""``python -m aecodec.train ...``: the codec trainer (:mod:`aecodec.train.codec`), as before the
package was split by role (the README's torchrun lines run this)."""

from aecodec.train.codec import main

main()
