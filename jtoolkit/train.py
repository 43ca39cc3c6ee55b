"""Training engine and demo CLI (``python -m jtoolkit.train``): not built yet."""

import sys

__all__ = ["main"]


def main(argv=None) -> int:
    """Placeholder until the training engine lands (see the project's issues)."""
    print(
        "jtoolkit.train: the training demo is not implemented yet; "
        "the package installs and its tests run."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
