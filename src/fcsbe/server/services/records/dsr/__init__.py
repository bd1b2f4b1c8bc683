"""The pure DSR builder: the intervals of a record and what was asked in each (`plan`), meter
readings cleaned into series (`readings`), baselines (`baseline`), summaries and the record
itself (`builder`). No I/O: a function of the FS, its terms and its `inputs`.
"""
