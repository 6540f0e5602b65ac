"""The camera above the shelf: backends (camera.py), in-memory recognition (vision.py) and the pure
rules that turn what was read into a pile, a type, codes and a return reason (rules.py)."""
