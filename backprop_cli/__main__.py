"""`python -m backprop_cli` runs the same CLI as the `backprop` command."""

from .console import main

if __name__ == "__main__":
    main()
