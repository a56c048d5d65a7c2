"""The shipped instance files and their datasets (package data of ``gridgames.instances``).

No code: this file makes the folder an importable package, so that
:mod:`importlib.resources` finds the files in a checkout, an editable install
and a wheel alike (:mod:`gridgames.data.bundled`).
"""
