"""The toolkit's version, the one place it is written: the package's ``__version__``, the
``--version`` of the command line, and the ``"toolkit"`` a manifest records (a rerun by
another version is not up to date). Input: none. Output: :data:`__version__`."""
__version__ = "1.2.0"
