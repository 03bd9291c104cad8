"""``python -m ebmm`` (and ``torchrun ... -m ebmm``): the command line."""

from .cli import main

if __name__ == "__main__":
    main()
