"""fcsbe: IEC 63382 flexibility port of a charging-station backend, FO client and shared model.

`fcsbe.model` is the shared information model, `fcsbe.client` the async FO client, `fcsbe.sim`
the station simulator and `fcsbe.server` the FCSBE server (install the `server` extra).
"""

__version__ = "0.1.0"
