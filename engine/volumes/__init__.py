"""Named volumes: the local driver's directories under `$PYENGINE_ROOT/volumes` (store.py), and
the copy of an image's content into a new, empty one (copyup.py)."""
