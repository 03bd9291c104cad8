"""``python -m ebmm.cli`` (as ``python -m ebmm``): the command line."""

from . import main

if __name__ == "__main__":
    main()
