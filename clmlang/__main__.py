"""`python -m clmlang` runs the `clm` command line."""

from .cli import main

main()
