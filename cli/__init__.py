"""The ``minifw`` command line (typer + rich), installed as ``minifw_cli``."""
