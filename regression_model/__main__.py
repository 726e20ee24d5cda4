"""Run the command line as ``python -m regression_model``."""

from regression_model.cli import main

if __name__ == "__main__":
    main(prog_name="regression-model")
