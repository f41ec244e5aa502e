"""Developer tooling run from a checkout: the `make run` launcher."""
