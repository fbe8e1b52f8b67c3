"""``python -m sk_autoencoder compare FILE``: the ``sk-autoencoder`` command."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
